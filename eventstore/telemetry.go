package eventstore

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/internal/instrument"
	"github.com/ordersaga/ordersaga/sqldb"
)

// What the store tells about itself, through the providers of its database
// (sqldb.Config): a span per append, in which the appended events' metadata records the
// trace (so that the relay and the projectors continue it), the events appended by type,
// and how long appends take by outcome.

const scope = "github.com/ordersaga/ordersaga/eventstore"

// instruments are the store's tracer and metrics.
type instruments struct {
	tracer   trace.Tracer
	appended metric.Int64Counter
	latency  metric.Float64Histogram
}

func newInstruments(db *sqldb.DB) instruments {
	m := db.Meters().Meter(scope)
	return instruments{
		tracer: db.Tracers().Tracer(scope),
		appended: instrument.Must(m.Int64Counter("ordersaga.events.appended",
			metric.WithDescription("Events written to the store (not counting idempotent repeats), by type"))),
		latency: instrument.Must(m.Float64Histogram("ordersaga.append.duration", metric.WithUnit("s"),
			metric.WithDescription("How long an append takes, retries after lost races included, by outcome"))),
	}
}

// startAppend starts the span of an append to streams; done ends it and records the
// outcome, counting the events written unless the append was a repeat.
func (in instruments) startAppend(ctx context.Context, name string, streams ...ordersaga.Stream) (context.Context, func(events [][]ordersaga.EventData, duplicate bool, err error)) {
	ctx, span := in.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient))
	if span.IsRecording() {
		ids := make([]string, len(streams))
		for i, s := range streams {
			ids[i] = s.String()
		}
		span.SetAttributes(attribute.StringSlice("ordersaga.streams", ids))
	}
	start := time.Now()
	return ctx, func(events [][]ordersaga.EventData, duplicate bool, err error) {
		outcome := "appended"
		switch {
		case err != nil:
			outcome = ordersaga.ErrorCode(err)
			span.SetStatus(codes.Error, ordersaga.ErrorMessage(err))
		case duplicate:
			outcome = "duplicate"
		default:
			for _, list := range events {
				for _, e := range list {
					in.appended.Add(ctx, 1, metric.WithAttributes(attribute.String("event_type", instrument.EventTypeLabel(e.Type))))
				}
			}
		}
		in.latency.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(attribute.String("outcome", outcome)))
		span.SetAttributes(attribute.String("ordersaga.outcome", outcome))
		span.End()
	}
}
