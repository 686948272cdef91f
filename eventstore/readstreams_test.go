package eventstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventstore"
)

// TestReadStreamsReadsSeveralStreamsInOrder reads three streams at once: their events in
// stream and version order, cut at the limit; a stream with no events reads as none; bad
// arguments are refused naming the field.
func TestReadStreamsReadsSeveralStreamsInOrder(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	fill(t, f, "order-rs", 3, 4)
	streams := []ordersaga.Stream{ordersaga.MustParseStream("order-rs-2"), ordersaga.MustParseStream("order-rs-0"), ordersaga.MustParseStream("order-none")}
	got, err := f.store.ReadStreams(ctx, streams, 100)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, e := range got {
		order = append(order, fmt.Sprintf("%s@%d", e.StreamID, e.Version))
	}
	want := "order-rs-0@1 order-rs-0@2 order-rs-0@3 order-rs-0@4 order-rs-2@1 order-rs-2@2 order-rs-2@3 order-rs-2@4"
	if strings.Join(order, " ") != want {
		t.Errorf("read %s, want %s", strings.Join(order, " "), want)
	}
	if cut, err := f.store.ReadStreams(ctx, streams, 5); err != nil || len(cut) != 5 {
		t.Errorf("limit 5: %d events (%v), want 5", len(cut), err)
	}
	tooMany := make([]ordersaga.Stream, eventstore.MaxStreamsPerRead+1)
	for i := range tooMany {
		tooMany[i] = streams[0]
	}
	for field, read := range map[string]func() error{
		"streams":    func() error { _, err := f.store.ReadStreams(ctx, nil, 10); return err },
		"streams[1]": func() error { _, err := f.store.ReadStreams(ctx, []ordersaga.Stream{streams[0], {}}, 10); return err },
		"limit":      func() error { _, err := f.store.ReadStreams(ctx, streams, eventstore.MaxReadLimit+1); return err },
	} {
		if err := read(); ordersaga.ErrorCode(err) != ordersaga.EINVALID || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v, want %s naming it", field, err, ordersaga.EINVALID)
		}
	}
	if _, err := f.store.ReadStreams(ctx, tooMany, 10); ordersaga.ErrorCode(err) != ordersaga.EINVALID {
		t.Errorf("%d streams: %v, want %s", len(tooMany), err, ordersaga.EINVALID)
	}
	// The limit itself is allowed (a stream named twice is read once).
	if most, err := f.store.ReadStreams(ctx, tooMany[1:], 10); err != nil || len(most) != 4 {
		t.Errorf("%d streams: %d events (%v), want stream 0's 4", len(tooMany)-1, len(most), err)
	}
}

// countingReader counts the reads ReadPage makes.
type countingReader struct {
	*eventstore.Store
	shared, single atomic.Int64
}

func (c *countingReader) ReadStreams(ctx context.Context, streams []ordersaga.Stream, limit int) ([]ordersaga.RecordedEvent, error) {
	c.shared.Add(1)
	return c.Store.ReadStreams(ctx, streams, limit)
}

func (c *countingReader) ReadStream(ctx context.Context, stream ordersaga.Stream, from int64, limit int) ([]ordersaga.RecordedEvent, error) {
	c.single.Add(1)
	return c.Store.ReadStream(ctx, stream, from, limit)
}

// TestReadPageReadsShortStreamsTogether lists 30 short streams, one that then grows past
// a shared read's limit, and one of 6,000 events: ReadPage returns each stream's events
// exactly as a read of the whole stream does. The short streams share one read, the long
// one is read alone; once the grown stream fills the shared read, its streams are read one
// by one instead.
func TestReadPageReadsShortStreamsTogether(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	fill(t, f, "order-a", 30, 3)
	long := ordersaga.MustParseStream("order-c-long")
	grown := ordersaga.MustParseStream("order-b-grown")
	appendMany(t, f, long, 6000)
	appendMany(t, f, grown, 1)
	page, err := f.store.StreamVersions(ctx, ordersaga.StreamTypeOrder, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, wantShared, wantSingle int64) {
		t.Helper()
		r := &countingReader{Store: f.store}
		got, err := ordersaga.ReadPage(ctx, r, page)
		if err != nil {
			t.Fatal(err)
		}
		shared, single := r.shared.Load(), r.single.Load()
		for i, sv := range page {
			whole, err := ordersaga.ReadWholeStream(ctx, f.store, sv.Stream)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got[i], whole, func(a, b ordersaga.RecordedEvent) bool { return a.ID == b.ID && a.Version == b.Version }) {
				t.Fatalf("%s: %s read as %d events, want its %d", what, sv.Stream, len(got[i]), len(whole))
			}
		}
		if shared != wantShared || single != wantSingle {
			t.Errorf("%s: %d shared reads and %d single ones, want %d and %d", what, shared, single, wantShared, wantSingle)
		}
	}
	// 31 short streams in one read; the long one in 7 pages of 1,000.
	check("as listed", 1, 7)
	appendMany(t, f, grown, 10_000)
	// The shared read comes back full: its 31 streams are read alone (the grown one in
	// 11 pages), then the long one.
	check("after one grew", 1, 30+11+7)
}

// appendMany appends n events to stream, a hundred at a time.
func appendMany(t *testing.T, f fixture, stream ordersaga.Stream, n int) {
	t.Helper()
	for done := 0; done < n; {
		batch := make([]ordersaga.EventData, min(100, n-done))
		for j := range batch {
			batch[j] = event("order-noted", `{}`)
		}
		mustAppend(t, f.store, stream.String(), ordersaga.AnyVersion, batch...)
		done += len(batch)
	}
}
