package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/schollz/progressbar/v3"

	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/projections"
)

// rebuildRole rebuilds the read models from the event store.
type rebuildRole struct {
	db databaseFlags
	conns
}

func (r *rebuildRole) flags(fs *flag.FlagSet, env func(string) string) { r.db.register(fs, env) }

func (r *rebuildRole) run(ctx context.Context, m *Main) error {
	var err error
	if r.pool, err = r.db.open(ctx, r.db.url); err != nil {
		return err
	}
	store := eventstore.New(r.pool)
	var bar *progressbar.ProgressBar
	err = projections.Rebuild(ctx, r.pool, store, func(done, total int64) {
		if bar == nil {
			bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(m.Stderr), progressbar.OptionSetDescription("rebuilding read models"),
				progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("events"),
				progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100_000_000), progressbar.OptionClearOnFinish())
		}
		_ = bar.Set64(done)
	})
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil {
		return fmt.Errorf("rebuild (run it again to resume): %w", err)
	}
	fmt.Fprintln(m.Stdout, "rebuild: the read models were rebuilt from the event store and swapped in")
	return nil
}
