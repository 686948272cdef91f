package eventstore

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/sqldb"
)

// maxParkReason bounds the reason stored with a parked event, in bytes.
const maxParkReason = 1000

// Park takes the event at position out of the outbox and keeps it, with reason, among the
// parked events: the relay goes on with the events after it. An event not in the outbox
// (published, or parked already) is left as it is.
//
// Errors: EUNAVAILABLE, EINTERNAL.
func (s *Store) Park(ctx context.Context, position int64, reason string) error {
	if len(reason) > maxParkReason {
		// Cut on a rune boundary: half a character is text the database refuses.
		reason = strings.ToValidUTF8(reason[:maxParkReason], "")
	}
	_, err := s.db.Exec(ctx, `WITH moved AS (DELETE FROM event_outbox WHERE position = $1 RETURNING position)
		INSERT INTO event_outbox_parked (position, reason) SELECT position, $2 FROM moved
		ON CONFLICT (position) DO NOTHING`, position, reason)
	return storeError("park", err)
}

// Parked returns up to limit parked events, in position order.
//
// Errors: EINVALID, EUNAVAILABLE, EINTERNAL.
func (s *Store) Parked(ctx context.Context, limit int) ([]ordersaga.ParkedEvent, error) {
	if err := validateLimit(limit); err != nil {
		return nil, err
	}
	var parked []ordersaga.ParkedEvent
	err := s.db.InStatement(ctx, func(q sqldb.Querier) error {
		rows, err := q.Query(ctx, `SELECT `+prefixed("e.", eventColumns)+`, p.reason, p.parked_at
			FROM event_outbox_parked p JOIN events e ON e.position = p.position
			ORDER BY p.position LIMIT $1`, limit)
		if err == nil {
			parked, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (ordersaga.ParkedEvent, error) {
				var p ordersaga.ParkedEvent
				var meta []byte
				e := &p.Event
				if err := row.Scan(&e.ID, &e.StreamID, &e.StreamType, &e.Version, &e.Position, &e.Type, &e.Data, &meta, &e.RecordedAt, &p.Reason, &p.ParkedAt); err != nil {
					return p, err
				}
				return p, decodeMetadata(meta, e)
			})
		}
		return err
	})
	return parked, storeError("read parked events", err)
}

// Requeue puts parked events back in the outbox, for the relay to publish again (once the
// bus takes them: its limit raised, say). Positions that are not parked are ignored. It
// returns how many were requeued.
//
// Errors: EUNAVAILABLE, EINTERNAL.
func (s *Store) Requeue(ctx context.Context, positions []int64) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `WITH moved AS (DELETE FROM event_outbox_parked WHERE position = ANY($1::INT8[]) RETURNING position),
		ins AS (INSERT INTO event_outbox (position) SELECT position FROM moved ON CONFLICT (position) DO NOTHING RETURNING position)
		SELECT count(*) FROM moved`, positions).Scan(&n)
	return n, storeError("requeue", err)
}
