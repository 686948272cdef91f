package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ordersaga/ordersaga/workflows"
)

func (m *Main) sagasCommand() *cobra.Command {
	return group("sagas", "look into the running sagas in Temporal", m.stuckCommand())
}

func (m *Main) stuckCommand() *cobra.Command {
	var (
		temporal temporalFlags
		opts     workflows.StuckOptions
		asJSON   bool
		cmd      = &cobra.Command{Use: "stuck", Args: noArgs,
			Short: "list running sagas that do not move on: past their deadline, retrying a compensation or a forward step, or with a workflow task no worker completes; exit 1 if any"}
	)
	f := m.flagsOf(cmd.Flags())
	temporal.register(f)
	f.fs.Int32Var(&opts.Attempts, "attempts", 3, "an activity retrying past this attempt makes its saga stuck")
	f.fs.DurationVar(&opts.Grace, "grace", time.Minute, "a deadline passed, or a workflow task waiting, longer ago than this makes a saga stuck")
	f.fs.IntVar(&opts.Limit, "limit", 1000, "examine at most this many running sagas")
	f.fs.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	cmd.RunE = m.runs(func(ctx context.Context) error {
		if opts.Attempts < 1 || opts.Grace <= 0 || opts.Limit < 1 {
			return fmt.Errorf("--attempts and --limit must be at least 1 and --grace positive, got %d, %d and %s", opts.Attempts, opts.Limit, opts.Grace)
		}
		c, err := m.dialTemporal(ctx, temporal, slog.New(slog.DiscardHandler))
		if err != nil {
			return err
		}
		stuck, examined, err := workflows.Client{Temporal: c}.Stuck(ctx, opts)
		if err != nil {
			return err
		}
		if asJSON {
			enc := json.NewEncoder(m.Stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(map[string]any{"examined": examined, "stuck": stuck}); err != nil {
				return err
			}
		} else {
			tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ORDER\tWHY\tSTATUS\tACTIVITY\tATTEMPT\tRUNNING\tLAST FAILURE")
			for _, s := range stuck {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.OrderID, s.Why, s.Status, s.Activity, s.Attempt,
					time.Since(s.Since).Round(time.Second), s.LastFailure)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
		if len(stuck) > 0 {
			return fmt.Errorf("%d of %d running sagas are stuck", len(stuck), examined)
		}
		if !asJSON {
			fmt.Fprintf(m.Stdout, "none of %d running sagas is stuck\n", examined)
		}
		return nil
	})
	return cmd
}
