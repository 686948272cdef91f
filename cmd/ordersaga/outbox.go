package main

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ordersaga/ordersaga/eventstore"
)

// outboxCommand is `ordersaga outbox`: the events the relay parked because the bus refused
// them, and putting them back for the relay once the bus takes them.
func (m *Main) outboxCommand() *cobra.Command {
	var db databaseFlags

	parked := &cobra.Command{Use: "parked", Args: noArgs, Short: "list the events the bus refused, with the reason (verify lists them too)"}
	parked.RunE = m.runs(func(ctx context.Context) error {
		pool, err := m.openDB(ctx, db, db.url, requireSchema)
		if err != nil {
			return err
		}
		events, err := eventstore.New(pool).Parked(ctx, eventstore.MaxReadLimit)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "POSITION\tSTREAM\tVERSION\tTYPE\tPARKED\tREASON")
		for _, p := range events {
			fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\n", p.Event.Position, p.Event.StreamID, p.Event.Version, p.Event.Type,
				p.ParkedAt.Format(time.RFC3339), p.Reason)
		}
		return tw.Flush()
	})

	requeue := &cobra.Command{Use: "requeue <position>...", Short: "put parked events back in the outbox: the relay publishes them (or parks them again)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("%s needs the positions of the parked events (ordersaga outbox parked lists them)", cmd.CommandPath())
			}
			return nil
		}}
	requeue.RunE = func(cmd *cobra.Command, args []string) error {
		positions := make([]int64, len(args))
		for i, a := range args {
			p, err := strconv.ParseInt(a, 10, 64)
			if err != nil || p <= 0 {
				return fmt.Errorf("%q is not a position (a positive integer)", a)
			}
			positions[i] = p
		}
		return m.runs(func(ctx context.Context) error {
			pool, err := m.openDB(ctx, db, db.url, requireSchema)
			if err != nil {
				return err
			}
			n, err := eventstore.New(pool).Requeue(ctx, positions)
			if err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "requeued %d of %d events\n", n, len(positions))
			return nil
		})(cmd, args)
	}

	cmd := group("outbox", "list and requeue the events the relay parked because the bus refused them", parked, requeue)
	cmd.Long = cmd.Short + ".\n\n" + devDatabaseNote
	db.register(m.flagsOf(cmd.PersistentFlags()))
	return cmd
}
