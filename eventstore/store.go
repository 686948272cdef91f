// Package eventstore is the append-only event log on CockroachDB or PostgreSQL: its schema,
// appends with optimistic concurrency and idempotency, reads by stream, by global position
// and by type, and the transactional outbox that the relay drains onto the event bus.
package eventstore

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate creates or upgrades the store's schema. It is idempotent and safe to run from
// several processes at once.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, "eventstore", migrations, "migrations")
}

// CheckSchema returns an error wrapping sqldb.ErrSchemaBehind unless the store's schema is
// fully migrated; it changes nothing.
func CheckSchema(ctx context.Context, db *sqldb.DB) error {
	return db.CheckMigrated(ctx, "eventstore", migrations, "migrations")
}

// Store is the event store.
type Store struct {
	db  *sqldb.DB
	obs instruments
}

// New returns a store on db. The schema must have been migrated (see Migrate).
func New(db *sqldb.DB) *Store {
	return &Store{db: db, obs: newInstruments(db)}
}

// appendSQL returns the statement that appends n events in one round trip. It reads the
// stream's version, inserts the events after it only if the expectation holds ($2 < 0
// means any version), and queues them in the outbox; no row comes back when the
// expectation failed. Parameters: $1 stream, $2 expected version, $3 stream type, then id,
// type, data and metadata of each event.
//
// Appends to a new stream (NoStream, how every saga starts) read nothing: they insert
// versions 1..n, and the unique (stream, version) key rejects them if the stream exists.
// Avoiding the read matters on PostgreSQL, whose serializable isolation locks index reads
// per page and so would make new streams with neighbouring names abort each other.
func appendSQL(n int, expected ordersaga.ExpectedVersion) string {
	if expected == ordersaga.NoStream {
		return appendToNewStream[n]
	}
	return appendAfterVersion[n]
}

var appendAfterVersion, appendToNewStream = buildAppendStatements()

func buildAppendStatements() (afterVersion, newStream [ordersaga.MaxEventsPerAppend + 1]string) {
	for n := 1; n <= ordersaga.MaxEventsPerAppend; n++ {
		var rows strings.Builder
		for i := range n {
			if i > 0 {
				rows.WriteString(", ")
			}
			p := 4 + 4*i
			fmt.Fprintf(&rows, "($%d::UUID, $%d::TEXT, $%d::JSONB, $%d::JSONB, %d)", p, p+1, p+2, p+3, i+1)
		}
		insert := func(from, version, where string) string {
			return `WITH ins AS (
    INSERT INTO events (stream_id, version, event_id, stream_type, event_type, data, metadata)
    SELECT $1, ` + version + `, e.id, $3, e.typ, e.data, e.meta
    FROM ` + from + `(VALUES ` + rows.String() + `) AS e (id, typ, data, meta, ord)
    WHERE ` + where + `
    RETURNING event_id, version, position, recorded_at
), queued AS (
    INSERT INTO event_outbox (position) SELECT position FROM ins
)
SELECT event_id, version, position, recorded_at FROM ins ORDER BY version`
		}
		afterVersion[n] = `WITH cur AS (SELECT coalesce(max(version), 0) AS v FROM events WHERE stream_id = $1), ` +
			strings.TrimPrefix(insert("cur, ", "cur.v + e.ord", "$2::INT8 < 0 OR cur.v = $2::INT8"), "WITH ")
		newStream[n] = insert("", "e.ord", "$2::INT8 = 0")
	}
	return afterVersion, newStream
}

// maxAnyVersionRaces bounds how often an AnyVersion append retries after losing a race
// for the next version to a concurrent writer.
const maxAnyVersionRaces = 20

