package relay

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Marker takes the events that their writers published inline off the outbox, many at a
// time: a writer hands it the positions and goes on, and one DELETE a moment later covers
// every append since. Positions it never gets to mark (the process died first, the
// database was down) stay in the outbox, and the relay publishes those events again after
// its grace period; consumers are idempotent, so nothing is lost and nothing is applied
// twice.
type Marker struct {
	outbox   PublishedMarker
	interval time.Duration
	logger   *slog.Logger

	mu      sync.Mutex
	pending []int64
}

// PublishedMarker takes events off the outbox: the event store.
type PublishedMarker interface {
	// MarkPublished: EUNAVAILABLE, EINTERNAL.
	MarkPublished(ctx context.Context, positions []int64) error
}

// maxPending bounds the positions a Marker keeps while its flushes fail; beyond it, the
// relay's republishing takes over.
const maxPending = 100_000

// NewMarker returns a Marker that flushes every interval (default 100ms, well inside the
// relay's grace period). logger may be nil.
func NewMarker(outbox PublishedMarker, interval time.Duration, logger *slog.Logger) *Marker {
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Marker{outbox: outbox, interval: interval, logger: logger}
}

// MarkPublished queues positions to be taken off the outbox with the next flush. It does
// not touch the database and never fails.
func (m *Marker) MarkPublished(_ context.Context, positions []int64) error {
	m.mu.Lock()
	if len(m.pending)+len(positions) <= maxPending {
		m.pending = append(m.pending, positions...)
	}
	m.mu.Unlock()
	return nil
}

// Run flushes every interval until ctx ends, then once more.
func (m *Marker) Run(ctx context.Context) error {
	tick := time.NewTicker(m.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			m.Flush(final)
			return nil
		case <-tick.C:
			m.Flush(ctx)
		}
	}
}

// Flush takes the queued positions off the outbox now. On failure it keeps them for the
// next flush and returns the error.
func (m *Marker) Flush(ctx context.Context) error {
	m.mu.Lock()
	batch := m.pending
	m.pending = nil
	m.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := m.outbox.MarkPublished(ctx, batch)
	if err != nil {
		m.logger.Warn("published events left in the outbox; the relay will publish them again", "events", len(batch), "error", err)
		m.MarkPublished(ctx, batch)
	}
	return err
}
