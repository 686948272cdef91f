package eventbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventbus"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		event ordersaga.RecordedEvent
	}{
		{"typical", ordersaga.RecordedEvent{ID: uuid.New(), StreamID: "order-42", StreamType: "order", Version: 3, Position: 9001,
			Type: "order-approved", Data: json.RawMessage(`{"order_id":"42","items":[1,2]}`),
			Metadata:   ordersaga.Metadata{CorrelationID: "saga-42", CausationID: "cmd-7", TraceParent: "00-abc-def-01", TraceState: "k=v"},
			RecordedAt: time.Date(2026, 11, 27, 4, 5, 6, 789000000, time.UTC)}},
		{"strings that need escaping", ordersaga.RecordedEvent{ID: uuid.New(), StreamID: `order-"quoted"\path`, StreamType: "order",
			Version: 1, Position: 1, Type: "order-created", Data: json.RawMessage(`{"s":"é \" \n"}`),
			Metadata:   ordersaga.Metadata{CorrelationID: "line\nbreak\ttab\x01ctl", CausationID: "ünïcödé ✓"},
			RecordedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))}},
		{"no metadata", ordersaga.RecordedEvent{ID: uuid.New(), StreamID: "customer-1", StreamType: "customer", Version: 12,
			Position: 1 << 62, Type: "account-credited", Data: json.RawMessage(`{}`), RecordedAt: time.Unix(0, 1).UTC()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := eventbus.Encode(tt.event)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(raw) {
				t.Fatalf("Encode produced invalid JSON: %s", raw)
			}
			got, err := eventbus.Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !got.RecordedAt.Equal(tt.event.RecordedAt) {
				t.Errorf("recorded_at = %v, want %v", got.RecordedAt, tt.event.RecordedAt)
			}
			got.RecordedAt, tt.event.RecordedAt = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, tt.event) {
				t.Errorf("round trip gave\n%+v\nwant\n%+v\nwire: %s", got, tt.event, raw)
			}
		})
	}
}

func TestDecodeRejectsWhatIsNotAnEnvelope(t *testing.T) {
	for _, raw := range []string{``, `not json`, `{}`, `{"event_id":"6f1c0d7e-0000-4000-8000-000000000000","stream":"order-1","type":"x"}`, `[1]`} {
		if _, err := eventbus.Decode([]byte(raw)); err == nil {
			t.Errorf("Decode(%q) succeeded", raw)
		}
	}
}

// TestAnUndecodablePayloadIsDeadLetteredWithTheReason dispatches payloads that are not
// event envelopes: the handler never sees them, and the dead letter says what was wrong.
func TestAnUndecodablePayloadIsDeadLetteredWithTheReason(t *testing.T) {
	for _, c := range []struct{ name, raw, want string }{
		{"not JSON", "not an envelope", "invalid character"},
		{"no event id", `{"stream":"order-1","type":"order-created","version":1}`, "event_id, stream, type and version are required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var cause error
			handled := false
			opts := eventbus.SubscribeOptions{MaxDeliveries: 5,
				Handler:    func(context.Context, eventbus.Message) error { handled = true; return nil },
				DeadLetter: func(_ context.Context, _ eventbus.Message, err error) error { cause = err; return nil }}
			ack := eventbus.Dispatch(context.Background(), opts, eventbus.NewMessage("order-created", []byte(c.raw), 1, time.Time{}))
			if !ack || handled || cause == nil || !strings.Contains(cause.Error(), c.want) {
				t.Errorf("ack %v, handled %v, dead letter cause %v; want it acked, unhandled, dead-lettered for %q", ack, handled, cause, c.want)
			}
		})
	}
}

