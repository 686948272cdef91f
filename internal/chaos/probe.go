package chaos

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/internal/system"
)

// probeGroup is the queue group of the run's own consumer.
const probeGroup = "chaos-probe"

// busProbe is a consumer of the run's own on the cluster's bus: a queue group of one that
// receives every event, through the same adapter and settings as the roles' consumers, and
// notes when the bus took each in (by the bus's clock) and when it first arrived. From
// these a fault's figures tell the two sides of the bus apart: how long the bus took in
// nothing (its publishers were stopped — an election, the relays' backoff), how long an
// event waited from its commit to the bus (its inline publish failed and a relay had to
// find it), and how long an event the bus held waited for a consumer (the consumers were
// stopped).
type busProbe struct {
	bus eventbus.Bus
	sub eventbus.Subscription

	mu    sync.Mutex
	first map[uuid.UUID]arrival // each event's first arrival; a redelivery is not a wait
}

// arrival is when an event was committed to the store, when the bus took it in and when
// the probe first received it.
type arrival struct{ recorded, stored, received time.Time }

// startProbe connects to the bus cfg names and subscribes the probe's group to every event
// type.
func startProbe(ctx context.Context, cfg system.BusConfig, logger *slog.Logger) (*busProbe, error) {
	bus, err := system.OpenBus(ctx, cfg, logger, nil)
	if err != nil {
		return nil, err
	}
	p := &busProbe{bus: bus, first: map[uuid.UUID]arrival{}}
	note := func(_ context.Context, msg eventbus.Message) error {
		p.note(msg, time.Now())
		return nil
	}
	p.sub, err = bus.Subscribe(ctx, eventbus.SubscribeOptions{Group: probeGroup, Types: ordersaga.EventTypes(), Handler: note,
		DeadLetter: func(ctx context.Context, msg eventbus.Message, _ error) error { return note(ctx, msg) }})
	if err != nil {
		bus.Close()
		return nil, err
	}
	return p, nil
}

// note records msg's first arrival, at received.
func (p *busProbe) note(msg eventbus.Message, received time.Time) {
	if msg.DecodeErr != nil || msg.PublishedAt.IsZero() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, seen := p.first[msg.Event.ID]; !seen {
		p.first[msg.Event.ID] = arrival{recorded: msg.Event.RecordedAt, stored: msg.PublishedAt, received: received}
	}
}

// Close ends the subscription and the connection.
func (p *busProbe) Close() {
	p.sub.Close()
	p.bus.Close()
}

// arrivals is every event's first arrival so far.
func (p *busProbe) arrivals() []arrival {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]arrival, 0, len(p.first))
	for _, a := range p.first {
		out = append(out, a)
	}
	return out
}

// busFigures are what the probe saw between two moments.
type busFigures struct {
	// storedGap is the longest the bus took in no event (by its clock), from the window's
	// start, between events, and to the last event it took in within the window.
	storedGap time.Duration
	// publishMax is the longest an event the bus took in within the window had waited for
	// it since its commit: the inline publish failed, and a relay had to find it.
	publishMax time.Duration
	// waitMax is the longest an event taken in before the window's end waited for the
	// probe within it; one received after the window's end counts as waiting until then.
	waitMax time.Duration
}

// figuresBetween measures the arrivals in [from, until).
func figuresBetween(arrivals []arrival, from, until time.Time) busFigures {
	var f busFigures
	var stored []time.Time
	for _, a := range arrivals {
		if a.stored.Before(from) && a.received.Before(from) || !a.stored.Before(until) {
			continue // wholly before the window, or taken in after it
		}
		if !a.stored.Before(from) {
			stored = append(stored, a.stored)
			if !a.recorded.IsZero() { // an envelope without its commit time says nothing of it
				f.publishMax = max(f.publishMax, a.stored.Sub(a.recorded))
			}
		}
		received := a.received
		if received.After(until) {
			received = until
		}
		f.waitMax = max(f.waitMax, received.Sub(a.stored))
	}
	slices.SortFunc(stored, func(a, b time.Time) int { return a.Compare(b) })
	last := from
	for _, t := range stored {
		f.storedGap = max(f.storedGap, t.Sub(last))
		last = t
	}
	return f
}
