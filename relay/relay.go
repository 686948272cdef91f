// Package relay drains the event store's outbox onto the event bus: the slow path of
// "publish at least once" (DESIGN.md, invariant 3). Writers publish inline after their
// commit; whatever they did not (the process died, the bus was down) stays in the outbox
// and the relay publishes it, in position order, and marks it published in batches.
//
// Several relays may run at once (every worker runs one): each claims the batch it is
// about to publish for a lease, so that they divide the outbox between them rather than
// each publish all of it. A relay that dies holding a batch holds it until its lease runs
// out; then another takes it over. They may publish an event twice (a relay that dies
// between publishing and marking, or that outlives its lease), never zero times.
package relay

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventstore"
)

// Outbox is what the relay needs from the event store.
type Outbox interface {
	// Claim takes, for owner, up to limit events recorded at least olderThan ago that no
	// other relay holds, for lease, in position order. Errors: EINVALID, EUNAVAILABLE,
	// EINTERNAL.
	Claim(ctx context.Context, owner string, olderThan, lease time.Duration, limit int) ([]ordersaga.RecordedEvent, error)
	// Release gives up owner's hold on the events at positions. Errors: EINVALID,
	// EUNAVAILABLE, EINTERNAL.
	Release(ctx context.Context, owner string, positions []int64) error
	// Park takes an event the bus refuses for good out of the outbox, keeping it with the
	// reason. Errors: EUNAVAILABLE, EINTERNAL.
	Park(ctx context.Context, position int64, reason string) error
	PublishedMarker
}

// Publisher is what the relay needs from the event bus.
type Publisher interface {
	// PublishBatch publishes events in order and returns how many of them, from the first,
	// the server acknowledged. Errors: EUNAVAILABLE (the bus is down: try again later),
	// EINVALID (the bus refuses the next event for good, eventbus.Refused).
	PublishBatch(ctx context.Context, events []ordersaga.RecordedEvent) (int, error)
}

