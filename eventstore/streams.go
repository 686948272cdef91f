package eventstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/sqldb"
)

// MaxStreamsPerAppend is the most streams one AppendStreams may write.
const MaxStreamsPerAppend = 10

// AppendStreams appends to several streams atomically, in one statement: each stream's
// events go after its current version if its expectation holds, and if any expectation
// fails nothing is written. It keeps every guarantee of Append: gap-free versions, the
// outbox, and idempotent retries (if every event is already stored with the same stream,
// type and data, it returns the original results with Duplicate set and writes nothing).
// The results are in the order of appends.
//
// Errors: EINVALID (no or too many streams, a stream named twice, bad events, the limits of
// one append over all streams; field named, nothing written), ECONFLICT (a stale expected
// version, naming the stream; events already stored with other content or only some of
// them), EUNAVAILABLE, EINTERNAL.
func (s *Store) AppendStreams(ctx context.Context, appends []ordersaga.StreamAppend) (results []ordersaga.AppendResult, err error) {
	streams := make([]ordersaga.Stream, len(appends))
	events := make([][]ordersaga.EventData, len(appends))
	for i, a := range appends {
		streams[i], events[i] = a.Stream, a.Events
	}
	ctx, done := s.obs.startAppend(ctx, "eventstore.append_streams", streams...)
	defer func() { done(events, len(results) > 0 && results[0].Duplicate, err) }()
	encoded, err := validateStreams(ctx, appends)
	if err != nil {
		return nil, err
	}
	sql, args := appendStreamsSQL(appends, encoded)
	total := 0
	for _, e := range encoded {
		total += len(e)
	}
	for race := 0; ; race++ {
		var rows []streamAppended
		err := s.db.InStatement(ctx, func(q sqldb.Querier) error {
			r, err := q.Query(ctx, sql, args...)
			if err == nil {
				rows, err = pgx.CollectRows(r, func(row pgx.CollectableRow) (streamAppended, error) {
					var a streamAppended
					err := row.Scan(&a.stream, &a.event.ID, &a.event.Version, &a.event.Position, &a.event.RecordedAt)
					return a, err
				})
			}
			return err
		})
		if err == nil && len(rows) == total {
			return resultsByStream(appends, rows), nil
		}
		if err != nil && sqldb.SQLState(err) != "23505" {
			return nil, storeError("append to "+describeStreams(appends), err)
		}
		// An expectation failed or a unique key was taken: a retry of an append that was
		// stored, or another writer first.
		results, stored, err := s.previousStreams(ctx, appends, encoded)
		if err != nil || stored {
			return results, err
		}
		if err := s.staleStream(ctx, appends); err != nil {
			return nil, err
		}
		if race >= maxAnyVersionRaces {
			return nil, ordersaga.Errorf(ordersaga.ECONFLICT, "%s: lost the race for the next versions %d times; retry", describeStreams(appends), race+1)
		}
		// Only an AnyVersion stream lost the race for its next version: append after it.
	}
}

// streamAppended is one row the statement returns.
type streamAppended struct {
	stream string
	event  ordersaga.AppendedEvent
}

// validateStreams checks appends as Append checks one, and the limits of one append
// over all of them together; it encodes each stream's events.
func validateStreams(ctx context.Context, appends []ordersaga.StreamAppend) ([][]encodedEvent, error) {
	switch {
	case len(appends) == 0:
		return nil, ordersaga.Invalidf("appends", "at least one stream is required")
	case len(appends) > MaxStreamsPerAppend:
		return nil, ordersaga.Invalidf("appends", "%d streams in one append; the limit is %d", len(appends), MaxStreamsPerAppend)
	}
	var all []ordersaga.EventData
	seen := map[string]bool{}
	encoded := make([][]encodedEvent, len(appends))
	for i, a := range appends {
		e, err := validateAppend(ctx, a.Stream, a.Expected, a.Events)
		if err != nil {
			return nil, fmt.Errorf("appends[%d]: %w", i, err)
		}
		if seen[a.Stream.String()] {
			return nil, ordersaga.Invalidf(fmt.Sprintf("appends[%d].stream", i), "%s is named twice; give each stream once, with all its events", a.Stream)
		}
		seen[a.Stream.String()] = true
		encoded[i] = e
		all = append(all, a.Events...)
	}
	// Over all streams: the count, the sizes and distinct ids.
	if err := ordersaga.ValidateEvents(all, appendFields); err != nil {
		return nil, err
	}
	return encoded, nil
}

