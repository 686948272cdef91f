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
