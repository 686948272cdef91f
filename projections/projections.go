// Package projections builds the CQRS read models — orders and customer balances — from
// the events the bus delivers, correctly under duplicates, redelivery, reordering and lost
// messages (DESIGN.md, invariant 4):
//
//   - version v of a stream is applied only after v-1, and a version already applied is
//     skipped;
//   - a gap (a message overtaken or lost) is filled by reading the missing events from the
//     event store;
//   - the read-model row and the version it reflects commit in one transaction;
//   - an event that cannot be applied is recorded in projection_dead_letters with its
//     payload and counted, and its stream moves past it, so it blocks nothing;
//   - Reconcile catches up streams whose last messages never arrived.
package projections

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate creates or upgrades the read models' tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, "projections", migrations, "migrations")
}

// Store is what the projector reads from the event store to fill gaps.
type Store interface {
	// ReadStream: EINVALID, EUNAVAILABLE, EINTERNAL.
	ReadStream(ctx context.Context, stream string, fromVersion int64, limit int) ([]ordersaga.RecordedEvent, error)
	// StreamVersions: EINVALID, EUNAVAILABLE, EINTERNAL.
	StreamVersions(ctx context.Context, streamType, afterStream string, limit int) ([]ordersaga.StreamVersion, error)
}

// Projector applies events to the read models.
type Projector struct {
	db     *sqldb.DB
	store  Store
	logger *slog.Logger
	dead   atomic.Int64
}

// New returns a projector; the tables must be migrated (see Migrate).
func New(db *sqldb.DB, store Store, logger *slog.Logger) *Projector {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Projector{db: db, store: store, logger: logger}
}

// DeadLetters is how many events this projector has dead-lettered since it started.
func (p *Projector) DeadLetters() int64 { return p.dead.Load() }

// Types are the event types the read models use: what a projector subscribes to.
var Types = []string{
	ordersaga.EventOrderCreated, ordersaga.EventPaymentDebited, ordersaga.EventOrderApproved,
	ordersaga.EventPaymentRefunded, ordersaga.EventOrderRejected, ordersaga.EventOrderCancelled,
	ordersaga.EventAccountCredited, ordersaga.EventAccountDebited, ordersaga.EventAccountRefunded,
}

// model is one read model: how to load, change and save the row of a stream.
type model interface {
	version() int64
	apply(e ordersaga.RecordedEvent) error
	save(ctx context.Context, tx pgx.Tx) error
	// saveTo saves into the table whose name has suffix (a rebuild's "_next").
	saveTo(ctx context.Context, tx pgx.Tx, suffix string) error
}

// loader reads the read model row of one stream (nil row: a model at version 0).
type loader func(ctx context.Context, q sqldb.Querier, id string) (model, error)

// writesOneRow runs a statement that writes at most one row and reports whether it did.
func writesOneRow(ctx context.Context, db sqldb.Querier, sql string, args ...any) (bool, error) {
	tag, err := db.Exec(ctx, sql, args...)
	return err == nil && tag.RowsAffected() == 1, err
}

// nexter writes event e to the row of stream id in one statement if e is the row's next
// version, and reports whether it did. false, for any reason (applied already, a gap, a
// malformed event), sends the event down the transaction path, which knows what to do.
type nexter func(ctx context.Context, db sqldb.Querier, id string, e ordersaga.RecordedEvent) (bool, error)

// readModel is one read model: the stream type it follows, its table and key column, how
// to load one row, and how to write a row's next event in one statement.
type readModel struct {
	streamType, table, key string
	load                   loader
	next                   nexter
}

// readModels are the read models.
var readModels = []readModel{
	{"order", "orders_view", "order_id", loadOrder, nextOrder},
	{"customer", "customer_balances", "customer_id", loadBalance, nextBalance},
}

// modelFor returns the id and read model of a stream, or nil for streams no model reads.
func modelFor(stream string) (string, *readModel) {
	typ, id, _ := strings.Cut(stream, "-")
	for i := range readModels {
		if readModels[i].streamType == typ {
			return id, &readModels[i]
		}
	}
	return "", nil
}

// Apply applies event e and, first, any earlier events of its stream that are missing.
// It returns nil for events already applied. An error means "not applied, deliver again".
func (p *Projector) Apply(ctx context.Context, e ordersaga.RecordedEvent) error {
	id, m := modelFor(e.StreamID)
	if m == nil {
		return nil // not a stream the read models follow
	}
	// Usually the row's next version: one statement, which is its own transaction
	// (retried on serialization failures like every transaction). Its other errors are
	// left to the transaction path, which reports what persists.
	var done bool
	err := p.db.InStatement(ctx, func(q sqldb.Querier) (err error) {
		done, err = m.next(ctx, q, id, e)
		return err
	})
	if err == nil && done {
		return nil
	}
	// Otherwise one transaction that loads the row: it skips what was applied, and
	// dead-letters what cannot be. On a gap, read what is missing and apply all.
	current, err := p.applyAll(ctx, e.StreamID, id, m.load, []ordersaga.RecordedEvent{e})
	if !errors.Is(err, errGap) {
		return err
	}
	events, err := p.store.ReadStream(ctx, e.StreamID, current+1, int(e.Version-current))
	if err != nil {
		return fmt.Errorf("fill gap of %s: %w", e.StreamID, err)
	}
	if len(events) == 0 || events[len(events)-1].Version < e.Version {
		return fmt.Errorf("fill gap of %s: the store has not got version %d yet", e.StreamID, e.Version)
	}
	_, err = p.applyAll(ctx, e.StreamID, id, m.load, events)
	return err
}

