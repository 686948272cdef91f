// Package eventbus is the port through which committed events travel from the event store
// to their consumers: publish with a server acknowledgement, and durable queue-group
// subscriptions with explicit acks, redelivery and a dead letter for messages that keep
// failing. Its adapters are natsstreaming (stan.go, what the design names) and jetstream
// (NATS JetStream, the supported successor).
//
// Delivery is at least once: consumers must be idempotent (the projections are, by stream
// version). Events of one type travel on one channel, named after the type.
package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/ordersaga/ordersaga"
)

// Publisher sends events to the bus.
type Publisher interface {
	// Publish sends event on the channel named after its type and returns once the server
	// has acknowledged (persisted) it. Errors: EUNAVAILABLE when the bus cannot be reached
	// or does not acknowledge in time; context errors.
	Publish(ctx context.Context, event ordersaga.RecordedEvent) error
	// PublishBatch sends events in order without waiting for each acknowledgement in turn,
	// then waits for all; it returns how many of them, from the first, were acknowledged.
	// Errors: as Publish.
	PublishBatch(ctx context.Context, events []ordersaga.RecordedEvent) (int, error)
}

// Subscriber joins durable queue groups.
type Subscriber interface {
	// Subscribe joins the durable queue group opts.Group on the channels of opts.Types:
	// each message goes to one member of the group; a member that was away gets what was
	// published meanwhile when it returns. Errors: EINVALID for bad options, EUNAVAILABLE.
	Subscribe(ctx context.Context, opts SubscribeOptions) (Subscription, error)
}

// Bus is a connection to a message bus.
type Bus interface {
	Publisher
	Subscriber
	// Close ends every subscription of this connection (keeping their durable state on the
	// server) and disconnects.
	Close() error
}

// Subscription is one member's membership of a queue group.
type Subscription interface {
	// Close stops delivery to this member; the group's durable state stays on the server.
	Close() error
}

// Message is one delivery of an event.
type Message struct {
	// Event is the decoded envelope; zero when the payload could not be decoded.
	Event ordersaga.RecordedEvent
	// DecodeErr says why the payload could not be decoded; nil when Event is set.
	DecodeErr error
	// Raw is the payload as received, for dead letters.
	Raw []byte
	// Channel is where the message arrived.
	Channel string
	// Deliveries counts deliveries of this message to the group, 1 the first time.
	Deliveries int
	// PublishedAt is when the server took the message in, by its clock (zero if unknown).
	PublishedAt time.Time
}

// Handler processes a message. Returning nil acks it; an error leaves it for redelivery.
type Handler func(ctx context.Context, msg Message) error

// DeadLetterHandler receives a message that failed MaxDeliveries times (or could not be
// decoded), with the last error. Returning nil acks the message so the rest flows; an error
// leaves it for redelivery.
type DeadLetterHandler func(ctx context.Context, msg Message, cause error) error

// SubscribeOptions configure a subscription.
type SubscribeOptions struct {
	// Group names the durable queue group (and its durable state). Required.
	Group string
	// Types are the event types to receive. Required.
	Types []string
	// Handler processes each message. Required.
	Handler Handler
	// DeadLetter receives poison messages. Required: without one a poison message would be
	// either lost or redelivered forever.
	DeadLetter DeadLetterHandler
	// MaxDeliveries is how often a message is tried before it is dead-lettered; default 5.
	MaxDeliveries int
	// AckWait is how long the server waits for an ack before redelivering; default 30s.
	AckWait time.Duration
	// MaxInFlight bounds unacknowledged messages per member; default 64.
	MaxInFlight int
	// Concurrency is how many messages a member handles at once; default 1, in the order
	// they come. More suits handlers that wait (the restaurant's kitchen), at most
	// MaxInFlight.
	Concurrency int
}

