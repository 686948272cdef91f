package eventstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/internal/metrictest"
	"github.com/ordersaga/ordersaga/sqldb"
)

// TestAppendsAreCountedByTypeAndOutcome appends events of the catalog and of a made-up
// type, repeats an append, loses a race and appends to two streams at once: the store
// counts each event written once, by type ("other" for the made-up one), none for the
// repeat or the conflict, times every append by outcome, and traces each append as a span
// naming its streams, whose trace the stored events' metadata carries.
func TestAppendsAreCountedByTypeAndOutcome(t *testing.T) {
	ctx := context.Background()
	metrics := metrictest.New(t)
	spans := tracetest.NewInMemoryExporter()
	tracers := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tracers.Shutdown(ctx) })
	_, store := dbtest.NewStoreWith(t, sqldb.Config{Meters: metrics.Provider, Tracers: tracers})
	event := func(typ string) ordersaga.EventData {
		return ordersaga.EventData{ID: uuid.New(), Type: typ, Data: []byte(`{}`)}
	}
	order := ordersaga.MustParseStream("order-t1")
	first := []ordersaga.EventData{event(ordersaga.EventOrderCreated), event(ordersaga.EventPaymentDebited), event("made-up")}
	if _, err := store.Append(ctx, order, ordersaga.NoStream, first); err != nil {
		t.Fatal(err)
	}
	if res, err := store.Append(ctx, order, ordersaga.NoStream, first); err != nil || !res.Duplicate {
		t.Fatalf("the repeated append: %+v, %v; want a duplicate", res, err)
	}
	if _, err := store.Append(ctx, order, 1, []ordersaga.EventData{event(ordersaga.EventOrderApproved)}); ordersaga.ErrorCode(err) != ordersaga.ECONFLICT {
		t.Fatalf("the append that lost the race: %v, want a conflict", err)
	}
	both := []ordersaga.StreamAppend{
		{Stream: order, Expected: 3, Events: []ordersaga.EventData{event(ordersaga.EventOrderApproved)}},
		{Stream: ordersaga.MustParseStream("customer-t1"), Expected: ordersaga.AnyVersion, Events: []ordersaga.EventData{event(ordersaga.EventAccountDebited)}},
	}
	if _, err := store.AppendStreams(ctx, both); err != nil {
		t.Fatal(err)
	}
	if res, err := store.AppendStreams(ctx, both); err != nil || !res[0].Duplicate {
		t.Fatalf("the repeated two-stream append: %+v, %v; want a duplicate", res, err)
	}
	if _, err := store.AppendStreams(ctx, []ordersaga.StreamAppend{{Stream: order, Expected: 1, Events: []ordersaga.EventData{event(ordersaga.EventOrderRejected)}}}); ordersaga.ErrorCode(err) != ordersaga.ECONFLICT {
		t.Fatalf("the two-stream append that lost the race: %v, want a conflict", err)
	}

	for typ, want := range map[string]float64{ordersaga.EventOrderCreated: 1, ordersaga.EventPaymentDebited: 1, "other": 1,
		ordersaga.EventOrderApproved: 1, ordersaga.EventAccountDebited: 1} {
		if got := metrics.Must(t, "ordersaga.events.appended", "event_type", typ); got != want {
			t.Errorf("events appended of type %s: %v, want %v", typ, got, want)
		}
	}
	if _, ok := metrics.Value(t, "ordersaga.events.appended", "event_type", ordersaga.EventOrderRejected); ok {
		t.Errorf("an event of a conflicting append was counted")
	}
	for outcome, want := range map[string]float64{"appended": 2, "duplicate": 2, ordersaga.ECONFLICT: 2} {
		if got := metrics.Must(t, "ordersaga.append.duration", "outcome", outcome); got != want {
			t.Errorf("appends timed with outcome %s: %v, want %v", outcome, got, want)
		}
	}

	ended := spans.GetSpans()
	if len(ended) < 6 {
		t.Fatalf("%d spans, want at least the 6 appends'", len(ended))
	}
	var appendSpan tracetest.SpanStub
	names := map[string]int{}
	for _, sp := range ended {
		if !strings.HasPrefix(sp.Name, "eventstore.append") {
			continue
		}
		names[sp.Name]++
		attrs := map[string]string{}
		for _, kv := range sp.Attributes {
			attrs[string(kv.Key)] = kv.Value.Emit()
		}
		if attrs["ordersaga.streams"] == "" || attrs["ordersaga.outcome"] == "" {
			t.Errorf("span %s has attributes %v, want its streams and outcome", sp.Name, attrs)
		}
		if sp.Name == "eventstore.append" && appendSpan.Name == "" {
			appendSpan = sp
		}
	}
	if names["eventstore.append"] != 3 || names["eventstore.append_streams"] != 3 {
		t.Errorf("append spans %v, want 3 of each", names)
	}
	stored, err := store.ReadStream(ctx, order, 1, 10)
	if err != nil || len(stored) == 0 {
		t.Fatalf("read back: %d events, %v", len(stored), err)
	}
	parent := stored[0].Metadata.TraceParent
	if !strings.Contains(parent, appendSpan.SpanContext.TraceID().String()) || !strings.Contains(parent, appendSpan.SpanContext.SpanID().String()) {
		t.Errorf("the stored event's traceparent %q is not the append span's (%s)", parent, appendSpan.SpanContext.SpanID())
	}
	failed := slices.DeleteFunc(slices.Clone(ended), func(sp tracetest.SpanStub) bool {
		return sp.Status.Code != codes.Error || !strings.HasPrefix(sp.Name, "eventstore.append")
	})
	if len(failed) != 2 {
		t.Errorf("%d append spans marked failed, want the 2 conflicts'", len(failed))
	}
}