// applyAll applies the events in version order to the stream's row in one transaction,
// skipping those already applied, and records malformed ones as dead letters. It returns
// the version the row had; errGap means the events do not follow it.
func (p *Projector) applyAll(ctx context.Context, stream, id string, load loader, events []ordersaga.RecordedEvent) (int64, error) {
	var (
		deadLettered int64
		before       int64
	)
	err := p.db.InTx(ctx, func(tx pgx.Tx) error {
		deadLettered = 0
		m, err := load(ctx, tx, id)
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
		return m.save(ctx, tx)
	})
	if err != nil {
		return before, err
	}
	if deadLettered > 0 {
		p.dead.Add(deadLettered)
		p.logger.Warn("events dead-lettered", "stream", stream, "count", deadLettered)
	}
	return before, nil
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

// Reconcile brings every order and customer stream whose read model lags the store up to
// date, reading the missing events from the store. It returns how many streams it caught
// up. Run it periodically: it is what repairs a stream whose last message was lost. It
// compares a page of 1000 streams with one query per side, so a pass over a large store
// costs two statements per thousand streams, not a transaction per stream.
func (p *Projector) Reconcile(ctx context.Context) (int, error) {
	caught := 0
	for _, model := range readModels {
		for after := ""; ; {
			page, err := p.store.StreamVersions(ctx, model.streamType, after, 1000)
			if err != nil {
				return caught, err
			}
			ids := make([]string, len(page))
			for i, sv := range page {
				ids[i], _ = modelFor(sv.Stream)
			}
			applied, err := p.appliedVersions(ctx, model.table, model.key, ids)
			if err != nil {
				return caught, err
			}
			for i, sv := range page {
				current := applied[ids[i]]
				if current >= sv.Version {
					continue
				}
				events, err := p.store.ReadStream(ctx, sv.Stream, current+1, int(sv.Version-current))
				if err != nil {
					return caught, err
				}
				if _, err := p.applyAll(ctx, sv.Stream, ids[i], model.load, events); err != nil {
					return caught, err
				}
				caught++
			}
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1].Stream
		}
	}
	return caught, nil
}

// appliedVersions returns the versions the rows of table hold for the given keys; keys
// without a row are absent (version 0).
func (p *Projector) appliedVersions(ctx context.Context, table, key string, ids []string) (map[string]int64, error) {
	rows, err := p.db.Pool.Query(ctx, `SELECT `+key+`, version FROM `+table+` WHERE `+key+` = ANY($1::TEXT[])`, ids)
	if err != nil {
		return nil, readError(err)
	}
	versions := make(map[string]int64, len(ids))
	var id string
	var v int64
	_, err = pgx.ForEachRow(rows, []any{&id, &v}, func() error {
		versions[id] = v
		return nil
	})
	if err != nil {
		return nil, readError(err)
	}
	return versions, nil
}

// orderRow adapts Order to model.
type orderRow struct{ Order }

func loadOrder(ctx context.Context, q sqldb.Querier, id string) (model, error) {
	r := &orderRow{}
	err := scanOrder(q.QueryRow(ctx, `SELECT `+orderColumns+` FROM orders_view WHERE order_id = $1`, id), &r.Order)
	if errors.Is(err, pgx.ErrNoRows) {
		return &orderRow{Order{OrderID: id}}, nil
	}
	return r, err
}

// orderColumns are the columns scanOrder reads, in its order.
const orderColumns = `order_id, customer_id, restaurant_id, status, items, amount, currency, reason, version, created_at, updated_at, projected_at`

// scanOrder reads a row of orderColumns into o.
func scanOrder(row pgx.Row, o *Order) error {
	var items []byte
	var projectedAt *time.Time // NULL in rows written before the column existed
	err := row.Scan(&o.OrderID, &o.CustomerID, &o.RestaurantID, &o.Status, &items, &o.Amount, &o.Currency, &o.Reason,
		&o.Version, &o.CreatedAt, &o.UpdatedAt, &projectedAt)
	if err != nil {
		return err
	}
	if projectedAt != nil {
		o.ProjectedAt = *projectedAt
	}
	return json.Unmarshal(items, &o.Items)
}

func (r *orderRow) version() int64                        { return r.Version }
func (r *orderRow) apply(e ordersaga.RecordedEvent) error { return applyOrder(&r.Order, e) }

func (r *orderRow) save(ctx context.Context, tx pgx.Tx) error { return r.saveTo(ctx, tx, "") }

