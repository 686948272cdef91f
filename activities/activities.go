// Package activities holds the order saga's side effects: each activity appends events to
// the event store and publishes them, or compensates an earlier step. Every event id is
// derived from the workflow id and the step, so an activity that Temporal retries appends
// nothing new; publishing after a retry may repeat a message, which consumers tolerate.
package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/internal/instrument"
	"github.com/ordersaga/ordersaga/menus"
	"github.com/ordersaga/ordersaga/payments"
)

// Store is what the activities need from the event store: what accounts need, atomic
// appends to several streams, and the outbox.
type Store interface {
	payments.Store
	// AppendStreams: EINVALID, ECONFLICT, EUNAVAILABLE, EINTERNAL.
	AppendStreams(ctx context.Context, appends []ordersaga.StreamAppend) ([]ordersaga.AppendResult, error)
	OutboxMarker
}

// OutboxMarker takes events that were published off the outbox.
type OutboxMarker interface {
	// MarkPublished: EUNAVAILABLE, EINTERNAL.
	MarkPublished(ctx context.Context, positions []int64) error
}

// Publisher is what the activities need from the event bus.
type Publisher interface {
	// PublishBatch: EUNAVAILABLE.
	PublishBatch(ctx context.Context, events []ordersaga.RecordedEvent) (int, error)
}

// Error types of the non-retryable failures the activities raise. The workflow lists them
// in its retry policies and maps them to rejection reasons.
const (
	ErrInsufficientFunds = "InsufficientFunds"
	ErrCurrencyMismatch  = "CurrencyMismatch"
	ErrInvalidInput      = "InvalidInput"
	ErrOrderConflict     = "OrderConflict"
	// ErrAlreadyStarted: another run of the saga created this order; this run must not
	// touch it (not even to compensate).
	ErrAlreadyStarted = "AlreadyStarted"
)

// Activities are the saga's activities, with their dependencies.
type Activities struct {
	// Store is the event store. Required.
	Store Store
	// Bus publishes what the activities append. Required.
	Bus Publisher
	// Published takes what the activities published off the outbox. Required: relay.Marker
	// batches them out of the activities' way (what the worker uses); the Store itself
	// takes them off with one DELETE per append.
	Published OutboxMarker
	// Accounts keeps the accounts the payment steps folded, so that the next debit of a
	// customer reads only what was appended since; nil keeps none, and every debit folds
	// the account from its first event.
	Accounts *payments.AccountCache
	// Menus keeps the menus the create step folded at the version an order names, so
	// that the next order priced from the same menu reads nothing; nil keeps none.
	Menus *menus.Pinned
	// BusRest is how long steps leave their events to the outbox relay after an inline
	// publish failed, instead of waiting for a bus that is away; default 5s.
	BusRest time.Duration

	// busFailedAt is when an inline publish last failed (Unix nanoseconds): see publish.
	busFailedAt atomic.Int64
}

// Validate reports a missing dependency.
func (a *Activities) Validate() error {
	if a.Store == nil || a.Bus == nil || a.Published == nil {
		return errors.New("activities: Store, Bus and Published are required")
	}
	return nil
}

// eventNamespace scopes the name-based UUIDs of saga events.
var eventNamespace = uuid.MustParse("6f1c0d7e-5a3b-4c9a-9d2e-0b8f3e1a7c55")

// EventID is the id of the event that step appends for an order in a workflow: the same
// on every retry of the activity.
func EventID(workflowID, orderID, step string) uuid.UUID {
	return uuid.NewSHA1(eventNamespace, []byte(workflowID+"/"+orderID+"/"+step))
}

// stepContext is what every activity derives from its Temporal context and its order.
type stepContext struct {
	workflowID string
	orderID    string
	metadata   ordersaga.Metadata
}

func newStepContext(ctx context.Context, orderID string) stepContext {
	info := activity.GetInfo(ctx)
	return stepContext{
		workflowID: info.WorkflowExecution.ID,
		orderID:    orderID,
		metadata: ordersaga.Metadata{
			CorrelationID: info.WorkflowExecution.ID,
			CausationID:   info.WorkflowExecution.RunID + "/" + info.ActivityType.Name,
		},
	}
}

