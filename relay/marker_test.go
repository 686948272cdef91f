package relay_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/ordersaga/ordersaga/relay"
)

// recordingOutbox records the batches it is asked to mark and fails while failing is set.
type recordingOutbox struct {
	mu      sync.Mutex
	batches [][]int64
	failing bool
}

func (o *recordingOutbox) MarkPublished(ctx context.Context, positions []int64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.failing {
		return errors.New("database down")
	}
	if err := ctx.Err(); err != nil { // as a database call would
		return err
	}
	o.batches = append(o.batches, slices.Clone(positions))
	return nil
}

func TestMarkerBatchesPositionsAndKeepsThemWhenAFlushFails(t *testing.T) {
	ctx := context.Background()
	outbox := &recordingOutbox{}
	m := relay.NewMarker(outbox, 0, nil)
	for p := int64(1); p <= 5; p++ {
		if err := m.MarkPublished(ctx, []int64{p}); err != nil {
			t.Fatal(err)
		}
	}
	outbox.failing = true
	if err := m.Flush(ctx); err == nil {
		t.Fatal("a failed flush reported success")
	}
	outbox.failing = false
	m.MarkPublished(ctx, []int64{6, 7})
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Flush(ctx); err != nil { // nothing left: no statement
		t.Fatal(err)
	}
	if len(outbox.batches) != 1 || !slices.Equal(outbox.batches[0], []int64{1, 2, 3, 4, 5, 6, 7}) {
		t.Errorf("batches = %v, want one batch with all seven positions", outbox.batches)
	}
}

func TestMarkerFlushesWhatIsLeftWhenItStops(t *testing.T) {
	outbox := &recordingOutbox{}
	m := relay.NewMarker(outbox, 0, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	m.MarkPublished(ctx, []int64{42})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var all []int64
	for _, b := range outbox.batches {
		all = append(all, b...)
	}
	if !slices.Equal(all, []int64{42}) {
		t.Errorf("marked %v after stopping, want [42]", all)
	}
}

// TestMarkerKeepsAtMostMaxPendingWhileFlushesFail: with the database down, the marker
// keeps 100,000 positions (each is published and will be marked once the database is
// back); what would pass that is dropped, for the relay to publish again.
func TestMarkerKeepsAtMostMaxPendingWhileFlushesFail(t *testing.T) {
	ctx := context.Background()
	outbox := &recordingOutbox{failing: true}
	m := relay.NewMarker(outbox, 0, nil)
	full := make([]int64, 100_000)
	for i := range full {
		full[i] = int64(i + 1)
	}
	m.MarkPublished(ctx, full[:99_999])
	m.MarkPublished(ctx, full[99_999:]) // exactly the limit
	m.MarkPublished(ctx, []int64{100_001})
	if err := m.Flush(ctx); err == nil {
		t.Fatal("a failed flush reported success")
	}
	outbox.failing = false
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(outbox.batches) != 1 || !slices.Equal(outbox.batches[0], full) {
		t.Errorf("marked %d batches (the first of %d positions), want one of the 100,000 kept", len(outbox.batches), len(outbox.batches[0]))
	}
}
