package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/ordersaga/ordersaga"
)

// VerifyStore is what Verify reads from the event store.
type VerifyStore interface {
	Store
	// VersionGaps: EUNAVAILABLE, EINTERNAL.
	VersionGaps(ctx context.Context, limit int) ([]string, error)
	// Unpublished: EINVALID, EUNAVAILABLE, EINTERNAL.
	Unpublished(ctx context.Context, olderThan time.Duration, limit int) ([]ordersaga.RecordedEvent, error)
	// Parked: EINVALID, EUNAVAILABLE, EINTERNAL.
	Parked(ctx context.Context, limit int) ([]ordersaga.ParkedEvent, error)
}

// Report lists what Verify found wrong; an empty report means the read models equal the
// fold of the store, no stream has a version gap, and every event older than the grace
// period was published (none waits in the outbox, none is parked).
type Report struct {
	StreamsChecked int
	Problems       []string
}

// OK reports whether nothing was wrong.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// maxReported bounds the version gaps and unpublished events one report lists.
const maxReported = 100

// Verify folds every stream of the store that a read model follows and compares the
// result with reads, checks that versions are gap-free, and that no committed event older
// than grace is still unpublished. It is the system's standing proof that nothing was lost
// or duplicated (DESIGN.md, invariant 5).
func Verify(ctx context.Context, reads *ReadModels, store VerifyStore, grace time.Duration) (Report, error) {
	var r Report
	for _, rm := range readModels {
		for sv, err := range ordersaga.Streams(ctx, store, rm.streamType) {
			if err != nil {
				return r, err
			}
			if err := verifyStream(ctx, reads, store, rm, sv.Stream, &r); err != nil {
				return r, err
			}
		}
	}
	gaps, err := store.VersionGaps(ctx, maxReported)
	if err != nil {
		return r, err
	}
	for _, s := range gaps {
		r.Problems = append(r.Problems, fmt.Sprintf("%s: versions are not 1..n without gaps", s))
	}
	unpublished, err := store.Unpublished(ctx, grace, maxReported)
	if err != nil {
		return r, err
	}
	for _, e := range unpublished {
		r.Problems = append(r.Problems, fmt.Sprintf("%s version %d (%s, %s): committed at %s but never published",
			e.StreamID, e.Version, e.Type, e.ID, e.RecordedAt.Format(time.RFC3339)))
	}
	parked, err := store.Parked(ctx, maxReported)
	if err != nil {
		return r, err
	}
	for _, p := range parked {
		e := p.Event
		r.Problems = append(r.Problems, fmt.Sprintf("%s version %d (%s, %s, position %d): parked at %s, the bus refuses it: %s",
			e.StreamID, e.Version, e.Type, e.ID, e.Position, p.ParkedAt.Format(time.RFC3339), p.Reason))
	}
	return r, nil
}

// verifyStream compares the row of one stream with the fold of its events.
func verifyStream(ctx context.Context, reads *ReadModels, store Store, rm *readModel, stream ordersaga.Stream, r *Report) error {
	events, err := ordersaga.ReadWholeStream(ctx, store, stream)
	if err != nil {
		return err
	}
	r.StreamsChecked++
	want := rm.fold(stream.ID(), events)
	got, err := reads.row(ctx, rm, stream.ID())
	switch {
	case err != nil:
		return err
	case got.version() == 0:
		r.Problems = append(r.Problems, fmt.Sprintf("%s: no read model row (the store has version %d)", stream, want.version()))
	default:
		if diff := got.differences(want); diff != "" {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: read model differs from the store: %s", stream, diff))
		}
	}
	return nil
}