// TestTheOutboxBacklogIsItsSizeAndTheAgeOfItsOldestEvent: an empty outbox is 0 events, 0
// old; after three appends it holds 3, the oldest as old as the first; marking the first
// two leaves 1, as old as the last; marking it empties it.
func TestTheOutboxBacklogIsItsSizeAndTheAgeOfItsOldestEvent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	backlog := func() (int64, time.Duration) {
		t.Helper()
		n, oldest, err := f.store.OutboxBacklog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n, oldest
	}
	if n, oldest := backlog(); n != 0 || oldest != 0 {
		t.Fatalf("empty outbox: %d events, the oldest %s old; want 0, 0", n, oldest)
	}
	var positions []int64
	for i := range 3 {
		res, err := f.store.Append(ctx, ordersaga.MustParseStream(fmt.Sprintf("order-b%d", i)), ordersaga.AnyVersion,
			[]ordersaga.EventData{{ID: uuid.New(), Type: ordersaga.EventOrderCreated, Data: []byte(`{}`)}})
		if err != nil {
			t.Fatal(err)
		}
		positions = append(positions, res.Events[0].Position)
		if i == 0 {
			time.Sleep(300 * time.Millisecond) // the first is older than the others by this much
		}
	}
	n, oldest := backlog()
	if n != 3 || oldest < 300*time.Millisecond || oldest > time.Minute {
		t.Errorf("after 3 appends: %d events, the oldest %s old; want 3, at least 300ms", n, oldest)
	}
	if err := f.store.MarkPublished(ctx, positions[:2]); err != nil {
		t.Fatal(err)
	}
	if n, newest := backlog(); n != 1 || newest >= oldest {
		t.Errorf("with the last one left: %d events, the oldest %s old; want 1, younger than %s", n, newest, oldest)
	}
	if err := f.store.MarkPublished(ctx, positions[2:]); err != nil {
		t.Fatal(err)
	}
	if n, oldest := backlog(); n != 0 || oldest != 0 {
		t.Errorf("emptied outbox: %d events, the oldest %s old; want 0, 0", n, oldest)
	}
}
