package api

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ordersaga/ordersaga"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
)

// EventStore is what EventStoreService needs from the event store.
type EventStore interface {
	// Append: EINVALID, ECONFLICT, EUNAVAILABLE, EINTERNAL.
	Append(ctx context.Context, stream ordersaga.Stream, expected ordersaga.ExpectedVersion, events []ordersaga.EventData) (ordersaga.AppendResult, error)
	// ReadStream: EINVALID, EUNAVAILABLE, EINTERNAL.
	ReadStream(ctx context.Context, stream ordersaga.Stream, fromVersion int64, limit int) ([]ordersaga.RecordedEvent, error)
	// ReadAll: EINVALID, EUNAVAILABLE, EINTERNAL.
	ReadAll(ctx context.Context, opts ordersaga.ReadAllOptions) ([]ordersaga.RecordedEvent, error)
	// StreamVersion: EINVALID, EUNAVAILABLE, EINTERNAL.
	StreamVersion(ctx context.Context, stream ordersaga.Stream) (int64, error)
}

// Page sizes of GetEvents.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

type eventStoreServer struct {
	ordersagav1.UnimplementedEventStoreServiceServer
	store EventStore
}

// createFields and appendFields name an event's fields as the requests do.
var (
	createFields = ordersaga.EventFields{List: "event", Item: func(int) string { return "event" },
		ID: "event_id", Type: "event_type", Data: "event_data", Metadata: "metadata"}
	appendFields = ordersaga.EventFields{List: "events", ID: "event_id", Type: "event_type", Data: "event_data", Metadata: "metadata"}
)

func (s *eventStoreServer) CreateEvent(ctx context.Context, req *ordersagav1.CreateEventRequest) (*ordersagav1.CreateEventResponse, error) {
	if err := mayOperate(ctx); err != nil {
		return nil, err
	}
	e := req.GetEvent()
	if e == nil {
		return nil, ordersaga.Invalidf("event", "required")
	}
	stream, err := ordersaga.NewStreamWithFields("event.aggregate_type", "event.aggregate_id", e.GetAggregateType(), e.GetAggregateId())
	if err != nil {
		return nil, err
	}
	if err := notASagaStream(stream); err != nil {
		return nil, err
	}
	if e.GetChannel() != "" && e.GetChannel() != e.GetEventType() {
		return nil, ordersaga.Invalidf("event.channel", "%q differs from event_type %q; events are published on the channel named after their type, so leave channel empty or equal to event_type",
			e.GetChannel(), e.GetEventType())
	}
	data, err := newEventData("event", e.GetEventId(), e.GetEventType(), e.GetEventData(), e.GetMetadata())
	if err != nil {
		return nil, err
	}
	events := []ordersaga.EventData{data}
	if err := ordersaga.ValidateEvents(events, createFields); err != nil {
		return nil, err
	}
	res, err := s.store.Append(ctx, stream, ordersaga.AnyVersion, events)
	if err != nil {
		return nil, err
	}
	a := res.Events[0]
	return &ordersagav1.CreateEventResponse{
		Version: a.Version, Position: a.Position, RecordedAt: timestamppb.New(a.RecordedAt), Duplicate: res.Duplicate,
	}, nil
}

func (s *eventStoreServer) AppendEvents(ctx context.Context, req *ordersagav1.AppendEventsRequest) (*ordersagav1.AppendEventsResponse, error) {
	if err := mayOperate(ctx); err != nil {
		return nil, err
	}
	stream, err := ordersaga.NewStream(req.GetAggregateType(), req.GetAggregateId())
	if err != nil {
		return nil, err
	}
	if err := notASagaStream(stream); err != nil {
		return nil, err
	}
	expected, err := expectedVersion(req.GetExpectedVersion(), req.GetVersion())
	if err != nil {
		return nil, err
	}
	if len(req.GetEvents()) > ordersaga.MaxEventsPerAppend { // before converting any
		return nil, ordersaga.Invalidf("events", "%d events in one append; the limit is %d", len(req.GetEvents()), ordersaga.MaxEventsPerAppend)
	}
	events := make([]ordersaga.EventData, len(req.GetEvents()))
	for i, e := range req.GetEvents() {
		events[i], err = newEventData(fmt.Sprintf("events[%d]", i), e.GetEventId(), e.GetEventType(), e.GetEventData(), e.GetMetadata())
		if err != nil {
			return nil, err
		}
	}
	if err := ordersaga.ValidateEvents(events, appendFields); err != nil {
		return nil, err
	}
	res, err := s.store.Append(ctx, stream, expected, events)
	if err != nil {
		return nil, err
	}
	out := &ordersagav1.AppendEventsResponse{Duplicate: res.Duplicate}
	for _, a := range res.Events {
		out.Events = append(out.Events, &ordersagav1.AppendedEvent{EventId: a.ID.String(), Version: a.Version, Position: a.Position})
	}
	return out, nil
}

func expectedVersion(kind ordersagav1.ExpectedVersion, version int64) (ordersaga.ExpectedVersion, error) {
	switch kind {
	case ordersagav1.ExpectedVersion_EXPECTED_VERSION_UNSPECIFIED, ordersagav1.ExpectedVersion_EXPECTED_VERSION_ANY:
		return ordersaga.AnyVersion, nil
	case ordersagav1.ExpectedVersion_EXPECTED_VERSION_NO_STREAM:
		return ordersaga.NoStream, nil
	case ordersagav1.ExpectedVersion_EXPECTED_VERSION_EXACT:
		if version < 0 {
			return 0, ordersaga.Invalidf("version", "must not be negative, got %d", version)
		}
		return ordersaga.ExpectedVersion(version), nil
	}
	return 0, ordersaga.Invalidf("expected_version", "unknown value %d", kind)
}

