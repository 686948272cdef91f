package main

import (
	"context"
	"flag"
	"log/slog"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/restaurant"
	"github.com/ordersaga/ordersaga/sqldb"
	"github.com/ordersaga/ordersaga/workflows"
)

// restaurantFlags configure the simulator's rule.
type restaurantFlags struct {
	delay       time.Duration
	unavailable string
	manual      string
}

func (f *restaurantFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&f.delay, "restaurant-delay", 3*time.Second, "how long the simulated restaurant thinks before approving")
	fs.StringVar(&f.unavailable, "unavailable", "sold-out", "comma-separated item ids the simulated restaurant rejects orders for")
	fs.StringVar(&f.manual, "manual-restaurant", "manual", "restaurant id whose orders the simulator leaves to a human")
}

// restaurantRole runs the restaurant simulator.
type restaurantRole struct {
	db       databaseFlags
	bus      busFlags
	temporal temporalFlags
	rule     restaurantFlags
	conns
}

func (r *restaurantRole) flags(fs *flag.FlagSet, env func(string) string) {
	r.db.register(fs, env)
	r.bus.register(fs, env, "restaurant")
	r.temporal.register(fs, env)
	r.rule.register(fs)
}

func (r *restaurantRole) run(ctx context.Context, m *Main) error {
	logger := m.logger(false, r.db.logLevel)
	if err := r.conns.open(ctx, logger, &r.db, &r.bus, &r.temporal); err != nil {
		return err
	}
	return runRestaurant(ctx, logger, r.temporalClient, r.pool, r.conn, r.rule)
}

// runRestaurant decides orders until ctx ends.
func runRestaurant(ctx context.Context, logger *slog.Logger, c client.Client, db *sqldb.DB, bus eventbus.Subscriber, rule restaurantFlags) error {
	logger = logger.With("component", "restaurant")
	var unavailable []string
	for _, id := range strings.Split(rule.unavailable, ",") {
		if id = strings.TrimSpace(id); id != "" {
			unavailable = append(unavailable, id)
		}
	}
	sim := restaurant.New(restaurant.Config{Sagas: workflows.Client{Temporal: c}, Store: eventstore.New(db), Delay: rule.delay,
		Unavailable: unavailable, ManualRestaurant: rule.manual, Logger: logger})
	_, err := bus.Subscribe(ctx, eventbus.SubscribeOptions{Group: restaurant.Group, Types: []string{ordersaga.EventPaymentDebited},
		AckWait: 3 * time.Minute, // a decision may wait up to 2 minutes for its saga
		Handler: func(ctx context.Context, m eventbus.Message) error { return sim.Handle(ctx, m.Event) },
		DeadLetter: func(_ context.Context, m eventbus.Message, cause error) error {
			logger.Error("restaurant gave up on a message", "event", m.Event.ID, "err", cause)
			return nil
		}})
	if err != nil {
		return err
	}
	logger.Info("restaurant simulator running", "delay", rule.delay, "unavailable", unavailable, "manual_restaurant", rule.manual)
	<-ctx.Done()
	return nil
}
