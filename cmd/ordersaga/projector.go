package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/projections"
	"github.com/ordersaga/ordersaga/sqldb"
)

// projectorGroup is the durable queue group the projector members share.
const projectorGroup = "order-projectors"

// projectorRole runs projector members that build the read models.
type projectorRole struct {
	db        databaseFlags
	bus       busFlags
	members   int
	reconcile time.Duration
	conns
}

func (r *projectorRole) flags(fs *flag.FlagSet, env func(string) string) {
	r.db.register(fs, env)
	r.bus.register(fs, env, "projector")
	fs.IntVar(&r.members, "members", 1, "queue-group members in this process")
	fs.DurationVar(&r.reconcile, "reconcile-every", 30*time.Second, "how often to catch up streams whose last messages were lost")
}

func (r *projectorRole) run(ctx context.Context, m *Main) error {
	logger := m.logger(false, r.db.logLevel)
	if err := r.conns.open(ctx, logger, &r.db, &r.bus, nil); err != nil {
		return err
	}
	return runProjector(ctx, logger, r.pool, r.conn, r.members, r.reconcile)
}

// runProjector subscribes members to the projector group and reconciles periodically
// until ctx ends.
func runProjector(ctx context.Context, logger *slog.Logger, db *sqldb.DB, bus eventbus.Subscriber, members int, every time.Duration) error {
	logger = logger.With("component", "projector")
	p := projections.New(db, eventstore.New(db), logger)
	for i := range members {
		_, err := bus.Subscribe(ctx, eventbus.SubscribeOptions{
			Group: projectorGroup, Types: projections.Types(),
			Handler: func(ctx context.Context, m eventbus.Message) error { return p.Apply(ctx, m.Event) },
			DeadLetter: func(ctx context.Context, m eventbus.Message, cause error) error {
				return p.DeadLetter(ctx, m.Event, m.Raw, cause)
			},
		})
		if err != nil {
			return fmt.Errorf("projector member %d: %w", i+1, err)
		}
	}
	logger.Info("projector running", "group", projectorGroup, "members", members)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
		if n, err := p.Reconcile(ctx); err != nil {
			logger.Warn("reconciliation failed", "err", err)
		} else if n > 0 {
			logger.Info("reconciliation caught up streams whose messages were lost", "streams", n)
		}
	}
}