// Append writes events to the end of stream atomically, checking expected against the
// stream's current version. Retried appends are idempotent: if every event id is already
// stored with the same stream, type and data, Append returns the original versions and
// positions with Duplicate set and writes nothing.
//
// Errors: EINVALID (bad argument, field named; nothing written), ECONFLICT (stale expected
// version, the message gives the actual one; or an event id already stored with different
// content), EUNAVAILABLE (database unreachable), EINTERNAL.
func (s *Store) Append(ctx context.Context, stream ordersaga.Stream, expected ordersaga.ExpectedVersion, events []ordersaga.EventData) (res ordersaga.AppendResult, err error) {
	ctx, done := s.obs.startAppend(ctx, "eventstore.append", stream)
	defer func() { done([][]ordersaga.EventData{events}, res.Duplicate, err) }()
	encoded, err := validateAppend(ctx, stream, expected, events)
	if err != nil {
		return ordersaga.AppendResult{}, err
	}
	n := len(encoded)
	args := make([]any, 0, 3+4*n)
	args = append(args, stream.String(), int64(expected), stream.Type())
	for _, e := range encoded {
		args = append(args, e.id, e.typ, e.data, e.metadata)
	}
	for race := 0; ; race++ {
		var appended []ordersaga.AppendedEvent
		// The append is one statement, so it is its own transaction: one round trip.
		err := s.db.InStatement(ctx, func(q sqldb.Querier) error {
			rows, err := q.Query(ctx, appendSQL(n, expected), args...)
			if err != nil {
				return fmt.Errorf("append %s: %w", stream, err)
			}
			appended, err = pgx.CollectRows(rows, scanAppended)
			if err != nil {
				return fmt.Errorf("append %s: %w", stream, err)
			}
			return nil
		})
		if err == nil && len(appended) == n {
			return ordersaga.AppendResult{Events: appended}, nil
		}
		if err != nil && sqldb.SQLState(err) != "23505" {
			return ordersaga.AppendResult{}, storeError("append to "+stream.String(), err)
		}
		// The expectation failed, or a unique key was taken: either these events were
		// stored before (an idempotent retry), or another writer got there first.
		if res, found, err := s.previousAppend(ctx, stream, encoded); err != nil || found {
			return res, err
		}
		if expected == ordersaga.AnyVersion && race < maxAnyVersionRaces {
			continue // another writer took the next version; append after it
		}
		actual, err := s.StreamVersion(ctx, stream)
		if err != nil {
			return ordersaga.AppendResult{}, err
		}
		if expected == ordersaga.AnyVersion {
			return ordersaga.AppendResult{}, ordersaga.Errorf(ordersaga.ECONFLICT,
				"stream %s: lost the race for the next version %d times (now at version %d); retry", stream, maxAnyVersionRaces+1, actual)
		}
		return ordersaga.AppendResult{}, ordersaga.Errorf(ordersaga.ECONFLICT,
			"stream %s: expected version %s, actual version %d", stream, describeExpected(expected), actual)
	}
}

func describeExpected(v ordersaga.ExpectedVersion) string {
	if v == ordersaga.NoStream {
		return "0 (no stream)"
	}
	return fmt.Sprint(int64(v))
}

func scanAppended(row pgx.CollectableRow) (ordersaga.AppendedEvent, error) {
	var a ordersaga.AppendedEvent
	err := row.Scan(&a.ID, &a.Version, &a.Position, &a.RecordedAt)
	return a, err
}

// previousAppendSQL finds the stored events with the given ids and whether their content
// matches the content given now.
const previousAppendSQL = `
SELECT i.ord, e.event_id, e.stream_id, e.version, e.position, e.recorded_at,
       e.event_type = i.typ AND e.data = i.data::JSONB
FROM unnest($1::UUID[], $2::TEXT[], $3::TEXT[]) WITH ORDINALITY AS i (id, typ, data, ord)
JOIN events e ON e.event_id = i.id
ORDER BY i.ord`

