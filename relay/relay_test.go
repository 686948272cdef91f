package relay_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventbus/bustest"
	"github.com/ordersaga/ordersaga/eventbus/jetstream"
	"github.com/ordersaga/ordersaga/eventbus/natsstreaming"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/internal/metrictest"
	"github.com/ordersaga/ordersaga/natsembed"
	"github.com/ordersaga/ordersaga/relay"
	"github.com/ordersaga/ordersaga/sqldb"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// adapters connect each bus implementation to srv.
var adapters = map[string]func(t testing.TB, srv *bustest.Server, name string) eventbus.Bus{
	"natsstreaming": func(t testing.TB, srv *bustest.Server, name string) eventbus.Bus {
		bus, err := natsstreaming.Connect(context.Background(), natsstreaming.Config{URL: srv.URL(), ClusterID: srv.ClusterID(),
			ClientID: name, MonitorURL: srv.MonitorURL(), PublishTimeout: time.Second, PingInterval: 1, PingMaxOut: 3})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { bus.Close() })
		return bus
	},
	"jetstream": func(t testing.TB, srv *bustest.Server, name string) eventbus.Bus {
		bus, err := jetstream.Connect(context.Background(), jetstream.Config{URL: srv.URL(), ClientName: name, PublishTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { bus.Close() })
		return bus
	},
}

func newStore(t testing.TB) (*eventstore.Store, *sqldb.DB) {
	t.Helper()
	db, store := dbtest.NewStore(t, 0)
	return store, db
}

