// Package instrument holds what ordersaga's instrumented packages share. It carries a
// trace across the hops that are not RPCs: an event's metadata holds the W3C trace context
// of the append that wrote it (Stamp), and whoever handles the event later (the relay, a
// projector, the restaurant) continues that trace (Continue). It gives the tracer and meter
// of a provider that may be nil, and names event types for metrics without letting callers
// mint label values.
package instrument

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"slices"

	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/ordersaga/ordersaga"
)

// propagator is W3C trace context, as in gRPC metadata and Temporal headers.
var propagator = propagation.TraceContext{}

// Propagator is how trace context crosses process boundaries, in gRPC metadata and in
// Temporal's headers: W3C trace context only. Baggage is not carried: a caller of the API
// could otherwise have kilobytes of it copied into every saga's history.
func Propagator() propagation.TextMapPropagator { return propagator }

// metadataCarrier reads and writes the trace context fields of event metadata.
type metadataCarrier struct{ m *ordersaga.Metadata }

func (c metadataCarrier) Get(key string) string {
	switch key {
	case "traceparent":
		return c.m.TraceParent
	case "tracestate":
		return c.m.TraceState
	}
	return ""
}

func (c metadataCarrier) Set(key, value string) {
	switch key {
	case "traceparent":
		c.m.TraceParent = value
	case "tracestate":
		c.m.TraceState = value
	}
}

func (c metadataCarrier) Keys() []string { return []string{"traceparent", "tracestate"} }

// Stamp writes the trace context of ctx's span into each event's metadata that carries
// none yet, and returns the events (a copy when any changed). Without a recording span it
// changes nothing.
func Stamp(ctx context.Context, events []ordersaga.EventData) []ordersaga.EventData {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return events
	}
	var out []ordersaga.EventData
	for i, e := range events {
		if e.Metadata.TraceParent != "" {
			continue
		}
		if out == nil {
			out = slices.Clone(events)
		}
		propagator.Inject(ctx, metadataCarrier{&out[i].Metadata})
	}
	if out == nil {
		return events
	}
	return out
}

// Continue returns ctx carrying, as the remote parent of the spans started from it, the
// trace that appended the event described by m (none when m carries no valid one).
func Continue(ctx context.Context, m ordersaga.Metadata) context.Context {
	return propagator.Extract(ctx, metadataCarrier{&m})
}

// Tracer returns the named tracer of tp, or a no-op one when tp is nil.
func Tracer(tp trace.TracerProvider, name string) trace.Tracer {
	if tp == nil {
		tp = tracenoop.NewTracerProvider()
	}
	return tp.Tracer(name)
}

// Meter returns the named meter of mp, or a no-op one when mp is nil.
func Meter(mp metric.MeterProvider, name string) metric.Meter {
	if mp == nil {
		mp = metricnoop.NewMeterProvider()
	}
	return mp.Meter(name)
}

// Must returns an instrument, whose creation fails only for a malformed name: a
// programming error, caught by every test that builds the instrumented component.
func Must[T any](instrument T, err error) T {
	if err != nil {
		panic("instrument: " + err.Error())
	}
	return instrument
}

// catalog is the set of event types that label metrics as themselves.
var catalog = func() map[string]bool {
	m := map[string]bool{}
	for _, t := range ordersaga.EventTypes() {
		m[t] = true
	}
	return m
}()

// EventTypeLabel is typ as a metric label: a type of the catalog is itself, any other
// (the generic event store API takes made-up types) is "other", so that a caller cannot
// create label values, and with them time series, at will.
func EventTypeLabel(typ string) string {
	if catalog[typ] {
		return typ
	}
	return "other"
}

// Spans of a workflow that the Temporal SDK starts again on every replay (a workflow's
// run, an update's handling) carry FinalAttribute: false until the run or the update
// completes outside a replay, when it becomes true. Telemetry exports only those that end
// true, so that a replayed workflow exports each such span once (see worker's tracing).
const FinalAttribute = "ordersaga.temporal.final"

// fixedIDs is a span's identity fixed by its starter (WithIDs).
type fixedIDs struct {
	trace trace.TraceID
	span  trace.SpanID
}

type fixedIDsKey struct{}

// WithIDs returns ctx asking the IDGenerator for span id span, and for trace id traceID
// when the span starts a trace (its zero value: a random one).
func WithIDs(ctx context.Context, traceID trace.TraceID, span trace.SpanID) context.Context {
	return context.WithValue(ctx, fixedIDsKey{}, fixedIDs{traceID, span})
}

// IDGenerator draws random trace and span ids, except those that the starting context
// fixes (WithIDs): a span started again on replay gets the id it had, so that what was
// started under it before stays under it.
type IDGenerator struct{}

// NewIDs implements sdktrace.IDGenerator.
func (IDGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	fixed, _ := ctx.Value(fixedIDsKey{}).(fixedIDs)
	if !fixed.trace.IsValid() {
		fixed.trace = randomTraceID()
	}
	if !fixed.span.IsValid() {
		fixed.span = randomSpanID()
	}
	return fixed.trace, fixed.span
}

// NewSpanID implements sdktrace.IDGenerator.
func (IDGenerator) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	if fixed, _ := ctx.Value(fixedIDsKey{}).(fixedIDs); fixed.span.IsValid() {
		return fixed.span
	}
	return randomSpanID()
}

func randomTraceID() (id trace.TraceID) {
	for !id.IsValid() {
		binary.NativeEndian.PutUint64(id[:8], rand.Uint64())
		binary.NativeEndian.PutUint64(id[8:], rand.Uint64())
	}
	return id
}

func randomSpanID() (id trace.SpanID) {
	for !id.IsValid() {
		binary.NativeEndian.PutUint64(id[:], rand.Uint64())
	}
	return id
}
