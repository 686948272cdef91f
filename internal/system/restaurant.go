package system

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventbus"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/restaurant"
	"github.com/ordersaga/ordersaga/telemetry"
)

// RestaurantConfig are the restaurant simulator's dependencies and its rule.
type RestaurantConfig struct {
	Bus eventbus.Subscriber // required
	// API is the order API, connected with the simulator's own credentials (it decides
	// for many restaurants, so an operator's). Required.
	API    ordersagav1.OrderServiceClient
	Logger *slog.Logger
	// Delay, Unavailable and ManualRestaurant are the simulator's rule (restaurant.Config).
	Delay            time.Duration
	Unavailable      []string
	ManualRestaurant string
	// Concurrency is how many orders it decides at once; default
	// DefaultRestaurantConcurrency.
	Concurrency int
	// Telemetry traces each decision; nil: none.
	Telemetry *telemetry.Telemetry
}

// Restaurant is the restaurant simulator role: it decides orders once they are paid.
type Restaurant struct {
	cfg RestaurantConfig
	sim *restaurant.Simulator
}

// restaurantAckWait is how long the bus waits for the simulator's ack: a decision may wait
// up to two minutes for its saga.
const restaurantAckWait = 3 * time.Minute

// restaurantMaxDeliveries is how often the simulator tries to decide an order before it
// gives up on it: enough to ride out an API restart. The default five are spent in
// 1.5 s on JetStream (redelivered after 100 ms, doubling): a chaos run that killed the API
// for 3 s saw the simulator give up on 19 orders. Twelve span about three minutes there
// (the ack wait caps the delay), and twelve ack waits on NATS Streaming.
const restaurantMaxDeliveries = 12

// DefaultRestaurantConcurrency is how many orders the simulator decides at once: each
// waits its delay on its own, not behind every order before it, so that 500 orders paid
// at once are decided one delay later (each is a goroutine waiting on a timer).
const DefaultRestaurantConcurrency = 512

// NewRestaurant builds the restaurant simulator role.
func NewRestaurant(cfg RestaurantConfig) (*Restaurant, error) {
	if cfg.Bus == nil || cfg.API == nil {
		return nil, errors.New("system: the restaurant needs Bus and API")
	}
	cfg.Logger = orDiscard(cfg.Logger).With("component", "restaurant")
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultRestaurantConcurrency
	}
	sim, err := restaurant.New(restaurant.Config{Orders: restaurant.APIOrders{Client: cfg.API},
		Delay: cfg.Delay, Unavailable: cfg.Unavailable, ManualRestaurant: cfg.ManualRestaurant, Logger: cfg.Logger,
		Tracers: orOff(cfg.Telemetry).Tracers})
	if err != nil {
		return nil, err
	}
	return &Restaurant{cfg: cfg, sim: sim}, nil
}

// Run decides orders until ctx ends.
func (r *Restaurant) Run(ctx context.Context) error {
	sub, err := r.cfg.Bus.Subscribe(ctx, eventbus.SubscribeOptions{Group: restaurant.Group, Types: []string{ordersaga.EventPaymentDebited},
		AckWait: restaurantAckWait, MaxDeliveries: restaurantMaxDeliveries, MaxInFlight: r.cfg.Concurrency, Concurrency: r.cfg.Concurrency,
		Handler: func(ctx context.Context, m eventbus.Message) error { return r.sim.Handle(ctx, m.Event) },
		DeadLetter: func(_ context.Context, m eventbus.Message, cause error) error {
			r.cfg.Logger.Error("restaurant gave up on a message", "event", m.Event.ID, "err", cause)
			return nil
		}})
	if err != nil {
		return err
	}
	defer sub.Close()
	r.cfg.Logger.Info("restaurant simulator running", "delay", r.cfg.Delay, "unavailable", r.cfg.Unavailable,
		"manual_restaurant", r.cfg.ManualRestaurant)
	<-ctx.Done()
	return nil
}