// appendEvents appends n events over a few streams and returns their ids.
func appendEvents(t *testing.T, store *eventstore.Store, typ string, n int) []uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	for i := range n {
		e := ordersaga.EventData{ID: uuid.New(), Type: typ, Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}
		if _, err := store.Append(context.Background(), ordersaga.MustParseStream(fmt.Sprintf("order-r%d", i%7)), ordersaga.AnyVersion, []ordersaga.EventData{e}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	return ids
}

// receiver counts deliveries per event id in a queue group of its own (one per type).
type receiver struct {
	mu     sync.Mutex
	counts map[uuid.UUID]int
}

func receive(t testing.TB, bus eventbus.Bus, typ string) *receiver {
	t.Helper()
	r := &receiver{counts: map[uuid.UUID]int{}}
	_, err := bus.Subscribe(context.Background(), eventbus.SubscribeOptions{Group: "relay-test-" + typ, Types: []string{typ},
		Handler: func(_ context.Context, m eventbus.Message) error {
			r.mu.Lock()
			r.counts[m.Event.ID]++
			r.mu.Unlock()
			return nil
		},
		DeadLetter: func(context.Context, eventbus.Message, error) error { return errors.New("unexpected dead letter") }})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// waitAll waits until every id arrived at least once and returns the total deliveries.
func (r *receiver) waitAll(t testing.TB, ids []uuid.UUID) int {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r.mu.Lock()
		missing := 0
		for _, id := range ids {
			if r.counts[id] == 0 {
				missing++
			}
		}
		r.mu.Unlock()
		if missing == 0 {
			return r.total()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events never arrived", missing, len(ids))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// backlog starts a bus server and a store holding n events of type typ in its outbox,
// with a receiver of that type on NATS Streaming (or on the adapter named), and returns
// them and the events' ids.
func backlog(t *testing.T, typ string, n int, adapter ...string) (*bustest.Server, *eventstore.Store, *sqldb.DB, *receiver, []uuid.UUID) {
	t.Helper()
	srv := bustest.StartServer(t)
	store, db := newStore(t)
	r := receive(t, adapters[append(adapter, "natsstreaming")[0]](t, srv, "receiver"), typ)
	return srv, store, db, r, appendEvents(t, store, typ, n)
}

// settled waits until every id arrived and the outbox is empty, then long enough for a
// duplicate to arrive too, and returns the deliveries.
func settled(t *testing.T, r *receiver, ids []uuid.UUID, db *sqldb.DB) int {
	t.Helper()
	r.waitAll(t, ids)
	waitOutboxEmpty(t, db)
	time.Sleep(500 * time.Millisecond)
	return r.total()
}

// total is how many deliveries the receiver has had.
func (r *receiver) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.counts {
		n += c
	}
	return n
}

func outboxSize(t testing.TB, db *sqldb.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), `SELECT count(*) FROM event_outbox`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitOutboxEmpty waits up to 30 s for the relays to empty the outbox.
func waitOutboxEmpty(t testing.TB, db *sqldb.DB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for outboxSize(t, db) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("outbox still holds %d events", outboxSize(t, db))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func runRelay(t testing.TB, cfg relay.Config) (stop func()) {
	t.Helper()
	r, err := relay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.Run(ctx)
	}()
	return func() { cancel(); <-done }
}

func TestRelayDrainsWhatWasAppendedWhileTheBusWasDown(t *testing.T) {
	for name, connect := range adapters {
		t.Run(name, func(t *testing.T) {
			srv := bustest.StartServer(t)
			store, db := newStore(t)
			typ := "order-created"
			receiver := receive(t, connect(t, srv, "receiver-"+name), typ)
			bus := connect(t, srv, "relay-"+name)

			srv.Stop(t)
			ids := appendEvents(t, store, typ, 250)
			stop := runRelay(t, relay.Config{Outbox: store, Publisher: bus, BatchSize: 40, GracePeriod: time.Nanosecond,
				PollInterval: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})
			defer stop()
			time.Sleep(1500 * time.Millisecond) // the relay fails and backs off meanwhile
			if n := outboxSize(t, db); n != 250 {
				t.Fatalf("with the bus down the outbox holds %d events, want all 250 still there", n)
			}
			srv.Start(t)
			total := receiver.waitAll(t, ids)
			waitOutboxEmpty(t, db)
			t.Logf("250 events delivered %d times in all", total)
		})
	}
}

// crashingOutbox is the real store whose first MarkPublished "crashes" the relay: it
// cancels the relay's context and fails, as if the process died between publish and mark.
type crashingOutbox struct {
	*eventstore.Store
	crash   context.CancelFunc
	crashed bool
}

func (c *crashingOutbox) MarkPublished(ctx context.Context, positions []int64) error {
	if !c.crashed {
		c.crashed = true
		c.crash()
		return errors.New("killed between publish and mark")
	}
	return c.Store.MarkPublished(ctx, positions)
}

func TestRelayKilledBetweenPublishAndMarkRepublishes(t *testing.T) {
	for name, connect := range adapters {
		t.Run(name, func(t *testing.T) {
			srv := bustest.StartServer(t)
			store, db := newStore(t)
			typ := "order-approved"
			receiver := receive(t, connect(t, srv, "receiver-"+name), typ)
			bus := connect(t, srv, "relay-"+name)
			ids := appendEvents(t, store, typ, 30)

			ctx, crash := context.WithCancel(context.Background())
			first, err := relay.New(relay.Config{Outbox: &crashingOutbox{Store: store, crash: crash}, Publisher: bus,
				BatchSize: 30, GracePeriod: time.Nanosecond})
			if err != nil {
				t.Fatal(err)
			}
			if err := first.Run(ctx); err != nil {
				t.Fatal(err)
			}
			if n := outboxSize(t, db); n != 30 {
				t.Fatalf("after the crash the outbox holds %d events, want all 30 (published, not marked)", n)
			}
			stop := runRelay(t, relay.Config{Outbox: store, Publisher: bus, GracePeriod: time.Nanosecond, PollInterval: 50 * time.Millisecond})
			defer stop()
			waitOutboxEmpty(t, db)
			total := receiver.waitAll(t, ids)
			if name == "natsstreaming" && total < 60 {
				// Without de-duplication every event arrives twice: once per relay.
				time.Sleep(500 * time.Millisecond)
				total = receiver.waitAll(t, ids)
			}
			t.Logf("30 events delivered %d times in all", total)
			if name == "natsstreaming" && total != 60 {
				t.Errorf("NATS Streaming delivered %d messages, want 60: each event once per relay", total)
			}
			if name == "jetstream" && total != 30 {
				t.Errorf("JetStream delivered %d messages, want 30: the republish falls in the de-duplication window", total)
			}
		})
	}
}

// TestSeveralRelaysShareTheOutbox runs three relays over 300 events on NATS Streaming,
// which does not de-duplicate: they divide the events between them, so each arrives
// exactly once, and their published counters add up to 300.
func TestSeveralRelaysShareTheOutbox(t *testing.T) {
	srv, store, db, receiver, ids := backlog(t, "order-rejected", 300)
	var counters []*metrictest.Reader
	for i := range 3 {
		bus := adapters["natsstreaming"](t, srv, fmt.Sprintf("relay-%d", i))
		metrics := metrictest.New(t)
		counters = append(counters, metrics)
		stop := runRelay(t, relay.Config{Outbox: store, Publisher: bus, BatchSize: 25, GracePeriod: time.Nanosecond, PollInterval: 20 * time.Millisecond,
			Meters: metrics.Provider})
		defer stop()
	}
	total := settled(t, receiver, ids, db)
	published := 0.0
	for _, m := range counters {
		published += m.Must(t, "ordersaga.relay.published")
	}
	t.Logf("3 relays delivered 300 events %d times in all", total)
	if total != 300 || published != 300 {
		t.Errorf("3 relays delivered 300 events %d times and counted %v published, want 300 and 300", total, published)
	}
}

// stalled is the real bus that, on its first batch, publishes the first k events and then
// never returns (until ctx ends): a relay killed mid-batch, which neither marks what it
// published nor releases its claim.
type stalled struct {
	eventbus.Bus
	k       int
	stalled chan struct{}
	once    sync.Once
}

func (s *stalled) PublishBatch(ctx context.Context, events []ordersaga.RecordedEvent) (int, error) {
	first := false
	s.once.Do(func() { first = true })
	if !first {
		return s.Bus.PublishBatch(ctx, events)
	}
	if _, err := s.Bus.PublishBatch(ctx, events[:s.k]); err != nil {
		return 0, err
	}
	close(s.stalled)
	<-ctx.Done()
	return 0, ctx.Err()
}

// TestARelayKilledMidBatchLosesNothing: one of three relays claims a batch of 25 with a
// lease of a second, publishes 10 of them and dies (it never marks nor releases). The
// other two publish everything else at once and its batch when its lease runs out: all
// 300 events arrive, at most the 10 it published twice (NATS Streaming does not
// de-duplicate), and the outbox empties.
func TestARelayKilledMidBatchLosesNothing(t *testing.T) {
	srv, store, db, receiver, ids := backlog(t, "order-cancelled", 300)
	dying := &stalled{Bus: adapters["natsstreaming"](t, srv, "dying"), k: 10, stalled: make(chan struct{})}
	stopDying := runRelay(t, relay.Config{Outbox: store, Publisher: dying, BatchSize: 25, GracePeriod: time.Nanosecond, Lease: time.Second})
	defer stopDying()
	<-dying.stalled
	for i := range 2 {
		bus := adapters["natsstreaming"](t, srv, fmt.Sprintf("survivor-%d", i))
		stop := runRelay(t, relay.Config{Outbox: store, Publisher: bus, BatchSize: 25, GracePeriod: time.Nanosecond, PollInterval: 20 * time.Millisecond})
		defer stop()
	}
	total := settled(t, receiver, ids, db)
	t.Logf("300 events delivered %d times in all", total)
	if total < 300 || total > 310 {
		t.Errorf("300 events delivered %d times, want 300 to 310 (the dead relay's 10 at most twice)", total)
	}
}

// TestAnEventTheBusRefusesIsParkedAndTheRestFlows runs the relay against a NATS server
// that takes messages of at most 4 KiB, with an event of 8 KiB in the middle of the
// outbox, on both buses: that event is parked with the bus's reason, every other event is
// published, and the outbox empties. Requeued, it is parked again (the bus still refuses
// it). The relay used to retry the refused event for ever, and publish nothing after it.
func TestAnEventTheBusRefusesIsParkedAndTheRestFlows(t *testing.T) {
	for name, connect := range adapters {
		t.Run(name, func(t *testing.T) {
			srv := bustest.StartServerWith(t, natsembed.Config{MaxPayload: 4 << 10})
			bus := connect(t, srv, "parking-"+name)
			store, db := newStore(t)
			rec := receive(t, bus, "order-parked")
			before := appendEvents(t, store, "order-parked", 5)
			big := ordersaga.EventData{ID: uuid.New(), Type: "order-parked", Data: json.RawMessage(`{"blob": "` + strings.Repeat("x", 8<<10) + `"}`)}
			if _, err := store.Append(context.Background(), ordersaga.MustParseStream("order-big"), ordersaga.AnyVersion, []ordersaga.EventData{big}); err != nil {
				t.Fatal(err)
			}
			after := appendEvents(t, store, "order-parked", 5)
			r, err := relay.New(relay.Config{Outbox: store, Publisher: bus, GracePeriod: time.Nanosecond, BatchSize: 4, PollInterval: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ctx, stop := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()
			rec.waitAll(t, append(before, after...))
			waitUntil(t, "the outbox to empty", func() bool { return outboxSize(t, db) == 0 })
			parked, err := store.Parked(context.Background(), 10)
			if err != nil || len(parked) != 1 || parked[0].Event.ID != big.ID || !strings.Contains(parked[0].Reason, "maximum payload") {
				t.Fatalf("parked = %+v, %v; want the big event, with the bus's reason", parked, err)
			}
			if n, err := store.Requeue(context.Background(), []int64{parked[0].Event.Position}); err != nil || n != 1 {
				t.Fatalf("requeue: %d, %v", n, err)
			}
			waitUntil(t, "the requeued event to be parked again", func() bool {
				again, err := store.Parked(context.Background(), 10)
				return err == nil && len(again) == 1 && outboxSize(t, db) == 0
			})
			stop()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if rec.counts[big.ID] != 0 {
				t.Errorf("the refused event arrived %d times", rec.counts[big.ID])
			}
		})
	}
}

// waitUntil polls cond for up to 30 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// halfway is the real bus that, for its first call, publishes only the first k events of
// the batch and then fails as a bus going down mid-batch does.
type halfway struct {
	eventbus.Bus
	k     int
	calls int
}

func (h *halfway) PublishBatch(ctx context.Context, events []ordersaga.RecordedEvent) (int, error) {
	h.calls++
	if h.calls == 1 && len(events) > h.k {
		n, err := h.Bus.PublishBatch(ctx, events[:h.k])
		if err != nil {
			return n, err
		}
		return n, &ordersaga.Error{Code: ordersaga.EUNAVAILABLE, Message: "the event bus is unavailable"}
	}
	return h.Bus.PublishBatch(ctx, events)
}

// TestABatchPublishedHalfwayIsMarkedHalfwayAndFinishedLater: the bus takes 4 of 10 events
// and goes down: those 4 leave the outbox, the 6 others stay (none parked: an outage is not
// a refusal), and the next round publishes exactly them; Once says how many each time.
// With a refusal in the middle of a batch, Once publishes what comes before it, parks it,
// and counts both.
func TestABatchPublishedHalfwayIsMarkedHalfwayAndFinishedLater(t *testing.T) {
	srv := bustest.StartServerWith(t, natsembed.Config{MaxPayload: 4 << 10})
	bus := adapters["jetstream"](t, srv, "halfway")
	store, db := newStore(t)
	ctx := context.Background()
	rec := receive(t, bus, "order-halfway")
	ids := appendEvents(t, store, "order-halfway", 10)
	metrics := metrictest.New(t)
	r, err := relay.New(relay.Config{Outbox: store, Publisher: &halfway{Bus: bus, k: 4}, GracePeriod: time.Nanosecond, Meters: metrics.Provider})
	if err != nil {
		t.Fatal(err)
	}
	counted := func(when string, published, parked float64) {
		t.Helper()
		if p, k := metrics.Must(t, "ordersaga.relay.published"), metrics.Must(t, "ordersaga.relay.parked"); p != published || k != parked {
			t.Errorf("%s the relay counts %v published and %v parked, want %v and %v", when, p, k, published, parked)
		}
	}
	counted("before the first round", 0, 0)
	if depth, age := metrics.Must(t, "ordersaga.outbox.events"), metrics.Must(t, "ordersaga.outbox.oldest.age"); depth != 10 || age <= 0 || age > 60 {
		t.Errorf("before the first round the outbox gauges say %v events, the oldest %vs old; want 10, a few seconds", depth, age)
	}
	if n, err := r.Once(ctx); n != 4 || ordersaga.ErrorCode(err) != ordersaga.EUNAVAILABLE {
		t.Fatalf("the half-published round: %d, %v; want 4 and the outage", n, err)
	}
	counted("after the half-published round", 4, 0)
	if depth := metrics.Must(t, "ordersaga.outbox.events"); depth != 6 {
		t.Errorf("after the half-published round the outbox gauge says %v events, want 6", depth)
	}
	parked, err := store.Parked(ctx, 10)
	if left := outboxSize(t, db); left != 6 || err != nil || len(parked) != 0 {
		t.Fatalf("after the outage: %d in the outbox, %d parked (%v); want 6 and none", left, len(parked), err)
	}
	if n, err := r.Once(ctx); n != 6 || err != nil {
		t.Fatalf("the next round: %d, %v; want the 6 left", n, err)
	}
	rec.waitAll(t, ids)
	counted("after the next round", 10, 0)
	if depth, age := metrics.Must(t, "ordersaga.outbox.events"), metrics.Must(t, "ordersaga.outbox.oldest.age"); depth != 0 || age != 0 {
		t.Errorf("with the outbox empty its gauges say %v events, the oldest %vs old; want 0 and 0", depth, age)
	}

	// A refusal in the middle: two small events, a big one, a small one.
	before := appendEvents(t, store, "order-halfway", 2)
	big := ordersaga.EventData{ID: uuid.New(), Type: "order-halfway", Data: json.RawMessage(`{"blob": "` + strings.Repeat("x", 8<<10) + `"}`)}
	if _, err := store.Append(ctx, ordersaga.MustParseStream("order-big"), ordersaga.AnyVersion, []ordersaga.EventData{big}); err != nil {
		t.Fatal(err)
	}
	after := appendEvents(t, store, "order-halfway", 1)
	if n, err := r.Once(ctx); n != 3 || err != nil {
		t.Fatalf("the round with a refusal: %d, %v; want 3 (two published, one parked)", n, err)
	}
	counted("after the round with a refusal", 12, 1)
	if n, err := r.Once(ctx); n != 1 || err != nil {
		t.Fatalf("the round after it: %d, %v; want the one after the refused event", n, err)
	}
	rec.waitAll(t, append(before, after...))
	counted("at the end", 13, 1)
}

// TestRunCountsTheRoundsItRetries: a relay whose first round fails halfway counts one
// retry, then publishes the rest.
func TestRunCountsTheRoundsItRetries(t *testing.T) {
	srv, store, db, rec, ids := backlog(t, "order-retried", 10, "jetstream")
	bus := adapters["jetstream"](t, srv, "retries")
	metrics := metrictest.New(t)
	stop := runRelay(t, relay.Config{Outbox: store, Publisher: &halfway{Bus: bus, k: 4}, GracePeriod: time.Nanosecond,
		PollInterval: time.Millisecond, Meters: metrics.Provider})
	rec.waitAll(t, ids)
	waitOutboxEmpty(t, db)
	stop()
	if retries, published := metrics.Must(t, "ordersaga.relay.retries"), metrics.Must(t, "ordersaga.relay.published"); retries != 1 || published != 10 {
		t.Errorf("the relay counts %v retries and %v published, want 1 and 10", retries, published)
	}
}

// TestRunDrainsABacklogWithoutWaitingToPoll gives the relay a backlog of nine and a half
// batches and a poll interval of an hour: it publishes them all at once, round after
// round, pausing only when a round comes back short.
func TestRunDrainsABacklogWithoutWaitingToPoll(t *testing.T) {
	srv, store, db, rec, ids := backlog(t, "order-drained", 95, "jetstream")
	bus := adapters["jetstream"](t, srv, "drain")
	stop := runRelay(t, relay.Config{Outbox: store, Publisher: bus, BatchSize: 10, GracePeriod: time.Nanosecond, PollInterval: time.Hour})
	defer stop()
	rec.waitAll(t, ids)
	waitOutboxEmpty(t, db)
}

// TestAStoppingRelayReleasesWhatItHolds: a relay whose bus goes down after 4 of its batch
// of 10 holds the other 6 while it retries; stopped, it releases them, so that another
// relay claims them at once rather than after the 30 s lease.
func TestAStoppingRelayReleasesWhatItHolds(t *testing.T) {
	srv, store, db, _, _ := backlog(t, "order-held", 10, "jetstream")
	bus := adapters["jetstream"](t, srv, "holder")
	r, err := relay.New(relay.Config{Outbox: store, Publisher: &halfway{Bus: bus, k: 4}, GracePeriod: time.Nanosecond, ID: "holder"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	waitUntil(t, "the first round to publish 4 of 10", func() bool { return outboxSize(t, db) == 6 })
	if taken, err := store.Claim(context.Background(), "other", 0, time.Minute, 100); err != nil || len(taken) != 0 {
		t.Fatalf("while the relay runs another claims %d events (%v), want none: it holds them", len(taken), err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if taken, err := store.Claim(context.Background(), "other", 0, time.Minute, 100); err != nil || len(taken) != 6 {
		t.Errorf("after the relay stopped another claims %d events (%v), want the 6 it held", len(taken), err)
	}
}

// silent acknowledges the first k events of the first batch through the real bus, then
// answers nothing more, as a bus that lost its leader mid-batch: it waits until the
// context ends.
type silent struct {
	eventbus.Bus
	k     int
	calls int
}

func (s *silent) PublishBatch(ctx context.Context, events []ordersaga.RecordedEvent) (int, error) {
	s.calls++
	if s.calls > 1 {
		return s.Bus.PublishBatch(ctx, events)
	}
	n, err := s.Bus.PublishBatch(ctx, events[:s.k])
	if err != nil {
		return n, err
	}
	<-ctx.Done()
	return n, &ordersaga.Error{Code: ordersaga.EUNAVAILABLE, Message: "no acknowledgement: " + ctx.Err().Error()}
}

// TestARoundGivesUpOnASilentBusAfterItsPublishTimeout: a round whose bus stops answering
// mid-batch ends at the relay's publish timeout, not the bus client's own, with what was
// acknowledged marked and the rest left in the outbox; the next round publishes the rest.
func TestARoundGivesUpOnASilentBusAfterItsPublishTimeout(t *testing.T) {
	srv := bustest.StartServer(t)
	bus := adapters["jetstream"](t, srv, "silent")
	store, db := newStore(t)
	rec := receive(t, bus, "order-silent")
	ids := appendEvents(t, store, "order-silent", 10)
	r, err := relay.New(relay.Config{Outbox: store, Publisher: &silent{Bus: bus, k: 3}, GracePeriod: time.Nanosecond,
		PublishTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() { n, err := r.Once(context.Background()); done <- result{n, err} }()
	select {
	case res := <-done:
		if res.n != 3 || ordersaga.ErrorCode(res.err) != ordersaga.EUNAVAILABLE {
			t.Fatalf("the silent round: %d, %v; want 3 and the outage", res.n, res.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the round still waits for a silent bus; it should have given up at its publish timeout")
	}
	if left := outboxSize(t, db); left != 7 {
		t.Fatalf("%d events in the outbox after the silent round, want the 7 not acknowledged", left)
	}
	if n, err := r.Once(context.Background()); n != 7 || err != nil {
		t.Fatalf("the next round: %d, %v; want the 7 left", n, err)
	}
	rec.waitAll(t, ids)
}
