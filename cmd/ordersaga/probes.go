package main

import (
	"context"
	"log/slog"

	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga/probes"
)

// healthFlag is where a long-running role serves the gRPC health service for probes.
type healthFlag struct{ addr string }

func (h *healthFlag) register(f envFlags) {
	f.String(&h.addr, "health-addr", "ORDERSAGA_HEALTH_ADDR", "",
		"serve the gRPC health service (plaintext, nothing else) on this address, e.g. :8086: service \""+probes.LivenessService+
			"\" while the process runs, \"\" while its database and Temporal answer")
}

// serveProbes binds the health address, if any, and serves it until the command closes:
// live from now on, ready once started is called with the role's connections. Without an
// address, started does nothing.
func (m *Main) serveProbes(ctx context.Context, h healthFlag, logger *slog.Logger) (started func(conns), err error) {
	if h.addr == "" {
		return func(conns) {}, nil
	}
	s, err := probes.Listen(probes.Config{Addr: h.addr, Logger: logger})
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	m.onClose(func() error {
		stop()
		return <-done
	})
	return func(c conns) { s.Started(dependencies(c)...) }, nil
}

// dependencies are the checks of what a role's connections reach: the database with a
// trivial query, Temporal with its health check.
func dependencies(c conns) []probes.Check {
	var checks []probes.Check
	if c.db != nil {
		checks = append(checks, probes.Check{Name: "database", Run: func(ctx context.Context) error {
			_, err := c.db.Exec(ctx, "SELECT 1")
			return err
		}})
	}
	if c.temporal != nil {
		checks = append(checks, probes.Check{Name: "temporal", Run: func(ctx context.Context) error {
			_, err := c.temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		}})
	}
	return checks
}
