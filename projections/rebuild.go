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
	// Pages are read and folded one ahead of the one being written, so that this process
	// folds while the database writes.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for page := range foldPages(ctx, store, state) {
		if page.err != nil {
			return page.err
		}
		if err := savePage(ctx, db, page, done); err != nil {
			return err
		}
		done += page.events
		progress(done, total)
	}
	if err := ctx.Err(); err != nil {
		return err
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

// countEvents is the number of events a rebuild folds: those of the streams the read
// models follow.
func countEvents(ctx context.Context, store Store) (int64, error) {
	var total int64
	for _, rm := range readModels {
		n, err := store.CountEvents(ctx, rm.streamType)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// foldedPage is a page of streams of rm folded into rows, to be written; or the error that
// ended the reading.
type foldedPage struct {
	rm     *readModel
	rows   []model
	last   ordersaga.Stream // the page's last stream
	events int64
	err    error
}

// foldPages reads and folds the pages of every read model from where state stands, each
// page's events in a few reads, and sends them one at a time; it closes the channel at
// the end, after sending an error, or when ctx ends.
func foldPages(ctx context.Context, store Store, state rebuildState) <-chan foldedPage {
	out := make(chan foldedPage)
	send := func(p foldedPage) bool {
		select {
		case out <- p:
			return true
		case <-ctx.Done():
			return false
		}
	}
	go func() {
		defer close(out)
		for i := state.modelIndex; i < len(readModels); i++ {
			rm := readModels[i]
			after := ""
			if i == state.modelIndex {
				after = state.lastStream
			}
			for page, err := range ordersaga.StreamPages(ctx, store, rm.streamType, after, rebuildPageSize) {
				if err != nil {
					send(foldedPage{err: err})
					return
				}
				all, err := ordersaga.ReadPage(ctx, store, page)
				if err != nil {
					send(foldedPage{err: err})
					return
				}
				folded := foldedPage{rm: rm, rows: make([]model, len(page)), last: page[len(page)-1].Stream}
				for i, sv := range page {
					folded.rows[i] = rm.fold(sv.Stream.ID(), all[i])
					folded.events += int64(len(all[i]))
				}
				if !send(folded) {
					return
				}
			}
		}
	}()
	return out
}

// savePage writes a folded page's rows into its read model's _next table in one batch,
// and records the progress in the same transaction.
func savePage(ctx context.Context, db *sqldb.DB, page foldedPage, doneBefore int64) error {
	return db.InTx(ctx, func(tx pgx.Tx) error {
		batch := &pgx.Batch{} // afresh on each try of the transaction
		for _, m := range page.rows {
			sql, args := m.upsert("_next")
			batch.Queue(sql, args...)
		}
		batch.Queue(`UPDATE projection_rebuilds SET stream_type = $1, last_stream = $2, events = $3 WHERE name = 'read-models'`,
			page.rm.streamType, page.last.String(), doneBefore+page.events)
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("save the rebuilt rows of %s to %s: %w", page.rm.table, page.last, err)
		}
		return nil
	})
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