// event builds the event that step appends.
func (s stepContext) event(step, typ string, payload any) (ordersaga.EventData, error) {
	data, err := json.Marshal(payload)
	if err != nil {
		return ordersaga.EventData{}, err
	}
	return ordersaga.EventData{ID: s.eventID(step), Type: typ, Data: data, Metadata: s.metadata}, nil
}

func (s stepContext) eventID(step string) uuid.UUID {
	return EventID(s.workflowID, s.orderID, step)
}

// appendAndPublish appends events to stream, publishes them and takes them off the
// outbox. A committed append is the step done: if the bus cannot take the events now (or
// the process dies before the outbox is cleared), the outbox relay publishes them later
// (again, maybe: consumers are idempotent), so a bus outage neither fails nor delays the
// saga beyond publishTimeout. Clearing the outbox here is what keeps the relay from
// publishing every event a second time.
func (a *Activities) appendAndPublish(ctx context.Context, stream ordersaga.Stream, expected ordersaga.ExpectedVersion, events ...ordersaga.EventData) (ordersaga.AppendResult, error) {
	// The trace context goes into the events here, so that what is published inline is
	// what the store holds (the store stamps only what carries none).
	events = instrument.Stamp(ctx, events)
	res, err := a.Store.Append(ctx, stream, expected, events)
	if err != nil {
		return res, asActivityError(err)
	}
	a.publish(ctx, res.Recorded(stream, events))
	return res, nil
}

// appendBothAndPublish appends to two streams atomically (a payment's account entry and
// the order's record of it: no crash leaves one without the other) and publishes them as
// appendAndPublish does.
func (a *Activities) appendBothAndPublish(ctx context.Context, first, second ordersaga.StreamAppend) ([]ordersaga.AppendResult, error) {
	first.Events, second.Events = instrument.Stamp(ctx, first.Events), instrument.Stamp(ctx, second.Events)
	appends := []ordersaga.StreamAppend{first, second}
	res, err := a.Store.AppendStreams(ctx, appends)
	if err != nil {
		return res, asActivityError(err)
	}
	var recorded []ordersaga.RecordedEvent
	for i, r := range res {
		recorded = append(recorded, r.Recorded(appends[i].Stream, appends[i].Events)...)
	}
	a.publish(ctx, recorded)
	return res, nil
}

// publish puts committed events on the bus and takes them off the outbox. It cannot fail
// the step: what the bus does not take now, the outbox relay publishes later. For
// BusRest after a publish failed, steps do not try: a bus that is away (a leader
// election, a restart) would hold every step for publishTimeout, and every order for
// that long per step, for events the relay publishes anyway.
func (a *Activities) publish(ctx context.Context, recorded []ordersaga.RecordedEvent) {
	rest := a.BusRest
	if rest == 0 {
		rest = defaultBusRest
	}
	if time.Since(time.Unix(0, a.busFailedAt.Load())) < rest {
		return
	}
	publishCtx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	if n, err := a.Bus.PublishBatch(publishCtx, recorded); err != nil {
		a.busFailedAt.Store(time.Now().UnixNano())
		activity.GetLogger(ctx).Warn("events committed but not published; the outbox relay will publish them, and steps leave theirs to it for a while",
			"stream", recorded[0].StreamID, "published", n, "of", len(recorded), "error", err, "for", rest)
		return
	}
	positions := make([]int64, len(recorded))
	for i, e := range recorded {
		positions[i] = e.Position
	}
	if err := a.Published.MarkPublished(ctx, positions); err != nil {
		// Published; the relay will publish them again after its grace period.
		activity.GetLogger(ctx).Warn("events published but left in the outbox", "stream", recorded[0].StreamID, "error", err)
	}
}

// asActivityError makes invalid input and content conflicts non-retryable; everything else
// (unavailable, internal, version races) is retried by Temporal.
func asActivityError(err error) error {
	switch ordersaga.ErrorCode(err) {
	case ordersaga.EINVALID:
		return temporal.NewNonRetryableApplicationError(ordersaga.ErrorMessage(err), ErrInvalidInput, err)
	case ordersaga.ECONFLICT:
		return temporal.NewApplicationError(ordersaga.ErrorMessage(err), errConflict, err)
	}
	return err
}

// publishTimeout bounds how long a step waits for the bus after its append committed.
const publishTimeout = 3 * time.Second

