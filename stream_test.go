package ordersaga_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga"
)

// TestStreamsAreValidWhereTheyAreMade checks each way of making a Stream: what it accepts
// names the same stream, and what it refuses is an EINVALID error naming the field.
func TestStreamsAreValidWhereTheyAreMade(t *testing.T) {
	order, err := ordersaga.OrderStream("42")
	if err != nil || order.String() != "order-42" || order.Type() != ordersaga.StreamTypeOrder || order.ID() != "42" {
		t.Errorf("OrderStream(42) = %v (%q, %q), %v", order, order.Type(), order.ID(), err)
	}
	if parsed, err := ordersaga.ParseStream("order-42"); err != nil || parsed != order {
		t.Errorf("ParseStream(order-42) = %v, %v; want %v", parsed, err, order)
	}
	if made, err := ordersaga.NewStream("customer", "c-1"); err != nil || made.String() != "customer-c-1" || made.ID() != "c-1" {
		t.Errorf("NewStream(customer, c-1) = %v, %v", made, err)
	}
	for _, c := range []struct {
		name  string
		make  func() (ordersaga.Stream, error)
		field string
	}{
		{"empty name", func() (ordersaga.Stream, error) { return ordersaga.ParseStream("") }, "stream"},
		{"no id", func() (ordersaga.Stream, error) { return ordersaga.ParseStream("order") }, "stream"},
		{"a space", func() (ordersaga.Stream, error) { return ordersaga.ParseStream("order-a b") }, "stream"},
		{"too long", func() (ordersaga.Stream, error) { return ordersaga.ParseStream("order-" + strings.Repeat("a", 300)) }, "stream"},
		{"upper-case type", func() (ordersaga.Stream, error) { return ordersaga.NewStream("Order", "1") }, "aggregate_type"},
		{"order id with a slash", func() (ordersaga.Stream, error) { return ordersaga.OrderStream("a/b") }, "order_id"},
		{"empty customer", func() (ordersaga.Stream, error) { return ordersaga.CustomerStream("") }, "customer_id"},
		{"renamed fields", func() (ordersaga.Stream, error) {
			return ordersaga.NewStreamWithFields("t", "event.aggregate_id", "order", "")
		}, "event.aggregate_id"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := c.make()
			var invalid *ordersaga.Error
			if !s.IsZero() || ordersaga.ErrorCode(err) != ordersaga.EINVALID || !errors.As(err, &invalid) || invalid.Field != c.field {
				t.Errorf("got %v, %v; want the zero Stream and an invalid error naming %s", s, err, c.field)
			}
		})
	}
}
