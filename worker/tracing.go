package worker

import (
	"context"
	"crypto/sha256"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga/internal/instrument"
)

// The SDK's tracing interceptor starts the spans of a workflow's run and of each update it
// handles again every time the workflow replays (after a worker restart, or whenever it
// leaves the worker's cache), because what the workflow starts afterwards needs them as
// parents. Left alone, a replayed saga would export its RunWorkflow span once per replay,
// and its activities would hang under different parents. Here those spans:
//
//   - get the same span id on every replay (and the same trace id, when no caller's trace
//     came with the workflow), derived from their parent and name, so that whatever a run
//     started stays under the one span;
//   - are exported only when they complete outside a replay (instrument.FinalAttribute),
//     not when a replay completes them again nor when an eviction unwinds them.

// tracingInterceptors are the client interceptors that trace through tp, replay-safe.
func tracingInterceptors(tp trace.TracerProvider) ([]interceptor.ClientInterceptor, error) {
	tracing, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{Tracer: tp.Tracer("go.temporal.io/sdk"),
		DisableQueryTracing: true, DisableBaggage: true, TextMapPropagator: instrument.Propagator(), SpanStarter: startReplaySafe})
	if err != nil {
		return nil, err
	}
	// The tracing interceptor comes first, so that finalSpans runs inside its spans.
	return []interceptor.ClientInterceptor{tracing, &finalSpans{}}, nil
}

// replayedSpan says whether the SDK starts a span of this name again on replay.
func replayedSpan(name string) bool {
	return strings.HasPrefix(name, "RunWorkflow:") || strings.HasPrefix(name, "HandleUpdate:")
}

// startReplaySafe starts a span; one the SDK starts again on replay gets an identity that
// does not change between replays, and waits for finalSpans to mark it final.
func startReplaySafe(ctx context.Context, t trace.Tracer, name string, opts ...trace.SpanStartOption) trace.Span {
	if replayedSpan(name) {
		parent := trace.SpanContextFromContext(ctx)
		seed := parent.TraceID().String() + parent.SpanID().String() + name
		if !parent.IsValid() {
			// A run started without a caller's trace: its start time (the SDK gives the
			// workflow's) tells it apart.
			cfg := trace.NewSpanStartConfig(opts...)
			seed += cfg.Timestamp().UTC().Format(time.RFC3339Nano)
		}
		sum := sha256.Sum256([]byte(seed))
		var traceID trace.TraceID
		var spanID trace.SpanID
		copy(traceID[:], sum[:16])
		copy(spanID[:], sum[16:24])
		ctx = instrument.WithIDs(ctx, traceID, spanID)
		opts = append(opts, trace.WithAttributes(attribute.Bool(instrument.FinalAttribute, false)))
	}
	_, span := t.Start(ctx, name, opts...)
	return span
}

// finalSpans marks the run's and an update's span final when it completes outside a
// replay (a panic that unwinds an evicted workflow marks nothing).
type finalSpans struct {
	interceptor.InterceptorBase
}

func (*finalSpans) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	i := &finalInbound{}
	i.Next = next
	return i
}

type finalInbound struct {
	interceptor.WorkflowInboundInterceptorBase
}

func (f *finalInbound) ExecuteWorkflow(ctx workflow.Context, in *interceptor.ExecuteWorkflowInput) (any, error) {
	ret, err := f.Next.ExecuteWorkflow(ctx, in)
	markFinal(ctx)
	return ret, err
}

func (f *finalInbound) ExecuteUpdate(ctx workflow.Context, in *interceptor.UpdateInput) (any, error) {
	ret, err := f.Next.ExecuteUpdate(ctx, in)
	markFinal(ctx)
	return ret, err
}

// markFinal marks the span of ctx final unless the workflow is replaying.
func markFinal(ctx workflow.Context) {
	if workflow.IsReplaying(ctx) {
		return
	}
	if span, ok := temporalotel.SpanFromWorkflowContext(ctx); ok {
		span.SetAttributes(attribute.Bool(instrument.FinalAttribute, true))
	}
}
