package eventbus_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

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