// defaultBusRest is Activities.BusRest's default.
const defaultBusRest = 5 * time.Second

// errConflict is the (retryable) error type of a lost race or a content conflict.
const errConflict = "Conflict"

func isConflict(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == errConflict
}

// StepResult reports where a step's event landed.
type StepResult struct {
	Version   int64 `json:"version"`
	Duplicate bool  `json:"duplicate"`
	// Amount is the order's total as the menu priced it (CreateOrder only; 0 from runs of
	// the activity before menus).
	Amount int64 `json:"amount,omitempty"`
}

func stepResult(res ordersaga.AppendResult) StepResult {
	return StepResult{Version: res.LastVersion(), Duplicate: res.Duplicate}
}

// CreateOrder prices the order from the restaurant's menu (at the version the input names,
// or the menu's current one) and appends order-created with the priced items, the amount
// and the menu version. An item not on the menu, or a price that differs from it, is a
// non-retryable ErrInvalidInput naming the item: nothing is written.
func (a *Activities) CreateOrder(ctx context.Context, in ordersaga.OrderInput) (StepResult, error) {
	if err := in.Validate(); err != nil {
		return StepResult{}, temporal.NewNonRetryableApplicationError(ordersaga.ErrorMessage(err), ErrInvalidInput, err)
	}
	s := newStepContext(ctx, in.OrderID)
	stream, err := orderStream(in.OrderID)
	if err != nil {
		return StepResult{}, err
	}
	menu, err := menus.Menus{Store: a.Store, Pinned: a.Menus}.At(ctx, in.RestaurantID, in.MenuVersion)
	if err != nil {
		return StepResult{}, asActivityError(err)
	}
	priced, err := menu.Price(in)
	var amount int64
	if err == nil {
		amount, err = priced.Amount()
	}
	if err != nil {
		// An earlier attempt of this step may have priced it from a menu that has changed
		// since (an item taken off, say): what it stored stands.
		if created, ok, lookErr := a.createdBy(ctx, stream, s); lookErr != nil || ok {
			return created, lookErr
		}
		return StepResult{}, asActivityError(err)
	}
	e, err := s.event("create-order", ordersaga.EventOrderCreated, ordersaga.OrderCreated{
		OrderID: in.OrderID, CustomerID: in.CustomerID, RestaurantID: in.RestaurantID,
		Items: priced.Items, Amount: amount, Currency: in.Currency, MenuVersion: priced.MenuVersion,
	})
	if err != nil {
		return StepResult{}, err
	}
	res, err := a.appendAndPublish(ctx, stream, ordersaga.NoStream, e)
	if isConflict(err) {
		// The same step, retried after the menu was repriced, or another order?
		if created, ok, lookErr := a.createdBy(ctx, stream, s); lookErr != nil || ok {
			return created, lookErr
		}
		return StepResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("order %s already exists with other content", in.OrderID), ErrOrderConflict, err)
	}
	if err == nil && res.Duplicate {
		// A second run of the saga for the same order, with the same content.
		first, err := a.Store.ReadStream(ctx, stream, 1, 1)
		if err != nil {
			return StepResult{}, asActivityError(err)
		}
		if len(first) == 1 && first[0].Metadata.CausationID != s.metadata.CausationID {
			return StepResult{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("order %s was created by another run of its saga (%s)", in.OrderID, first[0].Metadata.CausationID), ErrAlreadyStarted, nil)
		}
	}
	result := stepResult(res)
	result.Amount = amount
	return result, err
}

// createdBy returns, with true, the result of an earlier attempt of this run's
// create-order step, if the order's stream starts with its event (the same id, written by
// this run); false if it does not.
func (a *Activities) createdBy(ctx context.Context, stream ordersaga.Stream, s stepContext) (StepResult, bool, error) {
	first, err := a.Store.ReadStream(ctx, stream, 1, 1)
	if err != nil {
		return StepResult{}, false, asActivityError(err)
	}
	if len(first) == 0 || first[0].ID != s.eventID("create-order") || first[0].Metadata.CausationID != s.metadata.CausationID {
		return StepResult{}, false, nil
	}
	var created ordersaga.OrderCreated
	if err := json.Unmarshal(first[0].Data, &created); err != nil {
		return StepResult{}, false, temporal.NewNonRetryableApplicationError("order-created does not decode", ErrInvalidInput, err)
	}
	// Published by that attempt, or by the outbox relay if it died first.
	return StepResult{Version: 1, Duplicate: true, Amount: created.Amount}, true, nil
}

