package ordersaga

import (
	"context"
	"encoding/json"
	"iter"
	"time"

	"github.com/google/uuid"
)

// ExpectedVersion states what the writer believes a stream's current version is. A
// non-negative value is an exact version; NoStream (0) means the stream must not exist yet;
// AnyVersion skips the check.
type ExpectedVersion int64

const (
	// AnyVersion appends after whatever the stream holds.
	AnyVersion ExpectedVersion = -1
	// NoStream appends only if the stream has no events yet (its version is 0).
	NoStream ExpectedVersion = 0
)

// Metadata travels with an event but is not part of its business content: it links the
// event to what caused it and to the trace it was written in. It is stored and published
// as a JSON object.
type Metadata struct {
	// CorrelationID ties together every event of one business flow (for example a saga's
	// workflow id).
	CorrelationID string `json:"correlation_id,omitempty"`
	// CausationID is the id of the command or event that caused this event.
	CausationID string `json:"causation_id,omitempty"`
	// TraceParent and TraceState are the W3C trace context of the writer.
	TraceParent string `json:"traceparent,omitempty"`
	TraceState  string `json:"tracestate,omitempty"`
}

// EventData is an event to append. ID must be chosen by the writer and kept across retries:
// it is what makes an append idempotent.
type EventData struct {
	ID       uuid.UUID
	Type     string
	Data     json.RawMessage // a JSON object
	Metadata Metadata
}

// StreamAppend is one stream's part of an append to several streams at once: its events,
// appended only if the stream is at Expected.
type StreamAppend struct {
	Stream   Stream
	Expected ExpectedVersion
	Events   []EventData
}

// RecordedEvent is an event as the store holds it.
type RecordedEvent struct {
	ID         uuid.UUID
	StreamID   string
	StreamType string
	Version    int64 // 1..n within the stream, gap-free
	Position   int64 // global, unique, increasing within one reader's view; not gap-free
	Type       string
	Data       json.RawMessage
	Metadata   Metadata
	RecordedAt time.Time
}

// ParkedEvent is a committed event that the bus refused for good, taken out of the outbox
// with the reason (the relay parks it so that the events after it flow).
type ParkedEvent struct {
	Event    RecordedEvent
	Reason   string
	ParkedAt time.Time
}

// AppendResult says where the events of one append landed, in the order they were given.
// Duplicate is true when every event was already stored by an earlier identical append and
// nothing new was written.
type AppendResult struct {
	Events    []AppendedEvent
	Duplicate bool
}

// AppendedEvent is the version and global position assigned to one appended event.
type AppendedEvent struct {
	ID         uuid.UUID
	Version    int64
	Position   int64
	RecordedAt time.Time
}

// LastVersion is the stream version after the append (0 for an empty result).
func (r AppendResult) LastVersion() int64 {
	if len(r.Events) == 0 {
		return 0
	}
	return r.Events[len(r.Events)-1].Version
}

// ReadAllOptions selects events to read across all streams, in position order.
type ReadAllOptions struct {
	// After is the position to read after; 0 reads from the beginning.
	After int64
	// Types, when not empty, keeps only events of these types.
	Types []string
	// Limit is the most events to return.
	Limit int
}

// Recorded returns the events of an append as the store recorded them, for publishing.
// events are the events given to Append, in the same order as r.Events.
func (r AppendResult) Recorded(stream Stream, events []EventData) []RecordedEvent {
	out := make([]RecordedEvent, len(r.Events))
	for i, a := range r.Events {
		e := events[i]
		out[i] = RecordedEvent{ID: a.ID, StreamID: stream.String(), StreamType: stream.Type(), Version: a.Version,
			Position: a.Position, Type: e.Type, Data: e.Data, Metadata: e.Metadata, RecordedAt: a.RecordedAt}
	}
	return out
}

// StreamVersion is a stream and its current version.
type StreamVersion struct {
	Stream  Stream
	Version int64
}

// StreamReader reads a stream a page at a time (the event store's ReadStream).
type StreamReader interface {
	ReadStream(ctx context.Context, stream Stream, fromVersion int64, limit int) ([]RecordedEvent, error)
}

// ReadWholeStream reads every event of stream in version order, a page at a time.
func ReadWholeStream(ctx context.Context, r StreamReader, stream Stream) ([]RecordedEvent, error) {
	return ReadStreamFrom(ctx, r, stream, 1)
}