// previousAppend reports whether events were all appended to stream before with the same
// content, and returns that append's result. Some but not all of them stored, or stored
// with other content or in another stream, is ECONFLICT. None stored is (zero, false, nil).
func (s *Store) previousAppend(ctx context.Context, stream ordersaga.Stream, events []encodedEvent) (ordersaga.AppendResult, bool, error) {
	n := len(events)
	ids, types, data := make([]uuid.UUID, n), make([]string, n), make([]string, n)
	for i, e := range events {
		ids[i], types[i], data[i] = e.id, e.typ, e.data
	}
	type stored struct {
		ord      int
		event    ordersaga.AppendedEvent
		stream   string
		sameBody bool
	}
	var found []stored
	err := s.db.InStatement(ctx, func(q sqldb.Querier) error {
		rows, err := q.Query(ctx, previousAppendSQL, ids, types, data)
		if err != nil {
			return err
		}
		found, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (stored, error) {
			var f stored
			err := row.Scan(&f.ord, &f.event.ID, &f.stream, &f.event.Version, &f.event.Position, &f.event.RecordedAt, &f.sameBody)
			return f, err
		})
		return err
	})
	if err != nil {
		return ordersaga.AppendResult{}, false, storeError("look up event ids", err)
	}
	res := ordersaga.AppendResult{Duplicate: true}
	for _, f := range found {
		if f.stream != stream.String() || !f.sameBody {
			return ordersaga.AppendResult{}, false, &ordersaga.Error{Code: ordersaga.ECONFLICT, Field: fmt.Sprintf("events[%d].id", f.ord-1),
				Message: fmt.Sprintf("events[%d].id: %s is already stored (stream %s, version %d) with different content", f.ord-1, f.event.ID, f.stream, f.event.Version)}
		}
		res.Events = append(res.Events, f.event)
	}
	switch len(res.Events) {
	case 0:
		return ordersaga.AppendResult{}, false, nil
	case n:
		return res, true, nil
	}
	return ordersaga.AppendResult{}, false, ordersaga.Errorf(ordersaga.ECONFLICT,
		"%d of the %d event ids are already stored; an append is all or nothing, so retry it with exactly the events of the first attempt",
		len(res.Events), n)
}

// StreamVersion returns the version of stream's last event, 0 if it has none.
//
// Errors: EINVALID, EUNAVAILABLE, EINTERNAL.
func (s *Store) StreamVersion(ctx context.Context, stream ordersaga.Stream) (int64, error) {
	if err := requireStream(stream); err != nil {
		return 0, err
	}
	var v int64
	err := s.db.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM events WHERE stream_id = $1`, stream.String()).Scan(&v)
	if err != nil {
		return 0, storeError("read version of "+stream.String(), err)
	}
	return v, nil
}

// CountEvents returns how many events the streams of streamType hold (one scan of the
// events table: for a progress bar's total, not for a hot path).
//
// Errors: EUNAVAILABLE, EINTERNAL.
func (s *Store) CountEvents(ctx context.Context, streamType string) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM events WHERE stream_type = $1`, streamType).Scan(&n)
	return n, storeError("count the events of "+streamType+" streams", err)
}

// StreamVersions returns, in stream order, up to limit streams of streamType whose ids
// sort after afterStream, each with its current version: the index of what exists, for
// reconciliation and verification.
//
// Errors: EINVALID, EUNAVAILABLE, EINTERNAL.
func (s *Store) StreamVersions(ctx context.Context, streamType, afterStream string, limit int) ([]ordersaga.StreamVersion, error) {
	if err := validateLimit(limit); err != nil {
		return nil, err
	}
	var out []ordersaga.StreamVersion
	err := s.db.InStatement(ctx, func(q sqldb.Querier) error {
		rows, err := q.Query(ctx, `SELECT stream_id, max(version) FROM events
		WHERE stream_type = $1 AND stream_id > $2 GROUP BY stream_id ORDER BY stream_id LIMIT $3`, streamType, afterStream, limit)
		if err == nil {
			out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (ordersaga.StreamVersion, error) {
				var name string
				var v ordersaga.StreamVersion
				if err := row.Scan(&name, &v.Version); err != nil {
					return v, err
				}
				v.Stream, err = ordersaga.ParseStream(name)
				return v, err
			})
		}
		return err
	})
	return out, storeError("list streams", err)
}

