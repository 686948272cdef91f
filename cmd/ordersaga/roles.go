package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"

	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga/api"
	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/payments"
	"github.com/ordersaga/ordersaga/projections"
	"github.com/ordersaga/ordersaga/relay"
	"github.com/ordersaga/ordersaga/sqldb"
	"github.com/ordersaga/ordersaga/workflows"
)

// databaseFlags are the settings of every role that uses the database.
type databaseFlags struct {
	url      string
	maxConns int
	logLevel string
}

func (d *databaseFlags) register(fs *flag.FlagSet, env func(string) string) {
	fs.StringVar(&d.url, "database-url", env("DATABASE_URL"),
		"CockroachDB or PostgreSQL connection string, e.g. postgresql://root@localhost:26257/ordersaga?sslmode=disable (env DATABASE_URL)")
	fs.IntVar(&d.maxConns, "db-max-conns", 0, "database pool size (0: max(4, CPUs))")
	fs.StringVar(&d.logLevel, "log-level", envOr(env, "ORDERSAGA_LOG_LEVEL", "info"), "debug, info, warn or error (env ORDERSAGA_LOG_LEVEL)")
}

// open connects and migrates: every role applies the schema at start.
func (d *databaseFlags) open(ctx context.Context, url string) (*sqldb.DB, error) {
	if url == "" {
		return nil, errors.New("no database: pass --database-url or set DATABASE_URL")
	}
	db, err := sqldb.Open(ctx, sqldb.Config{URL: url, MaxConns: int32(d.maxConns)})
	if err != nil {
		return nil, err
	}
	for _, migrate := range []func(context.Context, *sqldb.DB) error{eventstore.Migrate, projections.Migrate} {
		if err := migrate(ctx, db); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

// migrateRole applies the schema and exits.
type migrateRole struct {
	db databaseFlags
}

func (r *migrateRole) flags(fs *flag.FlagSet, env func(string) string) { r.db.register(fs, env) }

func (r *migrateRole) run(ctx context.Context, m *Main) error {
	db, err := r.db.open(ctx, r.db.url)
	if err != nil {
		return err
	}
	db.Close()
	fmt.Fprintln(m.Stdout, "schema is up to date")
	return nil
}

func (r *migrateRole) close() error { return nil }

// apiRole serves the gRPC API.
type apiRole struct {
	db       databaseFlags
	pprof    pprofFlag
	temporal temporalFlags
	grpcAddr string
	conns
}

func (r *apiRole) flags(fs *flag.FlagSet, env func(string) string) {
	r.db.register(fs, env)
	r.pprof.register(fs, env)
	r.temporal.register(fs, env)
	fs.StringVar(&r.grpcAddr, "grpc-addr", envOr(env, "ORDERSAGA_GRPC_ADDR", ":50051"), "gRPC listen address (env ORDERSAGA_GRPC_ADDR)")
}

func (r *apiRole) run(ctx context.Context, m *Main) error {
	logger := m.logger(false, r.db.logLevel)
	if err := r.conns.open(ctx, logger, &r.db, nil, &r.temporal); err != nil {
		return err
	}
	go r.pprof.serve(ctx, logger)
	return serveAPI(ctx, logger, apiConfig(logger, r.pool, r.temporalClient), r.grpcAddr)
}

// apiConfig wires the API's dependencies.
func apiConfig(logger *slog.Logger, db *sqldb.DB, c client.Client) api.Config {
	store := eventstore.New(db)
	return api.Config{
		Store: store, Logger: logger,
		Sagas:      workflows.Client{Temporal: c},
		ReadModels: projections.NewReadModels(db),
		Accounts:   payments.Accounts{Store: store, Cache: payments.NewAccountCache(0)},
	}
}

// serveAPI serves the gRPC API on addr until ctx ends, then stops gracefully.
func serveAPI(ctx context.Context, logger *slog.Logger, cfg api.Config, addr string) error {
	srv, err := api.NewServer(cfg)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("gRPC API cannot listen on %s (is the port in use? choose another with --grpc-addr): %w", addr, err)
	}
	logger.Info("gRPC API listening", "addr", lis.Addr().String())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down the gRPC API")
	stopCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	srv.Stop(stopCtx)
	return <-served
}

// relayRole drains the outbox onto the bus.
type relayRole struct {
	db  databaseFlags
	bus busFlags
	conns
}

func (r *relayRole) flags(fs *flag.FlagSet, env func(string) string) {
	r.db.register(fs, env)
	r.bus.register(fs, env, "relay")
}

func (r *relayRole) run(ctx context.Context, m *Main) error {
	logger := m.logger(false, r.db.logLevel)
	if err := r.conns.open(ctx, logger, &r.db, &r.bus, nil); err != nil {
		return err
	}
	return runRelay(ctx, logger, r.pool, r.conn)
}

// runRelay relays the outbox until ctx ends.
func runRelay(ctx context.Context, logger *slog.Logger, db *sqldb.DB, bus eventbus.Publisher) error {
	r, err := relay.New(relay.Config{Outbox: eventstore.New(db), Publisher: bus, Logger: logger.With("component", "relay")})
	if err != nil {
		return err
	}
	logger.Info("outbox relay running")
	return r.Run(ctx)
}
