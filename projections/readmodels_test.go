package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/payments"
	"github.com/ordersaga/ordersaga/projections"
)

// TestABalanceIsCreditsMinusDebitsPlusRefunds projects an account's credits, debits and
// refunds of different amounts: the read model's balance is what the payments fold of the
// same stream says (5000 - 2300 + 2300 - 1150), not a sum of the entries' signs or sizes.
func TestABalanceIsCreditsMinusDebitsPlusRefunds(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	stream := ordersaga.MustParseStream("customer-c-sums")
	var events []ordersaga.EventData
	for _, entry := range []struct {
		typ    string
		amount int64
	}{{ordersaga.EventAccountCredited, 5000}, {ordersaga.EventAccountDebited, 2300}, {ordersaga.EventAccountRefunded, 2300},
		{ordersaga.EventAccountDebited, 1150}} {
		data, _ := json.Marshal(ordersaga.AccountEntry{CustomerID: "c-sums", Amount: entry.amount, Currency: "EUR", OrderID: "o-" + uuid.NewString()[:6]})
		events = append(events, ordersaga.EventData{ID: uuid.New(), Type: entry.typ, Data: data})
	}
	res, err := f.store.Append(ctx, stream, ordersaga.NoStream, events)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Recorded(stream, events) {
		if err := f.projector.Apply(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	account, err := payments.Accounts{Store: f.store}.Get(ctx, "c-sums")
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.reads.Balance(ctx, "c-sums")
	if err != nil || b.Balance != 3850 || b.Balance != account.Balance || b.Version != 4 || b.Currency != "EUR" {
		t.Errorf("balance read model %+v, %v; want 3850 EUR at version 4, as the account's fold (%d)", b, err, account.Balance)
	}
}

// TestARebuildCatchesUpWhatWasAppendedWhileItRan appends to an order after the rebuild
// folded its stream (and with no projector running to put it in the live table): the
// reconciliation after the swap brings the read model up to the store.
func TestARebuildCatchesUpWhatWasAppendedWhileItRan(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	stream := ordersaga.MustParseStream("order-late")
	created, _ := json.Marshal(ordersaga.OrderCreated{OrderID: "late", CustomerID: "c-1", RestaurantID: "r-1",
		Items: []ordersaga.Item{{ID: "x", Name: "X", UnitPrice: 500, Quantity: 1}}, Amount: 500, Currency: "EUR"})
	mustAppendEvent(t, f, stream, ordersaga.EventOrderCreated, created)
	calls := 0
	err := projections.Rebuild(ctx, f.db, f.store, func(done, total int64) {
		if calls++; calls == 2 { // the order streams' page is folded
			approved, _ := json.Marshal(ordersaga.OrderApproved{OrderID: "late", RestaurantID: "r-1"})
			mustAppendEvent(t, f, stream, ordersaga.EventOrderApproved, approved)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if o, err := f.reads.Order(ctx, "late"); err != nil || o.Status != ordersaga.StatusApproved || o.Version != 2 {
		t.Errorf("order after the rebuild: %+v, %v; want approved at version 2", o, err)
	}
}

func mustAppendEvent(t *testing.T, f fixture, stream ordersaga.Stream, typ string, data []byte) {
	t.Helper()
	if _, err := f.store.Append(context.Background(), stream, ordersaga.AnyVersion, []ordersaga.EventData{{ID: uuid.New(), Type: typ, Data: data}}); err != nil {
		t.Fatal(err)
	}
}

// TestADeadLetterIsCountedOnlyWhenWritten: a dead letter written counts once; one the
// database refuses is an error (the message is redelivered) and is not counted.
func TestADeadLetterIsCountedOnlyWhenWritten(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	e := credits(t, f, "c-dead", 1)
	if err := f.projector.DeadLetter(ctx, e, nil, errors.New("poison")); err != nil || f.projector.DeadLetters() != 1 {
		t.Fatalf("a written dead letter: %v, counted %d; want counted once", err, f.projector.DeadLetters())
	}
	if _, err := f.db.Exec(ctx, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'full'; END $$;
		CREATE TRIGGER refuse BEFORE INSERT ON projection_dead_letters FOR EACH ROW EXECUTE FUNCTION refuse()`); err != nil {
		t.Fatal(err)
	}
	if err := f.projector.DeadLetter(ctx, e, nil, errors.New("poison")); err == nil || f.projector.DeadLetters() != 1 {
		t.Errorf("a refused dead letter: %v, counted %d; want an error and still 1", err, f.projector.DeadLetters())
	}
}