// appendStreamsSQL is the statement that appends to every stream of appends if all their
// expectations hold. Parameters: per stream its name, expected version and type, then per
// event its id, type, data and metadata.
func appendStreamsSQL(appends []ordersaga.StreamAppend, encoded [][]encodedEvent) (string, []any) {
	var streams, events strings.Builder
	var args []any
	param := func(v any, cast string) string {
		args = append(args, v)
		return fmt.Sprintf("$%d::%s", len(args), cast)
	}
	for i, a := range appends {
		if i > 0 {
			streams.WriteString(", ")
		}
		fmt.Fprintf(&streams, "(%d, %s, %s, %s)", i, param(a.Stream.String(), "TEXT"), param(int64(a.Expected), "INT8"), param(a.Stream.Type(), "TEXT"))
		for j, e := range encoded[i] {
			if events.Len() > 0 {
				events.WriteString(", ")
			}
			fmt.Fprintf(&events, "(%d, %s, %s, %s, %s, %d)", i, param(e.id, "UUID"), param(e.typ, "TEXT"), param(e.data, "JSONB"), param(e.metadata, "JSONB"), j+1)
		}
	}
	return `WITH s (sord, stream_id, expected, stream_type) AS (VALUES ` + streams.String() + `),
cur AS (
    SELECT s.sord, s.stream_id, s.expected, s.stream_type,
           (SELECT coalesce(max(e.version), 0) FROM events e WHERE e.stream_id = s.stream_id) AS v
    FROM s
), ok AS (
    SELECT bool_and(cur.expected < 0 OR cur.v = cur.expected) AS holds FROM cur
), ins AS (
    INSERT INTO events (stream_id, version, event_id, stream_type, event_type, data, metadata)
    SELECT cur.stream_id, cur.v + n.ord, n.id, cur.stream_type, n.typ, n.data, n.meta
    FROM cur JOIN (VALUES ` + events.String() + `) AS n (sord, id, typ, data, meta, ord) ON n.sord = cur.sord
    CROSS JOIN ok
    WHERE ok.holds
    RETURNING stream_id, event_id, version, position, recorded_at
), queued AS (
    INSERT INTO event_outbox (position) SELECT position FROM ins
)
SELECT stream_id, event_id, version, position, recorded_at FROM ins`, args
}

// resultsByStream sorts the returned rows into one result per stream, in version order.
func resultsByStream(appends []ordersaga.StreamAppend, rows []streamAppended) []ordersaga.AppendResult {
	index := make(map[string]int, len(appends))
	for i, a := range appends {
		index[a.Stream.String()] = i
	}
	results := make([]ordersaga.AppendResult, len(appends))
	for _, r := range rows {
		i := index[r.stream]
		results[i].Events = append(results[i].Events, r.event)
	}
	for _, r := range results {
		slices.SortFunc(r.Events, func(a, b ordersaga.AppendedEvent) int { return cmp.Compare(a.Version, b.Version) })
	}
	return results
}

// previousStreams reports whether every stream's events were appended before with the
// same content, and returns those results. Some streams or events stored and others not
// is ECONFLICT: an append is all or nothing, so its retry must be the same append.
func (s *Store) previousStreams(ctx context.Context, appends []ordersaga.StreamAppend, encoded [][]encodedEvent) ([]ordersaga.AppendResult, bool, error) {
	results := make([]ordersaga.AppendResult, len(appends))
	stored := 0
	for i, a := range appends {
		res, found, err := s.previousAppend(ctx, a.Stream, encoded[i])
		if err != nil {
			return nil, false, err
		}
		if found {
			results[i] = res
			stored++
		}
	}
	switch stored {
	case 0:
		return nil, false, nil
	case len(appends):
		return results, true, nil
	}
	return nil, false, ordersaga.Errorf(ordersaga.ECONFLICT,
		"the events of %d of the %d streams are already stored; an append is all or nothing, so retry it with exactly the events of the first attempt",
		stored, len(appends))
}

// staleStream returns an ECONFLICT error naming the first stream whose expected version
// is not its version now (or the error of reading it), nil if every exact expectation holds.
func (s *Store) staleStream(ctx context.Context, appends []ordersaga.StreamAppend) error {
	for _, a := range appends {
		if a.Expected == ordersaga.AnyVersion {
			continue
		}
		actual, err := s.StreamVersion(ctx, a.Stream)
		if err != nil {
			return err
		}
		if actual != int64(a.Expected) {
			return ordersaga.Errorf(ordersaga.ECONFLICT, "stream %s: expected version %s, actual version %d", a.Stream, describeExpected(a.Expected), actual)
		}
	}
	return nil
}

func describeStreams(appends []ordersaga.StreamAppend) string {
	names := make([]string, len(appends))
	for i, a := range appends {
		names[i] = a.Stream.String()
	}
	return strings.Join(names, ", ")
}
