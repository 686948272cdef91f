package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities"
	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventbus/bustest"
	"github.com/ordersaga/ordersaga/eventbus/jetstream"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/menus"
	"github.com/ordersaga/ordersaga/payments"
	"github.com/ordersaga/ordersaga/sqldb"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type fixture struct {
	db       *sqldb.DB
	store    *eventstore.Store
	acts     *activities.Activities
	accounts payments.Accounts
	bus      eventbus.Bus
	nats     *bustest.Server
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, sqldb.Config{URL: dbtest.NewDatabase(t), MaxConns: 30})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := eventstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	srv := bustest.StartServer(t)
	bus, err := jetstream.Connect(ctx, jetstream.Config{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Close() })
	store := eventstore.New(db)
	if _, err := (menus.Menus{Store: store}).SetItem(ctx, "r-1", ordersaga.MenuItem{ID: "pizza", Name: "Margherita", Price: 1000, Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	// As if the relay had published the menu: the outbox holds only what the tests append.
	if menu, err := store.Unpublished(ctx, 0, 10); err != nil || len(menu) != 1 || store.MarkPublished(ctx, []int64{menu[0].Position}) != nil {
		t.Fatalf("the menu's event in the outbox: %v, %v", menu, err)
	}
	return fixture{db: db, store: store, acts: &activities.Activities{Store: store, Bus: bus, Published: store, Accounts: payments.NewAccountCache(0)}, accounts: payments.Accounts{Store: store}, bus: bus, nats: srv}
}

// run executes one activity in a fresh test activity environment.
func (f fixture) run(activity any, input any, result any) error {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(f.acts)
	v, err := env.ExecuteActivity(activity, input)
	if err != nil || result == nil {
		return err
	}
	return v.Get(result)
}

// createdOrder credits order id's customer with balance EUR cents and runs its create step;
// it returns the order and the payment of its 2000 cents.
func (f fixture) createdOrder(t *testing.T, id string, balance int64) (ordersaga.OrderInput, activities.PaymentInput) {
	t.Helper()
	in := order(id)
	if _, err := f.accounts.Credit(context.Background(), in.CustomerID, balance, "EUR", "funding"); err != nil {
		t.Fatal(err)
	}
	if err := f.run(f.acts.CreateOrder, in, nil); err != nil {
		t.Fatal(err)
	}
	return in, activities.PaymentInput{OrderID: in.OrderID, CustomerID: in.CustomerID, Amount: 2000, Currency: "EUR"}
}

func (f fixture) stream(t *testing.T, stream ordersaga.Stream) []ordersaga.RecordedEvent {
	t.Helper()
	events, err := f.store.ReadStream(context.Background(), stream, 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func types(events []ordersaga.RecordedEvent) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Type
	}
	return out
}

func order(id string) ordersaga.OrderInput {
	return ordersaga.OrderInput{OrderID: id, CustomerID: "c-" + id, RestaurantID: "r-1", Currency: "EUR",
		Items: []ordersaga.Item{{ID: "pizza", Name: "Margherita", UnitPrice: 1000, Quantity: 2}}}
}

func TestEveryActivityRunTwiceAppendsOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := order("twice")
	if _, err := f.accounts.Credit(ctx, in.CustomerID, 5000, "EUR", "funding-1"); err != nil {
		t.Fatal(err)
	}
	// Everything the activities publish, by event id.
	var mu sync.Mutex
	published := map[uuid.UUID]int{}
	_, err := f.bus.Subscribe(ctx, eventbus.SubscribeOptions{Group: "test", Types: []string{
		ordersaga.EventOrderCreated, ordersaga.EventPaymentDebited, ordersaga.EventOrderApproved, ordersaga.EventPaymentRefunded,
		ordersaga.EventOrderRejected, ordersaga.EventAccountDebited, ordersaga.EventAccountRefunded},
		Handler: func(_ context.Context, m eventbus.Message) error {
			mu.Lock()
			published[m.Event.ID]++
			mu.Unlock()
			return nil
		},
		DeadLetter: func(context.Context, eventbus.Message, error) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	payment := activities.PaymentInput{OrderID: in.OrderID, CustomerID: in.CustomerID, Amount: 2000, Currency: "EUR"}
	closing := activities.CloseInput{OrderID: in.OrderID, Reason: ordersaga.ReasonRestaurantRejected}
	steps := []struct {
		name     string
		activity any
		input    any
	}{
		{"CreateOrder", f.acts.CreateOrder, in},
		{"DebitPayment", f.acts.DebitPayment, payment},
		{"ApproveOrder", f.acts.ApproveOrder, activities.DecisionInput{OrderID: in.OrderID, RestaurantID: in.RestaurantID}},
		{"RefundPayment", f.acts.RefundPayment, payment},
		{"RejectOrder", f.acts.RejectOrder, closing},
	}
	for _, s := range steps {
		for attempt := 1; attempt <= 2; attempt++ {
			if err := f.run(s.activity, s.input, nil); err != nil {
				t.Fatalf("%s attempt %d: %v", s.name, attempt, err)
			}
		}
	}
	orderEvents := f.stream(t, ordersaga.MustParseStream("order-"+in.OrderID))
	want := "[order-created order-payment-debited order-approved order-payment-refunded order-rejected]"
	if fmt.Sprint(types(orderEvents)) != want {
		t.Errorf("order stream = %v, want %s", types(orderEvents), want)
	}
	accountEvents := f.stream(t, ordersaga.MustParseStream("customer-"+in.CustomerID))
	if fmt.Sprint(types(accountEvents)) != "[account-credited account-debited account-refunded]" {
		t.Errorf("account stream = %v, want credit, debit, refund once each", types(accountEvents))
	}
	var created ordersaga.OrderCreated
	if err := json.Unmarshal(orderEvents[0].Data, &created); err != nil || created.Amount != 2000 {
		t.Errorf("order-created amount = %d (%v), want 2000 computed from the items", created.Amount, err)
	}
	account, err := f.accounts.Get(ctx, in.CustomerID)
	if err != nil || account.Balance != 5000 {
		t.Errorf("balance after debit and refund = %d (%v), want 5000", account.Balance, err)
	}
	// What the activities published they took off the outbox; only the credit, appended
	// without a publish, waits there for the relay.
	waiting, err := f.store.Unpublished(ctx, 0, 100)
	if err != nil || fmt.Sprint(types(waiting)) != "[account-credited]" {
		t.Errorf("outbox after the activities = %v (%v), want only the account-credited event", types(waiting), err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(published)
		mu.Unlock()
		if n == 7 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d distinct events published, want the 7 the activities appended", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConcurrentDebitsNeverOverdraw races debits of one account, with the account cache
// the worker uses and without it.
func TestConcurrentDebitsNeverOverdraw(t *testing.T) {
	for _, cached := range []bool{true, false} {
		t.Run(fmt.Sprintf("cached=%v", cached), func(t *testing.T) {
			f := newFixture(t)
			if !cached {
				f.acts.Accounts = nil
			}
			concurrentDebitsNeverOverdraw(t, f)
		})
	}
}

func concurrentDebitsNeverOverdraw(t *testing.T, f fixture) {
	const orders, affordable, price = 20, 5, 1500
	ctx := context.Background()
	if _, err := f.accounts.Credit(ctx, "shared", affordable*price, "EUR", "funding"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, orders)
	for i := range orders {
		wg.Go(func() {
			errs[i] = f.run(f.acts.DebitPayment, activities.PaymentInput{OrderID: fmt.Sprintf("o-%d", i), CustomerID: "shared",
				Amount: price, Currency: "EUR"}, nil)
		})
	}
	wg.Wait()
	succeeded, declined := 0, 0
	for _, err := range errs {
		var appErr *temporal.ApplicationError
		switch {
		case err == nil:
			succeeded++
		case errors.As(err, &appErr) && appErr.Type() == activities.ErrInsufficientFunds && appErr.NonRetryable():
			declined++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if succeeded != affordable || declined != orders-affordable {
		t.Errorf("%d debits succeeded and %d were declined, want %d and %d", succeeded, declined, affordable, orders-affordable)
	}
	// The balance never went below zero at any version.
	balance := int64(0)
	for _, e := range f.stream(t, ordersaga.MustParseStream("customer-"+"shared")) {
		var entry ordersaga.AccountEntry
		_ = json.Unmarshal(e.Data, &entry)
		if e.Type == ordersaga.EventAccountDebited {
			balance -= entry.Amount
		} else {
			balance += entry.Amount
		}
		if balance < 0 {
			t.Fatalf("balance %d at version %d", balance, e.Version)
		}
	}
	if balance != 0 {
		t.Errorf("final balance %d, want 0", balance)
	}
}

func TestCompensationsOfStepsThatNeverHappenedDoNothing(t *testing.T) {
	f := newFixture(t)
	in := order("never")
	var refund activities.RefundResult
	if err := f.run(f.acts.RefundPayment, activities.PaymentInput{OrderID: in.OrderID, CustomerID: in.CustomerID, Amount: 2000, Currency: "EUR"}, &refund); err != nil {
		t.Fatal(err)
	}
	if refund.Refunded {
		t.Error("refunded an order that was never debited")
	}
	for _, close := range []any{f.acts.RejectOrder, f.acts.CancelOrder} {
		if err := f.run(close, activities.CloseInput{OrderID: in.OrderID, Reason: ordersaga.ReasonFailed}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.stream(t, ordersaga.MustParseStream("order-"+in.OrderID))) + len(f.stream(t, ordersaga.MustParseStream("customer-"+in.CustomerID))); n != 0 {
		t.Errorf("compensating nothing appended %d events", n)
	}
}

func TestBusinessFailuresAreNotRetryable(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := order("biz")
	if err := f.run(f.acts.CreateOrder, in, nil); err != nil {
		t.Fatal(err)
	}
	// Another saga's order under an id this saga also uses (another writer, another event).
	other := order("taken")
	if _, err := f.store.Append(ctx, ordersaga.MustParseStream("order-taken"), ordersaga.NoStream, []ordersaga.EventData{{ID: uuid.New(),
		Type: ordersaga.EventOrderCreated, Data: json.RawMessage(`{"order_id": "taken", "customer_id": "someone-else"}`)}}); err != nil {
		t.Fatal(err)
	}
	offMenu, cheap := order("off-menu"), order("cheap")
	offMenu.Items = []ordersaga.Item{{ID: "salad", Name: "Salad", UnitPrice: 900, Quantity: 1}}
	cheap.Items[0].UnitPrice = 1
	if _, err := f.accounts.Credit(ctx, in.CustomerID, 100, "USD", "funding"); err != nil {
		t.Fatal(err)
	}
	bad := in
	bad.Currency = "eur"
	tests := []struct {
		name     string
		activity any
		input    any
		wantType string
		wantMsg  string // in major units, with the currency
	}{
		{"an order id another saga created", f.acts.CreateOrder, other, activities.ErrOrderConflict, "already exists"},
		{"invalid order", f.acts.CreateOrder, bad, activities.ErrInvalidInput, ""},
		{"an item not on the menu", f.acts.CreateOrder, offMenu, activities.ErrInvalidInput, `"salad" is not on the menu of restaurant r-1`},
		{"a one-cent pizza", f.acts.CreateOrder, cheap, activities.ErrInvalidInput, "0.01 EUR for \"pizza\" differs from the menu's price, 10.00 EUR"},
		{"insufficient funds", f.acts.DebitPayment, activities.PaymentInput{OrderID: in.OrderID, CustomerID: in.CustomerID, Amount: 5000, Currency: "USD"}, activities.ErrInsufficientFunds,
			"has 1.00 USD, the order costs 50.00 USD"},
		{"other currency", f.acts.DebitPayment, activities.PaymentInput{OrderID: in.OrderID, CustomerID: in.CustomerID, Amount: 50, Currency: "EUR"}, activities.ErrCurrencyMismatch, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.run(tt.activity, tt.input, nil)
			var appErr *temporal.ApplicationError
			if !errors.As(err, &appErr) || appErr.Type() != tt.wantType || !appErr.NonRetryable() || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error = %v, want a non-retryable %s saying %q", err, tt.wantType, tt.wantMsg)
			}
		})
	}
	if n := len(f.stream(t, ordersaga.MustParseStream("order-"+in.OrderID))); n != 1 {
		t.Errorf("order stream holds %d events after the refused steps, want 1", n)
	}
	for _, refused := range []ordersaga.OrderInput{offMenu, cheap} {
		if n := len(f.stream(t, ordersaga.MustParseStream("order-"+refused.OrderID))); n != 0 {
			t.Errorf("order %s, refused, has %d events", refused.OrderID, n)
		}
	}
}

// TestAnOrderWithoutPricesIsPricedFromTheMenu creates an order whose input, as the
// temporal CLI may send it, names items and quantities only: order-created carries the
// menu's prices and names, the amount they make, and the menu version.
func TestAnOrderWithoutPricesIsPricedFromTheMenu(t *testing.T) {
	f := newFixture(t)
	in := order("unpriced")
	in.Items = []ordersaga.Item{{ID: "pizza", Quantity: 3}}
	var res activities.StepResult
	if err := f.run(f.acts.CreateOrder, in, &res); err != nil {
		t.Fatal(err)
	}
	var created ordersaga.OrderCreated
	if err := json.Unmarshal(f.stream(t, ordersaga.MustParseStream("order-unpriced"))[0].Data, &created); err != nil {
		t.Fatal(err)
	}
	want := []ordersaga.Item{{ID: "pizza", Name: "Margherita", UnitPrice: 1000, Quantity: 3}}
	if !slices.Equal(created.Items, want) || created.Amount != 3000 || created.MenuVersion != 1 || res.Amount != 3000 {
		t.Errorf("order-created = %+v (result %+v), want %v for 3000 at menu version 1", created, res, want)
	}
}

// TestARefundReturnsWhatTheStoredDebitTookOnce debits an order of 20.00 and asks, twice,
// for a refund of 500.00: the account gets back the 20.00 its debit took, once, and the
// order's payment-refunded says 20.00 (the refund used to trust the input's amount).
func TestARefundReturnsWhatTheStoredDebitTookOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := order("refund")
	if _, err := f.accounts.Credit(ctx, in.CustomerID, 10_000, "EUR", "funding"); err != nil {
		t.Fatal(err)
	}
	pay := activities.PaymentInput{OrderID: in.OrderID, CustomerID: in.CustomerID, Amount: 2000, Currency: "EUR"}
	if err := f.run(f.acts.DebitPayment, pay, nil); err != nil {
		t.Fatal(err)
	}
	inflated := pay
	inflated.Amount = 50_000
	for range 2 {
		var r activities.RefundResult
		if err := f.run(f.acts.RefundPayment, inflated, &r); err != nil || !r.Refunded {
			t.Fatalf("refund: %+v, %v", r, err)
		}
	}
	if account, err := f.accounts.Get(ctx, in.CustomerID); err != nil || account.Balance != 10_000 {
		t.Errorf("account after the debit and two refunds: %+v, %v; want 10000, as before the debit", account, err)
	}
	var refunded []ordersaga.PaymentRefunded
	for _, e := range f.stream(t, ordersaga.MustParseStream("order-"+in.OrderID)) {
		if e.Type == ordersaga.EventPaymentRefunded {
			var p ordersaga.PaymentRefunded
			_ = json.Unmarshal(e.Data, &p)
			refunded = append(refunded, p)
		}
	}
	if len(refunded) != 1 || refunded[0].Amount != 2000 {
		t.Errorf("payment-refunded events %+v, want one of 2000", refunded)
	}
}

// TestACommittedStepSucceedsWhileTheBusIsDown stops NATS, then creates an order: the step
// succeeds (its event is committed), and the event waits in the outbox for the relay.
func TestACommittedStepSucceedsWhileTheBusIsDown(t *testing.T) {
	f := newFixture(t)
	f.nats.Stop(t)
	in := order("outage")
	if err := f.run(f.acts.CreateOrder, in, nil); err != nil {
		t.Fatalf("creating an order while the bus is down: %v, want success (the relay publishes later)", err)
	}
	if got := types(f.stream(t, ordersaga.MustParseStream("order-"+in.OrderID))); len(got) != 1 || got[0] != ordersaga.EventOrderCreated {
		t.Errorf("order stream %v, want order-created", got)
	}
	unpublished, err := f.store.Unpublished(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(unpublished) != 1 || unpublished[0].Type != ordersaga.EventOrderCreated {
		t.Errorf("outbox %v, want the order-created event waiting for the relay", types(unpublished))
	}
}

// countingBus counts the publishes that reach the real bus.
type countingBus struct {
	activities.Publisher
	calls atomic.Int64
}

func (b *countingBus) PublishBatch(ctx context.Context, events []ordersaga.RecordedEvent) (int, error) {
	b.calls.Add(1)
	return b.Publisher.PublishBatch(ctx, events)
}

// TestStepsLeaveTheirEventsToTheRelayWhileTheBusRests: once an inline publish failed, the
// steps of the next BusRest do not wait for the bus (the first one alone tries: one
// publish for three steps), and their events wait in the outbox; after the rest, with the
// bus back, a step publishes inline again and leaves nothing in the outbox.
func TestStepsLeaveTheirEventsToTheRelayWhileTheBusRests(t *testing.T) {
	f := newFixture(t)
	bus := &countingBus{Publisher: f.acts.Bus}
	f.acts = &activities.Activities{Store: f.store, Bus: bus, Published: f.store, BusRest: 2 * time.Second}
	acts := f.acts
	ctx := context.Background()
	f.nats.Stop(t)
	for i := range 3 {
		if err := f.run(acts.CreateOrder, order(fmt.Sprintf("resting-%d", i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := bus.calls.Load(); n != 1 {
		t.Errorf("%d publishes for three steps while the bus was away, want 1 (the first; the others rest)", n)
	}
	unpublished, err := f.store.Unpublished(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(unpublished) != 3 {
		t.Errorf("outbox holds %d events, want the 3 steps' events", len(unpublished))
	}
	f.nats.Start(t)
	time.Sleep(2 * time.Second) // the rest
	for i := 0; ; i++ {
		in := order(fmt.Sprintf("back-%d", i))
		before := bus.calls.Load()
		if err := f.run(acts.CreateOrder, in, nil); err != nil {
			t.Fatal(err)
		}
		if bus.calls.Load() != before+1 {
			t.Fatalf("a step after the rest did not publish (%d publishes before, %d after)", before, bus.calls.Load())
		}
		left, err := f.store.Unpublished(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) == 3 {
			return // published inline and taken off the outbox
		}
		if i == 20 { // the bus never came back; each try rests again
			t.Fatalf("outbox holds %d events after the bus came back, want the 3 of the outage", len(left))
		}
		time.Sleep(2 * time.Second)
	}
}

// TestStepsRestFiveSecondsByDefault: without a BusRest, the step after a failed publish,
// within five seconds, leaves its event to the relay too.
func TestStepsRestFiveSecondsByDefault(t *testing.T) {
	f := newFixture(t)
	bus := &countingBus{Publisher: f.acts.Bus}
	f.acts = &activities.Activities{Store: f.store, Bus: bus, Published: f.store}
	f.nats.Stop(t)
	for i := range 2 {
		if err := f.run(f.acts.CreateOrder, order(fmt.Sprintf("default-rest-%d", i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := bus.calls.Load(); n != 1 {
		t.Errorf("%d publishes for two steps in a row while the bus was away, want 1", n)
	}
}

// TestADebitNeverLandsWithoutItsRecordOnTheOrder makes the database refuse every
// order-payment-debited (a trigger below the store, as a crash between two appends would
// leave it): the debit step fails, and the account holds no debit; nor does a refund
// happen without its record. The debit and its record used to be two appends, and the
// debit stayed.
func TestADebitNeverLandsWithoutItsRecordOnTheOrder(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in, payment := f.createdOrder(t, "split", 5000)
	refuse := func(typ string) {
		t.Helper()
		if _, err := f.db.Exec(ctx, `CREATE OR REPLACE FUNCTION refuse_record() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				IF NEW.event_type = '`+typ+`' THEN
					RAISE EXCEPTION 'injected failure: % refused', NEW.event_type;
				END IF;
				RETURN NEW;
			END $$;
			DROP TRIGGER IF EXISTS refuse_record ON events;
			CREATE TRIGGER refuse_record BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_record()`); err != nil {
			t.Fatal(err)
		}
	}
	refuse(ordersaga.EventPaymentDebited)
	if err := f.run(f.acts.DebitPayment, payment, nil); err == nil {
		t.Fatal("the debit step succeeded without its record on the order")
	}
	if got := types(f.stream(t, ordersaga.MustParseStream("customer-"+in.CustomerID))); fmt.Sprint(got) != "[account-credited]" {
		t.Errorf("account = %v after a debit whose record failed, want the credit only", got)
	}

	refuse(ordersaga.EventPaymentRefunded)
	if err := f.run(f.acts.DebitPayment, payment, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.run(f.acts.RefundPayment, payment, nil); err == nil {
		t.Fatal("the refund step succeeded without its record on the order")
	}
	if got := types(f.stream(t, ordersaga.MustParseStream("customer-"+in.CustomerID))); fmt.Sprint(got) != "[account-credited account-debited]" {
		t.Errorf("account = %v after a refund whose record failed, want the credit and the debit only", got)
	}
	if got := types(f.stream(t, ordersaga.MustParseStream("order-"+in.OrderID))); fmt.Sprint(got) != "[order-created order-payment-debited]" {
		t.Errorf("order = %v, want created and debited", got)
	}
}

// TestARetriedCreateKeepsWhatTheFirstAttemptStored creates an order, then has the
// restaurant reprice its dish and take it off the menu, running the step again each time
// (as Temporal retries it when the first attempt's answer was lost): the retry answers
// with what the first attempt stored, 20.00, and writes nothing.
func TestARetriedCreateKeepsWhatTheFirstAttemptStored(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := order("retried")
	in.Items[0].UnitPrice = 0 // priced from the menu
	if err := f.run(f.acts.CreateOrder, in, nil); err != nil {
		t.Fatal(err)
	}
	m := menus.Menus{Store: f.store}
	for _, change := range []func() error{
		func() error {
			_, err := m.SetItem(ctx, "r-1", ordersaga.MenuItem{ID: "pizza", Name: "Margherita", Price: 1500, Currency: "EUR"})
			return err
		},
		func() error { _, err := m.RemoveItem(ctx, "r-1", "pizza"); return err },
	} {
		if err := change(); err != nil {
			t.Fatal(err)
		}
		var res activities.StepResult
		if err := f.run(f.acts.CreateOrder, in, &res); err != nil || res.Amount != 2000 || !res.Duplicate || res.Version != 1 {
			t.Errorf("the retried step = %+v, %v; want the first attempt's order of 20.00, at version 1", res, err)
		}
	}
	if n := len(f.stream(t, ordersaga.MustParseStream("order-retried"))); n != 1 {
		t.Errorf("the order stream holds %d events, want the one order-created", n)
	}
	// Another order under the same id, not this step's: refused as before.
	other := in
	other.OrderID, other.Items = "retried-2", []ordersaga.Item{{ID: "pizza", Quantity: 1}}
	if err := f.run(f.acts.CreateOrder, other, nil); err == nil {
		t.Errorf("an order of a dish no longer on the menu was created")
	}
}

func TestActivitiesNeedEveryDependency(t *testing.T) {
	f := newFixture(t)
	whole := func() *activities.Activities {
		return &activities.Activities{Store: f.acts.Store, Bus: f.acts.Bus, Published: f.acts.Published, Accounts: f.acts.Accounts}
	}
	if err := whole().Validate(); err != nil {
		t.Fatalf("complete: %v", err)
	}
	for name, drop := range map[string]func(*activities.Activities){
		"Store": func(a *activities.Activities) { a.Store = nil }, "Bus": func(a *activities.Activities) { a.Bus = nil },
		"Published": func(a *activities.Activities) { a.Published = nil },
	} {
		a := whole()
		drop(a)
		if a.Validate() == nil {
			t.Errorf("activities without %s validated", name)
		}
	}
}

// contendedAccounts is the real store under contention on accounts: before each of the
// first n two-stream appends, another writer credits the account, so that a debit at the
// version it folded loses the race.
type contendedAccounts struct {
	*eventstore.Store
	n, appends int
}

func (c *contendedAccounts) AppendStreams(ctx context.Context, appends []ordersaga.StreamAppend) ([]ordersaga.AppendResult, error) {
	c.appends++
	if c.appends <= c.n {
		data, _ := json.Marshal(ordersaga.AccountEntry{CustomerID: appends[0].Stream.ID(), Amount: 1, Currency: "EUR", Reference: uuid.NewString()})
		if _, err := c.Store.Append(ctx, appends[0].Stream, ordersaga.AnyVersion, []ordersaga.EventData{{ID: uuid.New(), Type: ordersaga.EventAccountCredited, Data: data}}); err != nil {
			return nil, err
		}
	}
	return c.Store.AppendStreams(ctx, appends)
}

// TestADebitThatKeepsLosingRacesLeavesItToTemporal: a debit whose account another writer
// changes before each try tries 21 times (maxDebitRaces after the first) and fails
// retryably, with nothing debited, for Temporal to try again later; one that loses 20
// races lands on the 21st try, once.
func TestADebitThatKeepsLosingRacesLeavesItToTemporal(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		losses int
		lands  bool
	}{{"always losing", 1000, false}, {"winning the 21st try", 20, true}} {
		t.Run(c.name, func(t *testing.T) {
			in := order(strings.ReplaceAll(c.name, " ", "-"))
			if _, err := f.accounts.Credit(ctx, in.CustomerID, 5000, "EUR", "funding"); err != nil {
				t.Fatal(err)
			}
			store := &contendedAccounts{Store: f.store, n: c.losses}
			acts := activities.Activities{Store: store, Bus: f.acts.Bus, Published: f.acts.Published}
			var suite testsuite.WorkflowTestSuite
			suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
			env := suite.NewTestActivityEnvironment()
			env.RegisterActivity(&acts)
			_, err := env.ExecuteActivity(acts.DebitPayment, activities.PaymentInput{OrderID: in.OrderID, CustomerID: in.CustomerID, Amount: 2000, Currency: "EUR"})
			var appErr *temporal.ApplicationError
			debits := 0
			for _, e := range f.stream(t, ordersaga.MustParseStream("customer-"+in.CustomerID)) {
				if e.Type == ordersaga.EventAccountDebited {
					debits++
				}
			}
			switch {
			case store.appends != 21:
				t.Errorf("%d tries, want 21", store.appends)
			case c.lands && (err != nil || debits != 1):
				t.Errorf("%v with %d debits, want one debit", err, debits)
			case !c.lands && (!errors.As(err, &appErr) || appErr.NonRetryable() || debits != 0):
				t.Errorf("%v with %d debits, want a retryable failure and no debit", err, debits)
			}
		})
	}
}

// TestADebitStoredWithoutItsRecordGetsItOnRetry: a debit that earlier code appended on
// its own, its order's record never written (the process died between the two appends),
// gets its record when Temporal runs the step again, and is not debited twice.
func TestADebitStoredWithoutItsRecordGetsItOnRetry(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in, payment := f.createdOrder(t, "half", 5000)
	// The debit as the step writes it, on its own.
	data, _ := json.Marshal(ordersaga.AccountEntry{CustomerID: in.CustomerID, Amount: 2000, Currency: "EUR", OrderID: in.OrderID, PaymentID: activities.PaymentID(in.OrderID)})
	debit := ordersaga.EventData{ID: activities.EventID("default-test-workflow-id", in.OrderID, "debit-account"), Type: ordersaga.EventAccountDebited, Data: data,
		Metadata: ordersaga.Metadata{CorrelationID: "default-test-workflow-id", CausationID: "default-test-run-id/DebitPayment"}}
	if _, err := f.store.Append(ctx, ordersaga.MustParseStream("customer-"+in.CustomerID), ordersaga.AnyVersion, []ordersaga.EventData{debit}); err != nil {
		t.Fatal(err)
	}
	if err := f.run(f.acts.DebitPayment, payment, nil); err != nil {
		t.Fatal(err)
	}
	if got := types(f.stream(t, ordersaga.MustParseStream("order-"+in.OrderID))); fmt.Sprint(got) != "[order-created order-payment-debited]" {
		t.Errorf("order = %v, want created and its payment recorded", got)
	}
	if got := types(f.stream(t, ordersaga.MustParseStream("customer-"+in.CustomerID))); fmt.Sprint(got) != "[account-credited account-debited]" {
		t.Errorf("account = %v, want the one debit", got)
	}
}

// TestACreateForAnOrderAnotherSagaRunCreatedIsRefused: the order's order-created is
// already stored, with this step's event id and content, by another run of the saga (a
// run started again under the same workflow id after the first closed). Its causation
// names that run: the step refuses (ErrAlreadyStarted, not retried) and writes nothing,
// where the same run's retry is a duplicate that succeeds.
func TestACreateForAnOrderAnotherSagaRunCreatedIsRefused(t *testing.T) {
	f := newFixture(t)
	in := order("rerun")
	stream := ordersaga.MustParseStream("order-rerun")
	var first activities.StepResult
	if err := f.run(f.acts.CreateOrder, in, &first); err != nil {
		t.Fatal(err)
	}
	var retried activities.StepResult
	if err := f.run(f.acts.CreateOrder, in, &retried); err != nil || !retried.Duplicate || retried.Version != first.Version {
		t.Fatalf("the same run's retry: %+v, %v; want the first append back as a duplicate", retried, err)
	}
	// As if an earlier run of the saga had stored it.
	if _, err := f.db.Exec(context.Background(), `UPDATE events SET metadata = jsonb_set(metadata, '{causation_id}', '"an-earlier-run/CreateOrder"')
		WHERE stream_id = $1`, stream.String()); err != nil {
		t.Fatal(err)
	}
	err := f.run(f.acts.CreateOrder, in, nil)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != activities.ErrAlreadyStarted || !appErr.NonRetryable() ||
		!strings.Contains(appErr.Message(), "an-earlier-run") {
		t.Errorf("a second run's create: %v, want a non-retryable %s naming the earlier run", err, activities.ErrAlreadyStarted)
	}
	if events := f.stream(t, stream); len(events) != 1 {
		t.Errorf("the order's stream has %d events, want the one the earlier run stored", len(events))
	}
}

// TestADebitRetriedAfterItEmptiedTheAccountSucceedsOnce: a debit that took the whole
// balance, run again (the worker died before Temporal heard of it), finds the balance
// short because of itself: it succeeds as a duplicate, and the account is debited once.
// Happy retries are found by the append of both events; this one by the look-up before
// a refusal.
func TestADebitRetriedAfterItEmptiedTheAccountSucceedsOnce(t *testing.T) {
	f := newFixture(t)
	in, payment := f.createdOrder(t, "emptied", 2000)
	var results [2]activities.StepResult
	for attempt := range results {
		if err := f.run(f.acts.DebitPayment, payment, &results[attempt]); err != nil {
			t.Fatalf("attempt %d: %v", attempt+1, err)
		}
	}
	if results[0].Duplicate || !results[1].Duplicate || results[0].Version != results[1].Version {
		t.Errorf("results %+v, want the second a duplicate of the first", results)
	}
	if got := types(f.stream(t, ordersaga.MustParseStream("customer-"+in.CustomerID))); fmt.Sprint(got) != "[account-credited account-debited]" {
		t.Errorf("account = %v, want one debit", got)
	}
	if got := types(f.stream(t, ordersaga.MustParseStream("order-"+in.OrderID))); fmt.Sprint(got) != "[order-created order-payment-debited]" {
		t.Errorf("order = %v, want created and its payment recorded once", got)
	}
}
