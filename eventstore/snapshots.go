package eventstore

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/sqldb"
)

// MaxSnapshotBytes bounds a snapshot's state.
const MaxSnapshotBytes = 1 << 20

// SaveSnapshot keeps state (JSON: a fold of stream's events up to version) as stream's
// snapshot, unless one at version or later is kept already, so that writers racing to save
// snapshots of one stream leave the latest. A stream's events never change, so a snapshot
// is never wrong, only behind; the store does not check that version exists yet, which is
// the caller's fold's to know.
//
// Errors: EINVALID (stream, version, state), EUNAVAILABLE, EINTERNAL.
func (s *Store) SaveSnapshot(ctx context.Context, stream ordersaga.Stream, version int64, state []byte) error {
	switch {
	case stream.IsZero():
		return requireStream(stream)
	case version < 1:
		return ordersaga.Invalidf("version", "a snapshot is of version 1 or later, got %d", version)
	case len(state) > MaxSnapshotBytes:
		return ordersaga.Invalidf("state", "%d bytes is over the %d a snapshot may hold", len(state), MaxSnapshotBytes)
	case !json.Valid(state):
		return ordersaga.Invalidf("state", "must be JSON")
	}
	_, err := s.db.Exec(ctx, `INSERT INTO stream_snapshots (stream_id, version, state) VALUES ($1, $2, $3)
		ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, state = excluded.state, taken_at = now()
		WHERE stream_snapshots.version < excluded.version`, stream.String(), version, string(state))
	return storeError("save a snapshot of "+stream.String(), err)
}

// Snapshot returns stream's latest snapshot: its version and state; version 0 and no
// state when it has none.
//
// Errors: EINVALID (stream), EUNAVAILABLE, EINTERNAL.
func (s *Store) Snapshot(ctx context.Context, stream ordersaga.Stream) (version int64, state []byte, err error) {
	if err := requireStream(stream); err != nil {
		return 0, nil, err
	}
	err = s.db.QueryRow(ctx, `SELECT version, state FROM stream_snapshots WHERE stream_id = $1`, stream.String()).Scan(&version, &state)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, storeError("read the snapshot of "+stream.String(), err)
	}
	return version, state, nil
}

// Snapshots returns the snapshots kept of streams (at most MaxStreamsPerRead), in stream
// order; a stream without one is left out.
//
// Errors: EINVALID (no streams or too many, a bad stream), EUNAVAILABLE, EINTERNAL.
func (s *Store) Snapshots(ctx context.Context, streams []ordersaga.Stream) ([]ordersaga.Snapshot, error) {
	ids, err := streamIDs(streams)
	if err != nil {
		return nil, err
	}
	var out []ordersaga.Snapshot
	err = s.db.InStatement(ctx, func(q sqldb.Querier) error {
		rows, err := q.Query(ctx, `SELECT stream_id, version, state FROM stream_snapshots WHERE stream_id = ANY($1::TEXT[]) ORDER BY stream_id`, ids)
		if err == nil {
			out, err = pgx.CollectRows(rows, pgx.RowToStructByPos[ordersaga.Snapshot])
		}
		return err
	})
	if err != nil {
		return nil, storeError("read snapshots", err)
	}
	return out, nil
}

// EventVersion returns the version at which the event with id sits in stream, and whether
// it is there: the check of an idempotent step ("did an earlier attempt append this?")
// without reading the stream.
//
// Errors: EINVALID (stream), EUNAVAILABLE, EINTERNAL.
func (s *Store) EventVersion(ctx context.Context, stream ordersaga.Stream, id uuid.UUID) (version int64, found bool, err error) {
	if err := requireStream(stream); err != nil {
		return 0, false, err
	}
	err = s.db.QueryRow(ctx, `SELECT version FROM events WHERE event_id = $1 AND stream_id = $2`, id, stream.String()).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, storeError("look up event "+id.String()+" in "+stream.String(), err)
	}
	return version, true, nil
}