// PaymentInput identifies the payment of an order.
type PaymentInput struct {
	OrderID    string `json:"order_id"`
	CustomerID string `json:"customer_id"`
	Amount     int64  `json:"amount"`
	Currency   string `json:"currency"`
}

// PaymentID is the id of an order's payment.
func PaymentID(orderID string) string { return "pay-" + orderID }

// maxDebitRaces bounds how often DebitPayment re-reads the account after a concurrent
// change to it before letting Temporal retry the activity.
const maxDebitRaces = 20

// DebitPayment debits the customer's account and appends order-payment-debited, in one
// atomic append to both streams: no crash leaves a debit without its record on the order.
// The debit is appended at the account's folded version, so two concurrent orders can
// never both spend the same balance; a lost race re-reads and decides again. Insufficient
// funds is a non-retryable ErrInsufficientFunds.
func (a *Activities) DebitPayment(ctx context.Context, in PaymentInput) (StepResult, error) {
	s := newStepContext(ctx, in.OrderID)
	stream, err := customerStream(in.CustomerID)
	if err != nil {
		return StepResult{}, err
	}
	order, err := orderStream(in.OrderID)
	if err != nil {
		return StepResult{}, err
	}
	debit, err := s.event("debit-account", ordersaga.EventAccountDebited, ordersaga.AccountEntry{
		CustomerID: in.CustomerID, Amount: in.Amount, Currency: in.Currency, OrderID: in.OrderID, PaymentID: PaymentID(in.OrderID),
	})
	if err != nil {
		return StepResult{}, err
	}
	paid, err := s.event("payment-debited", ordersaga.EventPaymentDebited, ordersaga.PaymentDebited{
		OrderID: in.OrderID, PaymentID: PaymentID(in.OrderID), CustomerID: in.CustomerID, Amount: in.Amount, Currency: in.Currency,
	})
	if err != nil {
		return StepResult{}, err
	}
	// debitedBefore finishes the step if an earlier attempt debited the account: it makes
	// sure both events are stored (a debit appended before the two were appended
	// together may lack its record) and published. Looked up only off the usual path:
	// before a refusal (the balance may be short because of that debit) and after a lost
	// race (the debit alone stored conflicts); the usual append of both finds them itself,
	// stored by an earlier attempt, and returns what that attempt stored.
	debitedBefore := func() (StepResult, bool, error) {
		_, debited, err := a.Store.EventVersion(ctx, stream, debit.ID)
		if err != nil || !debited {
			return StepResult{}, false, asActivityError(err)
		}
		if _, err := a.appendAndPublish(ctx, stream, ordersaga.AnyVersion, debit); err != nil {
			return StepResult{}, true, err
		}
		res, err := a.appendAndPublish(ctx, order, ordersaga.AnyVersion, paid)
		return stepResult(res), true, err
	}
	for race := 0; ; race++ {
		account, err := a.account(ctx, in.CustomerID)
		if err != nil {
			return StepResult{}, err
		}
		var refusal error
		switch {
		case account.Currency != "" && account.Currency != in.Currency:
			refusal = temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("account of %s is in %s, the order in %s", in.CustomerID, account.Currency, in.Currency), ErrCurrencyMismatch, nil)
		case account.Balance < in.Amount:
			refusal = temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("customer %s has %s, the order costs %s", in.CustomerID,
					ordersaga.FormatMoney(account.Balance, in.Currency), ordersaga.FormatMoney(in.Amount, in.Currency)), ErrInsufficientFunds, nil)
		}
		if refusal != nil {
			if res, debited, err := debitedBefore(); debited || err != nil {
				return res, err
			}
			return StepResult{}, refusal
		}
		// The debit at the version just folded, so that the balance checked still holds,
		// and the order's record of it, together.
		res, err := a.appendBothAndPublish(ctx,
			ordersaga.StreamAppend{Stream: stream, Expected: ordersaga.ExpectedVersion(account.Version), Events: []ordersaga.EventData{debit}},
			ordersaga.StreamAppend{Stream: order, Expected: ordersaga.AnyVersion, Events: []ordersaga.EventData{paid}})
		if err == nil {
			return stepResult(res[1]), nil
		}
		if !isConflict(err) {
			return StepResult{}, err
		}
		if res, debited, err := debitedBefore(); debited || err != nil {
			return res, err
		}
		if race >= maxDebitRaces {
			return StepResult{}, err
		}
		activity.RecordHeartbeat(ctx, race)
	}
}

