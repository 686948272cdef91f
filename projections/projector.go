package projections

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/sqldb"
)

// Projector applies delivered events to the read models:
//
//   - version v of a stream is applied only after v-1, and a version already applied is
//     skipped;
//   - a gap (a message overtaken or lost) is filled by reading the missing events from the
//     event store;
//   - the read-model row and the version it reflects commit in one transaction;
//   - an event that cannot be applied is recorded in projection_dead_letters with its
//     payload and counted, and its stream moves past it, so it blocks nothing;
//   - Reconcile catches up streams whose last messages never arrived.
type Projector struct {
	db     *sqldb.DB
	store  Store
	logger *slog.Logger
	dead   atomic.Int64
	forged atomic.Int64
	obs    instruments
}

// New returns a projector; the tables must be migrated (see Migrate). logger may be nil.
func New(db *sqldb.DB, store Store, logger *slog.Logger) *Projector {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Projector{db: db, store: store, logger: logger, obs: newInstruments(db)}
}

// DeadLetters is how many events this projector has dead-lettered since it started.
func (p *Projector) DeadLetters() int64 { return p.dead.Load() }

// Forged returns how many delivered events this projector ignored because the store
// holds something else at their stream and version.
func (p *Projector) Forged() int64 { return p.forged.Load() }

// Apply applies event e and, first, any earlier events of its stream that are missing.
// It returns nil for events already applied. An error means "not applied, deliver again".
func (p *Projector) Apply(ctx context.Context, e ordersaga.RecordedEvent) error {
	return p.ApplyDelivered(ctx, e, time.Time{})
}

// ApplyDelivered is Apply for an event the bus published at publishedAt (zero: unknown),
// which the read models that keep marks record with the version (the order timeline).
func (p *Projector) ApplyDelivered(ctx context.Context, e ordersaga.RecordedEvent, publishedAt time.Time) error {
	var published *time.Time
	if !publishedAt.IsZero() {
		published = &publishedAt
	}
	stream, err := ordersaga.ParseStream(e.StreamID)
	if err != nil {
		return fmt.Errorf("event %s: %w", e.ID, err) // not from the store: redelivered, then dead-lettered
	}
	m := modelFor(stream)
	if m == nil {
		return nil // not a stream the read models follow
	}
	id := stream.ID()
	// Usually the row's next version: one statement, which is its own transaction
	// (retried on serialization failures like every transaction). Its other errors are
	// left to the transaction path, which reports what persists.
	var done bool
	err = p.db.InStatement(ctx, func(q sqldb.Querier) (err error) {
		done, err = m.next(ctx, q, id, e, published)
		return err
	})
	if err == nil && done {
		p.obs.applied(ctx, m, e)
		return nil
	}
	// Otherwise one transaction that loads the row: it skips what was applied, and
	// dead-letters what cannot be. On a gap, read what is missing and apply all. It
	// applies the store's copy of the event, never the envelope.
	stored, err := p.storedCopy(ctx, stream, e)
	if err != nil || stored == nil {
		return err
	}
	current, err := p.applyAll(ctx, stream, m, []ordersaga.RecordedEvent{*stored}, published)
	if !errors.Is(err, errGap) {
		return err
	}
	if err := p.catchUp(ctx, stream, m, current, e.Version, published); err != nil {
		return fmt.Errorf("fill gap of %s: %w", e.StreamID, err)
	}
	p.obs.filled(ctx, m, "delivery")
	return nil
}

// storedCopy returns the store's event at e's stream and version. When the store holds
// another event there, or the same one with other content, e was forged on the bus: it is
// counted, logged and ignored (nil, nil). A version the store has not got is an error, so
// that the message comes again (and a forged one ends among the dead letters).
func (p *Projector) storedCopy(ctx context.Context, stream ordersaga.Stream, e ordersaga.RecordedEvent) (*ordersaga.RecordedEvent, error) {
	events, err := p.store.ReadStream(ctx, stream, e.Version, 1)
	if err != nil {
		return nil, fmt.Errorf("read %s version %d: %w", stream, e.Version, err)
	}
	if len(events) == 0 || events[0].Version != e.Version {
		return nil, fmt.Errorf("the store has no version %d of %s", e.Version, stream)
	}
	stored := events[0]
	if stored.ID != e.ID || stored.Type != e.Type || !stored.RecordedAt.Equal(e.RecordedAt) || !sameJSON(stored.Data, e.Data) {
		p.forged.Add(1)
		p.logger.Warn("ignored an event that differs from the store's", "stream", stream, "version", e.Version, "event", e.ID, "stored_event", stored.ID)
		return nil, nil
	}
	return &stored, nil
}

