package eventbus

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/internal/instrument"
)

// Instruments are what one bus connection measures and traces, the same in every adapter:
// a producer span per published event and a consumer span per delivery, both continuing
// the trace that appended the event (its metadata carries it), and the deliveries,
// redeliveries and dead letters of each consumer group. Adapters make them with
// NewInstruments and hand them to PublishBatch and NewDispatcher.
type Instruments struct {
	meter                                 metric.Meter
	spans                                 trace.Tracer
	deliveries, redeliveries, deadLetters metric.Int64Counter
	// traced is false without a tracer provider: no span, nor its attributes, is made.
	traced bool
}

// Scope names the instrumentation of the bus.
const Scope = "github.com/ordersaga/ordersaga/eventbus"

// NewInstruments makes a connection's instruments; nil providers measure and trace nothing.
func NewInstruments(meters metric.MeterProvider, tracers trace.TracerProvider) *Instruments {
	m := instrument.Meter(meters, Scope)
	return &Instruments{
		meter:  m,
		spans:  instrument.Tracer(tracers, Scope),
		traced: tracers != nil,
		deliveries: instrument.Must(m.Int64Counter("ordersaga.bus.deliveries",
			metric.WithDescription("Messages delivered to a consumer group's handler, redeliveries included, by group and event type"))),
		redeliveries: instrument.Must(m.Int64Counter("ordersaga.bus.redeliveries",
			metric.WithDescription("Deliveries of a message that a member of the group had been given before, by group and event type"))),
		deadLetters: instrument.Must(m.Int64Counter("ordersaga.bus.dead_letters",
			metric.WithDescription("Messages a consumer group gave up on and dead-lettered, by group and event type"))),
	}
}

// WatchConnection reports, at each collection, whether the NATS connection of client is
// up (ordersaga.bus.connected, 1 or 0) and how often it has reconnected
// (ordersaga.bus.reconnects). The returned stop ends the reports.
func (in *Instruments) WatchConnection(client string, connected func() bool, reconnects func() int64) (stop func(), err error) {
	up, err := in.meter.Int64ObservableGauge("ordersaga.bus.connected",
		metric.WithDescription("1 while this process's connection to NATS is up, 0 while it is down, by client"))
	if err != nil {
		return nil, err
	}
	again, err := in.meter.Int64ObservableCounter("ordersaga.bus.reconnects",
		metric.WithDescription("Times this process's connection to NATS was established again after a loss, by client"))
	if err != nil {
		return nil, err
	}
	labels := metric.WithAttributes(attribute.String("client", client))
	reg, err := in.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		state := int64(0)
		if connected() {
			state = 1
		}
		o.ObserveInt64(up, state, labels)
		o.ObserveInt64(again, reconnects(), labels)
		return nil
	}, up, again)
	if err != nil {
		return nil, err
	}
	return func() { _ = reg.Unregister() }, nil
}

// startPublish starts the producer span of one event, in the trace that appended it.
func (in *Instruments) startPublish(ctx context.Context, event ordersaga.RecordedEvent) (context.Context, trace.Span) {
	if !in.traced {
		return ctx, trace.SpanFromContext(context.Background())
	}
	ctx = continueTrace(ctx, event.Metadata)
	return in.spans.Start(ctx, "publish "+instrument.EventTypeLabel(event.Type), trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(eventAttributes(event)...))
}

// startDelivery starts the consumer span of one delivery, in the trace that appended its
// event, and counts it.
func (in *Instruments) startDelivery(ctx context.Context, group string, msg Message) (context.Context, trace.Span) {
	labels := metric.WithAttributes(attribute.String("group", group), attribute.String("event_type", instrument.EventTypeLabel(msg.Event.Type)))
	in.deliveries.Add(ctx, 1, labels)
	if msg.Deliveries > 1 {
		in.redeliveries.Add(ctx, 1, labels)
	}
	if !in.traced {
		return ctx, trace.SpanFromContext(context.Background())
	}
	ctx = continueTrace(ctx, msg.Event.Metadata)
	attrs := append(eventAttributes(msg.Event), attribute.String("messaging.consumer.group.name", group),
		attribute.Int("messaging.message.delivery_count", msg.Deliveries))
	return in.spans.Start(ctx, "deliver "+instrument.EventTypeLabel(msg.Event.Type), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attrs...))
}

// countFromZero makes the counters of group exist, at 0, for each of types, so that their
// series (and rate()) are there before the first delivery or dead letter.
func (in *Instruments) countFromZero(group string, types []string) {
	for _, typ := range types {
		labels := metric.WithAttributes(attribute.String("group", group), attribute.String("event_type", instrument.EventTypeLabel(typ)))
		for _, c := range []metric.Int64Counter{in.deliveries, in.redeliveries, in.deadLetters} {
			c.Add(context.Background(), 0, labels)
		}
	}
}

// deadLettered counts a dead letter of group.
func (in *Instruments) deadLettered(ctx context.Context, group string, msg Message) {
	in.deadLetters.Add(ctx, 1, metric.WithAttributes(attribute.String("group", group),
		attribute.String("event_type", instrument.EventTypeLabel(msg.Event.Type))))
}

// continueTrace makes the trace recorded in m the parent of what ctx starts, unless m has
// none (an event written before tracing, or by a client that sent none).
func continueTrace(ctx context.Context, m ordersaga.Metadata) context.Context {
	if m.TraceParent == "" {
		return ctx
	}
	return instrument.Continue(ctx, m)
}

func eventAttributes(e ordersaga.RecordedEvent) []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String("messaging.system", "nats"), attribute.String("messaging.message.id", e.ID.String()),
		attribute.String("ordersaga.stream", e.StreamID), attribute.Int64("ordersaga.version", e.Version),
		attribute.Int64("ordersaga.position", e.Position)}
}

// endSpan ends span, marking it failed when err is set.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