// orderStream and customerStream are the streams an activity writes; an id that cannot
// name one is a non-retryable invalid input.
func orderStream(orderID string) (ordersaga.Stream, error) {
	stream, err := ordersaga.OrderStream(orderID)
	return stream, asActivityError(err)
}

func customerStream(customerID string) (ordersaga.Stream, error) {
	stream, err := ordersaga.CustomerStream(customerID)
	return stream, asActivityError(err)
}

// account folds a customer's account from its stream.
func (a *Activities) account(ctx context.Context, customerID string) (ordersaga.Account, error) {
	account, err := payments.Accounts{Store: a.Store, Cache: a.Accounts}.Get(ctx, customerID)
	return account, asActivityError(err)
}

// RefundResult says whether a refund happened.
type RefundResult struct {
	// Refunded is false when the order had never been debited: nothing to give back.
	Refunded bool `json:"refunded"`
}

// RefundPayment gives back the order's debit, if there was one: it appends
// account-refunded and order-payment-refunded atomically. Refunding an order that was
// never debited is a no-op; refunding twice refunds once.
func (a *Activities) RefundPayment(ctx context.Context, in PaymentInput) (RefundResult, error) {
	countAttempt(ctx, "refund-payment")
	s := newStepContext(ctx, in.OrderID)
	customer, err := customerStream(in.CustomerID)
	if err != nil {
		return RefundResult{}, err
	}
	order, err := orderStream(in.OrderID)
	if err != nil {
		return RefundResult{}, err
	}
	debitVersion, debited, err := a.Store.EventVersion(ctx, customer, s.eventID("debit-account"))
	if err != nil {
		return RefundResult{}, asActivityError(err)
	}
	if !debited {
		return RefundResult{Refunded: false}, nil
	}
	// What goes back is what the stored debit took, whatever the input says.
	debit, err := a.storedDebit(ctx, customer, debitVersion, in)
	if err != nil {
		return RefundResult{}, err
	}
	refund, err := s.event("refund-account", ordersaga.EventAccountRefunded, ordersaga.AccountEntry{
		CustomerID: in.CustomerID, Amount: debit.Amount, Currency: debit.Currency, OrderID: in.OrderID, PaymentID: PaymentID(in.OrderID),
	})
	if err != nil {
		return RefundResult{}, err
	}
	e, err := s.event("payment-refunded", ordersaga.EventPaymentRefunded, ordersaga.PaymentRefunded{
		OrderID: in.OrderID, PaymentID: PaymentID(in.OrderID), Amount: debit.Amount, Currency: debit.Currency,
	})
	if err != nil {
		return RefundResult{}, err
	}
	_, refunded, err := a.Store.EventVersion(ctx, customer, refund.ID)
	if err != nil {
		return RefundResult{}, asActivityError(err)
	}
	if refunded {
		// Refunded by an earlier attempt (perhaps, before the two were appended together,
		// without its record): make sure both are stored and published.
		if _, err := a.appendAndPublish(ctx, customer, ordersaga.AnyVersion, refund); err != nil {
			return RefundResult{}, err
		}
		if _, err := a.appendAndPublish(ctx, order, ordersaga.AnyVersion, e); err != nil {
			return RefundResult{}, err
		}
		return RefundResult{Refunded: true}, nil
	}
	// A refund only adds to the balance: no version check needed.
	if _, err := a.appendBothAndPublish(ctx,
		ordersaga.StreamAppend{Stream: customer, Expected: ordersaga.AnyVersion, Events: []ordersaga.EventData{refund}},
		ordersaga.StreamAppend{Stream: order, Expected: ordersaga.AnyVersion, Events: []ordersaga.EventData{e}}); err != nil {
		return RefundResult{}, err
	}
	return RefundResult{Refunded: true}, nil
}

