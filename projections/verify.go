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
	// Snapshots: EINVALID, EUNAVAILABLE, EINTERNAL.
	Snapshots(ctx context.Context, streams []ordersaga.Stream) ([]ordersaga.Snapshot, error)
}

// Report lists what Verify found wrong; an empty report means the read models equal the
// fold of the store (up to the events of the grace period, which may still be on their way),
// no stream has a version gap, and every event older than the grace period was published
// (none waits in the outbox, none is parked).
type Report struct {
	StreamsChecked int
	Problems       []string
	// Counts are the problems by kind (the Problem* constants) and, for the read models,
	// by table too ("read_model_lags/orders_view"). Gaps, unpublished and parked events
	// count at most 100 each, as many as the report lists.
	Counts map[string]int
}

// Kinds of problems, the keys of Report.Counts.
const (
	// ProblemReadModelLags: a read model's row is behind an event recorded before the
	// grace period (or has no row for a stream that has one).
	ProblemReadModelLags = "read_model_lags"
	// ProblemReadModelDiffers: a read model's row differs from the fold of the events up to
	// its version, or is ahead of the store.
	ProblemReadModelDiffers = "read_model_differs"
	// ProblemVersionGap: a stream's versions are not 1..n.
	ProblemVersionGap = "version_gap"
	// ProblemUnpublished: an event older than the grace period is still in the outbox.
	ProblemUnpublished = "unpublished"
	// ProblemParked: the bus refused an event for good; it waits for an operator.
	ProblemParked = "parked"
	// ProblemSnapshotDiffers: a stream's snapshot is not the fold of the stream up to its
	// version (an account's, which debits trust).
	ProblemSnapshotDiffers = "snapshot_differs"
)

// OK reports whether nothing was wrong.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// add records a problem of kind (and of a read model's table, when it is one).
func (r *Report) add(kind, table, problem string) {
	if r.Counts == nil {
		r.Counts = map[string]int{}
	}
	r.Counts[kind]++
	if table != "" {
		r.Counts[kind+"/"+table]++
	}
	r.Problems = append(r.Problems, problem)
}

// maxReported bounds the version gaps and unpublished events one report lists.
const maxReported = 100

// Verify folds every stream of the store that a read model follows and compares the
// result with reads, checks that versions are gap-free, and that no committed event older
// than grace is still unpublished. Events younger than grace may not be reflected yet: a
// row is compared with the fold of the events up to its own version, and it must have
// reached every event older than grace. It is the system's standing proof that nothing was
// lost or duplicated (DESIGN.md, invariant 5).
func Verify(ctx context.Context, reads *ReadModels, store VerifyStore, grace time.Duration) (Report, error) {
	r := Report{Counts: map[string]int{}}
	cutoff := time.Now().Add(-grace)
	for _, rm := range readModels {
		for page, err := range ordersaga.StreamPages(ctx, store, rm.streamType, "", 0) {
			if err != nil {
				return r, err
			}
			if err := verifyPage(ctx, reads, store, rm, page, cutoff, &r); err != nil {
				return r, err
			}
		}
	}
	gaps, err := store.VersionGaps(ctx, maxReported)
	if err != nil {
		return r, err
	}
	for _, s := range gaps {
		r.add(ProblemVersionGap, "", fmt.Sprintf("%s: versions are not 1..n without gaps", s))
	}
	unpublished, err := store.Unpublished(ctx, grace, maxReported)
	if err != nil {
		return r, err
	}
	for _, e := range unpublished {
		r.add(ProblemUnpublished, "", fmt.Sprintf("%s version %d (%s, %s): committed at %s but never published",
			e.StreamID, e.Version, e.Type, e.ID, e.RecordedAt.Format(time.RFC3339)))
	}
	parked, err := store.Parked(ctx, maxReported)
	if err != nil {
		return r, err
	}
	for _, p := range parked {
		e := p.Event
		r.add(ProblemParked, "", fmt.Sprintf("%s version %d (%s, %s, position %d): parked at %s, the bus refuses it: %s",
			e.StreamID, e.Version, e.Type, e.ID, e.Position, p.ParkedAt.Format(time.RFC3339), p.Reason))
	}
	return r, nil
}

// verifyPage verifies the streams of a page: their rows in one read and their snapshots in
// another, then their events in a few (after both, so that every event a row or a snapshot
// reflects is among them).
func verifyPage(ctx context.Context, reads *ReadModels, store VerifyStore, rm *readModel, page []ordersaga.StreamVersion, cutoff time.Time, r *Report) error {
	ids := make([]string, len(page))
	streams := make([]ordersaga.Stream, len(page))
	for i, sv := range page {
		ids[i], streams[i] = sv.Stream.ID(), sv.Stream
	}
	rows, err := reads.rows(ctx, rm, ids)
	if err != nil {
		return err
	}
	var snapshots []ordersaga.Snapshot
	if rm.snapshotDifferences != nil {
		if snapshots, err = store.Snapshots(ctx, streams); err != nil {
			return err
		}
	}
	events, err := ordersaga.ReadPage(ctx, store, page)
	if err != nil {
		return err
	}
	for i, sv := range page {
		verifyStream(rm, sv.Stream, events[i], rows[i], cutoff, r)
	}
	verifySnapshots(rm, page, events, snapshots, r)
	return nil
}

// verifySnapshots compares each of a page's snapshots with the fold of its stream's events
// (aligned with page) up to its version.
func verifySnapshots(rm *readModel, page []ordersaga.StreamVersion, events [][]ordersaga.RecordedEvent, snapshots []ordersaga.Snapshot, r *Report) {
	if len(snapshots) == 0 {
		return
	}
	index := make(map[string]int, len(page))
	for i, sv := range page {
		index[sv.Stream.String()] = i
	}
	for _, snap := range snapshots {
		i := index[snap.Stream]
		if diff := rm.snapshotDifferences(page[i].Stream.ID(), snap, events[i]); diff != "" {
			r.add(ProblemSnapshotDiffers, "", fmt.Sprintf("%s: %s", snap.Stream, diff))
		}
	}
}

// verifyStream compares the row of one stream with the fold of its events up to the row's
// version, and checks that the row has reached every event recorded before cutoff.
func verifyStream(rm *readModel, stream ordersaga.Stream, events []ordersaga.RecordedEvent, got model, cutoff time.Time, r *Report) {
	r.StreamsChecked++
	var settled int64 // the last version recorded before the cutoff
	for _, e := range events {
		if !e.RecordedAt.After(cutoff) {
			settled = e.Version
		}
	}
	v := got.version()
	switch {
	case v == 0 && settled > 0:
		r.add(ProblemReadModelLags, rm.table, fmt.Sprintf("%s: no read model row (the store has version %d)", stream, settled))
	case v < settled:
		r.add(ProblemReadModelLags, rm.table, fmt.Sprintf("%s: read model at version %d; the store has had version %d for longer than the grace period",
			stream, v, settled))
	}
	switch {
	case v > int64(len(events)):
		r.add(ProblemReadModelDiffers, rm.table, fmt.Sprintf("%s: read model at version %d, ahead of the store's %d", stream, v, len(events)))
	case v > 0:
		if diff := got.differences(rm.fold(stream.ID(), events[:v])); diff != "" {
			r.add(ProblemReadModelDiffers, rm.table, fmt.Sprintf("%s: read model differs from the store: %s", stream, diff))
		}
	}
}