func (r *orderRow) saveTo(ctx context.Context, tx pgx.Tx, suffix string) error {
	_, err := tx.Exec(ctx, insertOrder(suffix, `DO UPDATE SET customer_id = excluded.customer_id, restaurant_id = excluded.restaurant_id,
			status = excluded.status, items = excluded.items, amount = excluded.amount, currency = excluded.currency,
			reason = excluded.reason, version = excluded.version, created_at = excluded.created_at, updated_at = excluded.updated_at,
			projected_at = excluded.projected_at`), r.insertArgs()...)
	if err != nil {
		return fmt.Errorf("save order %s: %w", r.OrderID, err)
	}
	return nil
}

// insertOrder is the statement that inserts an order row into orders_view+suffix, with
// onConflict after ON CONFLICT (order_id); its arguments are insertArgs.
func insertOrder(suffix, onConflict string) string {
	return `INSERT INTO orders_view` + suffix + ` (order_id, customer_id, restaurant_id, status, items, amount, currency, reason, version, created_at, updated_at, projected_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, clock_timestamp())
		ON CONFLICT (order_id) ` + onConflict
}

func (r *orderRow) insertArgs() []any {
	items := []byte("[]")
	if r.Items != nil {
		items, _ = json.Marshal(r.Items) // items decoded from JSON encode again
	}
	return []any{r.OrderID, r.CustomerID, r.RestaurantID, r.Status, string(items), r.Amount, r.Currency, r.Reason, r.Version, r.CreatedAt, r.UpdatedAt}
}

// nextOrder writes an order event that is its row's next version in one statement: the
// first event inserts the row unless it exists; a later one changes the row only if it
// is at the version before. Order-created beyond the first version, and malformed events,
// take the transaction path.
func nextOrder(ctx context.Context, db sqldb.Querier, id string, e ordersaga.RecordedEvent) (bool, error) {
	if e.Version == 1 {
		r := &orderRow{}
		if err := r.apply(e); err != nil {
			return false, nil
		}
		return writesOneRow(ctx, db, insertOrder("", "DO NOTHING"), r.insertArgs()...)
	}
	c, err := orderChangeOf(e)
	if err != nil || c.created != nil {
		return false, nil
	}
	return writesOneRow(ctx, db, `UPDATE orders_view SET status = coalesce($2, status), reason = coalesce($3, reason),
		version = $4, updated_at = $5, projected_at = clock_timestamp()
		WHERE order_id = $1 AND version = $6`, id, c.status, c.reason, e.Version, e.RecordedAt, e.Version-1)
}

// balanceRow adapts Balance to model.
type balanceRow struct{ Balance }

func loadBalance(ctx context.Context, q sqldb.Querier, id string) (model, error) {
	r := &balanceRow{Balance{CustomerID: id}}
	err := q.QueryRow(ctx, `SELECT balance, currency, version, updated_at FROM customer_balances WHERE customer_id = $1`, id).
		Scan(&r.Balance.Balance, &r.Currency, &r.Version, &r.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, nil
	}
	return r, err
}

func (r *balanceRow) version() int64                        { return r.Version }
func (r *balanceRow) apply(e ordersaga.RecordedEvent) error { return applyBalance(&r.Balance, e) }

func (r *balanceRow) save(ctx context.Context, tx pgx.Tx) error { return r.saveTo(ctx, tx, "") }

func (r *balanceRow) saveTo(ctx context.Context, tx pgx.Tx, suffix string) error {
	_, err := tx.Exec(ctx, insertBalance(suffix, `DO UPDATE SET balance = excluded.balance, currency = excluded.currency,
			version = excluded.version, updated_at = excluded.updated_at`), r.insertArgs()...)
	if err != nil {
		return fmt.Errorf("save balance %s: %w", r.CustomerID, err)
	}
	return nil
}

// insertBalance is the statement that inserts a balance row into customer_balances+suffix,
// with onConflict after ON CONFLICT (customer_id); its arguments are insertArgs.
func insertBalance(suffix, onConflict string) string {
	return `INSERT INTO customer_balances` + suffix + ` (customer_id, balance, currency, version, updated_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (customer_id) ` + onConflict
}

func (r *balanceRow) insertArgs() []any {
	return []any{r.CustomerID, r.Balance.Balance, r.Currency, r.Version, r.UpdatedAt}
}

// nextBalance is nextOrder for customer balances.
func nextBalance(ctx context.Context, db sqldb.Querier, id string, e ordersaga.RecordedEvent) (bool, error) {
	if e.Version == 1 {
		r := &balanceRow{Balance{CustomerID: id}}
		if err := r.apply(e); err != nil {
			return false, nil
		}
		return writesOneRow(ctx, db, insertBalance("", "DO NOTHING"), r.insertArgs()...)
	}
	c, err := balanceChangeOf(e)
	if err != nil {
		return false, nil
	}
	return writesOneRow(ctx, db, `UPDATE customer_balances SET balance = balance + $2,
		currency = CASE WHEN currency = '' THEN $3 ELSE currency END, version = $4, updated_at = $5
		WHERE customer_id = $1 AND version = $6`, id, c.delta, c.currency, e.Version, e.RecordedAt, e.Version-1)
}
