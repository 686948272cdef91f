// Package workflows holds the OrderSaga workflow: create the order, debit the payment,
// wait for the restaurant's decision, approve — and on any failure, rejection, timeout or
// cancellation, run the registered compensations last-in first-out. Deterministic code
// only: time, timers, goroutines and logging all go through the workflow package.
package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities"
)

// Names by which clients reach the saga.
const (
	// TaskQueue is where the worker polls for order sagas.
	TaskQueue = "orders"
	// WorkflowName is the workflow type to start: `temporal workflow start --type OrderSaga`.
	WorkflowName = "OrderSaga"
	// QueryStatus returns the live State.
	QueryStatus = "status"
	// SignalDecision delivers the restaurant's Decision (fire and forget).
	SignalDecision = "decision"
	// UpdateDecision delivers the restaurant's Decision and says whether it was accepted;
	// it is rejected with an error when the order is not awaiting a decision.
	UpdateDecision = "decide"
	// ErrInvalidOrder is the error type of a saga started with invalid input.
	ErrInvalidOrder = "InvalidOrder"
	// ErrNotAwaitingDecision is the error type of a refused decision update.
	ErrNotAwaitingDecision = "NotAwaitingDecision"
)

// Search attributes the saga keeps up to date, so Temporal Web can find orders. Both are
// Keyword attributes that must be registered on the namespace (see the README).
var (
	OrderStatusAttribute = temporal.NewSearchAttributeKeyKeyword("OrderStatus")
	CustomerIDAttribute  = temporal.NewSearchAttributeKeyKeyword("CustomerId")
)

// WorkflowID is the id of an order's saga. Starting a second saga for the same order is
// refused by Temporal (workflow id conflict and reuse policies, see StartOptions).
func WorkflowID(orderID string) string { return "order-" + orderID }

// Decision is the restaurant's answer.
type Decision struct {
	Approved bool   `json:"approved"`
	Reason   string `json:"reason,omitempty"`
}

// DecisionResult answers UpdateDecision.
type DecisionResult struct {
	Accepted bool   `json:"accepted"`
	Status   string `json:"status"`
}

// State is the saga's live state, as QueryStatus returns it.
type State struct {
	OrderID        string   `json:"order_id"`
	Status         string   `json:"status"`
	Reason         string   `json:"reason,omitempty"`
	Amount         int64    `json:"amount"`
	Currency       string   `json:"currency"`
	CompletedSteps []string `json:"completed_steps"`
	PendingStep    string   `json:"pending_step,omitempty"`
	Compensated    []string `json:"compensated,omitempty"`
	LastError      string   `json:"last_error,omitempty"`
	// OrderVersion is the version of the order's stream after the saga's last write.
	OrderVersion int64 `json:"order_version"`
	// DecisionHeld is true while a decision that arrived early waits for the decision point.
	DecisionHeld bool `json:"decision_held,omitempty"`
	// DecisionDeadline is when the restaurant's time to decide runs out, once the saga
	// waits for it.
	DecisionDeadline *time.Time `json:"decision_deadline,omitempty"`
}

// Result is how the saga ended.
type Result struct {
	OrderID     string   `json:"order_id"`
	Status      string   `json:"status"`
	Reason      string   `json:"reason,omitempty"`
	Amount      int64    `json:"amount"`
	Compensated []string `json:"compensated,omitempty"`
	// OrderVersion is the version of the order's stream after the saga's last write (0 if
	// it wrote none): GetOrder with this min_version reads the final state.
	OrderVersion int64 `json:"order_version,omitempty"`
}

// Activity options. Forward steps give up after 10 attempts (then the saga compensates);
// compensations, and the approval once the restaurant has approved, retry until they
// succeed. A cancelled saga waits for a running forward
// step to finish before compensating, so a debit that is still being written cannot slip
// past its refund.
var (
	forwardOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		WaitForCancellation: true,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 10,
			NonRetryableErrorTypes: []string{activities.ErrInsufficientFunds, activities.ErrCurrencyMismatch,
				activities.ErrInvalidInput, activities.ErrOrderConflict, activities.ErrAlreadyStarted},
		},
	}
	compensationOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 0,
		},
	}
)

// ForwardActivityOptions are the options of the saga's forward steps, for workflows that
// mirror the saga's shape (the load test's baseline).
func ForwardActivityOptions() workflow.ActivityOptions { return forwardOptions }

