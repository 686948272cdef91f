package system

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/projections"
	"github.com/ordersaga/ordersaga/sqldb"
)

// ProjectorGroup is the durable queue group the projector members share.
const ProjectorGroup = "order-projectors"

// ProjectorsConfig are the projector role's dependencies and settings.
type ProjectorsConfig struct {
	DB     *sqldb.DB           // required
	Bus    eventbus.Subscriber // required
	Logger *slog.Logger
	// Members is how many queue-group members this process runs; default 1.
	Members int
	// ReconcileEvery is how often to catch up streams whose last messages were lost;
	// default 30s.
	ReconcileEvery time.Duration
	// AckWait is how long the bus waits for a member's ack before redelivering; default
	// the bus's.
	AckWait time.Duration
}

// Projectors is the projector role: members of the projector group building the read
// models from the bus, and a periodic reconciliation with the store.
type Projectors struct {
	cfg       ProjectorsConfig
	projector *projections.Projector
}

// NewProjectors builds the projector role.
func NewProjectors(cfg ProjectorsConfig) (*Projectors, error) {
	switch {
	case cfg.DB == nil || cfg.Bus == nil:
		return nil, errors.New("system: the projectors need DB and Bus")
	case cfg.Members < 0 || cfg.ReconcileEvery < 0 || cfg.AckWait < 0:
		return nil, errors.New("system: projector members, reconciliation interval and ack wait must not be negative")
	}
	if cfg.Members == 0 {
		cfg.Members = 1
	}
	if cfg.ReconcileEvery == 0 {
		cfg.ReconcileEvery = 30 * time.Second
	}
	cfg.Logger = orDiscard(cfg.Logger).With("component", "projector")
	return &Projectors{cfg: cfg, projector: projections.New(cfg.DB, eventstore.New(cfg.DB), cfg.Logger)}, nil
}

// Run subscribes the members and reconciles periodically until ctx ends; the members then
// leave the group (its durable state stays on the bus).
func (p *Projectors) Run(ctx context.Context) error {
	for i := range p.cfg.Members {
		sub, err := p.cfg.Bus.Subscribe(ctx, eventbus.SubscribeOptions{
			Group: ProjectorGroup, Types: projections.Types(), AckWait: p.cfg.AckWait,
			Handler: func(ctx context.Context, m eventbus.Message) error {
				return p.projector.ApplyDelivered(ctx, m.Event, m.PublishedAt)
			},
			DeadLetter: func(ctx context.Context, m eventbus.Message, cause error) error {
				return p.projector.DeadLetter(ctx, m.Event, m.Raw, cause)
			},
		})
		if err != nil {
			return fmt.Errorf("projector member %d: %w", i+1, err)
		}
		defer sub.Close()
	}
	p.cfg.Logger.Info("projector running", "group", ProjectorGroup, "members", p.cfg.Members)
	tick := time.NewTicker(p.cfg.ReconcileEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if n, err := p.projector.Reconcile(ctx); err != nil {
			p.cfg.Logger.Warn("reconciliation failed", "err", err)
		} else if n > 0 {
			p.cfg.Logger.Info("reconciliation caught up streams whose messages were lost", "streams", n)
		}
	}
}
