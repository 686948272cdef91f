package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/projections"
)

func (m *Main) verifyCommand() *cobra.Command {
	var (
		db    databaseFlags
		grace time.Duration
		cmd   = &cobra.Command{Use: "verify", Args: noArgs,
			Short: "check read models against the store, version gaps and unpublished events; exit 1 on any problem"}
	)
	cmd.Long = cmd.Short + ".\n\n" + devDatabaseNote
	db.register(m.flagsOf(cmd.Flags()))
	cmd.Flags().DurationVar(&grace, "grace", 10*time.Second, "events younger than this may still be on their way to the bus and the read models")
	cmd.RunE = m.runs(func(ctx context.Context) error {
		pool, err := m.openDB(ctx, db, db.url, requireSchema)
		if err != nil {
			return err
		}
		report, err := projections.Verify(ctx, projections.NewReadModels(pool), eventstore.New(pool), grace)
		if err != nil {
			return err
		}
		for _, p := range report.Problems {
			fmt.Fprintln(m.Stdout, p)
		}
		if !report.OK() {
			return fmt.Errorf("verify: %d problems in %d streams checked", len(report.Problems), report.StreamsChecked)
		}
		fmt.Fprintf(m.Stdout, "verify: %d streams checked; read models equal the store, versions are gap-free, every event is published\n", report.StreamsChecked)
		return nil
	})
	return cmd
}
