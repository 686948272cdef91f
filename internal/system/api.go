package system

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga/api"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/menus"
	"github.com/ordersaga/ordersaga/payments"
	"github.com/ordersaga/ordersaga/projections"
	"github.com/ordersaga/ordersaga/sqldb"
	"github.com/ordersaga/ordersaga/telemetry"
	"github.com/ordersaga/ordersaga/worker"
	"github.com/ordersaga/ordersaga/workflows"
)

// ShutdownGrace is how long calls in flight get to finish when a role is stopped.
const ShutdownGrace = 10 * time.Second

// APIConfig are the API role's dependencies and settings.
type APIConfig struct {
	DB       *sqldb.DB     // required
	Temporal client.Client // required
	// Tokens checks every caller's bearer token (auth.Verifier). Required.
	Tokens api.TokenVerifier
	Logger *slog.Logger
	// Addr is the address to listen on, host:port; port 0 picks a free one.
	Addr string
	// Reflection serves gRPC server reflection (dev does; a production API need not).
	Reflection bool
	// MaxWatch bounds one WatchOrder stream; 0 keeps api's default.
	MaxWatch time.Duration
	// TLS, when set, serves over TLS (api.Config.TLS). Without it the API serves plaintext
	// only on a loopback address, unless AllowPlaintext.
	TLS            *tls.Config
	AllowPlaintext bool
	// Telemetry receives every call's metrics and span; nil: none.
	Telemetry *telemetry.Telemetry
}

// API is the gRPC API role: OrderService, EventStoreService, health and reflection.
type API struct {
	server *api.Server
	lis    net.Listener
	logger *slog.Logger
}

// NewAPI builds the API role and listens on cfg.Addr; the error names the address when it
// cannot.
func NewAPI(cfg APIConfig) (*API, error) {
	if cfg.DB == nil || cfg.Temporal == nil || cfg.Tokens == nil {
		return nil, errors.New("system: the API needs DB, Temporal and Tokens")
	}
	if cfg.TLS == nil && !cfg.AllowPlaintext && !loopback(cfg.Addr) {
		return nil, fmt.Errorf("refusing to serve the API without TLS on %s, which is not a loopback address: give it a certificate, or allow plaintext explicitly", cfg.Addr)
	}
	logger := orDiscard(cfg.Logger)
	store := eventstore.New(cfg.DB)
	tel := orOff(cfg.Telemetry)
	srv, err := api.NewServer(api.Config{Meters: tel.Meters, Tracers: tel.Tracers,
		Store: store, Logger: logger, Tokens: cfg.Tokens, Reflection: cfg.Reflection, MaxWatch: cfg.MaxWatch, TLS: cfg.TLS,
		Sagas:      sagasClient(cfg.Temporal, tel, logger),
		ReadModels: projections.NewReadModels(cfg.DB),
		Accounts:   payments.Accounts{Store: store, Cache: payments.NewAccountCache(0)},
		Menus:      menus.Menus{Store: store},
	})
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("gRPC API cannot listen on %s (is the port in use?): %w", cfg.Addr, err)
	}
	return &API{server: srv, lis: lis, logger: logger}, nil
}

// loopback says whether addr (host:port) listens on the loopback interface only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Addr is the address the API listens on.
func (a *API) Addr() string { return a.lis.Addr().String() }

// Run serves until ctx ends, then stops gracefully: calls in flight get ShutdownGrace.
func (a *API) Run(ctx context.Context) error {
	a.logger.Info("gRPC API listening", "addr", a.Addr())
	served := make(chan error, 1)
	go func() { served <- a.server.Serve(a.lis) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	a.logger.Info("shutting down the gRPC API")
	stopCtx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	a.server.Stop(stopCtx)
	return <-served
}

// sagasClient is the API's client of the sagas, counting into tel's metrics when it has.
func sagasClient(temporal client.Client, tel *telemetry.Telemetry, logger *slog.Logger) workflows.Client {
	c := workflows.Client{Temporal: temporal}
	if tel.Meters != nil {
		c.Metrics = worker.MetricsHandler(tel.Meters, logger)
	}
	return c
}
