// Package bustest is the contract every eventbus adapter must honour, as a test suite that
// each adapter's tests run against real servers.
package bustest

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
	"go.opentelemetry.io/otel/metric"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/internal/metrictest"
)

// Harness gives the suite fresh connections and control over the server.
type Harness struct {
	// Connect opens a connection as a process named name; the same name is the same
	// process after a restart. meters, when not nil, receive the connection's metrics.
	Connect func(t *testing.T, name string, meters metric.MeterProvider) eventbus.Bus
	// Server is the server Connect connects to; the suite stops and starts it.
	Server *Server
	// DropsDuplicatePublishes is true for adapters that de-duplicate by event id.
	DropsDuplicatePublishes bool
}

// Run runs the contract suite.
func Run(t *testing.T, h Harness) {
	t.Run("publish and receive the envelope intact", func(t *testing.T) { testEnvelope(t, h) })
	t.Run("queue members split the messages", func(t *testing.T) { testQueueSplit(t, h) })
	t.Run("a member that was away receives what it missed", func(t *testing.T) { testDurable(t, h) })
	t.Run("a server restart loses nothing", func(t *testing.T) { testServerRestart(t, h) })
	t.Run("a member stays subscribed across a server restart", func(t *testing.T) { testSubscribedAcrossRestart(t, h) })
	t.Run("a member stays subscribed across a long outage", func(t *testing.T) { testSubscribedAcrossOutage(t, h) })
	t.Run("a handler error causes redelivery", func(t *testing.T) { testRedelivery(t, h) })
	t.Run("a poison message is dead-lettered while the rest flows", func(t *testing.T) { testPoison(t, h) })
	t.Run("a member handles Concurrency messages at once", func(t *testing.T) { testConcurrency(t, h) })
	t.Run("closing cancels running handlers and dead-letters nothing", func(t *testing.T) { testCloseCancels(t, h) })
	if h.DropsDuplicatePublishes {
		t.Run("a duplicate publish is dropped", func(t *testing.T) { testDuplicatePublish(t, h) })
	}
}

// NewEvent returns a distinct event of type typ.
func NewEvent(typ string, n int) ordersaga.RecordedEvent {
	return ordersaga.RecordedEvent{
		ID: uuid.New(), StreamID: fmt.Sprintf("order-%d", n), StreamType: "order", Version: int64(n%5 + 1),
		Position: int64(1000 + n), Type: typ, Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, n)),
		Metadata:   ordersaga.Metadata{CorrelationID: "saga-" + fmt.Sprint(n), TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		RecordedAt: time.Date(2026, 11, 27, 10, 0, n%60, 0, time.UTC),
	}
}

// collector records what a member handled.
type collector struct {
	mu       sync.Mutex
	byID     map[uuid.UUID]int // handled (acked) count per event id
	messages []eventbus.Message
	dead     []eventbus.Message
	notify   chan struct{}
}

func newCollector() *collector {
	return &collector{byID: map[uuid.UUID]int{}, notify: make(chan struct{}, 1)}
}

func (c *collector) handler(fail func(eventbus.Message) error) eventbus.Handler {
	return func(_ context.Context, m eventbus.Message) error {
		if fail != nil {
			if err := fail(m); err != nil {
				return err
			}
		}
		c.mu.Lock()
		c.byID[m.Event.ID]++
		c.messages = append(c.messages, m)
		c.mu.Unlock()
		c.poke()
		return nil
	}
}

func (c *collector) deadLetter(_ context.Context, m eventbus.Message, _ error) error {
	c.mu.Lock()
	c.dead = append(c.dead, m)
	c.mu.Unlock()
	c.poke()
	return nil
}

func (c *collector) poke() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *collector) handled() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.messages)
}