// Config configures a relay.
type Config struct {
	Outbox    Outbox    // required
	Publisher Publisher // required
	// BatchSize is how many events one round reads, publishes and marks; default 200.
	BatchSize int
	// GracePeriod leaves events younger than this to the writer's inline publish; default 2s.
	GracePeriod time.Duration
	// PollInterval is the pause when the outbox is empty; default 500ms.
	PollInterval time.Duration
	// MaxBackoff caps the pause after failures (doubling from PollInterval); default 1s:
	// once the bus is back (a leader elected, a server restarted) the events wait for the
	// relay at most this long after its last failed round, and a failing round costs one
	// claim query.
	MaxBackoff time.Duration
	// ID names this relay among those that share the outbox; default the host name, the
	// process id and a random suffix. A relay restarted under the same ID takes back at
	// once what it held; under another, when the lease runs out.
	ID string
	// PublishTimeout bounds the wait for the bus's acknowledgements of one batch; what it
	// acknowledged by then is marked, the rest is tried again after a backoff. Short, so
	// that a round that began while the bus was away (a leader election) does not wait out
	// the bus client's own, longer, timeout once the bus is back; default 2s.
	PublishTimeout time.Duration
	// Lease is how long a claimed batch stays this relay's: long enough to publish and
	// mark a batch, short enough that another relay takes over soon after this one dies;
	// default 30s.
	Lease time.Duration
	// Logger receives failures and progress; nil discards them.
	Logger *slog.Logger
	// Meters, when set, receive the relay's metrics, and the outbox's backlog when Outbox
	// is also a Backlog.
	Meters metric.MeterProvider
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.Outbox == nil || c.Publisher == nil {
		return errors.New("relay: Outbox and Publisher are required")
	}
	if c.BatchSize < 0 || c.GracePeriod < 0 || c.PollInterval < 0 || c.MaxBackoff < 0 || c.Lease < 0 || c.PublishTimeout < 0 {
		return errors.New("relay: sizes and durations must not be negative")
	}
	if c.ID != "" {
		if err := eventstore.ValidateOwner(c.ID); err != nil {
			return fmt.Errorf("relay: ID: %w", err)
		}
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.BatchSize == 0 {
		c.BatchSize = 200
	}
	if c.GracePeriod == 0 {
		c.GracePeriod = 2 * time.Second
	}
	if c.PollInterval == 0 {
		c.PollInterval = 500 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = time.Second
	}
	if c.ID == "" {
		c.ID = DefaultID()
	}
	if c.Lease == 0 {
		c.Lease = 30 * time.Second
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// DefaultID is a relay's name when its Config gives none: the host's name, the process id
// and a random suffix, unique among the relays of a deployment.
func DefaultID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "relay"
	}
	id := fmt.Sprintf("%s-%d-%s", host, os.Getpid(), rand.Text()[:8])
	return id[max(0, len(id)-eventstore.MaxOwnerLength):]
}

// Relay moves events from the outbox to the bus.
type Relay struct {
	cfg Config
	obs instruments
	// held are the positions of the last claimed batch that the relay neither marked
	// published nor parked: released when it stops. Only Run and Once touch it, one at a
	// time.
	held []int64
}

// New returns a relay.
func New(cfg Config) (*Relay, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	obs, err := newInstruments(cfg)
	if err != nil {
		return nil, err
	}
	return &Relay{cfg: cfg.withDefaults(), obs: obs}, nil
}

// ID is the name under which the relay claims outbox events.
func (r *Relay) ID() string { return r.cfg.ID }

// Run relays until ctx ends, backing off while the store or the bus fails and draining
// without pause while full batches keep coming. It returns nil when ctx ends, having
// released what it held (for up to 5 seconds), so that another relay takes it at once.
func (r *Relay) Run(ctx context.Context) error {
	defer r.release(ctx)
	log := r.cfg.Logger
	pause := r.cfg.PollInterval
	failing := false
	for {
		n, err := r.Once(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			r.obs.retries.Add(ctx, 1)
			if !failing {
				log.Warn("outbox relay failing; backing off", "err", err)
			}
			failing = true
			pause = min(2*pause, r.cfg.MaxBackoff)
		default:
			if failing {
				log.Info("outbox relay recovered")
			}
			failing = false
			pause = r.cfg.PollInterval
			if n == r.cfg.BatchSize {
				continue // more is waiting: drain
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
	}
}

// Once relays one batch and returns how many events it published and marked, or parked:
// an event the bus refuses for good (EINVALID) is parked with the reason, so that the
// events after it are not held up behind it for ever.
func (r *Relay) Once(ctx context.Context) (int, error) {
	events, err := r.cfg.Outbox.Claim(ctx, r.cfg.ID, r.cfg.GracePeriod, r.cfg.Lease, r.cfg.BatchSize)
	if err != nil || len(events) == 0 {
		return 0, err
	}
	r.held = r.held[:0]
	for _, e := range events {
		r.held = append(r.held, e.Position)
	}
	publishCtx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
	published, pubErr := r.cfg.Publisher.PublishBatch(publishCtx, events)
	cancel()
	if published > 0 {
		positions := make([]int64, published)
		for i, e := range events[:published] {
			positions[i] = e.Position
		}
		// If this fails the events stay in the outbox and are published again later:
		// a duplicate, never a loss.
		if err := r.cfg.Outbox.MarkPublished(ctx, positions); err != nil {
			return 0, err
		}
		r.held = r.held[published:]
		r.obs.published.Add(ctx, int64(published))
	}
	if ordersaga.ErrorCode(pubErr) == ordersaga.EINVALID && published < len(events) {
		refused := events[published]
		r.cfg.Logger.Error("the bus refuses an event; parked it, the rest goes on (requeue it with `ordersaga outbox requeue`)",
			"stream", refused.StreamID, "version", refused.Version, "type", refused.Type, "position", refused.Position, "reason", pubErr)
		if err := r.cfg.Outbox.Park(ctx, refused.Position, ordersaga.ErrorMessage(pubErr)); err != nil {
			return published, err
		}
		r.held = r.held[1:]
		r.obs.parked.Add(ctx, 1)
		return published + 1, nil
	}
	return published, pubErr
}

// release gives up what the relay holds, if anything, even when ctx has ended.
func (r *Relay) release(ctx context.Context) {
	if len(r.held) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.cfg.Outbox.Release(ctx, r.cfg.ID, r.held); err != nil {
		r.cfg.Logger.Warn("outbox events left claimed; another relay takes them when the lease runs out",
			"events", len(r.held), "lease", r.cfg.Lease, "err", err)
		return
	}
	r.held = r.held[:0]
}
