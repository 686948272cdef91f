package api

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
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
	Append(ctx context.Context, stream string, expected ordersaga.ExpectedVersion, events []ordersaga.EventData) (ordersaga.AppendResult, error)
	// ReadStream: EINVALID, EUNAVAILABLE, EINTERNAL.
	ReadStream(ctx context.Context, stream string, fromVersion int64, limit int) ([]ordersaga.RecordedEvent, error)
	// ReadAll: EINVALID, EUNAVAILABLE, EINTERNAL.
	ReadAll(ctx context.Context, opts ordersaga.ReadAllOptions) ([]ordersaga.RecordedEvent, error)
	// StreamVersion: EINVALID, EUNAVAILABLE, EINTERNAL.
	StreamVersion(ctx context.Context, stream string) (int64, error)
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

func (s *eventStoreServer) CreateEvent(ctx context.Context, req *ordersagav1.CreateEventRequest) (*ordersagav1.CreateEventResponse, error) {
	e := req.GetEvent()
	if e == nil {
		return nil, ordersaga.Invalidf("event", "required")
	}
	stream, err := ordersaga.StreamFor(e.GetAggregateType(), e.GetAggregateId())
	if err != nil {
		return nil, renameFields(err, func(f string) string { return "event." + f })
	}
	if e.GetChannel() != "" && e.GetChannel() != e.GetEventType() {
		return nil, ordersaga.Invalidf("event.channel", "%q differs from event_type %q; events are published on the channel named after their type, so leave channel empty or equal to event_type",
			e.GetChannel(), e.GetEventType())
	}
	data, err := newEventData("event", e.GetEventId(), e.GetEventType(), e.GetEventData(), e.GetMetadata())
	if err != nil {
		return nil, err
	}
	res, err := s.store.Append(ctx, stream, ordersaga.AnyVersion, []ordersaga.EventData{data})
	if err != nil {
		return nil, renameFields(err, storeFieldToAPI("event"))
	}
	a := res.Events[0]
	return &ordersagav1.CreateEventResponse{
		Version: a.Version, Position: a.Position, RecordedAt: timestamppb.New(a.RecordedAt), Duplicate: res.Duplicate,
	}, nil
}