// WithDefaults validates o and fills in its defaults.
func (o SubscribeOptions) WithDefaults() (SubscribeOptions, error) {
	switch {
	case o.Group == "":
		return o, ordersaga.Invalidf("group", "required")
	case len(o.Types) == 0:
		return o, ordersaga.Invalidf("types", "at least one event type is required")
	case o.Handler == nil:
		return o, ordersaga.Invalidf("handler", "required")
	case o.DeadLetter == nil:
		return o, ordersaga.Invalidf("dead_letter", "required")
	case o.MaxDeliveries < 0:
		return o, ordersaga.Invalidf("max_deliveries", "must not be negative, got %d", o.MaxDeliveries)
	case o.AckWait < 0:
		return o, ordersaga.Invalidf("ack_wait", "must not be negative, got %s", o.AckWait)
	case o.MaxInFlight < 0:
		return o, ordersaga.Invalidf("max_in_flight", "must not be negative, got %d", o.MaxInFlight)
	case o.Concurrency < 0:
		return o, ordersaga.Invalidf("concurrency", "must not be negative, got %d", o.Concurrency)
	}
	if o.MaxDeliveries == 0 {
		o.MaxDeliveries = 5
	}
	if o.AckWait == 0 {
		o.AckWait = 30 * time.Second
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = 64
	}
	if o.Concurrency == 0 {
		o.Concurrency = 1
	}
	if o.Concurrency > o.MaxInFlight {
		return o, ordersaga.Invalidf("concurrency", "must not exceed max_in_flight (%d), got %d", o.MaxInFlight, o.Concurrency)
	}
	return o, nil
}

// Dispatch runs the handler for msg and decides what the adapter does with it: ack is
// true when the message is done (handled, or dead-lettered) and false when it must be
// redelivered (also whenever ctx ends because the subscription closes). Adapters call it
// for every delivery, through a Dispatcher, so that all share one behaviour.
func Dispatch(ctx context.Context, opts SubscribeOptions, msg Message) (ack bool) {
	err := msg.DecodeErr
	if err == nil {
		if err = opts.Handler(ctx, msg); err == nil {
			return true
		}
		if msg.Deliveries < opts.MaxDeliveries || errors.Is(context.Cause(ctx), ErrSubscriptionClosed) {
			return false
		}
	}
	return opts.DeadLetter(ctx, msg, err) == nil
}

// envelope is the wire form of an event: self-describing, so that consumers get ids and
// versions, not just the payload.
type envelope struct {
	EventID    uuid.UUID          `json:"event_id"`
	Stream     string             `json:"stream"`
	StreamType string             `json:"stream_type"`
	Version    int64              `json:"version"`
	Type       string             `json:"type"`
	Position   int64              `json:"position"`
	Data       json.RawMessage    `json:"data"`
	Metadata   ordersaga.Metadata `json:"metadata"`
	RecordedAt time.Time          `json:"recorded_at"`
}

// Encode returns the wire form of event, the JSON of envelope. It is written by hand
// because encoding/json re-validates the data, which the store already holds as valid
// JSON; that was a tenth of the CPU of a publish. event.Data must be valid JSON (an empty
// one is encoded as null).
func Encode(event ordersaga.RecordedEvent) ([]byte, error) {
	b := make([]byte, 0, 320+len(event.Data))
	b = append(b, `{"event_id":"`...)
	b = append(b, event.ID.String()...) // hex and dashes: nothing to escape
	b = append(b, '"')
	b = appendField(b, "stream", event.StreamID)
	b = appendField(b, "stream_type", event.StreamType)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, event.Version, 10)
	b = appendField(b, "type", event.Type)
	b = append(b, `,"position":`...)
	b = strconv.AppendInt(b, event.Position, 10)
	b = append(b, `,"data":`...)
	if len(event.Data) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, event.Data...)
	}
	m := event.Metadata
	b = append(b, `,"metadata":{`...)
	first := true
	for _, kv := range [...][2]string{{"correlation_id", m.CorrelationID}, {"causation_id", m.CausationID},
		{"traceparent", m.TraceParent}, {"tracestate", m.TraceState}} {
		if kv[1] == "" {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, kv[0])
		b = append(b, ':')
		b = appendString(b, kv[1])
	}
	b = append(b, `},"recorded_at":"`...)
	b = event.RecordedAt.AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...), nil
}

