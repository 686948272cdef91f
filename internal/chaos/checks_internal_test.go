package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/loadgen"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// appendEvents appends events of the given types and payloads to stream, as one append.
func appendEvents(t *testing.T, ctx context.Context, store *eventstore.Store, stream ordersaga.Stream, events ...any) {
	t.Helper()
	var data []ordersaga.EventData
	for i := 0; i < len(events); i += 2 {
		raw, err := json.Marshal(events[i+1])
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, ordersaga.EventData{ID: uuid.New(), Type: events[i].(string), Data: raw})
	}
	if _, err := store.Append(ctx, stream, ordersaga.AnyVersion, data); err != nil {
		t.Fatal(err)
	}
}

// The account checks count what the store holds: a debit taken twice for one order, a
// refund of an approved order, and the balances they leave are each reported, with the
// order or customer they concern; a store that is right passes.
func TestAccountChecksCountDuplicatedAndMissingEffects(t *testing.T) {
	ctx := context.Background()
	_, store := dbtest.NewStore(t, 4)
	approved := loadgen.WantedOutcome(3) // approved
	rejected := loadgen.WantedOutcome(1) // rejected by the restaurant: debited, then refunded
	if approved.Status != ordersaga.StatusApproved || rejected.Reason != ordersaga.ReasonRestaurantRejected {
		t.Fatalf("the load's outcomes moved: %v, %v", approved, rejected)
	}
	results := []loadgen.OrderResult{{ID: "ok-1", Want: approved}, {ID: "ok-2", Want: rejected}, {ID: "twice", Want: approved}, {ID: "refunded", Want: approved}}
	entry := func(order string, amount int64) ordersaga.AccountEntry {
		return ordersaga.AccountEntry{CustomerID: "c", Amount: amount, Currency: "EUR", OrderID: order}
	}
	good, bad := ordersaga.MustParseStream("customer-good"), ordersaga.MustParseStream("customer-bad")
	appendEvents(t, ctx, store, good,
		ordersaga.EventAccountCredited, entry("", 10000),
		ordersaga.EventAccountDebited, entry("ok-1", 1150),
		ordersaga.EventAccountDebited, entry("ok-2", 900),
		ordersaga.EventAccountRefunded, entry("ok-2", 900))
	appendEvents(t, ctx, store, bad,
		ordersaga.EventAccountCredited, entry("", 10000),
		ordersaga.EventAccountDebited, entry("twice", 1150),
		ordersaga.EventAccountDebited, entry("twice", 1150),
		ordersaga.EventAccountDebited, entry("refunded", 650),
		ordersaga.EventAccountRefunded, entry("refunded", 650))

	// Only the good customer's orders: everything adds up.
	debits, refunds, balances := checkAccounts(ctx, store, map[string]int64{"good": 1150}, results[:2])
	if debits.bad+refunds.bad+balances.bad != 0 || debits.count != 2 || refunds.count != 1 || debits.want != 2 || refunds.want != 1 {
		t.Errorf("a right store: debits %+v, refunds %+v, balances %+v; want 2 debits, 1 refund, nothing wrong", debits, refunds, balances)
	}
	// The bad customer: "twice" debited twice, "refunded" refunded though approved, and a
	// balance of 10000-1150-1150 = 7700 where its approved orders leave 10000-1150-650.
	debits, refunds, balances = checkAccounts(ctx, store, map[string]int64{"bad": 1150 + 650}, results[2:])
	if debits.bad != 1 || refunds.bad != 1 || balances.bad != 1 {
		t.Errorf("a broken store: debits %+v, refunds %+v, balances %+v; want one of each wrong", debits, refunds, balances)
	}
	if debits.first != "(first: twice debited 2 times)" || refunds.first != "(first: refunded refunded 1 times)" {
		t.Errorf("figures: %q, %q", debits.first, refunds.first)
	}
}

func TestEveryOutcomeHasItsEvents(t *testing.T) {
	seen := map[string]int{}
	for i := range 10 {
		want := loadgen.WantedOutcome(i)
		events := eventsOf(want)
		if events[0] != ordersaga.EventOrderCreated || len(events) < 2 {
			t.Errorf("%s: %v", want, events)
		}
		seen[want.String()] = len(events)
	}
	if len(seen) != 4 || seen["approved"] != 3 || seen["rejected/payment_declined"] != 2 {
		t.Errorf("outcomes and their event counts: %v", seen)
	}
}

