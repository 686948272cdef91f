package projections

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga"
)

// Order returns the read model of an order.
//
// Errors: ENOTFOUND, EUNAVAILABLE, EINTERNAL.
func (p *Projector) Order(ctx context.Context, orderID string) (Order, error) {
	m, err := loadOrder(ctx, p.db.Pool, orderID) // one row: no transaction needed
	if err != nil {
		return Order{}, readError(err)
	}
	o := m.(*orderRow).Order
	if o.Version == 0 {
		return Order{}, ordersaga.Errorf(ordersaga.ENOTFOUND, "order %s not found", orderID)
	}
	return o, nil
}

// Balance returns the read model of a customer's balance.
//
// Errors: ENOTFOUND, EUNAVAILABLE, EINTERNAL.
func (p *Projector) Balance(ctx context.Context, customerID string) (Balance, error) {
	m, err := loadBalance(ctx, p.db.Pool, customerID)
	if err != nil {
		return Balance{}, readError(err)
	}
	b := m.(*balanceRow).Balance
	if b.Version == 0 {
		return Balance{}, ordersaga.Errorf(ordersaga.ENOTFOUND, "no account for customer %s", customerID)
	}
	return b, nil
}

func readError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &ordersaga.Error{Code: ordersaga.EUNAVAILABLE, Message: "the read models are unavailable", Err: err}
}

// ListOrders returns up to limit orders matching f whose ids sort after afterOrderID, in
// order id order.
//
// Errors: EUNAVAILABLE, EINTERNAL.
func (p *Projector) ListOrders(ctx context.Context, f ordersaga.OrderFilter, afterOrderID string, limit int) ([]Order, error) {
	rows, err := p.db.Pool.Query(ctx, `SELECT `+orderColumns+`
		FROM orders_view
		WHERE ($1 = '' OR customer_id = $1) AND ($2 = '' OR restaurant_id = $2) AND ($3 = '' OR status = $3) AND order_id > $4
		ORDER BY order_id LIMIT $5`, f.CustomerID, f.RestaurantID, f.Status, afterOrderID, limit)
	if err != nil {
		return nil, readError(err)
	}
	orders, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Order, error) {
		var o Order
		err := scanOrder(row, &o)
		return o, err
	})
	if err != nil {
		return nil, readError(err)
	}
	return orders, nil
}
