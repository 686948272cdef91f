package projections

import (
	"encoding/json"
	"fmt"

	"github.com/ordersaga/ordersaga"
)

// Order is the orders read model (see ordersaga.OrderView).
type Order = ordersaga.OrderView

// Balance is the customer balances read model (see ordersaga.BalanceView).
type Balance = ordersaga.BalanceView

// StatusRefunded is the read model's status between a refund and the rejection or
// cancellation that follows it.
const StatusRefunded = "refunded"

// malformed marks an event that cannot be applied: it is dead-lettered, and the stream
// moves past it so the order's later events still apply.
type malformed struct{ err error }

func (m malformed) Error() string { return "malformed event: " + m.err.Error() }

// applyOrder applies the event at o.Version+1 of an order stream. Unknown event types only
// advance the version.
func applyOrder(o *Order, e ordersaga.RecordedEvent) error {
	if e.Version != o.Version+1 {
		return fmt.Errorf("order stream %s: version %d applied after %d", e.StreamID, e.Version, o.Version)
	}
	o.Version = e.Version
	o.UpdatedAt = e.RecordedAt
	if e.Version == 1 && e.Type != ordersaga.EventOrderCreated {
		return malformed{fmt.Errorf("order stream %s starts with %s", e.StreamID, e.Type)}
	}
	c, err := orderChangeOf(e)
	if err != nil {
		return err
	}
	if c.created != nil {
		o.OrderID, o.CustomerID, o.RestaurantID = c.created.OrderID, c.created.CustomerID, c.created.RestaurantID
		o.Items, o.Amount, o.Currency, o.CreatedAt = c.created.Items, c.created.Amount, c.created.Currency, e.RecordedAt
	}
	if c.status != nil {
		o.Status = *c.status
	}
	if c.reason != nil {
		o.Reason = *c.reason
	}
	return nil
}

// orderChange is what one event does to an order's row besides advancing its version:
// applyOrder makes the change to a row in memory, nextOrder to the row in the table.
type orderChange struct {
	created *ordersaga.OrderCreated // order-created: sets every field
	status  *string                 // nil: unchanged
	reason  *string                 // nil: unchanged
}

// orderChangeOf decodes the change an order event makes.
func orderChangeOf(e ordersaga.RecordedEvent) (orderChange, error) {
	decode := func(v any) error {
		if err := json.Unmarshal(e.Data, v); err != nil {
			return malformed{fmt.Errorf("%s %s: %w", e.Type, e.ID, err)}
		}
		return nil
	}
	status := func(s string) *string { return &s }
	switch e.Type {
	case ordersaga.EventOrderCreated:
		var c ordersaga.OrderCreated
		if err := decode(&c); err != nil {
			return orderChange{}, err
		}
		if c.OrderID == "" || c.CustomerID == "" || c.Currency == "" {
			return orderChange{}, malformed{fmt.Errorf("%s %s lacks order, customer or currency", e.Type, e.ID)}
		}
		return orderChange{created: &c, status: status(ordersaga.StatusCreated)}, nil
	case ordersaga.EventPaymentDebited:
		return orderChange{status: status(ordersaga.StatusPaid)}, nil
	case ordersaga.EventOrderApproved:
		return orderChange{status: status(ordersaga.StatusApproved)}, nil
	case ordersaga.EventPaymentRefunded:
		return orderChange{status: status(StatusRefunded)}, nil
	case ordersaga.EventOrderRejected, ordersaga.EventOrderCancelled:
		var r ordersaga.OrderRejected
		if err := decode(&r); err != nil {
			return orderChange{}, err
		}
		c := orderChange{status: status(ordersaga.StatusRejected), reason: &r.Reason}
		if e.Type == ordersaga.EventOrderCancelled {
			c.status = status(ordersaga.StatusCancelled)
		}
		return c, nil
	}
	return orderChange{}, nil
}

// applyBalance applies the event at b.Version+1 of a customer stream.
func applyBalance(b *Balance, e ordersaga.RecordedEvent) error {
	if e.Version != b.Version+1 {
		return fmt.Errorf("customer stream %s: version %d applied after %d", e.StreamID, e.Version, b.Version)
	}
	b.Version = e.Version
	b.UpdatedAt = e.RecordedAt
	c, err := balanceChangeOf(e)
	if err != nil {
		return err
	}
	if b.Currency == "" {
		b.Currency = c.currency
	}
	b.Balance += c.delta
	return nil
}

// balanceChange is what one event does to a customer's balance row besides advancing its
// version: applyBalance makes it in memory, nextBalance in the table.
type balanceChange struct {
	delta    int64  // added to the balance
	currency string // the balance's currency if it has none yet; "" for none
}

// balanceChangeOf decodes the change an account event makes; other types change nothing.
func balanceChangeOf(e ordersaga.RecordedEvent) (balanceChange, error) {
	switch e.Type {
	case ordersaga.EventAccountCredited, ordersaga.EventAccountDebited, ordersaga.EventAccountRefunded:
	default:
		return balanceChange{}, nil
	}
	var entry ordersaga.AccountEntry
	if err := json.Unmarshal(e.Data, &entry); err != nil {
		return balanceChange{}, malformed{fmt.Errorf("%s %s: %w", e.Type, e.ID, err)}
	}
	if e.Type == ordersaga.EventAccountDebited {
		return balanceChange{delta: -entry.Amount, currency: entry.Currency}, nil
	}
	return balanceChange{delta: entry.Amount, currency: entry.Currency}, nil
}

// FoldOrder folds an order stream from its first event, as `verify` and `rebuild` do;
// malformed events are skipped as the projector skips them.
func FoldOrder(events []ordersaga.RecordedEvent) Order {
	var o Order
	for _, e := range events {
		_ = applyOrder(&o, e)
	}
	return o
}

// FoldBalance folds a customer stream from its first event.
func FoldBalance(customerID string, events []ordersaga.RecordedEvent) Balance {
	b := Balance{CustomerID: customerID}
	for _, e := range events {
		_ = applyBalance(&b, e)
	}
	return b
}
