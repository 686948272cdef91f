package projections

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga"
)

// Order returns the read model of an order.
//
// Errors: ENOTFOUND, EUNAVAILABLE, EINTERNAL.
func (p *Projector) Order(ctx context.Context, orderID string) (Order, error) {
	var o Order
	err := p.db.InTx(ctx, func(tx pgx.Tx) error {
		m, err := loadOrder(ctx, tx, orderID)
		if err == nil {
			o = m.(*orderRow).Order
		}
		return err
	})
	if err != nil {
		return Order{}, readError(err)
	}
	if o.Version == 0 {
		return Order{}, ordersaga.Errorf(ordersaga.ENOTFOUND, "order %s not found", orderID)
	}
	return o, nil
}

// Balance returns the read model of a customer's balance.
//
// Errors: ENOTFOUND, EUNAVAILABLE, EINTERNAL.
func (p *Projector) Balance(ctx context.Context, customerID string) (Balance, error) {
	var b Balance
	err := p.db.InTx(ctx, func(tx pgx.Tx) error {
		m, err := loadBalance(ctx, tx, customerID)
		if err == nil {
			b = m.(*balanceRow).Balance
		}
		return err
	})
	if err != nil {
		return Balance{}, readError(err)
	}
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
	rows, err := p.db.Pool.Query(ctx, `SELECT order_id, customer_id, restaurant_id, status, items, amount, currency, reason, version, created_at, updated_at
		FROM orders_view
		WHERE ($1 = '' OR customer_id = $1) AND ($2 = '' OR restaurant_id = $2) AND ($3 = '' OR status = $3) AND order_id > $4
		ORDER BY order_id LIMIT $5`, f.CustomerID, f.RestaurantID, f.Status, afterOrderID, limit)
	if err != nil {
		return nil, readError(err)
	}
	orders, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Order, error) {
		var o Order
		var items []byte
		err := row.Scan(&o.OrderID, &o.CustomerID, &o.RestaurantID, &o.Status, &items, &o.Amount, &o.Currency, &o.Reason, &o.Version, &o.CreatedAt, &o.UpdatedAt)
		if err == nil {
			err = json.Unmarshal(items, &o.Items)
		}
		return o, err
	})
	if err != nil {
		return nil, readError(err)
	}
	return orders, nil
}