// saga is one run's working state.
type saga struct {
	// fewerUpserts is true for runs started by this code (see upsertVersion); runs started
	// by earlier code replay with an upsert per status.
	fewerUpserts bool
	in           ordersaga.OrderInput
	state        State
	// early is a decision that arrived while the saga was still on its way to the decision
	// point (its payment not yet recorded); the saga takes it when it gets there.
	early         *Decision
	decision      *Decision
	compensations []compensation
	// deadline is when the restaurant's time to decide runs out, once the saga waits.
	deadline time.Time
	// ended is set when the run is over, so that a held decision stops waiting.
	ended bool
}

// compensation undoes one step; reason is why the saga is compensating.
type compensation struct {
	name string
	run  func(ctx workflow.Context, reason string, cancelled bool) error
}

// OrderSaga runs one order. Its input is plain JSON (ordersaga.OrderInput).
func OrderSaga(ctx workflow.Context, in ordersaga.OrderInput) (Result, error) {
	if err := in.Validate(); err != nil {
		return Result{}, temporal.NewNonRetryableApplicationError(ordersaga.ErrorMessage(err), ErrInvalidOrder, nil)
	}
	// One order, one saga: a run under another workflow id could act on an order beside
	// the saga that owns it.
	if id := workflow.GetInfo(ctx).WorkflowExecution.ID; id != WorkflowID(in.OrderID) {
		return Result{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("the saga of order %s runs as workflow %s, not %s", in.OrderID, WorkflowID(in.OrderID), id), ErrInvalidOrder, nil)
	}
	amount, _ := in.Amount()
	timeout, _ := in.Timeout()
	s := &saga{in: in, state: State{OrderID: in.OrderID, Status: ordersaga.StatusPending, Amount: amount,
		Currency: in.Currency, CompletedSteps: []string{}}}
	if err := s.registerHandlers(ctx); err != nil {
		return Result{}, err
	}
	s.fewerUpserts = startedWithSearchAttributes(ctx) ||
		workflow.GetVersion(ctx, upsertChange, workflow.DefaultVersion, 1) == 1
	s.setStatus(ctx, ordersaga.StatusPending)
	countStarted(ctx)

	res, err := s.execute(ctx, amount, timeout)
	outcome := res.Status
	if err != nil && outcome == "" {
		outcome = "failed"
	}
	countEnded(ctx, outcome, res.Reason)
	// A decision update still held (the order ended before the decision point) learns so
	// before the run closes.
	s.ended = true
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	_ = workflow.Await(dctx, func() bool { return workflow.AllHandlersFinished(dctx) })
	return res, err
}

// execute runs the forward steps and, when they fail, the compensations.
func (s *saga) execute(ctx workflow.Context, amount int64, timeout time.Duration) (Result, error) {
	reason, err := s.run(ctx, amount, timeout)
	switch {
	case err == nil:
		return s.result(), nil
	case len(s.compensations) == 0 && s.state.Status == ordersaga.StatusPending:
		// Nothing was done and nothing is to be undone: the order belongs to another saga.
		return Result{}, err
	}
	return s.compensate(ctx, reason, err)
}

