package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga"
)

// RebuildProgress reports a rebuild's progress: events folded so far out of total.
type RebuildProgress func(done, total int64)

// rebuildTypes are the stream types a rebuild folds, in the order it folds them.
var rebuildTypes = []string{"customer", "order"}

// Rebuild folds every order and customer stream of the store into fresh tables
// (orders_view_next, customer_balances_next) and swaps them in atomically. It is
// resumable: killed half-way, it continues from the last stream it committed. It is safe
// while projectors run: they keep the live tables current meanwhile, and after the swap a
// reconciliation catches up whatever was appended during the rebuild.
func (p *Projector) Rebuild(ctx context.Context, progress RebuildProgress) error {
	if progress == nil {
		progress = func(int64, int64) {}
	}
	state, err := p.startRebuild(ctx)
	if err != nil {
		return err
	}
	total, err := p.countEvents(ctx)
	if err != nil {
		return err
	}
	done := state.events
	progress(done, total)
	for i := state.typeIndex; i < len(rebuildTypes); i++ {
		typ := rebuildTypes[i]
		after := ""
		if i == state.typeIndex {
			after = state.lastStream
		}
		for {
			page, err := p.store.StreamVersions(ctx, typ, after, 200)
			if err != nil {
				return err
			}
			if len(page) == 0 {
				break
			}
			n, err := p.rebuildPage(ctx, typ, page, done)
			if err != nil {
				return err
			}
			done += n
			progress(done, total)
			after = page[len(page)-1].Stream
		}
	}
	if err := p.swap(ctx); err != nil {
		return err
	}
	_, err = p.Reconcile(ctx)
	return err
}

type rebuildState struct {
	typeIndex  int
	lastStream string
	events     int64
}

// startRebuild resumes the rebuild in progress, or prepares empty *_next tables.
func (p *Projector) startRebuild(ctx context.Context) (rebuildState, error) {
	var s rebuildState
	err := p.db.InTx(ctx, func(tx pgx.Tx) error {
		var typ string
		err := tx.QueryRow(ctx, `SELECT stream_type, last_stream, events FROM projection_rebuilds WHERE name = 'read-models'`).
			Scan(&typ, &s.lastStream, &s.events)
		if err == nil {
			for i, t := range rebuildTypes {
				if t == typ {
					s.typeIndex = i
				}
			}
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("read rebuild state: %w", err)
		}
		s = rebuildState{}
		for _, stmt := range []string{
			`DROP TABLE IF EXISTS orders_view_next`,
			`DROP TABLE IF EXISTS customer_balances_next`,
			`CREATE TABLE orders_view_next (LIKE orders_view INCLUDING ALL)`,
			`CREATE TABLE customer_balances_next (LIKE customer_balances INCLUDING ALL)`,
			`INSERT INTO projection_rebuilds (name, stream_type, last_stream, events) VALUES ('read-models', 'customer', '', 0)`,
		} {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("prepare rebuild: %w", err)
			}
		}
		return nil
	})
	return s, err
}

// countEvents is the number of events a rebuild folds: the sum of the streams' versions.
func (p *Projector) countEvents(ctx context.Context) (int64, error) {
	var total int64
	for _, typ := range rebuildTypes {
		for after := ""; ; {
			page, err := p.store.StreamVersions(ctx, typ, after, 1000)
			if err != nil {
				return 0, err
			}
			for _, sv := range page {
				total += sv.Version
			}
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1].Stream
		}
	}
	return total, nil
}

// rebuildPage folds a page of streams into the *_next tables and records the progress in
// the same transaction.
func (p *Projector) rebuildPage(ctx context.Context, typ string, page []ordersaga.StreamVersion, doneBefore int64) (int64, error) {
	folded := make([]model, 0, len(page))
	var events int64
	for _, sv := range page {
		all, err := ordersaga.ReadWholeStream(ctx, p.store, sv.Stream)
		if err != nil {
			return 0, err
		}
		id, _ := modelFor(sv.Stream)
		var m model
		if typ == "order" {
			o := FoldOrder(all)
			o.OrderID = id
			m = &orderRow{o}
		} else {
			m = &balanceRow{FoldBalance(id, all)}
		}
		folded = append(folded, m)
		events += int64(len(all))
	}
	err := p.db.InTx(ctx, func(tx pgx.Tx) error {
		for _, m := range folded {
			if err := m.saveTo(ctx, tx, "_next"); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `UPDATE projection_rebuilds SET stream_type = $1, last_stream = $2, events = $3 WHERE name = 'read-models'`,
			typ, page[len(page)-1].Stream, doneBefore+events)
		if err != nil {
			return fmt.Errorf("record rebuild progress: %w", err)
		}
		return nil
	})
	return events, err
}

// swap replaces the live tables with the rebuilt ones in one transaction.
func (p *Projector) swap(ctx context.Context) error {
	return p.db.InTx(ctx, func(tx pgx.Tx) error {
		for _, stmt := range []string{
			`ALTER TABLE orders_view RENAME TO orders_view_old`,
			`ALTER TABLE orders_view_next RENAME TO orders_view`,
			`DROP TABLE orders_view_old`,
			`ALTER TABLE customer_balances RENAME TO customer_balances_old`,
			`ALTER TABLE customer_balances_next RENAME TO customer_balances`,
			`DROP TABLE customer_balances_old`,
			`DELETE FROM projection_rebuilds WHERE name = 'read-models'`,
		} {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("swap in the rebuilt read models: %w", err)
			}
		}
		return nil
	})
}
