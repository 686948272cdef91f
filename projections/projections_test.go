package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/internal/metrictest"
	"github.com/ordersaga/ordersaga/projections"
	"github.com/ordersaga/ordersaga/sqldb"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type fixture struct {
	store     *eventstore.Store
	projector *projections.Projector
	reads     *projections.ReadModels
	db        *sqldb.DB
	metrics   *metrictest.Reader
}

func newFixture(t testing.TB) fixture {
	t.Helper()
	ctx := context.Background()
	metrics := metrictest.New(t)
	db, err := sqldb.Open(ctx, sqldb.Config{URL: dbtest.NewDatabase(t), MaxConns: 20, Meters: metrics.Provider})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := eventstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := projections.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	store := eventstore.New(db)
	return fixture{store: store, projector: projections.New(db, store, nil), reads: projections.NewReadModels(db), db: db, metrics: metrics}
}

// history appends random order and account histories and returns every recorded event and
// how many of them are malformed.
func history(t *testing.T, f fixture, rng *rand.Rand, orders int) (events []ordersaga.RecordedEvent, malformed int) {
	t.Helper()
	ctx := context.Background()
	add := func(stream ordersaga.Stream, typ string, payload any) {
		data, _ := json.Marshal(payload)
		e := ordersaga.EventData{ID: uuid.New(), Type: typ, Data: data}
		res, err := f.store.Append(ctx, stream, ordersaga.AnyVersion, []ordersaga.EventData{e})
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, res.Recorded(stream, []ordersaga.EventData{e})...)
	}
	for i := range orders {
		id := fmt.Sprintf("p%d", i)
		customer := fmt.Sprintf("c%d", i%5)
		stream := ordersaga.MustParseStream("order-" + id)
		amount := int64(100 * (1 + rng.IntN(20)))
		if rng.IntN(15) == 0 {
			add(stream, ordersaga.EventOrderApproved, map[string]any{"order_id": id}) // a stream that starts wrong
			malformed++
		}
		add(stream, ordersaga.EventOrderCreated, ordersaga.OrderCreated{OrderID: id, CustomerID: customer, RestaurantID: "r1",
			Items: []ordersaga.Item{{ID: "x", Name: "X", UnitPrice: amount, Quantity: 1}}, Amount: amount, Currency: "EUR"})
		if rng.IntN(4) == 0 {
			add(ordersaga.MustParseStream("customer-"+customer), ordersaga.EventAccountCredited, ordersaga.AccountEntry{CustomerID: customer, Amount: 5000, Currency: "EUR"})
		}
		if rng.IntN(10) == 0 {
			add(stream, "order-noted", map[string]any{"note": "an event type the read models do not know"})
		}
		switch rng.IntN(4) {
		case 0: // declined
			add(stream, ordersaga.EventOrderRejected, ordersaga.OrderRejected{OrderID: id, Reason: ordersaga.ReasonPaymentDeclined})
			continue
		case 1: // still open
			continue
		}
		add(ordersaga.MustParseStream("customer-"+customer), ordersaga.EventAccountDebited, ordersaga.AccountEntry{CustomerID: customer, Amount: amount, Currency: "EUR", OrderID: id})
		add(stream, ordersaga.EventPaymentDebited, ordersaga.PaymentDebited{OrderID: id, CustomerID: customer, Amount: amount, Currency: "EUR"})
		switch rng.IntN(4) {
		case 0:
			add(stream, ordersaga.EventOrderApproved, ordersaga.OrderApproved{OrderID: id, RestaurantID: "r1"})
		case 1:
			add(ordersaga.MustParseStream("customer-"+customer), ordersaga.EventAccountRefunded, ordersaga.AccountEntry{CustomerID: customer, Amount: amount, Currency: "EUR", OrderID: id})
			add(stream, ordersaga.EventPaymentRefunded, ordersaga.PaymentRefunded{OrderID: id, Amount: amount, Currency: "EUR"})
			add(stream, ordersaga.EventOrderCancelled, ordersaga.OrderCancelled{OrderID: id, Reason: ordersaga.ReasonCancelled, By: "customer"})
		case 2:
			add(stream, ordersaga.EventOrderRejected, map[string]any{"order_id": id, "reason": 42}) // malformed payload
			malformed++
		}
	}
	return events, malformed
}

