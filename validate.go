package ordersaga

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Limits of what one append may write; larger payloads belong in blob storage with a
// reference in the event.
const (
	// MaxEventsPerAppend is the most events one append may carry.
	MaxEventsPerAppend = 100
	// MaxEventBytes is the largest an event's data plus metadata may be, in bytes of JSON
	// (EventData.Size).
	MaxEventBytes = 64 << 10
	// MaxAppendBytes is the largest all events of one append may be together.
	MaxAppendBytes = 1 << 20
	// maxTypeLength bounds event types.
	maxTypeLength = 200
)

// Size is what the event weighs against MaxEventBytes: its data and its metadata as JSON.
func (e EventData) Size() int {
	meta, _ := json.Marshal(e.Metadata) // strings only: it cannot fail
	return len(e.Data) + len(meta)
}

// eventTypePattern: letters, digits, '_' and '-', dot-separated; usable as a NATS Streaming
// channel and a JetStream subject token (no spaces, wildcards or empty tokens).
var eventTypePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$`)

// ValidateEventType returns an EINVALID error naming field if typ cannot be an event type.
func ValidateEventType(field, typ string) error {
	if typ == "" {
		return Invalidf(field, "required")
	}
	if len(typ) > maxTypeLength || !eventTypePattern.MatchString(typ) {
		return Invalidf(field, "%q is not an event type (letters, digits, '_', '-', "+
			"dot-separated, starting with a letter, at most %d characters)", typ, maxTypeLength)
	}
	return nil
}

// ValidateJSONObject returns an EINVALID error naming field unless data is one JSON object
// that both CockroachDB and PostgreSQL can store (PostgreSQL's JSONB rejects \u0000).
func ValidateJSONObject(field string, data []byte) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return Invalidf(field, "required (a JSON object)")
	}
	if trimmed[0] != '{' || !json.Valid(trimmed) {
		return Invalidf(field, "must be a JSON object")
	}
	if !utf8.Valid(trimmed) {
		return Invalidf(field, "must be UTF-8")
	}
	return storableEscapes(field, trimmed)
}

// storableEscapes returns an EINVALID error naming field if valid JSON data escapes a
// character JSONB cannot hold: NUL (\u0000), or half of a UTF-16 surrogate pair.
func storableEscapes(field string, data []byte) error {
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		i++ // the escaped character; a backslash escaping a backslash is skipped with it
		if data[i] != 'u' {
			continue
		}
		r := hex4(data[i+1 : i+5])
		i += 4
		switch {
		case r == 0:
			return Invalidf(field, `must not contain the NUL character (\u0000)`)
		case r >= 0xD800 && r < 0xDC00 && i+6 < len(data) && data[i+1] == '\\' && data[i+2] == 'u':
			if low := hex4(data[i+3 : i+7]); low >= 0xDC00 && low < 0xE000 {
				i += 6 // a whole pair
				continue
			}
			return Invalidf(field, "escapes half of a UTF-16 surrogate pair (\\u%04x)", r)
		case r >= 0xD800 && r < 0xE000:
			return Invalidf(field, "escapes half of a UTF-16 surrogate pair (\\u%04x)", r)
		}
	}
	return nil
}

// hex4 is the value of four hexadecimal digits (valid JSON has them after \u).
func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// EventFields name the fields of a list of events in error messages, so that each
// caller's validation speaks its own vocabulary (the store's "events[0].type", the API's
// "events[0].event_type").
type EventFields struct {
	// List names the list as a whole ("events").
	List string
	// Item names event i; nil means List[i] ("events[0]").
	Item func(i int) string
	// ID, Type, Data and Metadata name an event's fields, after Item and a dot.
	ID, Type, Data, Metadata string
}

// ValidateEvents returns an EINVALID error naming the first field of events that is wrong:
// none or too many events, a missing or repeated id, a bad type, data that is not a JSON
// object, an event or a list over the size limits. Nothing else is checked.
func ValidateEvents(events []EventData, f EventFields) error {
	if f.Item == nil {
		f.Item = func(i int) string { return fmt.Sprintf("%s[%d]", f.List, i) }
	}
	switch {
	case len(events) == 0:
		return Invalidf(f.List, "at least one event is required")
	case len(events) > MaxEventsPerAppend:
		return Invalidf(f.List, "%d events in one append; the limit is %d", len(events), MaxEventsPerAppend)
	}
	seen := make(map[uuid.UUID]int, len(events))
	total := 0
	for i, e := range events {
		item := f.Item(i)
		if e.ID == uuid.Nil {
			return Invalidf(item+"."+f.ID, "required (a UUID the writer keeps across retries)")
		}
		if j, dup := seen[e.ID]; dup {
			return Invalidf(item+"."+f.ID, "%s repeats %s.%s", e.ID, f.Item(j), f.ID)
		}
		seen[e.ID] = i
		if err := ValidateEventType(item+"."+f.Type, e.Type); err != nil {
			return err
		}
		if err := ValidateJSONObject(item+"."+f.Data, e.Data); err != nil {
			return err
		}
		size := e.Size()
		if size > MaxEventBytes {
			return Invalidf(item, "%d bytes of data and metadata; the limit is %d", size, MaxEventBytes)
		}
		total += size
	}
	if total > MaxAppendBytes {
		return Invalidf(f.List, "%d bytes in one append; the limit is %d", total, MaxAppendBytes)
	}
	return nil
}
