package system

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"golang.org/x/sync/errgroup"

	"github.com/ordersaga/ordersaga/activities"
	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/loadgen/baseline"
	"github.com/ordersaga/ordersaga/menus"
	"github.com/ordersaga/ordersaga/payments"
	"github.com/ordersaga/ordersaga/relay"
	"github.com/ordersaga/ordersaga/sqldb"
	"github.com/ordersaga/ordersaga/telemetry"
	"github.com/ordersaga/ordersaga/worker"
)

// WorkerConfig are the worker role's dependencies and settings.
type WorkerConfig struct {
	DB       *sqldb.DB     // required
	Bus      eventbus.Bus  // required
	Temporal client.Client // required
	Logger   *slog.Logger
	// Baseline also registers the load test's BaselineSaga (`ordersaga load --baseline`).
	// Production workers leave it off.
	Baseline bool
	// Pollers says how many goroutines poll Temporal for tasks; zero: autoscaled.
	Pollers worker.Pollers
	// Relay tunes the outbox relay the worker runs; zero fields keep relay's defaults.
	Relay RelayTuning
	// Telemetry receives the relay's metrics; nil: none. (The activities' come through
	// the Temporal client and the database, instrumented where they are made.)
	Telemetry *telemetry.Telemetry
}

// Worker is the saga worker role: the Temporal worker running OrderSaga and its
// activities, the marker that takes what the activities published off the outbox, and the
// relay that publishes whatever they did not.
type Worker struct {
	cfg    WorkerConfig
	acts   *activities.Activities
	marker *relay.Marker
	relay  *Relay
}

// NewWorker builds the worker role.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	if cfg.DB == nil || cfg.Bus == nil || cfg.Temporal == nil {
		return nil, errors.New("system: the worker needs DB, Bus and Temporal")
	}
	if err := cfg.Pollers.Validate(); err != nil {
		return nil, fmt.Errorf("system: the worker's %w", err)
	}
	cfg.Logger = orDiscard(cfg.Logger)
	store := eventstore.New(cfg.DB)
	marker := relay.NewMarker(store, 0, cfg.Logger.With("component", "outbox-marker"))
	acts := &activities.Activities{Store: store, Bus: cfg.Bus, Published: marker, Accounts: payments.NewAccountCache(0),
		Menus: menus.NewPinned(0)}
	if err := acts.Validate(); err != nil {
		return nil, err
	}
	r, err := NewRelay(RelayConfig{DB: cfg.DB, Bus: cfg.Bus, Logger: cfg.Logger, Tuning: cfg.Relay, Telemetry: cfg.Telemetry})
	if err != nil {
		return nil, err
	}
	return &Worker{cfg: cfg, acts: acts, marker: marker, relay: r}, nil
}

// register puts on w what this worker runs: the saga, and the baseline when asked for.
func (w *Worker) register(reg sdkworker.Registry) {
	worker.Register(reg, w.acts)
	if w.cfg.Baseline {
		baseline.Register(reg)
	}
}

// Run runs the worker, the marker and the relay until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	// The marker outlives the worker, so that its last flush covers the last activities.
	markerCtx, stopMarker := context.WithCancel(context.WithoutCancel(ctx))
	g.Go(func() error { return w.marker.Run(markerCtx) })
	g.Go(func() error {
		defer stopMarker()
		return worker.Run(ctx, w.cfg.Temporal, w.cfg.Logger, w.cfg.Pollers, w.register)
	})
	g.Go(func() error { return w.relay.Run(ctx) })
	return g.Wait()
}