func (s *eventStoreServer) AppendEvents(ctx context.Context, req *ordersagav1.AppendEventsRequest) (*ordersagav1.AppendEventsResponse, error) {
	stream, err := ordersaga.StreamFor(req.GetAggregateType(), req.GetAggregateId())
	if err != nil {
		return nil, err
	}
	expected, err := expectedVersion(req.GetExpectedVersion(), req.GetVersion())
	if err != nil {
		return nil, err
	}
	if len(req.GetEvents()) == 0 {
		return nil, ordersaga.Invalidf("events", "at least one event is required")
	}
	events := make([]ordersaga.EventData, len(req.GetEvents()))
	for i, e := range req.GetEvents() {
		events[i], err = newEventData(fmt.Sprintf("events[%d]", i), e.GetEventId(), e.GetEventType(), e.GetEventData(), e.GetMetadata())
		if err != nil {
			return nil, err
		}
	}
	res, err := s.store.Append(ctx, stream, expected, events)
	if err != nil {
		return nil, renameFields(err, storeFieldToAPI(""))
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

// storeFieldToAPI maps the store's field paths ("events[0].type") to the request's
// ("events[0].event_type", or "event.event_type" for CreateEvent's single event).
func storeFieldToAPI(single string) func(string) string {
	names := map[string]string{"id": "event_id", "type": "event_type", "data": "event_data", "metadata": "metadata"}
	return func(field string) string {
		head, leaf, found := strings.Cut(field, ".")
		if found {
			if name, ok := names[leaf]; ok {
				leaf = name
			}
		}
		if single != "" && strings.HasPrefix(head, "events[") {
			head = single
		}
		if !found {
			return head
		}
		return head + "." + leaf
	}
}

// renameFields rewrites the field path of an EINVALID error (and the same prefix of its
// message) so that it names the request's field.
func renameFields(err error, rename func(string) string) error {
	var appErr *ordersaga.Error
	if !errors.As(err, &appErr) || appErr.Field == "" {
		return err
	}
	renamed := rename(appErr.Field)
	return &ordersaga.Error{
		Code: appErr.Code, Field: renamed, Err: appErr.Err,
		Message: renamed + strings.TrimPrefix(appErr.Message, appErr.Field),
	}
}

func (s *eventStoreServer) GetEvents(ctx context.Context, req *ordersagav1.GetEventsRequest) (*ordersagav1.GetEventsResponse, error) {
	size := int(req.GetPageSize())
	switch {
	case size < 0 || size > MaxPageSize:
		return nil, ordersaga.Invalidf("page_size", "must be between 0 (default %d) and %d, got %d", DefaultPageSize, MaxPageSize, size)
	case size == 0:
		size = DefaultPageSize
	}
	byStream := req.GetAggregateId() != "" || req.GetAggregateType() != ""
	var stream string
	if byStream {
		var err error
		if stream, err = ordersaga.StreamFor(req.GetAggregateType(), req.GetAggregateId()); err != nil {
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

	cursor := pageCursor{Selection: selection(req)}
	if req.GetPageToken() != "" {
		var err error
		if cursor, err = decodePageToken(req.GetPageToken(), cursor.Selection); err != nil {
			return nil, err
		}
	} else if byStream {
		cursor.Next = max(req.GetFromVersion(), 1)
	} else {
		cursor.Next = req.GetAfterPosition()
	}

	// Read one more than a page to learn whether another page follows.
	var (
		events []ordersaga.RecordedEvent
		err    error
		resp   = &ordersagav1.GetEventsResponse{}
	)
	if byStream {
		if events, err = s.store.ReadStream(ctx, stream, cursor.Next, size+1); err != nil {
			return nil, err
		}
		if resp.StreamVersion, err = s.store.StreamVersion(ctx, stream); err != nil {
			return nil, err
		}
	} else {
		events, err = s.store.ReadAll(ctx, ordersaga.ReadAllOptions{After: cursor.Next, Types: req.GetEventTypes(), Limit: size + 1})
		if err != nil {
			return nil, renameFields(err, func(f string) string { return strings.Replace(f, "types", "event_types", 1) })
		}
	}
	if len(events) > size {
		events = events[:size]
		last := events[size-1]
		if byStream {
			cursor.Next = last.Version + 1
		} else {
			cursor.Next = last.Position
		}
		resp.NextPageToken = cursor.encode()
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

// pageCursor is what a page token carries: where the next page starts, and a fingerprint
// of the selection it belongs to.
type pageCursor struct {
	Selection uint64
	Next      int64 // next version (stream read) or the position to read after (all)
}

func selection(req *ordersagav1.GetEventsRequest) uint64 {
	h := sha256.New()
	fmt.Fprintf(h, "%q %q %q", req.GetAggregateType(), req.GetAggregateId(), req.GetEventTypes())
	return binary.BigEndian.Uint64(h.Sum(nil))
}

func (c pageCursor) encode() string {
	b := binary.BigEndian.AppendUint64(nil, c.Selection)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Next))
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(token string, sel uint64) (pageCursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != 16 {
		return pageCursor{}, ordersaga.Invalidf("page_token", "malformed; pass next_page_token from the previous response unchanged")
	}
	c := pageCursor{Selection: binary.BigEndian.Uint64(b), Next: int64(binary.BigEndian.Uint64(b[8:]))}
	if c.Selection != sel || c.Next < 0 {
		return pageCursor{}, ordersaga.Invalidf("page_token", "belongs to a different selection; keep aggregate and event_types unchanged while paging")
	}
	return c, nil
}