// FuzzEnvelope checks that the hand-written encoder and the decoder describe one wire
// format: whatever an event holds, its encoding is valid JSON that decodes to it.
func FuzzEnvelope(f *testing.F) {
	f.Add("order-42", "order-created", int64(3), int64(9001), `{"a":1}`, "wf-1", "00-abc-01")
	f.Add("customer-\"x\"", "account-credited", int64(1), int64(1), `{}`, "", "\x01\t")
	f.Fuzz(func(t *testing.T, stream, typ string, version, position int64, data, correlation, traceparent string) {
		if version < 1 || stream == "" || typ == "" || !json.Valid([]byte(data)) {
			t.Skip()
		}
		for _, s := range []string{stream, typ, correlation, traceparent} {
			if !utf8.ValidString(s) { // the store and Temporal hold text: never invalid UTF-8
				t.Skip()
			}
		}
		in := ordersaga.RecordedEvent{ID: uuid.New(), StreamID: stream, StreamType: strings.Split(stream, "-")[0], Version: version,
			Position: position, Type: typ, Data: json.RawMessage(data),
			Metadata: ordersaga.Metadata{CorrelationID: correlation, TraceParent: traceparent}, RecordedAt: time.Unix(0, 1).UTC()}
		raw, err := eventbus.Encode(in)
		if err != nil || !json.Valid(raw) {
			t.Fatalf("Encode(%+v) = %s, %v: not valid JSON", in, raw, err)
		}
		out, err := eventbus.Decode(raw)
		if err != nil {
			t.Fatalf("Decode(%s): %v", raw, err)
		}
		var wantData, gotData any
		_ = json.Unmarshal(in.Data, &wantData)
		_ = json.Unmarshal(out.Data, &gotData)
		in.Data, out.Data = nil, nil
		if !reflect.DeepEqual(in, out) || !reflect.DeepEqual(wantData, gotData) {
			t.Errorf("round trip changed the event:\n in  %+v\n out %+v", in, out)
		}
	})
}

// TestPublishBatchCountsTheAcknowledgedPrefix sends five events through a fake server
// that refuses one at sending or at acknowledging: the count is of the events before it,
// nothing is sent after a refused send, and the failure is EUNAVAILABLE.
func TestPublishBatchCountsTheAcknowledgedPrefix(t *testing.T) {
	events := make([]ordersaga.RecordedEvent, 5)
	for i := range events {
		events[i] = ordersaga.RecordedEvent{ID: uuid.New(), StreamID: "order-1", Version: int64(i + 1), Type: "order-noted", Data: json.RawMessage(`{}`)}
	}
	refused := errors.New("refused")
	for _, c := range []struct {
		name                string
		sendFails, ackFails int // index of the refused event, -1 for none
		want, wantSent      int
	}{
		{"all acknowledged", -1, -1, 5, 5},
		{"the third send refused", 2, -1, 2, 2},
		{"the fourth acknowledgement refused", -1, 3, 3, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			sent := 0
			n, err := eventbus.PublishBatch(context.Background(), nil, events, func(_ context.Context, e ordersaga.RecordedEvent, _ []byte) (func(context.Context) error, error) {
				i := int(e.Version - 1)
				if i == c.sendFails {
					return nil, refused
				}
				sent++
				return func(context.Context) error {
					if i == c.ackFails {
						return refused
					}
					return nil
				}, nil
			})
			failed := c.sendFails >= 0 || c.ackFails >= 0
			if n != c.want || sent != c.wantSent || (err != nil) != failed || (failed && ordersaga.ErrorCode(err) != ordersaga.EUNAVAILABLE) {
				t.Errorf("PublishBatch = %d, %v after %d sends; want %d acknowledged of %d sent, failed: %v", n, err, sent, c.want, c.wantSent, failed)
			}
		})
	}
}