// run executes the forward steps. On failure it returns the rejection reason and the error.
func (s *saga) run(ctx workflow.Context, amount int64, timeout time.Duration) (string, error) {
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, forwardOptions)
	order := activities.DecisionInput{OrderID: s.in.OrderID, RestaurantID: s.in.RestaurantID}
	payment := activities.PaymentInput{OrderID: s.in.OrderID, CustomerID: s.in.CustomerID, Amount: amount, Currency: s.in.Currency}

	s.push("close-order", func(ctx workflow.Context, reason string, cancelled bool) error {
		in := activities.CloseInput{OrderID: s.in.OrderID, Reason: reason}
		var res activities.StepResult
		var err error
		if cancelled {
			in.By = "customer"
			ctx = withSummary(ctx, CloseSummary(s.in.OrderID, reason, true))
			err = workflow.ExecuteActivity(ctx, a.CancelOrder, in).Get(ctx, &res)
		} else {
			ctx = withSummary(ctx, CloseSummary(s.in.OrderID, reason, false))
			err = workflow.ExecuteActivity(ctx, a.RejectOrder, in).Get(ctx, &res)
		}
		s.noteVersion(res)
		return err
	})
	created, err := s.step(ctx, "create-order", a.CreateOrder, s.in, ordersaga.StatusCreated)
	if err != nil {
		var appErr *temporal.ApplicationError
		switch {
		case errors.As(err, &appErr) && (appErr.Type() == activities.ErrAlreadyStarted || appErr.Type() == activities.ErrOrderConflict):
			s.compensations = nil // the order is not this saga's to close
		case errors.As(err, &appErr) && appErr.Type() == activities.ErrInvalidInput &&
			workflow.GetVersion(ctx, unorderableChange, workflow.DefaultVersion, 1) == 1:
			// Not orderable (an item off the menu, a price that is not the menu's): nothing
			// was written, and the run fails saying why.
			s.compensations = nil
			return ordersaga.ReasonFailed, temporal.NewNonRetryableApplicationError(appErr.Message(), ErrInvalidOrder, nil)
		}
		return ordersaga.ReasonFailed, err
	}
	// The menu priced the order (runs of the activity before menus report no amount: the
	// input's prices were the order's).
	if created.Amount > 0 {
		payment.Amount = created.Amount
		s.state.Amount = created.Amount
	}

	s.push("refund-payment", func(ctx workflow.Context, _ string, _ bool) error {
		ctx = withSummary(ctx, s.stepSummary("refund-payment"))
		return workflow.ExecuteActivity(ctx, a.RefundPayment, payment).Get(ctx, nil)
	})
	if _, err := s.step(ctx, "debit-payment", a.DebitPayment, payment, ordersaga.StatusPaid); err != nil {
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && (appErr.Type() == activities.ErrInsufficientFunds || appErr.Type() == activities.ErrCurrencyMismatch) {
			return ordersaga.ReasonPaymentDeclined, err
		}
		return ordersaga.ReasonFailed, err
	}

	s.state.PendingStep = "restaurant-decision"
	s.show(ctx)
	decided, err := s.awaitDecision(ctx, timeout)
	switch {
	case err != nil:
		return ordersaga.ReasonCancelled, err
	case !decided:
		return ordersaga.ReasonRestaurantTimeout, fmt.Errorf("the restaurant did not decide within %s", timeout)
	case !s.decision.Approved:
		return ordersaga.ReasonRestaurantRejected, fmt.Errorf("the restaurant rejected the order: %s", s.decision.Reason)
	}
	s.state.CompletedSteps = append(s.state.CompletedSteps, "restaurant-decision")
	// The restaurant has approved: the approval must land, and a committed order-approved
	// is never followed by a refund. So it runs where the saga's cancellation does not
	// reach (a cancellation now comes too late), and retries like a compensation, until it
	// succeeds, through any outage.
	approveCtx, _ := workflow.NewDisconnectedContext(ctx)
	approveCtx = workflow.WithActivityOptions(approveCtx, compensationOptions)
	if _, err := s.step(approveCtx, "approve-order", a.ApproveOrder, order, ordersaga.StatusApproved); err != nil {
		return ordersaga.ReasonFailed, err
	}
	s.compensations = nil // approved: nothing to undo any more
	s.state.PendingStep = ""
	return "", nil
}

// awaitDecision takes a decision held for the decision point, or waits for one until the
// deadline. With a decision in hand the saga neither waits nor starts the deadline timer,
// and does not publish awaiting_decision, which would last only milliseconds.
func (s *saga) awaitDecision(ctx workflow.Context, timeout time.Duration) (bool, error) {
	if s.early != nil {
		s.state.Status = ordersaga.StatusAwaitingDecision
		s.decision, s.early = s.early, nil
		s.state.DecisionHeld = false
		return true, nil
	}
	s.deadline = workflow.Now(ctx).Add(timeout)
	s.state.DecisionDeadline = &s.deadline
	s.setStatus(ctx, ordersaga.StatusAwaitingDecision)
	return workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{Timeout: timeout,
		TimerOptions: workflow.TimerOptions{Summary: fmt.Sprintf("restaurant %s decides within %s", s.in.RestaurantID, timeout)}},
		func() bool { return s.decision != nil })
}

// step runs one forward activity and records its progress.
func (s *saga) step(ctx workflow.Context, name string, activity, input any, statusAfter string) (activities.StepResult, error) {
	s.state.PendingStep = name
	s.show(ctx)
	var res activities.StepResult
	if err := workflow.ExecuteActivity(withSummary(ctx, s.stepSummary(name)), activity, input).Get(ctx, &res); err != nil {
		s.state.LastError = err.Error()
		return res, err
	}
	s.noteVersion(res)
	s.state.CompletedSteps = append(s.state.CompletedSteps, name)
	s.state.PendingStep = ""
	s.setStatus(ctx, statusAfter)
	return res, nil
}