// VersionGaps returns up to limit streams whose versions are not exactly 1..n. The schema
// and Append make that impossible; `ordersaga verify` checks it anyway.
//
// Errors: EUNAVAILABLE, EINTERNAL.
func (s *Store) VersionGaps(ctx context.Context, limit int) ([]string, error) {
	var gaps []string
	err := s.db.InStatement(ctx, func(q sqldb.Querier) error {
		rows, err := q.Query(ctx, `SELECT stream_id FROM events GROUP BY stream_id
		HAVING count(*) <> max(version) OR min(version) <> 1 ORDER BY stream_id LIMIT $1`, limit)
		if err == nil {
			gaps, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		return err
	})
	return gaps, storeError("check versions", err)
}

const eventColumns = `event_id, stream_id, stream_type, version, position, event_type, data, metadata, recorded_at`

// ReadStream returns up to limit events of stream with version >= fromVersion, in version
// order. A stream with no events reads as empty, not as an error.
//
// Errors: EINVALID (bad stream, fromVersion < 1, limit outside 1..MaxReadLimit),
// EUNAVAILABLE, EINTERNAL.
func (s *Store) ReadStream(ctx context.Context, stream ordersaga.Stream, fromVersion int64, limit int) ([]ordersaga.RecordedEvent, error) {
	if err := requireStream(stream); err != nil {
		return nil, err
	}
	if fromVersion < 1 {
		return nil, ordersaga.Invalidf("from_version", "must be at least 1, got %d", fromVersion)
	}
	if err := validateLimit(limit); err != nil {
		return nil, err
	}
	return s.query(ctx, "read "+stream.String(), `SELECT `+eventColumns+` FROM events
		WHERE stream_id = $1 AND version >= $2 ORDER BY version LIMIT $3`, stream.String(), fromVersion, limit)
}

// MaxStreamsPerRead is the most streams one ReadStreams reads.
const MaxStreamsPerRead = 1000

// ReadStreams returns the events of streams, in stream name and version order, up to limit
// of them: the way to read many short streams in one round trip (a rebuild, verify). A
// caller that gets limit events may not have them all, and reads on stream by stream.
//
// Errors: EINVALID (no streams or more than MaxStreamsPerRead, a bad stream, limit outside
// 1..MaxReadLimit), EUNAVAILABLE, EINTERNAL.
func (s *Store) ReadStreams(ctx context.Context, streams []ordersaga.Stream, limit int) ([]ordersaga.RecordedEvent, error) {
	ids, err := streamIDs(streams)
	if err != nil {
		return nil, err
	}
	if err := validateLimit(limit); err != nil {
		return nil, err
	}
	return s.query(ctx, "read streams", `SELECT `+eventColumns+` FROM events
		WHERE stream_id = ANY($1::TEXT[]) ORDER BY stream_id, version LIMIT $2`, ids, limit)
}

// streamIDs names streams, 1 to MaxStreamsPerRead of them (EINVALID otherwise).
func streamIDs(streams []ordersaga.Stream) ([]string, error) {
	if len(streams) == 0 || len(streams) > MaxStreamsPerRead {
		return nil, ordersaga.Invalidf("streams", "read 1 to %d streams at a time, not %d", MaxStreamsPerRead, len(streams))
	}
	ids := make([]string, len(streams))
	for i, stream := range streams {
		if stream.IsZero() {
			return nil, ordersaga.Invalidf(fmt.Sprintf("streams[%d]", i), "required")
		}
		ids[i] = stream.String()
	}
	return ids, nil
}

// ReadAll returns events with a position greater than opts.After, in position order.
// Positions may commit out of order (DESIGN.md, invariant 6): a reader that needs every event must not assume that reading after the
// last position it saw finds all later commits.
//
// Errors: EINVALID, EUNAVAILABLE, EINTERNAL.
func (s *Store) ReadAll(ctx context.Context, opts ordersaga.ReadAllOptions) ([]ordersaga.RecordedEvent, error) {
	if opts.After < 0 {
		return nil, ordersaga.Invalidf("after_position", "must not be negative, got %d", opts.After)
	}
	if err := validateLimit(opts.Limit); err != nil {
		return nil, err
	}
	for i, t := range opts.Types {
		if err := ordersaga.ValidateEventType(fmt.Sprintf("types[%d]", i), t); err != nil {
			return nil, err
		}
	}
	if len(opts.Types) == 0 {
		return s.query(ctx, "read all", `SELECT `+eventColumns+` FROM events
			WHERE position > $1 ORDER BY position LIMIT $2`, opts.After, opts.Limit)
	}
	return s.query(ctx, "read all", `SELECT `+eventColumns+` FROM events
		WHERE event_type = ANY($3::TEXT[]) AND position > $1 ORDER BY position LIMIT $2`, opts.After, opts.Limit, opts.Types)
}

func validateLimit(limit int) error {
	if limit < 1 || limit > MaxReadLimit {
		return ordersaga.Invalidf("limit", "must be between 1 and %d, got %d", MaxReadLimit, limit)
	}
	return nil
}

// Unpublished returns up to limit committed events that are still in the outbox and were
// recorded at least olderThan ago (by the database's clock), in position order. The grace
// period leaves fresh events to the writer's own inline publish.
//
// Errors: EINVALID, EUNAVAILABLE, EINTERNAL.
func (s *Store) Unpublished(ctx context.Context, olderThan time.Duration, limit int) ([]ordersaga.RecordedEvent, error) {
	if olderThan < 0 {
		return nil, ordersaga.Invalidf("older_than", "must not be negative, got %s", olderThan)
	}
	if err := validateLimit(limit); err != nil {
		return nil, err
	}
	return s.query(ctx, "read outbox", `SELECT `+prefixed("e.", eventColumns)+`
		FROM event_outbox o JOIN events e ON e.position = o.position
		WHERE e.recorded_at <= now() - $1::INT8 * INTERVAL '1 microsecond'
		ORDER BY o.position LIMIT $2`, olderThan.Microseconds(), limit)
}

// Claim takes, for owner (a relay), up to limit committed events that are still in the
// outbox, were recorded at least olderThan ago (by the database's clock, leaving fresh
// events to the writer's inline publish) and no other relay holds: never claimed, their
// lease run out, or owner's own. It holds them for lease and returns them in position
// order. One statement: relays that claim at once conflict, and the one retried (as
// every transaction is) takes the rows after the other's. Several relays so divide the
// outbox; the events of one that died are taken over when its lease runs out.
//
// Errors: EINVALID (owner, a negative duration, limit), EUNAVAILABLE, EINTERNAL.
func (s *Store) Claim(ctx context.Context, owner string, olderThan, lease time.Duration, limit int) ([]ordersaga.RecordedEvent, error) {
	if err := validateClaim(owner, olderThan, lease); err != nil {
		return nil, err
	}
	if err := validateLimit(limit); err != nil {
		return nil, err
	}
	// The outbox is walked alone in position order (its queued_at is its event's
	// recorded_at), and the claimed events are looked up by position, so that a claim
	// reads about limit rows however long the outbox or the store.
	return s.query(ctx, "claim outbox events", claimSQL, owner, lease.Microseconds(), olderThan.Microseconds(), limit)
}

// claimSQL claims for $1, for $2 µs, up to $4 outbox rows queued at least $3 µs ago.
const claimSQL = `WITH claimed AS (
			UPDATE event_outbox SET claimed_by = $1, claimed_until = now() + $2::INT8 * INTERVAL '1 microsecond'
			WHERE position = ANY(ARRAY(
				SELECT position FROM event_outbox
				WHERE queued_at <= now() - $3::INT8 * INTERVAL '1 microsecond'
					AND (claimed_until IS NULL OR claimed_until <= now() OR claimed_by = $1)
				ORDER BY position LIMIT $4))
			RETURNING position)
		SELECT ` + eventColumns + ` FROM events WHERE position = ANY(ARRAY(SELECT position FROM claimed))
		ORDER BY position`

// Release gives up owner's hold on the events at positions that are still in the outbox,
// so that another relay may take them at once (a relay stopping with events it did not
// publish). Positions owner does not hold are left alone.
//
// Errors: EINVALID (owner), EUNAVAILABLE, EINTERNAL.
func (s *Store) Release(ctx context.Context, owner string, positions []int64) error {
	if err := validateClaim(owner, 0, 0); err != nil {
		return err
	}
	if len(positions) == 0 {
		return nil
	}
	_, err := s.db.Exec(ctx, `UPDATE event_outbox SET claimed_by = NULL, claimed_until = NULL
		WHERE position = ANY($1::INT8[]) AND claimed_by = $2`, positions, owner)
	return storeError("release outbox events", err)
}

// ValidateOwner refuses a name a relay cannot claim outbox events under: empty, over
// MaxOwnerLength bytes, not UTF-8 or holding a NUL byte (EINVALID, naming owner).
func ValidateOwner(owner string) error {
	switch {
	case owner == "" || len(owner) > MaxOwnerLength:
		return ordersaga.Invalidf("owner", "must be 1 to %d bytes, got %d", MaxOwnerLength, len(owner))
	case !utf8.ValidString(owner) || strings.ContainsRune(owner, 0):
		return ordersaga.Invalidf("owner", "must be UTF-8 text without NUL bytes")
	}
	return nil
}

func validateClaim(owner string, olderThan, lease time.Duration) error {
	if err := ValidateOwner(owner); err != nil {
		return err
	}
	switch {
	case olderThan < 0:
		return ordersaga.Invalidf("older_than", "must not be negative, got %s", olderThan)
	case lease < 0:
		return ordersaga.Invalidf("lease", "must not be negative, got %s", lease)
	}
	return nil
}

// MaxOwnerLength bounds the name a relay claims outbox events under.
const MaxOwnerLength = 200

// OutboxBacklog returns how many committed events wait in the outbox and how long ago
// (by the database's clock) the first of them in position order was recorded; 0 and 0 for
// an empty outbox. Positions roughly follow commit time, so that is about the oldest.
//
// Errors: EUNAVAILABLE, EINTERNAL.
func (s *Store) OutboxBacklog(ctx context.Context) (events int64, oldest time.Duration, err error) {
	var micros int64
	err = s.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM event_outbox),
		coalesce((SELECT (extract(epoch FROM now() - e.recorded_at) * 1000000)::INT8
			FROM event_outbox o JOIN events e ON e.position = o.position ORDER BY o.position LIMIT 1), 0)`).Scan(&events, &micros)
	if err != nil {
		return 0, 0, storeError("read the outbox backlog", err)
	}
	return events, time.Duration(max(micros, 0)) * time.Microsecond, nil
}

// MarkPublished removes the events at positions from the outbox. Positions not in the
// outbox (already marked by another relay) are ignored.
//
// Errors: EUNAVAILABLE, EINTERNAL.
func (s *Store) MarkPublished(ctx context.Context, positions []int64) error {
	if len(positions) == 0 {
		return nil
	}
	_, err := s.db.Exec(ctx, `DELETE FROM event_outbox WHERE position = ANY($1::INT8[])`, positions)
	return storeError("mark published", err)
}

func prefixed(prefix, columns string) string {
	return prefix + strings.ReplaceAll(columns, ", ", ", "+prefix)
}

func (s *Store) query(ctx context.Context, op, sql string, args ...any) ([]ordersaga.RecordedEvent, error) {
	var events []ordersaga.RecordedEvent
	err := s.db.InStatement(ctx, func(q sqldb.Querier) error {
		rows, err := q.Query(ctx, sql, args...)
		if err == nil {
			events, err = pgx.CollectRows(rows, scanRecorded)
		}
		return err
	})
	if err != nil {
		return nil, storeError(op, err)
	}
	return events, nil
}

func scanRecorded(row pgx.CollectableRow) (ordersaga.RecordedEvent, error) {
	var (
		e    ordersaga.RecordedEvent
		meta []byte
	)
	if err := row.Scan(&e.ID, &e.StreamID, &e.StreamType, &e.Version, &e.Position, &e.Type, &e.Data, &meta, &e.RecordedAt); err != nil {
		return e, err
	}
	return e, decodeMetadata(meta, &e)
}

// decodeMetadata decodes an event's stored metadata into it.
func decodeMetadata(meta []byte, e *ordersaga.RecordedEvent) error {
	if err := json.Unmarshal(meta, &e.Metadata); err != nil {
		return fmt.Errorf("event %s metadata: %w", e.ID, err)
	}
	return nil
}

// storeError turns a database error into an application error; nil stays nil and context
// cancellation passes through unchanged so callers can tell it apart.
func storeError(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case ordersaga.ErrorCode(err) != ordersaga.EINTERNAL:
		return err // already an application error
	case sqldb.SQLState(err) == "40001":
		return &ordersaga.Error{Code: ordersaga.EUNAVAILABLE, Message: "too much contention on the event store; retry", Err: fmt.Errorf("%s: %w", op, err)}
	case sqldb.Unreachable(err):
		return &ordersaga.Error{Code: ordersaga.EUNAVAILABLE, Message: "the event store's database is unavailable", Err: fmt.Errorf("%s: %w", op, err)}
	case strings.HasPrefix(sqldb.SQLState(err), "22"): // data exception: a value it cannot hold
		return &ordersaga.Error{Code: ordersaga.EINVALID, Message: "the event store cannot hold a value of this request (text that is not UTF-8, say)", Err: fmt.Errorf("%s: %w", op, err)}
	}
	return &ordersaga.Error{Code: ordersaga.EINTERNAL, Message: "internal error", Err: fmt.Errorf("%s: %w", op, err)}
}
