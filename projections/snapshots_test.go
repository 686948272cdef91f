package projections_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/payments"
	"github.com/ordersaga/ordersaga/projections"
)

// TestVerifyChecksAccountSnapshots folds three accounts with snapshots every 3 events:
// verify finds them true. Then one snapshot is replaced by one with another balance, one
// by one ahead of its stream, one by one that does not decode: verify reports exactly
// those three, naming each account, as snapshot_differs.
func TestVerifyChecksAccountSnapshots(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	accounts := payments.Accounts{Store: f.store, SnapshotEvery: 3}
	customers := []string{"snap-a", "snap-b", "snap-c", "snap-d"}
	for _, c := range customers {
		for i := range 7 {
			if _, err := accounts.Credit(ctx, c, 100, "EUR", fmt.Sprint(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := f.projector.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	clearOutbox(t, f)
	report, err := projections.Verify(ctx, f.reads, f.store, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !report.OK() {
		t.Fatalf("true snapshots: %q, want no problems", report.Problems)
	}
	for _, c := range customers[:3] {
		if v, _, err := f.store.Snapshot(ctx, ordersaga.MustParseStream("customer-"+c)); err != nil || v < 3 {
			t.Fatalf("%s: snapshot of version %d (%v), want one", c, v, err)
		}
	}
	for c, state := range map[string]struct {
		version int64
		json    string
	}{"snap-a": {7, `{"currency":"EUR","balance":701}`}, "snap-b": {8, `{"currency":"EUR","balance":800}`}, "snap-c": {7, `[]`}} {
		if _, err := f.db.Exec(ctx, `UPDATE stream_snapshots SET version = $2, state = $3 WHERE stream_id = $1`,
			"customer-"+c, state.version, state.json); err != nil {
			t.Fatal(err)
		}
	}
	report, err = projections.Verify(ctx, f.reads, f.store, 0)
	if err != nil {
		t.Fatal(err)
	}
	if report.Counts[projections.ProblemSnapshotDiffers] != 3 || len(report.Problems) != 3 {
		t.Fatalf("problems %q, want the three snapshots tampered with", report.Problems)
	}
	for i, want := range []string{"customer-snap-a: snapshot of version 7 holds 701 EUR, the stream up to it 700 EUR",
		"customer-snap-b: snapshot of version 8, ahead of the stream's 7", "customer-snap-c: snapshot of version 7 does not decode"} {
		if !strings.HasPrefix(report.Problems[i], want) {
			t.Errorf("problem %d: %q, want it to start %q", i, report.Problems[i], want)
		}
	}
}

// clearOutbox takes every event off the outbox, as the relay would have.
func clearOutbox(t *testing.T, f fixture) {
	t.Helper()
	if _, err := f.db.Exec(context.Background(), `DELETE FROM event_outbox`); err != nil {
		t.Fatal(err)
	}
}

// concurrentCredit is a store under which, just after verify read a page's events, another
// process credits an account and saves its snapshot at the new version.
type concurrentCredit struct {
	*eventstore.Store
	t    *testing.T
	once sync.Once
}

func (c *concurrentCredit) ReadStreams(ctx context.Context, streams []ordersaga.Stream, limit int) ([]ordersaga.RecordedEvent, error) {
	events, err := c.Store.ReadStreams(ctx, streams, limit)
	c.once.Do(func() { // just after verify read the events
		other := payments.Accounts{Store: c.Store, SnapshotEvery: 1}
		if _, err := other.Credit(ctx, "snap-live", 100, "EUR", "while verify reads"); err != nil {
			c.t.Error(err)
		}
	})
	return events, err
}

// TestVerifyIsNotMisledByASnapshotSavedWhileItReads: an account credited, and its snapshot
// saved, while verify reads the page's events is not reported (verify reads the
// snapshots first, so none can be ahead of the events it reads).
func TestVerifyIsNotMisledByASnapshotSavedWhileItReads(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	accounts := payments.Accounts{Store: f.store, SnapshotEvery: 1}
	for i := range 3 {
		if _, err := accounts.Credit(ctx, "snap-live", 100, "EUR", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.projector.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	clearOutbox(t, f)
	report, err := projections.Verify(ctx, f.reads, &concurrentCredit{Store: f.store, t: t}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if report.Counts[projections.ProblemSnapshotDiffers] != 0 {
		t.Errorf("problems %q, want no snapshot reported", report.Problems)
	}
	if v, _, err := f.store.Snapshot(ctx, ordersaga.MustParseStream("customer-snap-live")); err != nil || v != 4 {
		t.Fatalf("the concurrent credit left a snapshot of version %d (%v), want 4", v, err)
	}
}