// newEventData converts one event of a request; prefix is its field path.
func newEventData(prefix, id, typ, data, metadata string) (ordersaga.EventData, error) {
	var e ordersaga.EventData
	if id == "" {
		return e, ordersaga.Invalidf(prefix+".event_id", "required (a UUID the client keeps across retries)")
	}
	parsed, err := uuid.Parse(id)
	if err != nil {
		return e, ordersaga.Invalidf(prefix+".event_id", "%q is not a UUID", id)
	}
	e.ID, e.Type, e.Data = parsed, typ, json.RawMessage(data)
	if strings.TrimSpace(metadata) != "" {
		if err := json.Unmarshal([]byte(metadata), &e.Metadata); err != nil || strings.TrimSpace(metadata)[0] != '{' {
			return e, ordersaga.Invalidf(prefix+".metadata", "must be a JSON object with string values")
		}
	}
	return e, nil
}

// notASagaStream refuses a stream of the saga's own types: only its activities (and the
// menu commands) write those, so that no event appended here can move money, change an
// order or price one.
func notASagaStream(stream ordersaga.Stream) error {
	switch stream.Type() {
	case ordersaga.StreamTypeOrder, ordersaga.StreamTypeCustomer, ordersaga.StreamTypeRestaurant:
		return ordersaga.Errorf(ordersaga.EFORBIDDEN, "%s streams are written only by the order saga; the event store API reads them", stream.Type())
	}
	return nil
}

func (s *eventStoreServer) GetEvents(ctx context.Context, req *ordersagav1.GetEventsRequest) (*ordersagav1.GetEventsResponse, error) {
	if err := mayOperate(ctx); err != nil {
		return nil, err
	}
	size := int(req.GetPageSize())
	switch {
	case size < 0 || size > MaxPageSize:
		return nil, ordersaga.Invalidf("page_size", "must be between 0 (default %d) and %d, got %d", DefaultPageSize, MaxPageSize, size)
	case size == 0:
		size = DefaultPageSize
	}
	byStream := req.GetAggregateId() != "" || req.GetAggregateType() != ""
	var stream ordersaga.Stream
	if byStream {
		var err error
		if stream, err = ordersaga.NewStream(req.GetAggregateType(), req.GetAggregateId()); err != nil {
			return nil, err
		}
		if len(req.GetEventTypes()) > 0 {
			return nil, ordersaga.Invalidf("event_types", "filters reads of all events; leave it empty when reading one aggregate")
		}
		if req.GetAfterPosition() != 0 {
			return nil, ordersaga.Invalidf("after_position", "applies to reads of all events; use from_version to read one aggregate")
		}
	} else if req.GetFromVersion() != 0 {
		return nil, ordersaga.Invalidf("from_version", "applies to reads of one aggregate; set aggregate_type and aggregate_id, or use after_position")
	}
	for i, t := range req.GetEventTypes() {
		if err := ordersaga.ValidateEventType(fmt.Sprintf("event_types[%d]", i), t); err != nil {
			return nil, err
		}
	}

	// next is the next version (a stream read) or the position to read after (all).
	selection := fmt.Sprintf("events %q %q %q", req.GetAggregateType(), req.GetAggregateId(), req.GetEventTypes())
	var next int64
	switch {
	case req.GetPageToken() != "":
		cursor, err := decodePageToken(req.GetPageToken(), selection)
		if err != nil {
			return nil, err
		}
		if len(cursor) != 8 || int64(binary.BigEndian.Uint64(cursor)) < 0 {
			return nil, ordersaga.Invalidf("page_token", "malformed; pass next_page_token from the previous response unchanged")
		}
		next = int64(binary.BigEndian.Uint64(cursor))
	case byStream:
		next = max(req.GetFromVersion(), 1)
	default:
		next = req.GetAfterPosition()
	}

	// Read one more than a page to learn whether another page follows.
	var (
		events []ordersaga.RecordedEvent
		err    error
		resp   = &ordersagav1.GetEventsResponse{}
	)
	if byStream {
		if events, err = s.store.ReadStream(ctx, stream, next, size+1); err != nil {
			return nil, err
		}
		if resp.StreamVersion, err = s.store.StreamVersion(ctx, stream); err != nil {
			return nil, err
		}
	} else {
		events, err = s.store.ReadAll(ctx, ordersaga.ReadAllOptions{After: next, Types: req.GetEventTypes(), Limit: size + 1})
		if err != nil {
			return nil, err
		}
	}
	if len(events) > size {
		events = events[:size]
		last := events[size-1]
		if byStream {
			next = last.Version + 1
		} else {
			next = last.Position
		}
		resp.NextPageToken = encodePageToken(selection, binary.BigEndian.AppendUint64(nil, uint64(next)))
	}
	for _, e := range events {
		resp.Events = append(resp.Events, toProto(e))
	}
	return resp, nil
}

func toProto(e ordersaga.RecordedEvent) *ordersagav1.Event {
	meta, _ := json.Marshal(e.Metadata)
	typ, id, _ := strings.Cut(e.StreamID, "-")
	return &ordersagav1.Event{
		EventId: e.ID.String(), EventType: e.Type, AggregateId: id, AggregateType: typ,
		EventData: string(e.Data), Channel: e.Type, Metadata: string(meta),
		Version: e.Version, Position: e.Position, RecordedAt: timestamppb.New(e.RecordedAt),
	}
}