// maxRedeliveries bounds how often deliver hands one delivery to the projector: a delivery
// that keeps failing is an error at once, not a loop that runs into the test's time-out.
const maxRedeliveries = 50

// deliver hands deliveries to two concurrent members; a failed Apply is redelivered, up
// to maxRedeliveries times, all within half a minute.
func deliver(t *testing.T, p *projections.Projector, deliveries []ordersaga.RecordedEvent) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type delivery struct {
		event    ordersaga.RecordedEvent
		attempts int
	}
	queue := make(chan delivery, len(deliveries)*2)
	for _, e := range deliveries {
		queue <- delivery{event: e}
	}
	var pending sync.WaitGroup
	pending.Add(len(deliveries))
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case d, ok := <-queue:
					if !ok {
						return
					}
					e := d.event
					err := p.Apply(ctx, e)
					if d.attempts++; err != nil && d.attempts < maxRedeliveries {
						t.Logf("redelivering %s v%d after: %v", e.StreamID, e.Version, err)
						queue <- d
						continue
					}
					if err != nil {
						t.Errorf("%s v%d failed %d times, last: %v", e.StreamID, e.Version, d.attempts, err)
					}
					pending.Done()
				case <-time.After(2 * time.Second):
					return
				}
			}
		})
	}
	pending.Wait()
	close(queue)
	wg.Wait()
}

func TestReadModelsEqualTheFoldOfTheStoreWhateverTheDelivery(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			f := newFixture(t)
			rng := rand.New(rand.NewPCG(seed, 2026))
			events, malformed := history(t, f, rng, 40)
			// Shuffle, duplicate a third, drop a fifth.
			var deliveries []ordersaga.RecordedEvent
			for _, e := range events {
				if rng.IntN(5) == 0 {
					continue
				}
				deliveries = append(deliveries, e)
				if rng.IntN(3) == 0 {
					deliveries = append(deliveries, e)
				}
			}
			rng.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })
			deliver(t, f.projector, deliveries)
			// Every stream whose last event was delivered is complete already: the members
			// filled every gap before it from the store.
			last := map[string]ordersaga.RecordedEvent{}
			for _, e := range events {
				last[e.StreamID] = e
			}
			delivered := map[uuid.UUID]bool{}
			for _, e := range deliveries {
				delivered[e.ID] = true
			}
			var complete []ordersaga.RecordedEvent
			lagging := 0
			for _, e := range events {
				if delivered[e.ID] && last[e.StreamID].ID == e.ID {
					complete = append(complete, e)
				}
			}
			for _, e := range last {
				if !delivered[e.ID] {
					lagging++
				}
			}
			assertFold(t, f, complete)
			caught, err := f.projector.Reconcile(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d events, %d deliveries, %d streams caught up by reconciliation, %d dead letters",
				len(events), len(deliveries), caught, f.projector.DeadLetters())
			if caught != lagging {
				t.Errorf("reconciliation caught up %d streams, want the %d whose last event was lost", caught, lagging)
			}
			assertFold(t, f, events)
			var dead int
			if err := f.db.QueryRow(context.Background(), `SELECT count(*) FROM projection_dead_letters`).Scan(&dead); err != nil {
				t.Fatal(err)
			}
			if dead != malformed {
				t.Errorf("%d dead letters, want the %d malformed events", dead, malformed)
			}
		})
	}
}

