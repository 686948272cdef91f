package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/projections"
)

// verifyRole checks that the read models equal the fold of the store, that no stream has a
// version gap and that every committed event was published.
type verifyRole struct {
	db    databaseFlags
	grace time.Duration
	conns
}

func (r *verifyRole) flags(fs *flag.FlagSet, env func(string) string) {
	r.db.register(fs, env)
	fs.DurationVar(&r.grace, "grace", 10*time.Second, "events younger than this may still be on their way to the bus and the read models")
}

func (r *verifyRole) run(ctx context.Context, m *Main) error {
	var err error
	if r.pool, err = r.db.open(ctx, r.db.url); err != nil {
		return err
	}
	store := eventstore.New(r.pool)
	report, err := projections.Verify(ctx, projections.NewReadModels(r.pool), store, r.grace)
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
}
