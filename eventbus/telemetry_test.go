package eventbus_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventbus"
)

// A delivery is traced in the trace that appended its event: one consumer span per
// delivery, the child of the span the event records; an event that records none starts a
// trace of its own. Without a tracer provider nothing is traced.
func TestADeliveryContinuesTheTraceItsEventRecords(t *testing.T) {
	const (
		traceID = "0af7651916cd43dd8448eb211c80319c"
		parent  = "b7ad6b7169203331"
	)
	spans := tracetest.NewInMemoryExporter()
	tracers := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tracers.Shutdown(context.Background()) })

	deliver := func(in *eventbus.Instruments, traceparent string) trace.SpanContext {
		var seen trace.SpanContext
		d := eventbus.NewDispatcher(dispatcherOptions(t, 1, func(ctx context.Context, _ eventbus.Message) error {
			seen = trace.SpanContextFromContext(ctx)
			return nil
		}), in)
		defer d.Close()
		raw, err := eventbus.Encode(ordersaga.RecordedEvent{ID: uuid.New(), StreamID: "order-1", StreamType: "order", Version: 1,
			Type: "order-created", Data: json.RawMessage(`{}`), Metadata: ordersaga.Metadata{TraceParent: traceparent}})
		if err != nil {
			t.Fatal(err)
		}
		d.Deliver(eventbus.NewMessage("order-created", raw, 1, time.Time{}), func(bool) {})
		return seen
	}

	got := deliver(eventbus.NewInstruments(nil, tracers), "00-"+traceID+"-"+parent+"-01")
	ended := spans.GetSpans()
	if len(ended) != 1 || ended[0].Name != "deliver order-created" || ended[0].SpanKind != trace.SpanKindConsumer {
		t.Fatalf("spans %v, want one consumer span 'deliver order-created'", ended.Snapshots())
	}
	if got.TraceID().String() != traceID || ended[0].Parent.SpanID().String() != parent || got.SpanID() != ended[0].SpanContext.SpanID() {
		t.Errorf("the handler ran in trace %s under span %s (the delivery's parent %s), want trace %s under the delivery, a child of %s",
			got.TraceID(), got.SpanID(), ended[0].Parent.SpanID(), traceID, parent)
	}

	spans.Reset()
	got = deliver(eventbus.NewInstruments(nil, tracers), "")
	if ended := spans.GetSpans(); len(ended) != 1 || ended[0].Parent.IsValid() || !got.IsValid() || got.TraceID().String() == traceID {
		t.Errorf("an event without a trace: spans %v, handler in %v; want one root span of a new trace", ended.Snapshots(), got)
	}

	spans.Reset()
	if got = deliver(eventbus.NewInstruments(nil, nil), "00-"+traceID+"-"+parent+"-01"); got.IsValid() || len(spans.GetSpans()) != 0 {
		t.Errorf("without tracers the handler ran in span %v and %d spans ended, want none", got, len(spans.GetSpans()))
	}
}