// waitFor waits until cond holds over all collectors, failing after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func subscribe(t *testing.T, bus eventbus.Bus, opts eventbus.SubscribeOptions) eventbus.Subscription {
	t.Helper()
	sub, err := bus.Subscribe(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

func publish(t *testing.T, bus eventbus.Bus, events ...ordersaga.RecordedEvent) {
	t.Helper()
	for _, e := range events {
		if err := bus.Publish(context.Background(), e); err != nil {
			t.Fatalf("publish %s: %v", e.ID, err)
		}
	}
}

func newGroup() string {
	return fmt.Sprintf("g-%s", uuid.NewString()[:8])
}

func uniqueType(base string) string {
	return fmt.Sprintf("%s-%s", base, uuid.NewString()[:8])
}

func testEnvelope(t *testing.T, h Harness) {
	bus := h.Connect(t, "envelope", nil)
	typ := uniqueType("order-created")
	c := newCollector()
	subscribe(t, bus, eventbus.SubscribeOptions{Group: newGroup(), Types: []string{typ}, Handler: c.handler(nil), DeadLetter: c.deadLetter})
	sent := NewEvent(typ, 7)
	publish(t, bus, sent)
	waitFor(t, 10*time.Second, "the event", func() bool { return c.handled() == 1 })
	got := c.messages[0]
	var gotData, wantData any
	_ = json.Unmarshal(got.Event.Data, &gotData)
	_ = json.Unmarshal(sent.Data, &wantData)
	if got.Event.ID != sent.ID || got.Event.StreamID != sent.StreamID || got.Event.StreamType != sent.StreamType ||
		got.Event.Version != sent.Version || got.Event.Position != sent.Position || got.Event.Type != sent.Type ||
		fmt.Sprint(gotData) != fmt.Sprint(wantData) || got.Event.Metadata != sent.Metadata || !got.Event.RecordedAt.Equal(sent.RecordedAt) {
		t.Errorf("received %+v, sent %+v", got.Event, sent)
	}
	if got.Deliveries != 1 {
		t.Errorf("deliveries = %d, want 1", got.Deliveries)
	}
}

func testQueueSplit(t *testing.T, h Harness) {
	const n = 60
	types := []string{uniqueType("order-created"), uniqueType("order-approved")}
	g := newGroup()
	members := []*collector{newCollector(), newCollector()}
	slow := func(eventbus.Message) error { time.Sleep(5 * time.Millisecond); return nil }
	for i, c := range members {
		bus := h.Connect(t, fmt.Sprintf("member-%d", i), nil)
		subscribe(t, bus, eventbus.SubscribeOptions{Group: g, Types: types, Handler: c.handler(slow), DeadLetter: c.deadLetter, MaxInFlight: 1})
	}
	pub := h.Connect(t, "publisher", nil)
	var sent []ordersaga.RecordedEvent
	for i := range n {
		sent = append(sent, NewEvent(types[i%2], i))
	}
	publish(t, pub, sent...)
	waitFor(t, 30*time.Second, "every message", func() bool { return members[0].handled()+members[1].handled() >= n })
	time.Sleep(300 * time.Millisecond) // let any extra delivery show up
	seen := map[uuid.UUID]int{}
	for _, c := range members {
		c.mu.Lock()
		for id, k := range c.byID {
			seen[id] += k
		}
		c.mu.Unlock()
	}
	for _, e := range sent {
		if seen[e.ID] != 1 {
			t.Errorf("event %s reached the group %d times, want exactly once", e.ID, seen[e.ID])
		}
	}
	if members[0].handled() == 0 || members[1].handled() == 0 {
		t.Errorf("members handled %d and %d messages; both should share the work", members[0].handled(), members[1].handled())
	}
}

func testDurable(t *testing.T, h Harness) {
	typ := uniqueType("order-approved")
	g := newGroup()
	first := newCollector()
	bus := h.Connect(t, "durable-member", nil)
	sub := subscribe(t, bus, eventbus.SubscribeOptions{Group: g, Types: []string{typ}, Handler: first.handler(nil), DeadLetter: first.deadLetter})
	pub := h.Connect(t, "durable-publisher", nil)
	publish(t, pub, NewEvent(typ, 0))
	waitFor(t, 10*time.Second, "the first event", func() bool { return first.handled() == 1 })
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	var missed []ordersaga.RecordedEvent
	for i := 1; i <= 20; i++ {
		missed = append(missed, NewEvent(typ, i))
	}
	publish(t, pub, missed...)
	again := newCollector()
	subscribe(t, h.Connect(t, "durable-member", nil), eventbus.SubscribeOptions{Group: g, Types: []string{typ}, Handler: again.handler(nil), DeadLetter: again.deadLetter})
	waitFor(t, 20*time.Second, "the 20 missed events", func() bool { return again.handled() >= 20 })
	time.Sleep(200 * time.Millisecond)
	for _, e := range missed {
		if again.byID[e.ID] != 1 {
			t.Errorf("missed event %s received %d times after the member returned, want once", e.ID, again.byID[e.ID])
		}
	}
	if again.handled() != 20 {
		t.Errorf("the returning member handled %d messages, want the 20 it missed", again.handled())
	}
}

func testServerRestart(t *testing.T, h Harness) {
	typ := uniqueType("order-rejected")
	g := newGroup()
	pub := h.Connect(t, "restart-publisher", nil)
	var sent []ordersaga.RecordedEvent
	for i := range 15 {
		sent = append(sent, NewEvent(typ, i))
	}
	// Create the group, then publish while no member is connected.
	c := newCollector()
	member := h.Connect(t, "restart-member", nil)
	sub := subscribe(t, member, eventbus.SubscribeOptions{Group: g, Types: []string{typ}, Handler: c.handler(nil), DeadLetter: c.deadLetter})
	_ = sub.Close()
	_ = member.Close()
	publish(t, pub, sent[:10]...)

	h.Server.Restart(t)

	pub = h.Connect(t, "restart-publisher", nil)
	waitFor(t, 30*time.Second, "publishing after the restart", func() bool {
		return pub.Publish(context.Background(), sent[10]) == nil
	})
	publish(t, pub, sent[11:]...)
	subscribe(t, h.Connect(t, "restart-member", nil), eventbus.SubscribeOptions{Group: g, Types: []string{typ}, Handler: c.handler(nil), DeadLetter: c.deadLetter})
	waitFor(t, 30*time.Second, "all 15 events", func() bool { return c.handled() >= 15 })
	time.Sleep(200 * time.Millisecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range sent {
		if c.byID[e.ID] < 1 {
			t.Errorf("event %s was lost", e.ID)
		}
	}
}

func testSubscribedAcrossRestart(t *testing.T, h Harness) {
	typ := uniqueType("order-approved")
	c := newCollector()
	metrics := metrictest.New(t)
	bus := h.Connect(t, "steady-member", metrics.Provider)
	group := newGroup()
	subscribe(t, bus, eventbus.SubscribeOptions{Group: group, Types: []string{typ}, Handler: c.handler(nil), DeadLetter: c.deadLetter})
	wantCounts(t, metrics, group, 0, 0, 0) // counted from zero, before the first delivery
	if up, again := metrics.Must(t, "ordersaga.bus.connected", "client", "steady-member"),
		metrics.Must(t, "ordersaga.bus.reconnects", "client", "steady-member"); up != 1 || again != 0 {
		t.Errorf("before the restart the connection gauges say connected %v, reconnected %v times; want 1 and 0", up, again)
	}
	before := NewEvent(typ, 1)
	publish(t, bus, before)
	waitFor(t, 10*time.Second, "the event before the restart", func() bool { return c.handled() == 1 })
	h.Server.Restart(t)
	after := NewEvent(typ, 2)
	waitFor(t, 60*time.Second, "publishing after the restart", func() bool {
		return bus.Publish(context.Background(), after) == nil
	})
	waitFor(t, 60*time.Second, "the event after the restart to reach the same member", func() bool { return c.handled() >= 2 })
	if up, again := metrics.Must(t, "ordersaga.bus.connected", "client", "steady-member"),
		metrics.Must(t, "ordersaga.bus.reconnects", "client", "steady-member"); up != 1 || again < 1 {
		t.Errorf("after the restart the connection gauges say connected %v, reconnected %v times; want 1 and at least 1", up, again)
	}
}

// outage is longer than a client that gives up reconnecting after a few attempts (two
// seconds apart, nats.go's default wait) would wait.
const outage = 6 * time.Second

// testSubscribedAcrossOutage keeps the server down for outage: the connection must keep
// trying for ever, as an outage of any length ends some day, and the member and the
// publisher then carry on by themselves.
func testSubscribedAcrossOutage(t *testing.T, h Harness) {
	typ := uniqueType("order-cancelled")
	c := newCollector()
	bus := h.Connect(t, "patient-member", nil)
	subscribe(t, bus, eventbus.SubscribeOptions{Group: newGroup(), Types: []string{typ}, Handler: c.handler(nil), DeadLetter: c.deadLetter})
	publish(t, bus, NewEvent(typ, 1))
	waitFor(t, 10*time.Second, "the event before the outage", func() bool { return c.handled() == 1 })
	h.Server.Stop(t)
	time.Sleep(outage)
	h.Server.Start(t)
	after := NewEvent(typ, 2)
	// Back within a reconnect wait or two (and a new session for NATS Streaming).
	waitFor(t, 15*time.Second, "publishing after the outage", func() bool {
		return bus.Publish(context.Background(), after) == nil
	})
	waitFor(t, 15*time.Second, "the event after the outage to reach the same member", func() bool { return c.handled() >= 2 })
}

func testRedelivery(t *testing.T, h Harness) {
	typ := uniqueType("order-created")
	c := newCollector()
	var mu sync.Mutex
	failures := map[uuid.UUID]int{}
	failOnce := func(m eventbus.Message) error {
		mu.Lock()
		defer mu.Unlock()
		if failures[m.Event.ID] == 0 {
			failures[m.Event.ID]++
			return errors.New("transient failure")
		}
		return nil
	}
	metrics := metrictest.New(t)
	bus := h.Connect(t, "redelivery", metrics.Provider)
	group := newGroup()
	subscribe(t, bus, eventbus.SubscribeOptions{Group: group, Types: []string{typ}, Handler: c.handler(failOnce),
		DeadLetter: c.deadLetter, AckWait: time.Second})
	sent := []ordersaga.RecordedEvent{NewEvent(typ, 1), NewEvent(typ, 2), NewEvent(typ, 3)}
	publish(t, bus, sent...)
	waitFor(t, 20*time.Second, "the redelivered events", func() bool { return c.handled() == 3 })
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.messages {
		if m.Deliveries != 2 {
			t.Errorf("event %s handled on delivery %d, want 2 (failed once, then redelivered)", m.Event.ID, m.Deliveries)
		}
	}
	if len(c.dead) != 0 {
		t.Errorf("%d messages dead-lettered, want none", len(c.dead))
	}
	wantCounts(t, metrics, group, 6, 3, 0)
}

// wantCounts checks the deliveries, redeliveries and dead letters metrics counted for
// group (its events are of made-up types, labelled "other").
func wantCounts(t *testing.T, metrics *metrictest.Reader, group string, deliveries, redeliveries, deadLetters float64) {
	t.Helper()
	labels := []string{"group", group, "event_type", "other"}
	d, r, dl := metrics.Must(t, "ordersaga.bus.deliveries", labels...), metrics.Must(t, "ordersaga.bus.redeliveries", labels...),
		metrics.Must(t, "ordersaga.bus.dead_letters", labels...)
	if d != deliveries || r != redeliveries || dl != deadLetters {
		t.Errorf("the bus counts %v deliveries, %v redeliveries, %v dead letters; want %v, %v, %v", d, r, dl, deliveries, redeliveries, deadLetters)
	}
}

func testPoison(t *testing.T, h Harness) {
	typ := uniqueType("order-cancelled")
	c := newCollector()
	poison := NewEvent(typ, 0)
	var mu sync.Mutex
	attempts := 0
	failPoison := func(m eventbus.Message) error {
		if m.Event.ID != poison.ID {
			return nil
		}
		mu.Lock()
		attempts++
		mu.Unlock()
		return errors.New("cannot be applied")
	}
	metrics := metrictest.New(t)
	bus := h.Connect(t, "poison", metrics.Provider)
	group := newGroup()
	subscribe(t, bus, eventbus.SubscribeOptions{Group: group, Types: []string{typ}, Handler: c.handler(failPoison),
		DeadLetter: c.deadLetter, MaxDeliveries: 3, AckWait: time.Second, MaxInFlight: 4})
	publish(t, bus, poison)
	var rest []ordersaga.RecordedEvent
	for i := 1; i <= 10; i++ {
		rest = append(rest, NewEvent(typ, i))
	}
	publish(t, bus, rest...)
	waitFor(t, 10*time.Second, "the messages after the poison one", func() bool { return c.handled() == 10 })
	waitFor(t, 30*time.Second, "the dead letter", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.dead) == 1
	})
	time.Sleep(2500 * time.Millisecond) // longer than AckWait: a wrongly unacked poison would come back
	c.mu.Lock()
	defer c.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	if len(c.dead) != 1 || c.dead[0].Event.ID != poison.ID || c.dead[0].Deliveries != 3 {
		t.Errorf("dead letters = %+v, want the poison message once, on delivery 3", c.dead)
	}
	if attempts != 3 {
		t.Errorf("the poison message was tried %d times, want 3", attempts)
	}
	wantCounts(t, metrics, group, 13, 2, 1)
}

