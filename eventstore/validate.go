package eventstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
)

// Limits on what one Append may write. Larger payloads belong in blob storage with a
// reference in the event.
const (
	// MaxEventsPerAppend is the most events one Append may carry.
	MaxEventsPerAppend = 100
	// MaxEventBytes is the largest an event's data plus metadata may be, in bytes of JSON.
	MaxEventBytes = 64 << 10
	// MaxAppendBytes is the largest all events of one Append may be together.
	MaxAppendBytes = 1 << 20
	// MaxReadLimit is the most events one read returns.
	MaxReadLimit = 10000
	// maxTypeLength bounds event types.
	maxTypeLength = 200
)

var (
	// eventTypePattern: letters, digits, '_' and '-', dot-separated; usable as a NATS
	// Streaming channel and a JetStream subject token (no spaces, wildcards or empty tokens).
	eventTypePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$`)
)

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

// ValidateEventType returns an EINVALID error naming field if typ cannot be an event type.
func ValidateEventType(field, typ string) error {
	if typ == "" {
		return ordersaga.Invalidf(field, "required")
	}
	if len(typ) > maxTypeLength || !eventTypePattern.MatchString(typ) {
		return ordersaga.Invalidf(field, "%q is not an event type (letters, digits, '_', '-', "+
			"dot-separated, starting with a letter, at most %d characters)", typ, maxTypeLength)
	}
	return nil
}

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
	switch {
	case len(events) == 0:
		return nil, ordersaga.Invalidf("events", "at least one event is required")
	case len(events) > MaxEventsPerAppend:
		return nil, ordersaga.Invalidf("events", "%d events in one append; the limit is %d", len(events), MaxEventsPerAppend)
	}
	out := make([]encodedEvent, len(events))
	seen := make(map[uuid.UUID]int, len(events))
	total := 0
	for i, e := range events {
		field := fmt.Sprintf("events[%d]", i)
		if e.ID == uuid.Nil {
			return nil, ordersaga.Invalidf(field+".id", "required (a UUID the writer keeps across retries)")
		}
		if j, dup := seen[e.ID]; dup {
			return nil, ordersaga.Invalidf(field+".id", "%s repeats events[%d].id", e.ID, j)
		}
		seen[e.ID] = i
		if err := ValidateEventType(field+".type", e.Type); err != nil {
			return nil, err
		}
		if err := ValidateJSONObject(field+".data", e.Data); err != nil {
			return nil, err
		}
		meta, err := json.Marshal(e.Metadata)
		if err != nil {
			return nil, ordersaga.Invalidf(field+".metadata", "%v", err)
		}
		if size := len(e.Data) + len(meta); size > MaxEventBytes {
			return nil, ordersaga.Invalidf(field, "%d bytes of data and metadata; the limit is %d", size, MaxEventBytes)
		}
		total += len(e.Data) + len(meta)
		out[i] = encodedEvent{id: e.ID, typ: e.Type, data: string(e.Data), metadata: string(meta)}
	}
	if total > MaxAppendBytes {
		return nil, ordersaga.Invalidf("events", "%d bytes in one append; the limit is %d", total, MaxAppendBytes)
	}
	return out, nil
}

// ValidateJSONObject returns an EINVALID error naming field unless data is one JSON object
// that both CockroachDB and PostgreSQL can store (PostgreSQL's JSONB rejects \u0000).
func ValidateJSONObject(field string, data []byte) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return ordersaga.Invalidf(field, "required (a JSON object)")
	}
	if trimmed[0] != '{' || !json.Valid(trimmed) {
		return ordersaga.Invalidf(field, "must be a JSON object")
	}
	if bytes.Contains(trimmed, []byte(`\u0000`)) {
		return ordersaga.Invalidf(field, `must not contain the NUL character (\u0000)`)
	}
	return nil
}