// ReadStreamFrom reads the events of stream from version from on, in version order, a
// page at a time.
func ReadStreamFrom(ctx context.Context, r StreamReader, stream Stream, from int64) ([]RecordedEvent, error) {
	const page = 1000
	var all []RecordedEvent
	for {
		events, err := r.ReadStream(ctx, stream, from, page)
		if err != nil {
			return nil, err
		}
		all = append(all, events...)
		if len(events) < page {
			return all, nil
		}
		from = events[len(events)-1].Version + 1
	}
}

// Snapshot is a fold of a stream's first Version events, kept so that a reader folds only
// what came after; State is the folder's own JSON.
type Snapshot struct {
	Stream  string
	Version int64
	State   []byte
}

// StreamsReader reads streams one at a time and many at once (the event store's
// ReadStream and ReadStreams).
type StreamsReader interface {
	StreamReader
	ReadStreams(ctx context.Context, streams []Stream, limit int) ([]RecordedEvent, error)
}

// Bounds of the reads ReadPage makes: the event store's (eventstore.MaxStreamsPerRead and
// MaxReadLimit), with room for streams that grew after they were listed.
const (
	pageStreamsPerRead = 1000
	pageEventsPerRead  = 5000
	pageReadLimit      = 10000
)

// ReadPage reads every event of the streams of page (as StreamPages lists them), and
// returns each stream's events, in page order. Streams whose listed versions add up to a
// few thousand events share one read; a longer stream is read alone, a page at a time, as
// are the streams of a shared read that returned as many events as it may (they grew since
// they were listed).
func ReadPage(ctx context.Context, r StreamsReader, page []StreamVersion) ([][]RecordedEvent, error) {
	out := make([][]RecordedEvent, len(page))
	for start := 0; start < len(page); {
		end, events := start, int64(0)
		for end < len(page) && end-start < pageStreamsPerRead && events+page[end].Version <= pageEventsPerRead {
			events += page[end].Version
			end++
		}
		if end == start { // one stream longer than a shared read
			all, err := ReadWholeStream(ctx, r, page[start].Stream)
			if err != nil {
				return nil, err
			}
			out[start] = all
			start++
			continue
		}
		if err := readShared(ctx, r, page[start:end], out[start:end]); err != nil {
			return nil, err
		}
		start = end
	}
	return out, nil
}

// readShared reads the streams of page in one read into out (aligned with page), or stream
// by stream if that read may have been cut short.
func readShared(ctx context.Context, r StreamsReader, page []StreamVersion, out [][]RecordedEvent) error {
	streams := make([]Stream, len(page))
	index := make(map[string]int, len(page))
	for i, sv := range page {
		streams[i] = sv.Stream
		index[sv.Stream.String()] = i
	}
	events, err := r.ReadStreams(ctx, streams, pageReadLimit)
	if err != nil {
		return err
	}
	if len(events) < pageReadLimit {
		for _, e := range events {
			i := index[e.StreamID]
			out[i] = append(out[i], e)
		}
		return nil
	}
	for i, stream := range streams {
		if out[i], err = ReadWholeStream(ctx, r, stream); err != nil {
			return err
		}
	}
	return nil
}

// StreamLister lists streams with their versions a page at a time (the event store's
// StreamVersions).
type StreamLister interface {
	StreamVersions(ctx context.Context, streamType, afterStream string, limit int) ([]StreamVersion, error)
}

// StreamPageSize is how many streams StreamPages reads at a time when asked for 0.
const StreamPageSize = 1000

// StreamPages yields every stream of streamType whose name sorts after afterStream ("" for
// all), with its version, in stream name order, size streams a page (StreamPageSize when
// size is 0). A read error is yielded once, and ends the sequence.
func StreamPages(ctx context.Context, s StreamLister, streamType, afterStream string, size int) iter.Seq2[[]StreamVersion, error] {
	if size <= 0 {
		size = StreamPageSize
	}
	return func(yield func([]StreamVersion, error) bool) {
		for after := afterStream; ; {
			page, err := s.StreamVersions(ctx, streamType, after, size)
			if err != nil {
				yield(nil, err)
				return
			}
			if len(page) > 0 && !yield(page, nil) {
				return
			}
			if len(page) < size {
				return
			}
			after = page[len(page)-1].Stream.String()
		}
	}
}

// Streams yields every stream of streamType with its version, in stream name order; it is
// StreamPages one stream at a time.
func Streams(ctx context.Context, s StreamLister, streamType string) iter.Seq2[StreamVersion, error] {
	return func(yield func(StreamVersion, error) bool) {
		for page, err := range StreamPages(ctx, s, streamType, "", 0) {
			if err != nil {
				yield(StreamVersion{}, err)
				return
			}
			for _, sv := range page {
				if !yield(sv, nil) {
					return
				}
			}
		}
	}
}
