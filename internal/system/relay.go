package system

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/relay"
	"github.com/ordersaga/ordersaga/sqldb"
	"github.com/ordersaga/ordersaga/telemetry"
)

// RelayTuning adjusts an outbox relay; zero fields keep relay's defaults.
type RelayTuning struct {
	// GracePeriod leaves events younger than this to the writer's inline publish.
	GracePeriod time.Duration
	// PollInterval is the pause when the outbox is empty.
	PollInterval time.Duration
	// ID names the relay among those that share the outbox; Lease is how long a batch it
	// claimed stays its own (relay.Config).
	ID    string
	Lease time.Duration
}

// RelayConfig are the relay role's dependencies and settings.
type RelayConfig struct {
	DB     *sqldb.DB          // required
	Bus    eventbus.Publisher // required
	Logger *slog.Logger
	Tuning RelayTuning
	// Telemetry receives the relay's metrics and the outbox's backlog; nil: none.
	Telemetry *telemetry.Telemetry
}

// Relay is the outbox relay role: it publishes committed events that are still in the
// outbox and marks them published.
type Relay struct {
	relay  *relay.Relay
	logger *slog.Logger
}

// NewRelay builds the relay role.
func NewRelay(cfg RelayConfig) (*Relay, error) {
	if cfg.DB == nil || cfg.Bus == nil {
		return nil, errors.New("system: the relay needs DB and Bus")
	}
	logger := orDiscard(cfg.Logger).With("component", "relay")
	r, err := relay.New(relay.Config{Outbox: eventstore.New(cfg.DB), Publisher: cfg.Bus, Logger: logger,
		GracePeriod: cfg.Tuning.GracePeriod, PollInterval: cfg.Tuning.PollInterval, ID: cfg.Tuning.ID, Lease: cfg.Tuning.Lease,
		Meters: orOff(cfg.Telemetry).Meters})
	if err != nil {
		return nil, err
	}
	return &Relay{relay: r, logger: logger}, nil
}

// Run relays the outbox until ctx ends.
func (r *Relay) Run(ctx context.Context) error {
	r.logger.Info("outbox relay running", "relay_id", r.relay.ID())
	return r.relay.Run(ctx)
}