// assertFold compares every read-model row with the fold of its stream in the store.
func assertFold(t *testing.T, f fixture, events []ordersaga.RecordedEvent) {
	t.Helper()
	ctx := context.Background()
	streams := map[string]bool{}
	for _, e := range events {
		streams[e.StreamID] = true
	}
	for name := range streams {
		stream := ordersaga.MustParseStream(name)
		all, err := f.store.ReadStream(ctx, stream, 1, 1000)
		if err != nil {
			t.Fatal(err)
		}
		typ, id := stream.Type(), stream.ID()
		switch typ {
		case "order":
			want := projections.FoldOrder(all)
			want.OrderID = id
			got, err := f.reads.Order(ctx, id)
			if err != nil {
				t.Fatalf("order %s: %v", id, err)
			}
			if !sameOrder(got, want) {
				t.Errorf("order %s:\nread model %+v\nfold       %+v", id, got, want)
			}
		case "customer":
			want := projections.FoldBalance(id, all)
			got, err := f.reads.Balance(ctx, id)
			if err != nil {
				t.Fatalf("balance %s: %v", id, err)
			}
			if got.Balance != want.Balance || got.Version != want.Version || got.Currency != want.Currency || !got.UpdatedAt.Equal(want.UpdatedAt) {
				t.Errorf("balance %s: read model %+v, fold %+v", id, got, want)
			}
		}
	}
}