// sameJSON reports whether two JSON documents hold the same values (key order, spacing and
// number spelling aside, as JSONB compares them).
func sameJSON(a, b []byte) bool {
	var va, vb any
	if decodeNumbers(a, &va) != nil || decodeNumbers(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func decodeNumbers(data []byte, v *any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	return d.Decode(v)
}

// catchUpPage is how many events catchUp reads and applies in one transaction.
const catchUpPage = 1000

// catchUp applies the events of stream after version current up to version to, a page at
// a time, each page in its own transaction, so that a gap of any size is filled. The
// event at version to was published at published (nil: unknown, or read from the store).
func (p *Projector) catchUp(ctx context.Context, stream ordersaga.Stream, rm *readModel, current, to int64, published *time.Time) error {
	for current < to {
		events, err := p.store.ReadStream(ctx, stream, current+1, int(min(to-current, catchUpPage)))
		if err != nil {
			return err
		}
		if len(events) == 0 {
			return fmt.Errorf("the store has not got version %d yet", current+1)
		}
		last := published
		if events[len(events)-1].Version != to {
			last = nil // a page before the delivered event's: all read from the store
		}
		if _, err := p.applyAll(ctx, stream, rm, events, last); err != nil {
			return err
		}
		current = events[len(events)-1].Version
	}
	return nil
}

// applyAll applies the events in version order to the stream's row in one transaction,
// skipping those already applied, and records malformed ones as dead letters; the last
// event was published at published (nil: unknown), the others were read from the store.
// It returns the version the row had; errGap means the events do not follow it.
func (p *Projector) applyAll(ctx context.Context, stream ordersaga.Stream, rm *readModel, events []ordersaga.RecordedEvent, published *time.Time) (int64, error) {
	var (
		deadLettered int64
		before       int64
	)
	err := p.db.InTx(ctx, func(tx pgx.Tx) error {
		deadLettered = 0
		m, err := rm.loadOne(ctx, tx, stream.ID())
		if err != nil {
			return fmt.Errorf("load %s: %w", stream, err)
		}
		before = m.version()
		changed := false
		for _, e := range events {
			if e.Version <= m.version() {
				continue // applied already, perhaps by the other member
			}
			if e.Version > m.version()+1 {
				return fmt.Errorf("apply %s: version %d after %d: %w", stream, e.Version, m.version(), errGap)
			}
			err := m.apply(e)
			var bad malformed
			switch {
			case errors.As(err, &bad):
				if err := insertDeadLetter(ctx, tx, e, e.Data, err); err != nil {
					return err
				}
				deadLettered++
			case err != nil:
				return err
			}
			changed = true
		}
		if !changed {
			return nil
		}
		sql, args := m.upsert("")
		if _, err := tx.Exec(ctx, sql, args...); err != nil {
			return fmt.Errorf("save the %s row of %s: %w", rm.table, stream, err)
		}
		return p.mark(ctx, tx, stream, rm, events, before, published)
	})
	if err != nil {
		return before, err
	}
	for _, e := range events {
		if e.Version > before {
			p.obs.applied(ctx, rm, e)
		}
	}
	if deadLettered > 0 {
		p.dead.Add(deadLettered)
		p.logger.Warn("events dead-lettered", "stream", stream.String(), "count", deadLettered)
	}
	return before, nil
}

// mark records the marks of the events after version before, if rm keeps marks.
func (p *Projector) mark(ctx context.Context, tx pgx.Tx, stream ordersaga.Stream, rm *readModel, events []ordersaga.RecordedEvent, before int64, published *time.Time) error {
	if rm.mark == nil {
		return nil
	}
	var versions []int64
	var when []*time.Time
	for i, e := range events {
		if e.Version <= before {
			continue
		}
		versions = append(versions, e.Version)
		if i == len(events)-1 {
			when = append(when, published)
		} else {
			when = append(when, nil)
		}
	}
	if len(versions) == 0 {
		return nil
	}
	return rm.mark(ctx, tx, stream.ID(), versions, when)
}

// errGap: the events to apply do not follow the version the row has.
var errGap = errors.New("events do not follow the applied version")

// DeadLetter records a message that failed to apply repeatedly (or could not be decoded)
// so that it stops being redelivered; e may be zero when the payload was not an event.
func (p *Projector) DeadLetter(ctx context.Context, e ordersaga.RecordedEvent, raw []byte, cause error) error {
	err := p.db.InTx(ctx, func(tx pgx.Tx) error { return insertDeadLetter(ctx, tx, e, raw, cause) })
	if err == nil {
		p.dead.Add(1)
		p.logger.Warn("message dead-lettered", "event_id", e.ID, "stream", e.StreamID, "version", e.Version, "err", cause)
	}
	return err
}

func insertDeadLetter(ctx context.Context, tx pgx.Tx, e ordersaga.RecordedEvent, payload []byte, cause error) error {
	_, err := tx.Exec(ctx, `INSERT INTO projection_dead_letters (event_id, stream_id, version, event_type, payload, error)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING`,
		e.ID, e.StreamID, e.Version, e.Type, string(payload), fmt.Sprint(cause))
	if err != nil {
		return fmt.Errorf("dead-letter %s: %w", e.ID, err)
	}
	return nil
}

// Reconcile brings every stream whose read model lags the store up to date, reading the
// missing events from the store. It returns how many streams it caught up. Run it
// periodically: it is what repairs a stream whose last message was lost. It compares a
// page of streams with one query per side, so a pass over a large store costs two
// statements per page, not a transaction per stream. A stream it cannot catch up is
// logged and skipped, and the pass goes on; the error names every such stream.
func (p *Projector) Reconcile(ctx context.Context) (int, error) {
	caught := 0
	var failed []error // streams that could not be caught up, in this pass
	for _, rm := range readModels {
		for page, err := range ordersaga.StreamPages(ctx, p.store, rm.streamType, "", 0) {
			if err != nil {
				return caught, err
			}
			ids := make([]string, len(page))
			for i, sv := range page {
				ids[i] = sv.Stream.ID()
			}
			applied, err := appliedVersions(ctx, p.db, rm, ids)
			if err != nil {
				return caught, err
			}
			for i, sv := range page {
				current := applied[ids[i]]
				if current >= sv.Version {
					continue
				}
				if err := p.catchUp(ctx, sv.Stream, rm, current, sv.Version, nil); err != nil {
					if ctx.Err() != nil {
						return caught, errors.Join(append(failed, err)...)
					}
					// One stream's trouble does not hold the others back.
					p.logger.Warn("reconcile: a stream could not be caught up; the next pass tries again", "stream", sv.Stream, "err", err)
					failed = append(failed, fmt.Errorf("%s: %w", sv.Stream, err))
					continue
				}
				p.obs.filled(ctx, rm, "reconcile")
				caught++
			}
		}
	}
	return caught, errors.Join(failed...)
}

// appliedVersions returns the versions the rows of rm hold for the given ids; ids without
// a row are absent (version 0).
func appliedVersions(ctx context.Context, db *sqldb.DB, rm *readModel, ids []string) (map[string]int64, error) {
	versions := make(map[string]int64, len(ids))
	err := db.InStatement(ctx, func(q sqldb.Querier) error {
		clear(versions)
		rows, err := q.Query(ctx, `SELECT `+rm.key+`, version FROM `+rm.table+` WHERE `+rm.key+` = ANY($1::TEXT[])`, ids)
		if err != nil {
			return err
		}
		var id string
		var v int64
		_, err = pgx.ForEachRow(rows, []any{&id, &v}, func() error {
			versions[id] = v
			return nil
		})
		return err
	})
	if err != nil {
		return nil, readError(err)
	}
	return versions, nil
}