// appendField appends ,"name":"value".
func appendField(b []byte, name, value string) []byte {
	b = append(b, ',')
	b = appendString(b, name)
	b = append(b, ':')
	return appendString(b, value)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// Decode parses the wire form; it fails on anything that is not a complete envelope.
func Decode(raw []byte) (ordersaga.RecordedEvent, error) {
	var e envelope
	if err := json.Unmarshal(raw, &e); err != nil {
		return ordersaga.RecordedEvent{}, fmt.Errorf("decode event envelope: %w", err)
	}
	if e.EventID == uuid.Nil || e.Stream == "" || e.Type == "" || e.Version < 1 {
		return ordersaga.RecordedEvent{}, errors.New("decode event envelope: event_id, stream, type and version are required")
	}
	return ordersaga.RecordedEvent{
		ID: e.EventID, StreamID: e.Stream, StreamType: e.StreamType, Version: e.Version, Position: e.Position,
		Type: e.Type, Data: e.Data, Metadata: e.Metadata, RecordedAt: e.RecordedAt,
	}, nil
}

// NewMessage decodes raw, which the server took in at publishedAt, into a Message; an
// undecodable payload yields a Message with a zero Event and the reason in DecodeErr, which
// Dispatch dead-letters with that reason.
func NewMessage(channel string, raw []byte, deliveries int, publishedAt time.Time) Message {
	event, err := Decode(raw)
	return Message{Event: event, DecodeErr: err, Raw: raw, Channel: channel, Deliveries: deliveries, PublishedAt: publishedAt}
}

// SendFunc sends one encoded event for PublishBatch and returns a wait for the server's
// acknowledgement of it. ctx carries the event's producer span (for headers that carry it).
type SendFunc func(ctx context.Context, event ordersaga.RecordedEvent, payload []byte) (wait func(ctx context.Context) error, err error)

// PublishBatch is the adapters' PublishBatch: it encodes the events and sends them in
// order with send, sending nothing after the first failure, then waits for each
// acknowledgement in turn (or for ctx), each event in a producer span of its own trace
// (in; nil traces nothing). It returns how many events, from the first, the server
// acknowledged, and the first failure as EUNAVAILABLE.
func PublishBatch(ctx context.Context, in *Instruments, events []ordersaga.RecordedEvent, send SendFunc) (int, error) {
	if in == nil {
		in = NewInstruments(nil, nil)
	}
	type sent struct {
		wait func(context.Context) error
		span trace.Span
	}
	waits := make([]sent, 0, len(events))
	var sendErr error
	for _, event := range events {
		spanCtx, span := in.startPublish(ctx, event)
		payload, err := Encode(event)
		var wait func(context.Context) error
		if err == nil {
			wait, err = send(spanCtx, event, payload)
		}
		if err != nil {
			endSpan(span, err)
			sendErr = err
			break
		}
		waits = append(waits, sent{wait, span})
	}
	for i, s := range waits {
		if err := s.wait(ctx); err != nil {
			for _, rest := range waits[i:] {
				endSpan(rest.span, err)
			}
			return i, Unavailable("publish", err)
		}
		endSpan(s.span, nil)
	}
	return len(waits), Unavailable("publish", sendErr)
}

// Unavailable wraps a bus failure as an EUNAVAILABLE application error. A refusal
// (Refused) stays what it is.
func Unavailable(op string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || ordersaga.ErrorCode(err) == ordersaga.EINVALID {
		return err
	}
	return &ordersaga.Error{Code: ordersaga.EUNAVAILABLE, Message: "the event bus is unavailable", Err: fmt.Errorf("%s: %w", op, err)}
}

// Refused is the error of a publish that the bus will never take, however often it is
// tried (a message over the server's size limit, say): EINVALID, naming the event, so that
// the relay parks it instead of retrying it ahead of everything after it.
func Refused(event ordersaga.RecordedEvent, err error) error {
	return &ordersaga.Error{Code: ordersaga.EINVALID,
		Message: fmt.Sprintf("the bus refuses event %s (%s, %s version %d): %v", event.ID, event.Type, event.StreamID, event.Version, err), Err: err}
}

// RedactURL returns NATS server URLs (one, or several separated by commas) with their
// passwords and tokens hidden, for logs and errors.
func RedactURL(urls string) string {
	parts := strings.Split(urls, ",")
	for i, part := range parts {
		if u, err := url.Parse(strings.TrimSpace(part)); err == nil && u.User != nil {
			if _, hasPassword := u.User.Password(); !hasPassword {
				u.User = url.User("xxxxx") // a token in the user part
			}
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}
