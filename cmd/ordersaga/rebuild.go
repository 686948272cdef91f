package main

import (
	"context"
	"fmt"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/projections"
)

func (m *Main) rebuildCommand() *cobra.Command {
	var (
		db  databaseFlags
		cmd = &cobra.Command{Use: "rebuild", Args: noArgs,
			Short: "rebuild the read models from the event store into fresh tables and swap them in (resumable)"}
	)
	cmd.Long = cmd.Short + ".\n\n" + devDatabaseNote
	db.register(m.flagsOf(cmd.Flags()))
	cmd.RunE = m.runs(func(ctx context.Context) error {
		pool, err := m.openDB(ctx, db, db.url, requireSchema)
		if err != nil {
			return err
		}
		var bar *progressbar.ProgressBar
		err = projections.Rebuild(ctx, pool, eventstore.New(pool), func(done, total int64) {
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
	})
	return cmd
}
