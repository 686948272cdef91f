package api

import (
	"context"
	"encoding/json"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/auth"
)

// What a handler asks before it acts: who the caller is (auth.FromContext) and whether
// auth's policy lets it. To anyone but an operator, an order that does not exist answers
// like one that is not theirs (EFORBIDDEN), so that order ids cannot be probed.

// hideMissing makes a missing order look, to anyone but an operator, like one they may not see.
func hideMissing(p auth.Principal, orderID string, err error) error {
	if p.Role != auth.Operator && ordersaga.ErrorCode(err) == ordersaga.ENOTFOUND {
		return auth.Denied("order %s", orderID)
	}
	return err
}

// orderParties returns the customer and the restaurant of an order, from its first event
// in the store (the read model may not hold it yet). A missing order (or one whose saga
// has not yet written its first event) is ENOTFOUND to an operator and EFORBIDDEN to
// anyone else. An order's first event never changes, so the parties it names are kept
// (s.parties) and later calls about the order read nothing.
func (s *orderServer) orderParties(ctx context.Context, p auth.Principal, orderID string) (customer, restaurant string, err error) {
	if known, ok := s.parties.Get(orderID); ok {
		return known.customer, known.restaurant, nil
	}
	stream, err := ordersaga.OrderStream(orderID)
	if err != nil {
		return "", "", err
	}
	first, err := s.store.ReadStream(ctx, stream, 1, 1)
	if err != nil {
		return "", "", err
	}
	if len(first) == 0 {
		return "", "", hideMissing(p, orderID, ordersaga.Errorf(ordersaga.ENOTFOUND, "order %s not found", orderID))
	}
	created, ok := orderCreated(first[0])
	if !ok {
		if p.Role != auth.Operator {
			return "", "", auth.Denied("order %s", orderID)
		}
		return "", "", nil
	}
	s.parties.Add(orderID, orderParties{customer: created.CustomerID, restaurant: created.RestaurantID})
	return created.CustomerID, created.RestaurantID, nil
}

// orderParties are the customer and the restaurant an order's first event names.
type orderParties struct{ customer, restaurant string }

// keptOrderParties is how many orders' parties the API keeps (the most recently used).
const keptOrderParties = 10_000

// orderCreated decodes the order-created event that starts an order stream.
func orderCreated(e ordersaga.RecordedEvent) (ordersaga.OrderCreated, bool) {
	var created ordersaga.OrderCreated
	if e.Type != ordersaga.EventOrderCreated || json.Unmarshal(e.Data, &created) != nil {
		return created, false
	}
	return created, true
}

// maySeeStream says whether p may read the order stream that starts with first.
func maySeeStream(p auth.Principal, first ordersaga.RecordedEvent) bool {
	if p.Role == auth.Operator {
		return true
	}
	created, ok := orderCreated(first)
	return ok && auth.MaySeeOrder(p, created.CustomerID, created.RestaurantID)
}

// mayDecide returns nil when the caller may approve or reject the order: its restaurant,
// or an operator.
func (s *orderServer) mayDecide(ctx context.Context, orderID string) error {
	p, err := auth.FromContext(ctx)
	if err != nil {
		return err
	}
	switch p.Role {
	case auth.Operator:
		return nil // whatever the order: Temporal says whether it exists and awaits a decision
	case auth.Customer:
		return auth.Denied("order %s", orderID)
	}
	_, restaurant, err := s.orderParties(ctx, p, orderID)
	if err != nil {
		return err
	}
	if !auth.MayDecide(p, restaurant) {
		return auth.Denied("order %s", orderID)
	}
	return nil
}

// mayOperate returns nil when the caller is an operator.
func mayOperate(ctx context.Context) error {
	p, err := auth.FromContext(ctx)
	if err != nil {
		return err
	}
	if !auth.MayOperate(p) {
		return ordersaga.Errorf(ordersaga.EFORBIDDEN, "only an operator may do this")
	}
	return nil
}

// restrictToCaller narrows a listing to what the caller may see: a customer's own orders,
// a restaurant's own; asking for another's is EFORBIDDEN.
func restrictToCaller(ctx context.Context, f *ordersaga.OrderFilter) error {
	p, err := auth.FromContext(ctx)
	if err != nil {
		return err
	}
	switch p.Role {
	case auth.Customer:
		if f.CustomerID != "" && f.CustomerID != p.ID {
			return auth.Denied("the orders of customer %s", f.CustomerID)
		}
		f.CustomerID = p.ID
	case auth.Restaurant:
		if f.RestaurantID != "" && f.RestaurantID != p.ID {
			return auth.Denied("the orders of restaurant %s", f.RestaurantID)
		}
		f.RestaurantID = p.ID
	}
	return nil
}
