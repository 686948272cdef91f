package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/payments"
	"github.com/ordersaga/ordersaga/sqldb"
)

// accountRole funds and reads customer accounts directly in the event store.
type accountRole struct {
	db       databaseFlags
	customer string
	amount   int64
	currency string
	ref      string
	pool     *sqldb.DB
}

func (r *accountRole) flags(fs *flag.FlagSet, env func(string) string) {
	r.db.register(fs, env)
	fs.StringVar(&r.customer, "customer", "", "customer id")
	fs.Int64Var(&r.amount, "amount", 0, "amount to credit, in minor units (cents)")
	fs.StringVar(&r.currency, "currency", "EUR", "ISO 4217 currency code")
	fs.StringVar(&r.ref, "reference", "", "id of the credit; crediting again with the same reference changes nothing (default: one per customer, amount and currency)")
}

func (r *accountRole) run(ctx context.Context, m *Main) error {
	var err error
	if r.pool, err = r.db.open(ctx, r.db.url); err != nil {
		return err
	}
	accounts := payments.Accounts{Store: eventstore.New(r.pool)}
	if r.customer == "" {
		return errors.New("--customer is required")
	}
	if r.amount != 0 {
		ref := r.ref
		if ref == "" {
			ref = fmt.Sprintf("cli-%d-%s", r.amount, r.currency)
		}
		if _, err := accounts.Credit(ctx, r.customer, r.amount, r.currency, ref); err != nil {
			return err
		}
	}
	a, err := accounts.Get(ctx, r.customer)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "customer %s: balance %d %s (account version %d)\n", a.CustomerID, a.Balance, a.Currency, a.Version)
	return nil
}

func (r *accountRole) close() error {
	if r.pool != nil {
		r.pool.Close()
	}
	return nil
}
