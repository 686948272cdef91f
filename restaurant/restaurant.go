// Package restaurant simulates restaurants, like the classic demo's restaurant service: it
// receives order-payment-debited (as its own queue group), reads the order and sends its
// decision through the order API, as any client does (APIOrders), by a documented rule:
//
//   - orders of restaurant "manual" (Config.ManualRestaurant) are left to a human;
//   - an order containing an item the restaurant marks unavailable is rejected;
//   - every other order is approved after Config.Delay (the kitchen thinking).
package restaurant

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/internal/instrument"
	"github.com/ordersaga/ordersaga/workflows"
)

// Group is the queue group the simulator's instances share.
const Group = "restaurants"

// Orders is what the simulator asks of the orders it decides (APIOrders).
type Orders interface {
	// Created returns what the order was created with. Errors: ENOTFOUND (no such order,
	// or not this restaurant's), EUNAVAILABLE.
	Created(ctx context.Context, orderID string) (ordersaga.OrderCreated, error)
	// Decide hands the restaurant's decision to the order's saga. Errors: ENOTFOUND,
	// EPRECONDITION (no decision needed any more), EUNAVAILABLE.
	Decide(ctx context.Context, orderID string, d workflows.Decision) error
}

// Config is the rule.
type Config struct {
	Orders Orders // required
	// Delay before approving; default 3s.
	Delay time.Duration
	// Unavailable item ids: an order containing one is rejected.
	Unavailable []string
	// ManualRestaurant is left alone; default "manual".
	ManualRestaurant string
	Logger           *slog.Logger
	// Tracers, when set, trace each decision as a span of the order's trace (the bus's
	// delivery span is its parent).
	Tracers trace.TracerProvider
}

// Simulator decides orders.
type Simulator struct{ cfg Config }

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Orders == nil:
		return errors.New("restaurant: Orders is required")
	case c.Delay < 0:
		return fmt.Errorf("restaurant: Delay must not be negative, got %s", c.Delay)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Delay == 0 {
		c.Delay = 3 * time.Second
	}
	if c.ManualRestaurant == "" {
		c.ManualRestaurant = "manual"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// New returns a simulator.
func New(cfg Config) (*Simulator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Simulator{cfg: cfg.withDefaults()}, nil
}

// Handle decides the order of an order-payment-debited event. An error asks for redelivery.
func (s *Simulator) Handle(ctx context.Context, e ordersaga.RecordedEvent) error {
	if e.Type != ordersaga.EventPaymentDebited {
		return nil
	}
	var debited ordersaga.PaymentDebited
	if err := json.Unmarshal(e.Data, &debited); err != nil {
		return fmt.Errorf("decode %s: %w", e.ID, err)
	}
	if err := ordersaga.ValidateID("order_id", debited.OrderID); err != nil {
		return fmt.Errorf("event %s: %w", e.ID, err)
	}
	created, err := s.cfg.Orders.Created(ctx, debited.OrderID)
	if ordersaga.ErrorCode(err) == ordersaga.ENOTFOUND {
		s.cfg.Logger.Warn("restaurant cannot see a paid order; leaving it", "order", debited.OrderID, "why", ordersaga.ErrorMessage(err))
		return nil
	}
	if err != nil {
		return err
	}
	if created.RestaurantID == s.cfg.ManualRestaurant {
		return nil
	}
	d := workflows.Decision{Approved: true}
	for _, it := range created.Items {
		if slices.Contains(s.cfg.Unavailable, it.ID) {
			d = workflows.Decision{Approved: false, Reason: fmt.Sprintf("%s is not available", it.Name)}
			break
		}
	}
	if d.Approved {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(s.cfg.Delay):
		}
	}
	// The saga holds a decision that arrives before it awaits one, so a refusal means that
	// no decision is needed any more: decided already (a redelivery), cancelled, timed out.
	ctx, span := instrument.Tracer(s.cfg.Tracers, "github.com/ordersaga/ordersaga/restaurant").Start(ctx, "restaurant decides",
		trace.WithAttributes(attribute.String("ordersaga.order_id", debited.OrderID), attribute.String("ordersaga.restaurant_id", created.RestaurantID),
			attribute.Bool("ordersaga.approved", d.Approved)))
	err = s.cfg.Orders.Decide(ctx, debited.OrderID, d)
	span.SetAttributes(attribute.String("ordersaga.outcome", cmp.Or(ordersaga.ErrorCode(err), "decided")))
	span.End()
	switch code := ordersaga.ErrorCode(err); {
	case err == nil:
		s.cfg.Logger.Info("restaurant decided", "order", debited.OrderID, "approved", d.Approved, "reason", d.Reason)
		return nil
	case code == ordersaga.ENOTFOUND || code == ordersaga.EPRECONDITION:
		s.cfg.Logger.Info("restaurant decision not needed", "order", debited.OrderID, "why", ordersaga.ErrorMessage(err))
		return nil
	}
	return err
}
