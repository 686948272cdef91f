// Package probes serves the gRPC health service (grpc.health.v1) for a long-running role,
// on a plaintext port of its own, for Kubernetes' gRPC probes and `ordersaga health`.
//
// Two answers, so that a probe never restarts a process for an outage that is not its own:
//   - the service "liveness" is SERVING as long as the process serves at all (a liveness
//     probe: a process that stops answering is restarted);
//   - the overall service "" is SERVING while every check (the database, Temporal) passed
//     its last run, NOT_SERVING from the first failure until a run passes again (a
//     readiness probe: the pod leaves its Service, and a rollout waits for it).
//
// Kubernetes' gRPC probes speak neither TLS nor tokens, so the port carries the health
// service and nothing else: no data, no other method.
package probes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// LivenessService is the service name a liveness probe asks for; "" is readiness.
const LivenessService = "liveness"

// Check is one dependency a role needs to do its work.
type Check struct {
	// Name says what is checked in logs ("database", "temporal").
	Name string
	// Run returns nil when the dependency answers; it is given Config.Timeout.
	Run func(ctx context.Context) error
}

// Config says where to serve and what to check.
type Config struct {
	// Addr is the listen address, for example ":8086" (":0" picks a port).
	Addr string
	// Every is the pause between two runs of the checks; default 5 s.
	Every time.Duration
	// Timeout bounds each check; default 2 s.
	Timeout time.Duration
	// Logger records readiness changes; default slog.Default().
	Logger *slog.Logger
}

// Server is a bound health server; Serve runs it.
type Server struct {
	cfg    Config
	lis    net.Listener
	grpc   *grpc.Server
	health *health.Server
	// checks are the role's, set by Started; nil until then (not ready).
	checks atomic.Pointer[[]Check]
	// started wakes Serve to run the checks at once when Started is called.
	started chan struct{}
	// checked is set after the first run of the checks; ready is the last run's result.
	checked, ready bool
}

// Listen binds cfg.Addr, so that a taken port is known at start. Liveness is SERVING as
// soon as Serve runs; readiness is NOT_SERVING until Started is called and its checks pass.
func Listen(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		return nil, errors.New("probes: no listen address")
	}
	if cfg.Every < 0 || cfg.Timeout < 0 {
		return nil, fmt.Errorf("probes: negative interval (every %s, timeout %s)", cfg.Every, cfg.Timeout)
	}
	if cfg.Every == 0 {
		cfg.Every = 5 * time.Second
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	lis, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("probes: health address: %w (choose another with --health-addr)", err)
	}
	h := health.NewServer()
	h.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	h.SetServingStatus(LivenessService, healthpb.HealthCheckResponse_SERVING)
	g := grpc.NewServer()
	healthpb.RegisterHealthServer(g, h)
	return &Server{cfg: cfg, lis: lis, grpc: g, health: h, started: make(chan struct{}, 1)}, nil
}

// Started says the role is up and names what it depends on: the checks run at once, and
// from now on readiness is their result (none: ready). Before it the role is still
// connecting, and not ready.
func (s *Server) Started(checks ...Check) {
	s.checks.Store(&checks)
	select {
	case s.started <- struct{}{}:
	default:
	}
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.lis.Addr() }

// Serve answers probes and runs the checks until ctx ends, then reports NOT_SERVING to
// every watcher and stops. It returns an error only if the server fails.
func (s *Server) Serve(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- s.grpc.Serve(s.lis) }()
	s.cfg.Logger.Info("serving health", "addr", s.lis.Addr().String())
	tick := time.NewTimer(0)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return fmt.Errorf("probes: health server: %w", err)
		case <-ctx.Done():
			s.health.Shutdown()
			s.grpc.Stop()
			<-done
			return nil
		case <-tick.C:
			s.check(ctx)
			tick.Reset(s.cfg.Every)
		case <-s.started:
			s.check(ctx) // ready as soon as the role is, not at the next tick
		}
	}
}

// check runs every check once and sets readiness; it logs the first result and changes.
func (s *Server) check(ctx context.Context) {
	checks := s.checks.Load()
	if checks == nil {
		return // still starting: NOT_SERVING, as Listen set it
	}
	var failed string
	var err error
	for _, c := range *checks {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		err = c.Run(cctx)
		cancel()
		if err != nil {
			failed = c.Name
			break
		}
	}
	if err != nil && ctx.Err() != nil {
		return // stopping: the next state is Shutdown's
	}
	ready := err == nil
	switch {
	case ready && (!s.checked || !s.ready):
		s.cfg.Logger.Info("ready")
	case !ready && (!s.checked || s.ready):
		s.cfg.Logger.Warn("not ready", "check", failed, "err", err)
	}
	s.checked, s.ready = true, ready
	if ready {
		s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	} else {
		s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	}
}