func TestRecoveryIsTheFirstWindowBackAtTheRate(t *testing.T) {
	from := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return from.Add(time.Duration(s * float64(time.Second))) }
	// 10 orders a second for 30 s, none between 5 s and 10 s.
	var done []time.Time
	for s := 0.05; s < 30; s += 0.1 {
		if s < 5 || s >= 10 {
			done = append(done, at(s))
		}
	}
	got := recovery(done, from, at(30), 10)
	// The first window that holds 45 completions again, after the gap, ends about 5 s
	// into the orders' return (10 s) at the latest, and not before they returned.
	if got < 10 || got > 15.1 {
		t.Errorf("recovery = %.2fs, want between 10 and 15", got)
	}
	var steady []time.Time
	for s := 0.05; s < 30; s += 0.1 {
		steady = append(steady, at(s))
	}
	if got := recovery(steady, from, at(30), 10); got != 0 {
		t.Errorf("never fell: recovery = %.2f, want 0", got)
	}
	if got := recovery(done[:40], from, at(30), 10); got != -1 {
		t.Errorf("never came back: recovery = %.2f, want -1", got)
	}
}

func TestParseFaults(t *testing.T) {
	if all, err := ParseFaults("all"); err != nil || len(all) != len(Faults()) {
		t.Errorf("all: %v, %v", all, err)
	}
	if got, err := ParseFaults("kill-worker, restart-postgres"); err != nil || len(got) != 2 || got[1] != RestartDatabase {
		t.Errorf("two: %v, %v", got, err)
	}
	for _, bad := range []string{"", "kill-everything", "kill-worker,,kill-api"} {
		if _, err := ParseFaults(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// A consumer that dead-lettered anything during any fault fails the run, with the count.
func TestAConsumerThatGaveUpFailsTheRun(t *testing.T) {
	if c := consumersGaveUp([]FaultReport{{Redeliveries: 90}, {}}); !c.OK {
		t.Errorf("redeliveries alone: %+v, want OK", c)
	}
	c := consumersGaveUp([]FaultReport{{DeadLetters: 0}, {DeadLetters: 19}, {DeadLetters: 2}})
	if c.OK || !strings.HasPrefix(c.Figure, "21 dead-lettered") {
		t.Errorf("21 dead letters over the faults: %+v, want a failed check counting 21", c)
	}
}

// Each fault's figures are those of the orders started from it to the next fault: their
// saga p99, their slowest order and their longest projection lag; the steady figures are
// those of the orders that ended before the first fault.
func TestFiguresAreThoseOfTheOrdersStartedDuringEachFault(t *testing.T) {
	start := time.Now()
	order := func(id string, at, latency, lag time.Duration) loadgen.OrderResult {
		return loadgen.OrderResult{ID: id, Start: start.Add(at), Latency: latency, Lag: lag}
	}
	results := []loadgen.OrderResult{
		order("steady", 0, 100*time.Millisecond, 20*time.Millisecond),
		order("first-a", 10*time.Second, 2*time.Second, 4*time.Second),
		order("first-b", 11*time.Second, 5*time.Second, time.Second),
		order("second", 20*time.Second, 300*time.Millisecond, 50*time.Millisecond),
	}
	at := func(d time.Duration) time.Time { return start.Add(d) }
	const s = time.Second
	// Each event: committed to the store, taken in by the bus, first received.
	arrivals := []arrival{
		{at(9 * s), at(9 * s), at(9*s + 100*time.Millisecond)}, // before the first fault: not its
		{at(10 * s), at(10*s + 500*time.Millisecond), at(10*s + 600*time.Millisecond)},
		{at(11 * s), at(11 * s), at(16 * s)},                      // waited 5 s for the consumer
		{at(12 * s), at(15 * s), at(15*s + 100*time.Millisecond)}, // 3 s to the bus, which took nothing in for 4 s before it and 4.9 s after
		{at(19 * s), at(19*s + 900*time.Millisecond), at(21 * s)}, // taken in during the first, received during the second
		{at(29 * s), at(29 * s), at(35 * s)},                      // waited until the load's end at 30 s
		{at(25 * s), at(30 * s), at(30*s + time.Millisecond)},     // taken in after the last fault's window
		{time.Time{}, at(29 * s), at(29 * s)},                     // no commit time: no wait to the bus
	}
	r := Report{Faults: []FaultReport{{AtSeconds: 10}, {AtSeconds: 20}}}
	figures(&r, Config{Orders: 30, Rate: 1}, start, results, arrivals)
	if r.SteadyP99Ms != 100 || r.SteadyLagP99Ms != 20 {
		t.Errorf("steady p99 %v ms, lag %v ms; want 100 and 20", r.SteadyP99Ms, r.SteadyLagP99Ms)
	}
	first, second := r.Faults[0], r.Faults[1]
	if first.Orders != 2 || first.Slowest != "first-b" || first.LagMaxMs != 4000 {
		t.Errorf("first fault: %+v, want 2 orders, first-b slowest, lag max 4000 ms", first)
	}
	if second.Orders != 1 || second.Slowest != "second" || second.LagMaxMs != 50 {
		t.Errorf("second fault: %+v, want 1 order, lag max 50 ms", second)
	}
	if first.BusGapMs != 4900 || first.PublishWaitMaxMs != 3000 || first.DeliveryWaitMaxMs != 5000 {
		t.Errorf("first fault: bus gap %v ms, to the bus %v ms, to the consumer %v ms; want 4900 (15 s to 19.9 s), 3000 and 5000",
			first.BusGapMs, first.PublishWaitMaxMs, first.DeliveryWaitMaxMs)
	}
	if second.BusGapMs != 9000 || second.PublishWaitMaxMs != 0 || second.DeliveryWaitMaxMs != 1100 {
		t.Errorf("second fault: bus gap %v ms, to the bus %v ms, to the consumer %v ms; want 9000 (20 s to 29 s), 0 and 1100",
			second.BusGapMs, second.PublishWaitMaxMs, second.DeliveryWaitMaxMs)
	}
}

// The probe keeps each event's first arrival: a redelivery (an ack lost with a leader) is
// not a wait; what it cannot place in time (undecodable, no time from the bus) is left out.
func TestTheProbeKeepsFirstArrivals(t *testing.T) {
	p := &busProbe{first: map[uuid.UUID]arrival{}}
	stored := time.Now()
	id := uuid.New()
	msg := eventbus.Message{Event: ordersaga.RecordedEvent{ID: id, RecordedAt: stored.Add(-time.Second)}, PublishedAt: stored}
	p.note(msg, stored.Add(time.Second))
	msg.Deliveries = 2
	p.note(msg, stored.Add(time.Minute))
	p.note(eventbus.Message{Event: ordersaga.RecordedEvent{ID: uuid.New()}}, stored)
	p.note(eventbus.Message{DecodeErr: errors.New("not JSON"), PublishedAt: stored}, stored)
	got := p.arrivals()
	if len(got) != 1 || !got[0].stored.Equal(stored) || !got[0].received.Equal(stored.Add(time.Second)) ||
		!got[0].recorded.Equal(stored.Add(-time.Second)) {
		t.Errorf("arrivals %+v, want the first delivery's alone", got)
	}
}

func TestLagIsBackWithinItsMarginOfTheSteadyLag(t *testing.T) {
	for _, tc := range []struct {
		after, steady float64
		back          bool
	}{
		{195, 195, true},
		{1254, 195, true},   // one order met a JetStream consumer's leader election (CI, 2026-12-04)
		{2195, 195, true},   // the margin's edge
		{2196, 195, false},  // more than the margin
		{30195, 195, false}, // waited for the ack wait or reconciliation: not back
		{5000, 2600, true},  // twice a slow steady lag
		{5300, 2600, false},
	} {
		if got := lagIsBack(tc.after, tc.steady); got != tc.back {
			t.Errorf("lagIsBack(%v, %v) = %v; want %v", tc.after, tc.steady, got, tc.back)
		}
	}
}
