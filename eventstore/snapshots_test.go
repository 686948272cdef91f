package eventstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventstore"
)

// TestAStreamKeepsItsLatestSnapshot saves snapshots of a stream out of order: each stream
// keeps the one of the latest version, whatever order they were saved in, and one
// stream's snapshots do not touch another's.
func TestAStreamKeepsItsLatestSnapshot(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, b := ordersaga.MustParseStream("customer-a"), ordersaga.MustParseStream("customer-b")
	if v, state, err := f.store.Snapshot(ctx, a); err != nil || v != 0 || state != nil {
		t.Fatalf("no snapshot yet: %d %s %v, want 0 and none", v, state, err)
	}
	for _, s := range []struct {
		stream  ordersaga.Stream
		version int64
	}{{a, 5}, {a, 3}, {b, 2}, {a, 5}, {a, 7}, {a, 6}} {
		if err := f.store.SaveSnapshot(ctx, s.stream, s.version, fmt.Appendf(nil, `{"at":%d}`, s.version)); err != nil {
			t.Fatal(err)
		}
	}
	for stream, want := range map[ordersaga.Stream]int64{a: 7, b: 2} {
		v, state, err := f.store.Snapshot(ctx, stream)
		if err != nil || v != want || string(state) != fmt.Sprintf(`{"at": %d}`, want) {
			t.Errorf("%s: snapshot %d %s (%v), want the one of version %d", stream, v, state, err, want)
		}
	}
	all, err := f.store.Snapshots(ctx, []ordersaga.Stream{b, ordersaga.MustParseStream("customer-none"), a})
	if err != nil || len(all) != 2 || all[0].Stream != "customer-a" || all[0].Version != 7 || all[1].Stream != "customer-b" || all[1].Version != 2 {
		t.Errorf("snapshots of a, b and a stream without one: %+v (%v), want a's of 7 and b's of 2, in stream order", all, err)
	}
	if _, err := f.store.Snapshots(ctx, nil); ordersaga.ErrorCode(err) != ordersaga.EINVALID {
		t.Errorf("snapshots of no streams: %v, want %s", err, ordersaga.EINVALID)
	}
}

// TestConcurrentSnapshotsLeaveTheLatest has eight writers save snapshots of one stream at
// once, versions 1 to 200 between them in no order: the stream keeps version 200's.
func TestConcurrentSnapshotsLeaveTheLatest(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	stream := ordersaga.MustParseStream("customer-busy")
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for v := int64(200 - w); v > 0; v -= 8 {
				if err := f.store.SaveSnapshot(ctx, stream, v, fmt.Appendf(nil, `{"at":%d}`, v)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if v, state, err := f.store.Snapshot(ctx, stream); err != nil || v != 200 || string(state) != `{"at": 200}` {
		t.Errorf("snapshot %d %s (%v), want version 200's", v, state, err)
	}
}

// TestABadSnapshotIsRefusedNamingTheField: no stream, a version below 1, state that is not
// JSON or is too large are refused (EINVALID, naming the field) and change nothing.
func TestABadSnapshotIsRefusedNamingTheField(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	stream := ordersaga.MustParseStream("customer-c")
	huge := []byte(`"` + strings.Repeat("x", eventstore.MaxSnapshotBytes) + `"`)
	for _, c := range []struct {
		field   string
		stream  ordersaga.Stream
		version int64
		state   []byte
	}{
		{"stream", ordersaga.Stream{}, 1, []byte(`{}`)},
		{"version", stream, 0, []byte(`{}`)},
		{"state", stream, 1, []byte(`{"open":`)},
		{"state", stream, 1, huge},
	} {
		err := f.store.SaveSnapshot(ctx, c.stream, c.version, c.state)
		if ordersaga.ErrorCode(err) != ordersaga.EINVALID || !strings.Contains(err.Error(), c.field) {
			t.Errorf("a snapshot with a bad %s: %v, want %s naming it", c.field, err, ordersaga.EINVALID)
		}
	}
	if v, _, err := f.store.Snapshot(ctx, stream); err != nil || v != 0 {
		t.Errorf("after refusals: snapshot of version %d (%v), want none", v, err)
	}
	// The limit itself is allowed.
	largest := []byte(`"` + strings.Repeat("x", eventstore.MaxSnapshotBytes-2) + `"`)
	if err := f.store.SaveSnapshot(ctx, stream, 1, largest); err != nil {
		t.Errorf("a snapshot of exactly %d bytes: %v", len(largest), err)
	}
	if v, state, err := f.store.Snapshot(ctx, stream); err != nil || v != 1 || len(state) != eventstore.MaxSnapshotBytes {
		t.Errorf("the largest snapshot: version %d, %d bytes (%v), want version 1 of %d bytes", v, len(state), err, eventstore.MaxSnapshotBytes)
	}
	if _, _, err := f.store.Snapshot(ctx, ordersaga.Stream{}); ordersaga.ErrorCode(err) != ordersaga.EINVALID {
		t.Errorf("the snapshot of no stream: %v, want %s", err, ordersaga.EINVALID)
	}
}

// TestEventVersionFindsAnEventInItsStreamOnly looks up appended events by id: each is
// found at its version in its stream, not in another stream, and an id never appended is
// not found.
func TestEventVersionFindsAnEventInItsStreamOnly(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	events := []ordersaga.EventData{event("account-credited", `{}`), event("account-debited", `{}`), event("account-refunded", `{}`)}
	mustAppend(t, f.store, "customer-d", ordersaga.NoStream, events...)
	mine, other := ordersaga.MustParseStream("customer-d"), ordersaga.MustParseStream("customer-e")
	for i, e := range events {
		if v, ok, err := f.store.EventVersion(ctx, mine, e.ID); err != nil || !ok || v != int64(i+1) {
			t.Errorf("event %d: version %d, found %v (%v); want found at %d", i, v, ok, err, i+1)
		}
		if _, ok, err := f.store.EventVersion(ctx, other, e.ID); err != nil || ok {
			t.Errorf("event %d in another stream: found %v (%v), want not found", i, ok, err)
		}
	}
	if _, ok, err := f.store.EventVersion(ctx, mine, uuid.New()); err != nil || ok {
		t.Errorf("an id never appended: found %v (%v), want not found", ok, err)
	}
	if _, _, err := f.store.EventVersion(ctx, ordersaga.Stream{}, events[0].ID); ordersaga.ErrorCode(err) != ordersaga.EINVALID {
		t.Errorf("no stream: %v, want %s", err, ordersaga.EINVALID)
	}
}