// storedDebit reads the account-debited event at version of the customer's stream and
// checks that it is this order's debit of this customer; anything else is a non-retryable
// ErrInvalidInput (nothing is refunded).
func (a *Activities) storedDebit(ctx context.Context, customer ordersaga.Stream, version int64, in PaymentInput) (ordersaga.AccountEntry, error) {
	events, err := a.Store.ReadStream(ctx, customer, version, 1)
	if err != nil {
		return ordersaga.AccountEntry{}, asActivityError(err)
	}
	var entry ordersaga.AccountEntry
	if len(events) == 1 && events[0].Type == ordersaga.EventAccountDebited {
		if err := json.Unmarshal(events[0].Data, &entry); err == nil && entry.CustomerID == in.CustomerID && entry.OrderID == in.OrderID {
			return entry, nil
		}
	}
	return entry, temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("%s version %d is not the debit of order %s", customer, version, in.OrderID), ErrInvalidInput, nil)
}

// DecisionInput names an order and its restaurant.
type DecisionInput struct {
	OrderID      string `json:"order_id"`
	RestaurantID string `json:"restaurant_id"`
}

// ApproveOrder appends order-approved.
func (a *Activities) ApproveOrder(ctx context.Context, in DecisionInput) (StepResult, error) {
	s := newStepContext(ctx, in.OrderID)
	stream, err := orderStream(in.OrderID)
	if err != nil {
		return StepResult{}, err
	}
	e, err := s.event("approve-order", ordersaga.EventOrderApproved, ordersaga.OrderApproved{OrderID: in.OrderID, RestaurantID: in.RestaurantID})
	if err != nil {
		return StepResult{}, err
	}
	res, err := a.appendAndPublish(ctx, stream, ordersaga.AnyVersion, e)
	return stepResult(res), err
}

// CloseInput ends an order that will not be fulfilled.
type CloseInput struct {
	OrderID string `json:"order_id"`
	Reason  string `json:"reason"`
	By      string `json:"by,omitempty"`
}

// RejectOrder appends order-rejected with the reason. It is a compensation: it does
// nothing for an order that was never created.
func (a *Activities) RejectOrder(ctx context.Context, in CloseInput) (StepResult, error) {
	return a.closeOrder(ctx, "reject-order", ordersaga.EventOrderRejected, in.OrderID,
		ordersaga.OrderRejected{OrderID: in.OrderID, Reason: in.Reason})
}

// CancelOrder appends order-cancelled with the reason and who cancelled. It is a
// compensation: it does nothing for an order that was never created.
func (a *Activities) CancelOrder(ctx context.Context, in CloseInput) (StepResult, error) {
	return a.closeOrder(ctx, "cancel-order", ordersaga.EventOrderCancelled, in.OrderID,
		ordersaga.OrderCancelled{OrderID: in.OrderID, Reason: in.Reason, By: in.By})
}

func (a *Activities) closeOrder(ctx context.Context, step, typ, orderID string, payload any) (StepResult, error) {
	countAttempt(ctx, "close-order")
	s := newStepContext(ctx, orderID)
	stream, err := orderStream(orderID)
	if err != nil {
		return StepResult{}, err
	}
	created, err := a.Store.ReadStream(ctx, stream, 1, 1)
	if err != nil {
		return StepResult{}, asActivityError(err)
	}
	if len(created) == 0 || created[0].ID != s.eventID("create-order") {
		return StepResult{}, nil // this saga never created the order: nothing to close
	}
	e, err := s.event(step, typ, payload)
	if err != nil {
		return StepResult{}, err
	}
	res, err := a.appendAndPublish(ctx, stream, ordersaga.AnyVersion, e)
	return stepResult(res), err
}

// countAttempt counts an attempt of a compensation (ordersaga_compensation_attempts, by
// the saga's name for it), through the worker's Temporal metrics handler: the ratio to
// ordersaga_compensations_run says how often compensations had to be retried.
func countAttempt(ctx context.Context, compensation string) {
	activity.GetMetricsHandler(ctx).WithTags(map[string]string{"compensation": compensation}).Counter("ordersaga_compensation_attempts").Inc(1)
}
