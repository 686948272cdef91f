package api

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ordersaga/ordersaga"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
)

// The order timeline: what the saga did (Temporal's history), what the store recorded,
// when the bus published each event and when the read model reflected it, in one list in
// time order, with the gap before each entry. Each source has its own clock (Temporal's,
// the database's, the bus's); on one machine they agree, across machines a gap may be off
// by their skew.

// Sources of timeline entries, in the order entries at the same instant are listed.
const (
	sourceSaga      = "saga"
	sourceStore     = "store"
	sourceBus       = "bus"
	sourceReadModel = "read_model"
)

var sourceRank = map[string]int{sourceSaga: 0, sourceStore: 1, sourceBus: 2, sourceReadModel: 3}

func (s *orderServer) GetOrderTimeline(ctx context.Context, req *ordersagav1.GetOrderTimelineRequest) (*ordersagav1.GetOrderTimelineResponse, error) {
	if err := mayOperate(ctx); err != nil {
		return nil, err
	}
	stream, err := ordersaga.OrderStream(req.GetOrderId())
	if err != nil {
		return nil, err
	}
	// Marks first: the read model reflects only what the store holds, so every version
	// they name is among the events read after them.
	marks, err := s.reads.OrderMarks(ctx, req.GetOrderId())
	if err != nil {
		return nil, err
	}
	events, err := s.store.ReadStream(ctx, stream, 1, maxHistoryEvents+1)
	if err != nil {
		return nil, err
	}
	if len(events) > maxHistoryEvents {
		return nil, ordersaga.Errorf(ordersaga.EPRECONDITION, "order %s has more than %d events; page through them with EventStoreService.GetEvents",
			req.GetOrderId(), maxHistoryEvents)
	}
	steps, err := s.sagas.History(ctx, req.GetOrderId())
	switch {
	case ordersaga.ErrorCode(err) == ordersaga.ENOTFOUND && len(events) > 0:
		// Written past the saga (the event store API), or a saga deleted since: the rest.
	case ordersaga.ErrorCode(err) == ordersaga.ENOTFOUND:
		return nil, ordersaga.Errorf(ordersaga.ENOTFOUND, "order %s not found", req.GetOrderId())
	case err != nil:
		return nil, err
	}
	var entries []*ordersagav1.TimelineEntry
	entry := func(at time.Time, source, what, detail string) *ordersagav1.TimelineEntry {
		e := &ordersagav1.TimelineEntry{At: timestamppb.New(at), Source: source, What: what, Detail: detail}
		entries = append(entries, e)
		return e
	}
	for _, st := range steps {
		e := entry(st.At, sourceSaga, st.What, st.Detail)
		e.Attempt = st.Attempt
		if st.Duration > 0 {
			e.Duration = durationpb.New(st.Duration)
		}
	}
	types := map[int64]string{}
	for _, ev := range events {
		e := entry(ev.RecordedAt, sourceStore, ev.Type+" recorded", fmt.Sprintf("%s version %d, position %d", stream, ev.Version, ev.Position))
		e.Version, e.Position = ev.Version, ev.Position
		types[ev.Version] = ev.Type
	}
	for _, m := range marks {
		if !m.PublishedAt.IsZero() {
			e := entry(m.PublishedAt, sourceBus, types[m.Version]+" published", "")
			e.Version = m.Version
		}
		detail := "orders_view"
		if m.PublishedAt.IsZero() {
			detail += ", read from the store (a gap filled)"
		}
		e := entry(m.ProjectedAt, sourceReadModel, fmt.Sprintf("read model reflects version %d", m.Version), detail)
		e.Version = m.Version
	}
	slices.SortStableFunc(entries, func(a, b *ordersagav1.TimelineEntry) int {
		return cmp.Or(a.GetAt().AsTime().Compare(b.GetAt().AsTime()), cmp.Compare(sourceRank[a.GetSource()], sourceRank[b.GetSource()]))
	})
	for i := 1; i < len(entries); i++ {
		entries[i].SincePrevious = durationpb.New(entries[i].GetAt().AsTime().Sub(entries[i-1].GetAt().AsTime()))
	}
	return &ordersagav1.GetOrderTimelineResponse{Entries: entries}, nil
}
