package eventstore

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/internal/instrument"
)

// MaxReadLimit is the most events one read returns.
const MaxReadLimit = 10000

// requireStream refuses the zero Stream; any other is valid by construction.
func requireStream(stream ordersaga.Stream) error {
	if stream.IsZero() {
		return ordersaga.Invalidf("stream", "required")
	}
	return nil
}

// appendFields are the names Append's errors give an event's fields.
var appendFields = ordersaga.EventFields{List: "events", ID: "id", Type: "type", Data: "data", Metadata: "metadata"}

// encodedEvent is an event checked and serialized for the append statement.
type encodedEvent struct {
	id       uuid.UUID
	typ      string
	data     string
	metadata string
}

// validateAppend checks every argument of Append and encodes the events, with the trace
// context of ctx in the metadata of those that carry none (so the limits apply to what the
// caller sent, and the stored metadata may exceed them by that much). It returns an
// EINVALID error naming the first offending field.
func validateAppend(ctx context.Context, stream ordersaga.Stream, expected ordersaga.ExpectedVersion, events []ordersaga.EventData) ([]encodedEvent, error) {
	if err := requireStream(stream); err != nil {
		return nil, err
	}
	if expected < ordersaga.AnyVersion {
		return nil, ordersaga.Invalidf("expected_version", "%d is neither a version (>= 0) nor AnyVersion (-1)", expected)
	}
	if err := ordersaga.ValidateEvents(events, appendFields); err != nil {
		return nil, err
	}
	events = instrument.Stamp(ctx, events)
	out := make([]encodedEvent, len(events))
	for i, e := range events {
		meta, _ := json.Marshal(e.Metadata) // strings only: it cannot fail
		out[i] = encodedEvent{id: e.ID, typ: e.Type, data: string(e.Data), metadata: string(meta)}
	}
	return out, nil
}
