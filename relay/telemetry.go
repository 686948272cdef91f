package relay

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/ordersaga/ordersaga/internal/instrument"
)

// What a relay measures: the events it published and parked, the rounds that failed (and
// will be tried again), and, when the outbox can say (Backlog), how many events wait in it
// and how old the oldest is.

// Backlog is what an outbox may tell of its size (the event store does).
type Backlog interface {
	// OutboxBacklog: EUNAVAILABLE, EINTERNAL.
	OutboxBacklog(ctx context.Context) (events int64, oldest time.Duration, err error)
}

type instruments struct {
	published, parked, retries metric.Int64Counter
}

func newInstruments(cfg Config) (instruments, error) {
	m := instrument.Meter(cfg.Meters, "github.com/ordersaga/ordersaga/relay")
	in := instruments{
		published: instrument.Must(m.Int64Counter("ordersaga.relay.published", metric.WithDescription("Events the relay published from the outbox"))),
		parked:    instrument.Must(m.Int64Counter("ordersaga.relay.parked", metric.WithDescription("Events the bus refused for good, parked by the relay"))),
		retries: instrument.Must(m.Int64Counter("ordersaga.relay.retries",
			metric.WithDescription("Relay rounds that failed (store or bus unavailable) and are tried again after a backoff"))),
	}
	// Counted from zero, so that their series exist (and rate() works) before the first.
	for _, c := range []metric.Int64Counter{in.published, in.parked, in.retries} {
		c.Add(context.Background(), 0)
	}
	backlog, ok := cfg.Outbox.(Backlog)
	if !ok {
		return in, nil
	}
	depth := instrument.Must(m.Int64ObservableGauge("ordersaga.outbox.events", metric.WithDescription("Committed events waiting in the outbox")))
	age := instrument.Must(m.Float64ObservableGauge("ordersaga.outbox.oldest.age", metric.WithUnit("s"),
		metric.WithDescription("How long ago the oldest event waiting in the outbox was recorded (0 when none waits)")))
	_, err := m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		events, oldest, err := backlog.OutboxBacklog(ctx)
		if err != nil {
			return err // the scrape goes on without these two
		}
		o.ObserveInt64(depth, events)
		o.ObserveFloat64(age, oldest.Seconds())
		return nil
	}, depth, age)
	return in, err
}