func (s *saga) noteVersion(res activities.StepResult) {
	if res.Version > 0 {
		s.state.OrderVersion = res.Version
	}
}

func (s *saga) push(name string, run func(ctx workflow.Context, reason string, cancelled bool) error) {
	s.compensations = append(s.compensations, compensation{name: name, run: run})
}

// compensate runs the registered compensations last-in first-out on a context that the
// workflow's cancellation does not reach, and ends the saga as rejected or cancelled.
func (s *saga) compensate(ctx workflow.Context, reason string, cause error) (Result, error) {
	cancelled := errors.Is(ctx.Err(), workflow.ErrCanceled) || temporal.IsCanceledError(cause)
	if cancelled {
		reason = ordersaga.ReasonCancelled
	}
	s.state.Reason = reason
	if s.state.LastError == "" {
		s.state.LastError = cause.Error()
	}
	logger := workflow.GetLogger(ctx)
	logger.Info("compensating", "reason", reason, "cause", cause)
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	dctx = workflow.WithActivityOptions(dctx, compensationOptions)
	s.setStatus(dctx, ordersaga.StatusCompensating)
	for i := len(s.compensations) - 1; i >= 0; i-- {
		c := s.compensations[i]
		s.state.PendingStep = c.name
		s.show(dctx)
		if err := c.run(dctx, reason, cancelled); err != nil {
			// Retried without limit; only a non-retryable failure ends up here.
			s.state.LastError = err.Error()
			logger.Error("compensation failed", "compensation", c.name, "error", err)
			return s.result(), err
		}
		s.state.Compensated = append(s.state.Compensated, c.name)
		countCompensation(dctx, c.name)
	}
	s.state.PendingStep = ""
	if cancelled {
		s.setStatus(dctx, ordersaga.StatusCancelled)
	} else {
		s.setStatus(dctx, ordersaga.StatusRejected)
	}
	return s.result(), nil
}

func (s *saga) result() Result {
	return Result{OrderID: s.state.OrderID, Status: s.state.Status, Reason: s.state.Reason,
		Amount: s.state.Amount, Compensated: s.state.Compensated, OrderVersion: s.state.OrderVersion}
}

// unorderableChange names the change that fails a run whose order the menu refuses, as
// an invalid order, instead of compensating (a no-op) and ending it rejected. The version
// is asked for only on that path, so other runs carry no marker for it.
const unorderableChange = "fail-unorderable-order"

// upsertChange names the change to fewer search-attribute upserts: runs started by this
// code publish only pending (unless the starter set it), awaiting_decision, compensating
// and the final status, not created and paid, which last milliseconds. (Why it matters:
// docs/benchmarks.md.)
const upsertChange = "fewer-search-attribute-upserts"

// startedWithSearchAttributes reports whether the starter set the order's search
// attributes, as the API does. Such a run follows the change to fewer upserts without
// asking GetVersion, which would record a marker (and upsert) in every run; replays decide
// the same, from the start event. Runs started without them (the temporal CLI) ask.
func startedWithSearchAttributes(ctx workflow.Context) bool {
	_, set := workflow.GetTypedSearchAttributes(ctx).GetKeyword(CustomerIDAttribute)
	return set
}

// setStatus records the status, shows it in the current details and publishes it as a
// search attribute.
func (s *saga) setStatus(ctx workflow.Context, status string) {
	s.state.Status = status
	s.show(ctx)
	if s.fewerUpserts {
		switch status {
		case ordersaga.StatusCreated, ordersaga.StatusPaid:
			return
		case ordersaga.StatusPending:
			if startedWithSearchAttributes(ctx) {
				return // the starter set both attributes
			}
		}
	}
	UpsertStatus(ctx, status, s.in.CustomerID)
}

// UpsertStatus publishes an order's status and customer as search attributes. A failure
// is logged: the saga goes on without them.
func UpsertStatus(ctx workflow.Context, status, customerID string) {
	err := workflow.UpsertTypedSearchAttributes(ctx,
		OrderStatusAttribute.ValueSet(status), CustomerIDAttribute.ValueSet(customerID))
	if err != nil {
		workflow.GetLogger(ctx).Warn("search attributes not updated", "error", err)
	}
}