// sameOrder compares what the events determine; ProjectedAt is when the read model took
// them in, which the fold cannot know.
func sameOrder(a, b ordersaga.OrderView) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) || !a.UpdatedAt.Equal(b.UpdatedAt) {
		return false
	}
	a.CreatedAt, b.CreatedAt, a.UpdatedAt, b.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	a.ProjectedAt, b.ProjectedAt = time.Time{}, time.Time{}
	if len(a.Items) == 0 && len(b.Items) == 0 {
		a.Items, b.Items = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

func TestReadModelRowsSayWhenTheyTookTheirLastEventIn(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	events, _ := history(t, f, rand.New(rand.NewPCG(3, 3)), 5)
	before := time.Now()
	for _, e := range events {
		if err := f.projector.Apply(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	after := time.Now()
	orders, err := f.reads.ListOrders(ctx, ordersaga.OrderFilter{}, "", 100)
	if err != nil || len(orders) == 0 {
		t.Fatalf("ListOrders: %d orders, %v", len(orders), err)
	}
	for _, listed := range orders {
		o, err := f.reads.Order(ctx, listed.OrderID)
		if err != nil {
			t.Fatal(err)
		}
		// The database's clock is this machine's: the stamp falls within the applies.
		if o.ProjectedAt.Before(before) || o.ProjectedAt.After(after) || o.ProjectedAt.Before(o.UpdatedAt) {
			t.Errorf("order %s projected at %s, updated at %s; want between %s and %s, not before the event", o.OrderID,
				o.ProjectedAt.Format(time.RFC3339Nano), o.UpdatedAt.Format(time.RFC3339Nano), before.Format(time.RFC3339Nano), after.Format(time.RFC3339Nano))
		}
		if !listed.ProjectedAt.Equal(o.ProjectedAt) {
			t.Errorf("order %s: ListOrders says projected at %s, Order %s", o.OrderID, listed.ProjectedAt, o.ProjectedAt)
		}
	}
	// A row written before the column existed reads as "not known".
	if _, err := f.db.Exec(ctx, `UPDATE orders_view SET projected_at = NULL WHERE order_id = $1`, orders[0].OrderID); err != nil {
		t.Fatal(err)
	}
	if o, err := f.reads.Order(ctx, orders[0].OrderID); err != nil || !o.ProjectedAt.IsZero() {
		t.Errorf("a row without projected_at: %v, %v; want a zero ProjectedAt", o.ProjectedAt, err)
	}
}

func TestReconcilingUpToDateStreamsTakesAStatementPerPageNotATransactionPerStream(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	events, _ := history(t, f, rand.New(rand.NewPCG(5, 5)), 40)
	for _, e := range events {
		if err := f.projector.Apply(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.db.ResetStatementStats(ctx); err != nil {
		t.Fatal(err)
	}
	caught, err := f.projector.Reconcile(ctx)
	if err != nil || caught != 0 {
		t.Fatalf("reconcile of up-to-date read models: caught %d, %v; want 0", caught, err)
	}
	statements, err := f.db.TopStatements(ctx, 50)
	if err != nil {
		t.Fatal(err)
	}
	var calls int64
	for _, s := range statements {
		if !strings.Contains(s.Query, "pg_stat_statements") {
			calls += s.Calls
		}
	}
	// Per stream type: one page of stream versions and one of read model versions.
	if calls > 4 {
		t.Errorf("reconciling %d up-to-date streams ran %d statements, want at most 4: %+v", len(streamsOf(events)), calls, statements)
	}
}

func TestEventsDeliveredInOrderApplyInOneStatementEach(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	events, _ := history(t, f, rand.New(rand.NewPCG(7, 7)), 40)
	if err := f.db.ResetStatementStats(ctx); err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if err := f.projector.Apply(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	statements, err := f.db.TopStatements(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var calls, transactions int64
	for _, s := range statements {
		switch {
		case strings.Contains(s.Query, "pg_stat_statements"):
		case strings.HasPrefix(strings.ToLower(s.Query), "begin"):
			transactions += s.Calls
		default:
			calls += s.Calls
		}
	}
	// Only a malformed event, and the order-created that follows a wrong first event, need
	// the transaction that loads the row.
	wrongStarts := 0
	for _, e := range events {
		if e.Version == 1 && strings.HasPrefix(e.StreamID, "order-") && e.Type != ordersaga.EventOrderCreated {
			wrongStarts++
		}
	}
	slow := f.projector.DeadLetters() + int64(wrongStarts)
	if transactions != slow {
		t.Errorf("%d events delivered in order took %d transactions, want %d: one for each malformed or wrongly placed event",
			len(events), transactions, slow)
	}
	// One statement per event; the transaction path adds the read of the store's copy of
	// the event, the row's load and save, an order's marks, and the commit.
	if want := int64(len(events)) + 5*slow; calls > want {
		t.Errorf("%d events delivered in order ran %d statements, want at most %d", len(events), calls, want)
	}
	assertFold(t, f, events)
}

func streamsOf(events []ordersaga.RecordedEvent) map[string]bool {
	streams := map[string]bool{}
	for _, e := range events {
		streams[e.StreamID] = true
	}
	return streams
}

func TestVerifyFindsTamperingAndUnpublishedEvents(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 7))
	events, _ := history(t, f, rng, 10)
	for _, e := range events {
		if err := f.projector.Apply(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	// Everything published: empty the outbox as the relay would.
	var positions []int64
	for _, e := range events {
		positions = append(positions, e.Position)
	}
	if err := f.store.MarkPublished(ctx, positions); err != nil {
		t.Fatal(err)
	}
	report, err := projections.Verify(ctx, f.reads, f.store, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !report.OK() || report.StreamsChecked == 0 {
		t.Fatalf("a consistent system: %+v, want no problems", report)
	}
	// Tamper with one row and leave one event unpublished.
	if _, err := f.db.Exec(ctx, `UPDATE orders_view SET status = 'approved', amount = amount + 1 WHERE order_id = 'p3'`); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Exec(ctx, `INSERT INTO event_outbox (position) VALUES ($1)`, events[5].Position); err != nil {
		t.Fatal(err)
	}
	report, err = projections.Verify(ctx, f.reads, f.store, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Problems) != 2 {
		t.Fatalf("problems = %q, want the tampered order and the unpublished event", report.Problems)
	}
	t.Logf("verify reported:\n%s\n%s", report.Problems[0], report.Problems[1])
	// The relay parks the unpublished event (the bus refuses it): still a problem, saying why.
	if err := f.store.Park(ctx, events[5].Position, "maximum payload exceeded"); err != nil {
		t.Fatal(err)
	}
	report, err = projections.Verify(ctx, f.reads, f.store, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Problems) != 2 || !strings.Contains(report.Problems[1], "parked") || !strings.Contains(report.Problems[1], "maximum payload exceeded") {
		t.Fatalf("problems = %q, want the tampered order and the parked event with its reason", report.Problems)
	}
}

// TestVerifyGivesFreshEventsTheGracePeriod leaves the last event of an order unprojected:
// within the grace period it may still be on its way, and the row is checked against the
// fold up to its own version (clean); past the grace period the row lags, and a row that
// differs from that fold is caught however fresh the stream.
func TestVerifyGivesFreshEventsTheGracePeriod(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	created, _ := json.Marshal(ordersaga.OrderCreated{OrderID: "g1", CustomerID: "c-g", RestaurantID: "r-1", Currency: "EUR", Amount: 500,
		Items: []ordersaga.Item{{ID: "pizza", Name: "Pizza", UnitPrice: 500, Quantity: 1}}})
	approved, _ := json.Marshal(ordersaga.OrderApproved{OrderID: "g1", RestaurantID: "r-1"})
	stream := ordersaga.MustParseStream("order-g1")
	var recorded []ordersaga.RecordedEvent
	for _, e := range []ordersaga.EventData{{ID: uuid.New(), Type: ordersaga.EventOrderCreated, Data: created},
		{ID: uuid.New(), Type: ordersaga.EventOrderApproved, Data: approved}} {
		res, err := f.store.Append(ctx, stream, ordersaga.AnyVersion, []ordersaga.EventData{e})
		if err != nil {
			t.Fatal(err)
		}
		recorded = append(recorded, res.Recorded(stream, []ordersaga.EventData{e})...)
		if err := f.store.MarkPublished(ctx, []int64{res.Events[0].Position}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.projector.Apply(ctx, recorded[0]); err != nil { // order-approved is still on its way
		t.Fatal(err)
	}
	if report, err := projections.Verify(ctx, f.reads, f.store, time.Hour); err != nil || !report.OK() {
		t.Errorf("within the grace period: %q, %v; want clean", report.Problems, err)
	}
	report, err := projections.Verify(ctx, f.reads, f.store, 0)
	if err != nil {
		t.Fatal(err)
	}
	if report.Counts[projections.ProblemReadModelLags+"/orders_view"] != 1 || len(report.Problems) != 1 {
		t.Errorf("past the grace period: %q (counts %v); want order-g1's row lagging", report.Problems, report.Counts)
	}
	if _, err := f.db.Exec(ctx, `UPDATE orders_view SET amount = amount + 1 WHERE order_id = 'g1'`); err != nil {
		t.Fatal(err)
	}
	report, err = projections.Verify(ctx, f.reads, f.store, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if report.Counts[projections.ProblemReadModelDiffers] != 1 || len(report.Problems) != 1 {
		t.Errorf("a tampered row within the grace period: %q (counts %v); want it differing", report.Problems, report.Counts)
	}
}

func TestRebuildResumesAndEqualsTheLiveReadModels(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(11, 11))
	events, _ := history(t, f, rng, 450) // several pages of streams
	for _, e := range events {
		if err := f.projector.Apply(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	live := snapshot(t, f)
	// A corrupted row that the rebuild must repair from the store.
	if _, err := f.db.Exec(ctx, `UPDATE orders_view SET status = 'approved' WHERE order_id = 'p1'`); err != nil {
		t.Fatal(err)
	}
	// Kill the first rebuild after its second page: the customers (one page) and the first
	// page of orders, so that it resumes inside the second read model.
	crashCtx, crash := context.WithCancel(ctx)
	pages := 0
	err := projections.Rebuild(crashCtx, f.db, f.store, func(done, total int64) {
		if pages++; pages == 3 {
			crash()
		}
	})
	if err == nil {
		t.Fatal("the interrupted rebuild reported success")
	}
	var resumedFrom, lastDone, lastTotal int64 = -1, 0, 0
	if err := projections.Rebuild(ctx, f.db, f.store, func(done, total int64) {
		if resumedFrom < 0 {
			resumedFrom = done
		}
		if done > total {
			t.Errorf("progress %d of %d", done, total)
		}
		lastDone, lastTotal = done, total
	}); err != nil {
		t.Fatal(err)
	}
	if resumedFrom <= 0 {
		t.Errorf("the second rebuild started from %d events, want it to resume after the first page", resumedFrom)
	}
	// The resumed rebuild folded every event the first did not: its count ends at the total.
	if lastDone != lastTotal || lastTotal != int64(len(events)) {
		t.Errorf("the resumed rebuild ended at %d of %d events, want all %d", lastDone, lastTotal, len(events))
	}
	if got := snapshot(t, f); got != live {
		t.Errorf("rebuilt read models differ from the live ones before the corruption")
	}
	report, err := projections.Verify(ctx, f.reads, f.store, time.Hour)
	if err != nil || !report.OK() {
		t.Errorf("verify after rebuild: %+v, %v", report, err)
	}
}

// snapshot renders both read models, ordered, as text.
func snapshot(t *testing.T, f fixture) string {
	t.Helper()
	var out string
	for _, q := range []string{
		`SELECT order_id, customer_id, restaurant_id, status, items::TEXT, amount, currency, reason, version FROM orders_view ORDER BY order_id`,
		`SELECT customer_id, '', '', '', '', balance, currency, '', version FROM customer_balances ORDER BY customer_id`,
	} {
		var rows [][]any
		err := f.db.InStatement(context.Background(), func(db sqldb.Querier) error {
			r, err := db.Query(context.Background(), q)
			if err == nil {
				rows, err = pgx.CollectRows(r, func(row pgx.CollectableRow) ([]any, error) { return row.Values() })
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, vals := range rows {
			out += fmt.Sprintln(vals...)
		}
	}
	return out
}

// TestProjectorsSubscribeToEveryEventTheReadModelsConsume pins the derived subscription
// list: every event type of an order or a customer account, each once.
func TestProjectorsSubscribeToEveryEventTheReadModelsConsume(t *testing.T) {
	want := []string{ordersaga.EventAccountCredited, ordersaga.EventAccountDebited, ordersaga.EventAccountRefunded,
		ordersaga.EventOrderApproved, ordersaga.EventOrderCancelled, ordersaga.EventOrderCreated,
		ordersaga.EventPaymentDebited, ordersaga.EventPaymentRefunded, ordersaga.EventOrderRejected}
	slices.Sort(want)
	if got := projections.Types(); !slices.Equal(got, want) {
		t.Errorf("projections.Types() = %v, want %v", got, want)
	}
}

// TestAForgedStreamNameIsRefused delivers events whose stream names the store could never
// have written: each is refused (so the bus redelivers it, then parks it as a dead letter),
// and no read model row appears.
func TestAForgedStreamNameIsRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, stream := range []string{"", "order", "order-a b", "order-" + strings.Repeat("x", 300), "Order-1"} {
		e := ordersaga.RecordedEvent{ID: uuid.New(), StreamID: stream, Version: 1, Type: ordersaga.EventOrderCreated,
			Data: []byte(`{"order_id":"a b","customer_id":"c","restaurant_id":"r","items":[],"amount":1,"currency":"EUR"}`)}
		if err := f.projector.Apply(ctx, e); err == nil || !strings.Contains(err.Error(), "stream") {
			t.Errorf("Apply of an event on stream %q: %v, want an error naming the stream", stream, err)
		}
	}
	orders, err := f.reads.ListOrders(ctx, ordersaga.OrderFilter{}, "", 10)
	if err != nil || len(orders) != 0 {
		t.Errorf("read model after forged events: %d orders, %v; want none", len(orders), err)
	}
}

// credits appends n credits of 1 to customer's stream (a hundred per append) and returns
// the last one as recorded.
func credits(t *testing.T, f fixture, customer string, n int) ordersaga.RecordedEvent {
	t.Helper()
	stream := ordersaga.MustParseStream("customer-" + customer)
	data := []byte(`{"customer_id":"` + customer + `","amount":1,"currency":"EUR"}`)
	var last ordersaga.RecordedEvent
	for done := 0; done < n; {
		batch := make([]ordersaga.EventData, min(n-done, ordersaga.MaxEventsPerAppend))
		for i := range batch {
			batch[i] = ordersaga.EventData{ID: uuid.New(), Type: ordersaga.EventAccountCredited, Data: data}
		}
		res, err := f.store.Append(context.Background(), stream, ordersaga.AnyVersion, batch)
		if err != nil {
			t.Fatal(err)
		}
		recorded := res.Recorded(stream, batch)
		last, done = recorded[len(recorded)-1], done+len(batch)
	}
	return last
}

// TestAGapOfAnySizeIsFilled delivers only the last of 10,050 credits: the projector reads
// and applies the 10,049 before it a page at a time (one read of them all used to exceed
// the store's read limit, so the gap was never filled).
func TestAGapOfAnySizeIsFilled(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	last := credits(t, f, "c-gap", eventstore.MaxReadLimit+50)
	if err := f.projector.Apply(ctx, last); err != nil {
		t.Fatal(err)
	}
	if b, err := f.reads.Balance(ctx, "c-gap"); err != nil || b.Balance != eventstore.MaxReadLimit+50 || b.Version != last.Version {
		t.Errorf("balance %+v, %v; want %d at version %d", b, err, eventstore.MaxReadLimit+50, last.Version)
	}
}

// TestTheProjectorMeasuresLagOncePerEventAndCountsGapsByHow applies a customer's first
// credit twice, then only the fourth (a gap of two), then reconciles another customer
// never delivered: the lag is recorded once per event a read model came to reflect (4,
// then 6), the gaps counted from zero, one filled on a delivery and one by reconcile.
func TestTheProjectorMeasuresLagOncePerEventAndCountsGapsByHow(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	lagged := func() float64 {
		n, _ := f.metrics.Value(t, "ordersaga.projection.lag", "read_model", "customer_balances")
		return n
	}
	filled := func(how string) float64 {
		return f.metrics.Must(t, "ordersaga.projection.gaps_filled", "read_model", "customer_balances", "by", how)
	}
	check := func(when string, lag, byDelivery, byReconcile float64) {
		t.Helper()
		if l, d, r := lagged(), filled("delivery"), filled("reconcile"); l != lag || d != byDelivery || r != byReconcile {
			t.Errorf("%s: lag recorded %v times, gaps filled %v on delivery and %v by reconcile; want %v, %v, %v", when, l, d, r, lag, byDelivery, byReconcile)
		}
	}
	check("at the start", 0, 0, 0)
	first := credits(t, f, "c-lag", 1)
	for range 2 {
		if err := f.projector.Apply(ctx, first); err != nil {
			t.Fatal(err)
		}
	}
	check("after the first credit, delivered twice", 1, 0, 0)
	if err := f.projector.Apply(ctx, credits(t, f, "c-lag", 3)); err != nil {
		t.Fatal(err)
	}
	check("after the fourth credit, delivered alone", 4, 1, 0)
	credits(t, f, "c-undelivered", 2)
	if caught, err := f.projector.Reconcile(ctx); caught != 1 || err != nil {
		t.Fatalf("reconcile: caught %d, %v; want the undelivered customer", caught, err)
	}
	check("after reconciling", 6, 1, 1)
}

// TestReconcileGoesOnPastAStreamItCannotCatchUp makes the read model refuse one customer's
// row (a trigger): reconciling catches the other customer up, and names the one it could
// not.
func TestReconcileGoesOnPastAStreamItCannotCatchUp(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, stmt := range []string{
		`CREATE FUNCTION refuse_broken() RETURNS trigger AS $$ BEGIN
			IF NEW.customer_id = 'c-broken' THEN RAISE EXCEPTION 'this row cannot be written'; END IF;
			RETURN NEW; END $$ LANGUAGE plpgsql`,
		`CREATE TRIGGER refuse_broken BEFORE INSERT OR UPDATE ON customer_balances FOR EACH ROW EXECUTE FUNCTION refuse_broken()`,
	} {
		if _, err := f.db.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	credits(t, f, "c-broken", 3) // sorts before c-ok
	credits(t, f, "c-ok", 2)
	caught, err := f.projector.Reconcile(ctx)
	if caught != 1 || err == nil || !strings.Contains(err.Error(), "customer-c-broken") {
		t.Errorf("reconcile: caught %d, %v; want 1 caught and an error naming customer-c-broken", caught, err)
	}
	if b, err := f.reads.Balance(ctx, "c-ok"); err != nil || b.Balance != 2 {
		t.Errorf("c-ok after reconcile: %+v, %v; want 2", b, err)
	}
}

// TestAnOrderCreatedNamingAnotherOrderIsDeadLettered appends, on order-a's stream, an
// order-created whose payload names order b: it is dead-lettered, and no row of b appears
// (the payload's order id used to name the row).
func TestAnOrderCreatedNamingAnotherOrderIsDeadLettered(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	stream := ordersaga.MustParseStream("order-a")
	e := ordersaga.EventData{ID: uuid.New(), Type: ordersaga.EventOrderCreated,
		Data: []byte(`{"order_id":"b","customer_id":"c-1","restaurant_id":"r-1","items":[],"amount":100,"currency":"EUR"}`)}
	res, err := f.store.Append(ctx, stream, ordersaga.NoStream, []ordersaga.EventData{e})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.projector.Apply(ctx, res.Recorded(stream, []ordersaga.EventData{e})[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reads.Order(ctx, "b"); ordersaga.ErrorCode(err) != ordersaga.ENOTFOUND {
		t.Errorf("order b: %v, want no such order", err)
	}
	if n := f.projector.DeadLetters(); n != 1 {
		t.Errorf("%d dead letters, want 1", n)
	}
}

// TestForgedEnvelopesChangeNoReadModel delivers, for every event of a random history,
// forgeries first (the same stream and version with another amount, status or recorded
// time; another event id; a version the store has not got), then the genuine events, some
// twice: the read models equal the fold of the store, and every forgery was ignored or
// refused.
func TestForgedEnvelopesChangeNoReadModel(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	events, _ := history(t, f, rand.New(rand.NewPCG(9, 9)), 30)
	forge := func(e ordersaga.RecordedEvent, i int) ordersaga.RecordedEvent {
		switch i % 4 {
		case 0:
			e.Data = []byte(`{"order_id":"` + strings.TrimPrefix(e.StreamID, "order-") + `","customer_id":"c-1","amount":99999999,"currency":"EUR","reason":"forged"}`)
		case 1:
			e.ID = uuid.New()
		case 2:
			e.RecordedAt = e.RecordedAt.Add(time.Hour)
		case 3:
			e.Type = ordersaga.EventOrderApproved
		}
		return e
	}
	for i, e := range events {
		if err := f.projector.Apply(ctx, forge(e, i)); err != nil {
			t.Fatalf("a forgery of %s version %d: %v", e.StreamID, e.Version, err)
		}
		if err := f.projector.Apply(ctx, e); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if err := f.projector.Apply(ctx, e); err != nil { // redelivered
				t.Fatal(err)
			}
		}
	}
	future := events[len(events)-1]
	future.Version += 100
	if err := f.projector.Apply(ctx, future); err == nil {
		t.Error("an event at a version the store has not got was taken")
	}
	assertFold(t, f, events)
	if f.projector.Forged() == 0 {
		t.Error("no forgery was counted")
	}
}
