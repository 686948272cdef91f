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
	decode := func(v any) error {
		if err := json.Unmarshal(e.Data, v); err != nil {
			return malformed{fmt.Errorf("%s %s: %w", e.Type, e.ID, err)}
		}
		return nil
	}
	switch e.Type {
	case ordersaga.EventOrderCreated:
		var c ordersaga.OrderCreated
		if err := decode(&c); err != nil {
			return err
		}
		if c.OrderID == "" || c.CustomerID == "" || c.Currency == "" {
			return malformed{fmt.Errorf("%s %s lacks order, customer or currency", e.Type, e.ID)}
		}
		o.OrderID, o.CustomerID, o.RestaurantID = c.OrderID, c.CustomerID, c.RestaurantID
		o.Items, o.Amount, o.Currency, o.Status, o.CreatedAt = c.Items, c.Amount, c.Currency, ordersaga.StatusCreated, e.RecordedAt
	case ordersaga.EventPaymentDebited:
		o.Status = ordersaga.StatusPaid
	case ordersaga.EventOrderApproved:
		o.Status = ordersaga.StatusApproved
	case ordersaga.EventPaymentRefunded:
		o.Status = StatusRefunded
	case ordersaga.EventOrderRejected, ordersaga.EventOrderCancelled:
		var r ordersaga.OrderRejected
		if err := decode(&r); err != nil {
			return err
		}
		o.Status, o.Reason = ordersaga.StatusRejected, r.Reason
		if e.Type == ordersaga.EventOrderCancelled {
			o.Status = ordersaga.StatusCancelled
		}
	}
	return nil
}

// applyBalance applies the event at b.Version+1 of a customer stream.
func applyBalance(b *Balance, e ordersaga.RecordedEvent) error {
	if e.Version != b.Version+1 {
		return fmt.Errorf("customer stream %s: version %d applied after %d", e.StreamID, e.Version, b.Version)
	}
	b.Version = e.Version
	b.UpdatedAt = e.RecordedAt
	switch e.Type {
	case ordersaga.EventAccountCredited, ordersaga.EventAccountDebited, ordersaga.EventAccountRefunded:
	default:
		return nil
	}
	var entry ordersaga.AccountEntry
	if err := json.Unmarshal(e.Data, &entry); err != nil {
		return malformed{fmt.Errorf("%s %s: %w", e.Type, e.ID, err)}
	}
	if b.Currency == "" {
		b.Currency = entry.Currency
	}
	if e.Type == ordersaga.EventAccountDebited {
		b.Balance -= entry.Amount
	} else {
		b.Balance += entry.Amount
	}
	return nil
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