func testDuplicatePublish(t *testing.T, h Harness) {
	typ := uniqueType("order-created")
	c := newCollector()
	bus := h.Connect(t, "duplicates", nil)
	subscribe(t, bus, eventbus.SubscribeOptions{Group: newGroup(), Types: []string{typ}, Handler: c.handler(nil), DeadLetter: c.deadLetter})
	e := NewEvent(typ, 1)
	publish(t, bus, e, e, e)
	marker := NewEvent(typ, 2)
	publish(t, bus, marker)
	waitFor(t, 10*time.Second, "the marker event", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.byID[marker.ID] == 1
	})
	time.Sleep(200 * time.Millisecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byID[e.ID] != 1 {
		t.Errorf("an event published 3 times was received %d times, want once", c.byID[e.ID])
	}
}

// BenchEvent returns an event whose data is about size bytes of JSON, for benchmarks.
func BenchEvent(typ string, size int) ordersaga.RecordedEvent {
	e := NewEvent(typ, 1)
	filler := strings.Repeat("x", max(size-16, 0))
	e.Data = json.RawMessage(`{"filler":"` + filler + `"}`)
	return e
}

// testConcurrency holds every handler call until eight run at once: with Concurrency 8
// they all get there; one at a time they never would, and the test would time out. Each
// call runs under a deadline below the ack wait.
func testConcurrency(t *testing.T, h Harness) {
	typ := uniqueType("order-payment-debited")
	const n = 8
	var mu sync.Mutex
	running, most := 0, 0
	allIn := make(chan struct{})
	var deadlineErr error
	handler := func(ctx context.Context, m eventbus.Message) error {
		mu.Lock()
		running++
		most = max(most, running)
		if running == n {
			close(allIn)
		}
		if d, ok := ctx.Deadline(); !ok || time.Until(d) > 10*time.Second {
			deadlineErr = fmt.Errorf("handler deadline %v (set: %v), want one below the ack wait of 10s", d, ok)
		}
		mu.Unlock()
		select {
		case <-allIn:
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	}
	c := newCollector()
	bus := h.Connect(t, "concurrency", nil)
	subscribe(t, bus, eventbus.SubscribeOptions{Group: newGroup(), Types: []string{typ}, AckWait: 10 * time.Second, Concurrency: n,
		Handler: func(ctx context.Context, m eventbus.Message) error {
			if err := handler(ctx, m); err != nil {
				return err
			}
			return c.handler(nil)(ctx, m)
		}, DeadLetter: c.deadLetter})
	for i := range n {
		publish(t, bus, NewEvent(typ, i))
	}
	waitFor(t, 30*time.Second, "eight messages handled at once", func() bool { return c.handled() == n })
	mu.Lock()
	defer mu.Unlock()
	if most != n || deadlineErr != nil {
		t.Errorf("at most %d handlers ran at once, want %d; %v", most, n, deadlineErr)
	}
}

// testCloseCancels closes a subscription while its handler waits: the handler's context
// ends with eventbus.ErrSubscriptionClosed, even on the message's last delivery nothing is
// dead-lettered, and a new member of the group receives the message.
func testCloseCancels(t *testing.T, h Harness) {
	typ := uniqueType("order-approved")
	group := newGroup()
	started, cause := make(chan struct{}, 1), make(chan error, 1)
	c := newCollector()
	bus := h.Connect(t, "close-cancels", nil)
	sub := subscribe(t, bus, eventbus.SubscribeOptions{Group: group, Types: []string{typ}, AckWait: 2 * time.Second, MaxDeliveries: 1,
		Handler: func(ctx context.Context, m eventbus.Message) error {
			started <- struct{}{}
			<-ctx.Done()
			cause <- context.Cause(ctx)
			return ctx.Err()
		}, DeadLetter: c.deadLetter})
	publish(t, bus, NewEvent(typ, 1))
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("the handler never ran")
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-cause; !errors.Is(err, eventbus.ErrSubscriptionClosed) {
		t.Errorf("the handler's context ended with %v, want ErrSubscriptionClosed", err)
	}
	subscribe(t, bus, eventbus.SubscribeOptions{Group: group, Types: []string{typ}, AckWait: 2 * time.Second, MaxDeliveries: 5,
		Handler: c.handler(nil), DeadLetter: c.deadLetter})
	waitFor(t, 30*time.Second, "the message again, for the next member", func() bool { return c.handled() == 1 })
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.dead) != 0 {
		t.Errorf("%d messages dead-lettered by closing, want none", len(c.dead))
	}
}