// TestRedactURLHidesCredentials checks user:password and token URLs, and lists of them.
func TestRedactURLHidesCredentials(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"nats://ordersaga:s3cret@nats:4222", "nats://ordersaga:xxxxx@nats:4222"},
		{"nats://s3cret@nats:4222,nats://u:s3cret@nats-2:4222", "nats://xxxxx@nats:4222,nats://u:xxxxx@nats-2:4222"},
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
	} {
		if got := eventbus.RedactURL(c.in); got != c.want {
			t.Errorf("RedactURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestSubscribeOptionsNameWhatIsWrongAndFillTheRest: each missing or negative setting is
// refused with its field's name; zero limits take the documented defaults; a member may
// handle as many messages at once as it has in flight, not more.
func TestSubscribeOptionsNameWhatIsWrongAndFillTheRest(t *testing.T) {
	valid := eventbus.SubscribeOptions{Group: "g", Types: []string{"order-created"},
		Handler:    func(context.Context, eventbus.Message) error { return nil },
		DeadLetter: func(context.Context, eventbus.Message, error) error { return nil }}
	for _, c := range []struct {
		field  string
		change func(*eventbus.SubscribeOptions)
	}{
		{"group", func(o *eventbus.SubscribeOptions) { o.Group = "" }},
		{"types", func(o *eventbus.SubscribeOptions) { o.Types = nil }},
		{"handler", func(o *eventbus.SubscribeOptions) { o.Handler = nil }},
		{"dead_letter", func(o *eventbus.SubscribeOptions) { o.DeadLetter = nil }},
		{"max_deliveries", func(o *eventbus.SubscribeOptions) { o.MaxDeliveries = -1 }},
		{"ack_wait", func(o *eventbus.SubscribeOptions) { o.AckWait = -time.Second }},
		{"max_in_flight", func(o *eventbus.SubscribeOptions) { o.MaxInFlight = -1 }},
		{"concurrency", func(o *eventbus.SubscribeOptions) { o.Concurrency = -1 }},
		{"concurrency", func(o *eventbus.SubscribeOptions) { o.Concurrency = 65 }}, // above the default 64 in flight
		{"concurrency", func(o *eventbus.SubscribeOptions) { o.MaxInFlight, o.Concurrency = 4, 5 }},
	} {
		o := valid
		c.change(&o)
		_, err := o.WithDefaults()
		var e *ordersaga.Error
		if !errors.As(err, &e) || e.Code != ordersaga.EINVALID || e.Field != c.field {
			t.Errorf("%+v: WithDefaults = %v, want EINVALID naming %s", o, err, c.field)
		}
	}

	got, err := valid.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if got.MaxDeliveries != 5 || got.AckWait != 30*time.Second || got.MaxInFlight != 64 || got.Concurrency != 1 {
		t.Errorf("defaults: %d deliveries, ack wait %s, %d in flight, concurrency %d; want 5, 30s, 64, 1",
			got.MaxDeliveries, got.AckWait, got.MaxInFlight, got.Concurrency)
	}
	set := valid
	set.MaxDeliveries, set.AckWait, set.MaxInFlight, set.Concurrency = 2, time.Second, 8, 8
	if got, err := set.WithDefaults(); err != nil || got.MaxDeliveries != 2 || got.AckWait != time.Second || got.MaxInFlight != 8 || got.Concurrency != 8 {
		t.Errorf("set limits came back as %+v, %v; want them kept", got, err)
	}
}

// TestDispatchRedeliversUntilTheLastDeliveryThenDeadLetters counts what a failing message
// gets on each delivery: redelivery before MaxDeliveries, the dead letter on it (and after
// it, for a message the server kept redelivering), and never a dead letter when the
// failure came from the subscription closing.
func TestDispatchRedeliversUntilTheLastDeliveryThenDeadLetters(t *testing.T) {
	event := validMessage(t).Raw
	deadLetters := 0
	deadLetterErr := error(nil)
	opts := eventbus.SubscribeOptions{MaxDeliveries: 3,
		Handler:    func(context.Context, eventbus.Message) error { return errors.New("poison") },
		DeadLetter: func(context.Context, eventbus.Message, error) error { deadLetters++; return deadLetterErr }}
	for delivery, wantAck := range map[int]bool{1: false, 2: false, 3: true, 4: true} {
		before := deadLetters
		ack := eventbus.Dispatch(context.Background(), opts, eventbus.NewMessage("order-created", event, delivery, time.Time{}))
		if ack != wantAck || (deadLetters-before == 1) != wantAck {
			t.Errorf("delivery %d of 3: ack %v with %d dead letters; want ack %v", delivery, ack, deadLetters-before, wantAck)
		}
	}
	// A dead letter that could not be written leaves the message for redelivery.
	deadLetterErr = errors.New("dead-letter table unreachable")
	if eventbus.Dispatch(context.Background(), opts, eventbus.NewMessage("order-created", event, 3, time.Time{})) {
		t.Error("a message whose dead letter failed was acked: it is lost")
	}
	// Closing the subscription fails the handler; that is no reason to dead-letter.
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(eventbus.ErrSubscriptionClosed)
	before := deadLetters
	if eventbus.Dispatch(ctx, opts, eventbus.NewMessage("order-created", event, 3, time.Time{})) || deadLetters != before {
		t.Errorf("a handler failing as its subscription closes got %d dead letters; want none, and redelivery", deadLetters-before)
	}
}