// registerHandlers installs the status query, the decision signal and the decision update.
//
// A decision is welcome from the start of the saga until one is taken or the order ends: a
// restaurant that hears of the order (or sees it paid in the read model) may answer before
// the saga has recorded the payment. Such an early decision is held and taken at the
// decision point; the update that brought it completes then, or fails with
// NotAwaitingDecision if the order ends another way (payment declined, cancelled).
func (s *saga) registerHandlers(ctx workflow.Context) error {
	err := workflow.SetQueryHandlerWithOptions(ctx, QueryStatus, func() (State, error) { return s.state, nil },
		workflow.QueryHandlerOptions{Description: "The saga's live state: status, amount, steps done and pending, compensations, last error"})
	if err != nil {
		return err
	}
	err = workflow.SetUpdateHandlerWithOptions(ctx, UpdateDecision,
		func(ctx workflow.Context, d Decision) (DecisionResult, error) {
			if s.state.Status == ordersaga.StatusAwaitingDecision {
				s.decision = &d
				return DecisionResult{Accepted: true, Status: s.state.Status}, nil
			}
			s.hold(&d)
			// Not the workflow's cancellation but the saga's own course ends the wait: a
			// cancelled saga compensates, and the update then says so.
			dctx, _ := workflow.NewDisconnectedContext(ctx)
			if err := workflow.Await(dctx, func() bool { return !s.onTheWayToDecision() }); err != nil {
				return DecisionResult{}, err
			}
			if s.decision != &d {
				countRefusedDecision(ctx, refusedOrderEndedBefore)
				return DecisionResult{}, temporal.NewApplicationError(fmt.Sprintf("order %s will not await a decision (status %s)", s.in.OrderID, s.state.Status), ErrNotAwaitingDecision)
			}
			return DecisionResult{Accepted: true, Status: s.state.Status}, nil
		},
		workflow.UpdateHandlerOptions{Description: `The restaurant's decision, {"approved": true} or {"approved": false, "reason": "..."}; ` +
			"answers whether it was taken, and is refused when the order awaits none",
			Validator: func(ctx workflow.Context, d Decision) error {
				if !s.welcomesDecision() {
					countRefusedDecision(ctx, refusedNotAwaiting)
					return temporal.NewApplicationError(fmt.Sprintf("order %s is not awaiting a decision (status %s)", s.in.OrderID, s.state.Status), ErrNotAwaitingDecision)
				}
				return nil
			}})
	if err != nil {
		return err
	}
	signals := workflow.GetSignalChannelWithOptions(ctx, SignalDecision, workflow.SignalChannelOptions{
		Description: `The restaurant's decision, fire and forget: {"approved": true} or {"approved": false, "reason": "..."}`})
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var d Decision
			if more := signals.Receive(ctx, &d); !more {
				return
			}
			switch {
			case !s.welcomesDecision():
				countRefusedDecision(ctx, refusedIgnoredSignal)
				workflow.GetLogger(ctx).Warn("decision ignored: the order is not awaiting one", "status", s.state.Status, "approved", d.Approved)
			case s.state.Status == ordersaga.StatusAwaitingDecision:
				s.decision = &d
			case workflow.GetVersion(ctx, earlySignalChange, workflow.DefaultVersion, 1) == 1:
				s.hold(&d)
			default:
				countRefusedDecision(ctx, refusedIgnoredSignal)
				workflow.GetLogger(ctx).Warn("decision ignored: the order is not awaiting one yet", "status", s.state.Status, "approved", d.Approved)
			}
		}
	})
	return nil
}

// hold keeps a decision that arrived before the decision point.
func (s *saga) hold(d *Decision) {
	s.early = d
	s.state.DecisionHeld = true
}

// earlySignalChange names the change that holds a decision signal arriving before the
// decision point instead of ignoring it. The version is asked for only when such a signal
// arrives, so other runs carry no marker for it.
const earlySignalChange = "hold-early-decision-signal"

// onTheWayToDecision says whether the saga is still before the decision point: starting,
// creating the order or taking the payment.
func (s *saga) onTheWayToDecision() bool {
	switch s.state.Status {
	case ordersaga.StatusPending, ordersaga.StatusCreated, ordersaga.StatusPaid:
		return !s.ended
	}
	return false
}

// welcomesDecision says whether a decision would be taken now or held for the decision
// point: none has been taken or held yet, and the order has not ended.
func (s *saga) welcomesDecision() bool {
	return s.decision == nil && s.early == nil &&
		(s.onTheWayToDecision() || s.state.Status == ordersaga.StatusAwaitingDecision)
}
