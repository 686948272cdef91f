package eventstore

import (
	"encoding/json"
	"strings"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
)

// MaxReadLimit is the most events one read returns.
const MaxReadLimit = 10000

// ValidateStream returns an EINVALID error naming field if stream is not "<type>-<id>" as
// ordersaga.StreamFor makes it.
func ValidateStream(field, stream string) error {
	if stream == "" {
		return ordersaga.Invalidf(field, "required")
	}
	typ, id, _ := strings.Cut(stream, "-")
	if _, err := ordersaga.StreamFor(typ, id); err != nil {
		return ordersaga.Invalidf(field, "%q is not a stream name of the form <type>-<id> (%s)", stream, ordersaga.ErrorMessage(err))
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

// validateAppend checks every argument of Append and encodes the events. It returns an
// EINVALID error naming the first offending field.
func validateAppend(stream string, expected ordersaga.ExpectedVersion, events []ordersaga.EventData) ([]encodedEvent, error) {
	if err := ValidateStream("stream", stream); err != nil {
		return nil, err
	}
	if expected < ordersaga.AnyVersion {
		return nil, ordersaga.Invalidf("expected_version", "%d is neither a version (>= 0) nor AnyVersion (-1)", expected)
	}
	if err := ordersaga.ValidateEvents(events, appendFields); err != nil {
		return nil, err
	}
	out := make([]encodedEvent, len(events))
	for i, e := range events {
		meta, _ := json.Marshal(e.Metadata) // strings only: it cannot fail
		out[i] = encodedEvent{id: e.ID, typ: e.Type, data: string(e.Data), metadata: string(meta)}
	}
	return out, nil
}
