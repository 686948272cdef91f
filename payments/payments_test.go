package payments_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/payments"
	"github.com/ordersaga/ordersaga/sqldb"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func newAccounts(t *testing.T) payments.Accounts {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, sqldb.Config{URL: dbtest.NewDatabase(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := eventstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	return payments.Accounts{Store: eventstore.New(db)}
}

func TestCreditIsIdempotentPerReference(t *testing.T) {
	a := newAccounts(t)
	ctx := context.Background()
	for range 3 {
		if _, err := a.Credit(ctx, "c-1", 2500, "EUR", "transfer-1"); err != nil {
			t.Fatal(err)
		}
	}
	acct, err := a.Credit(ctx, "c-1", 1000, "EUR", "transfer-2")
	if err != nil {
		t.Fatal(err)
	}
	if acct.Balance != 3500 || acct.Currency != "EUR" || acct.Version != 2 {
		t.Errorf("account = %+v, want 3500 EUR at version 2 (each reference credited once)", acct)
	}
	_, err = a.Credit(ctx, "c-1", 999, "EUR", "transfer-1")
	if ordersaga.ErrorCode(err) != ordersaga.ECONFLICT {
		t.Errorf("reusing a reference for another amount: %v, want a conflict", err)
	}
	if empty, err := a.Get(ctx, "nobody"); err != nil || empty.Balance != 0 || empty.Version != 0 {
		t.Errorf("an account without events = %+v, %v; want balance 0", empty, err)
	}
}

func TestCreditRejectsBadInput(t *testing.T) {
	a := newAccounts(t)
	ctx := context.Background()
	if _, err := a.Credit(ctx, "c-usd", 100, "USD", "r"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                    string
		customer, currency, ref string
		amount                  int64
		field                   string
	}{
		{"no customer", "", "EUR", "r", 100, "customer_id"},
		{"bad customer", "c 1", "EUR", "r", 100, "customer_id"},
		{"zero amount", "c-2", "EUR", "r", 0, "amount"},
		{"negative amount", "c-2", "EUR", "r", -5, "amount"},
		{"bad currency", "c-2", "euro", "r", 100, "currency"},
		{"no reference", "c-2", "EUR", "", 100, "reference"},
		{"another currency than the account's", "c-usd", "EUR", "r2", 100, "currency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.Credit(ctx, tt.customer, tt.amount, tt.currency, tt.ref)
			var e *ordersaga.Error
			if !errors.As(err, &e) || e.Code != ordersaga.EINVALID || e.Field != tt.field {
				t.Errorf("error = %v, want invalid naming %s", err, tt.field)
			}
		})
	}
}
