package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/sqldb"
)

// RebuildProgress reports a rebuild's progress: events folded so far out of total.
type RebuildProgress func(done, total int64)

// rebuildPageSize is how many streams a rebuild folds and commits at a time.
const rebuildPageSize = 1000

// Rebuild folds every stream of the store that a read model follows into fresh tables
// (orders_view_next, customer_balances_next) and swaps them in atomically. It is
// resumable: killed half-way, it continues from the last stream it committed. It is safe
// while projectors run: they keep the live tables current meanwhile, and after the swap a
// reconciliation catches up whatever was appended during the rebuild. progress may be nil.
func Rebuild(ctx context.Context, db *sqldb.DB, store Store, progress RebuildProgress) error {
	if progress == nil {
		progress = func(int64, int64) {}
	}
	state, err := startRebuild(ctx, db)
	if err != nil {
		return err
	}
	total, err := countEvents(ctx, store)
	if err != nil {
		return err
	}
	done := state.events
	progress(done, total)
	for i := state.modelIndex; i < len(readModels); i++ {
		rm := readModels[i]
		after := ""
		if i == state.modelIndex {
			after = state.lastStream
		}
		for page, err := range ordersaga.StreamPages(ctx, store, rm.streamType, after, rebuildPageSize) {
			if err != nil {
				return err
			}
			n, err := rebuildPage(ctx, db, store, rm, page, done)
			if err != nil {
				return err
			}
			done += n
			progress(done, total)
		}
	}
	if err := swap(ctx, db); err != nil {
		return err
	}
	_, err = New(db, store, nil).Reconcile(ctx)
	return err
}

// rebuildState is where a rebuild stands: the read model it folds, the last stream it
// committed, and how many events it folded so far.
type rebuildState struct {
	modelIndex int
	lastStream string
	events     int64
}

// startRebuild resumes the rebuild in progress, or prepares empty *_next tables.
func startRebuild(ctx context.Context, db *sqldb.DB) (rebuildState, error) {
	var s rebuildState
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		var typ string
		err := tx.QueryRow(ctx, `SELECT stream_type, last_stream, events FROM projection_rebuilds WHERE name = 'read-models'`).
			Scan(&typ, &s.lastStream, &s.events)
		if err == nil {
			for i, rm := range readModels {
				if rm.streamType == typ {
					s.modelIndex = i
				}
			}
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("read rebuild state: %w", err)
		}
		s = rebuildState{}
		var statements []string
		for _, rm := range readModels {
			statements = append(statements, `DROP TABLE IF EXISTS `+rm.table+`_next`,
				`CREATE TABLE `+rm.table+`_next (LIKE `+rm.table+` INCLUDING ALL)`)
		}
		for _, stmt := range statements {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("prepare rebuild: %w", err)
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO projection_rebuilds (name, stream_type, last_stream, events) VALUES ('read-models', $1, '', 0)`,
			readModels[0].streamType)
		if err != nil {
			return fmt.Errorf("prepare rebuild: %w", err)
		}
		return nil
	})
	return s, err
}

// countEvents is the number of events a rebuild folds: the sum of the streams' versions.
func countEvents(ctx context.Context, store Store) (int64, error) {
	var total int64
	for _, rm := range readModels {
		for sv, err := range ordersaga.Streams(ctx, store, rm.streamType) {
			if err != nil {
				return 0, err
			}
			total += sv.Version
		}
	}
	return total, nil
}

// rebuildPage folds a page of streams into rm's _next table and records the progress in
// the same transaction: the page's events in a few reads, its rows in one batch.
func rebuildPage(ctx context.Context, db *sqldb.DB, store Store, rm *readModel, page []ordersaga.StreamVersion, doneBefore int64) (int64, error) {
	all, err := ordersaga.ReadPage(ctx, store, page)
	if err != nil {
		return 0, err
	}
	folded := make([]model, len(page))
	var events int64
	for i, sv := range page {
		folded[i] = rm.fold(sv.Stream.ID(), all[i])
		events += int64(len(all[i]))
	}
	err = db.InTx(ctx, func(tx pgx.Tx) error {
		batch := &pgx.Batch{} // afresh on each try of the transaction
		for _, m := range folded {
			sql, args := m.upsert("_next")
			batch.Queue(sql, args...)
		}
		batch.Queue(`UPDATE projection_rebuilds SET stream_type = $1, last_stream = $2, events = $3 WHERE name = 'read-models'`,
			rm.streamType, page[len(page)-1].Stream.String(), doneBefore+events)
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("save the rebuilt rows of %s to %s: %w", rm.table, page[len(page)-1].Stream, err)
		}
		return nil
	})
	return events, err
}

// swap replaces the live tables with the rebuilt ones in one transaction.
func swap(ctx context.Context, db *sqldb.DB) error {
	var statements []string
	for _, rm := range readModels {
		statements = append(statements,
			`ALTER TABLE `+rm.table+` RENAME TO `+rm.table+`_old`,
			`ALTER TABLE `+rm.table+`_next RENAME TO `+rm.table,
			`DROP TABLE `+rm.table+`_old`)
	}
	statements = append(statements, `DELETE FROM projection_rebuilds WHERE name = 'read-models'`)
	return db.InTx(ctx, func(tx pgx.Tx) error {
		for _, stmt := range statements {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("swap in the rebuilt read models: %w", err)
			}
		}
		return nil
	})
}
