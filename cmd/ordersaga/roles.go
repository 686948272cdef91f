package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/ordersaga/ordersaga/internal/system"
)

// runRole runs one long-running role built by internal/system, with its Go profiles
// served beside it when asked for.
func runRole(ctx context.Context, r interface{ Run(context.Context) error }, pprof pprofFlag, logger *slog.Logger) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := servePprof(ctx, logger, pprof.addr); err != nil {
			logger.Warn("pprof not served", "err", err)
		}
		return nil
	})
	g.Go(func() error { return r.Run(ctx) })
	return g.Wait()
}

func (m *Main) migrateCommand() *cobra.Command {
	var (
		db  databaseFlags
		cmd = &cobra.Command{Use: "migrate", Short: "create or upgrade the database schema, then exit", Args: noArgs}
	)
	db.register(m.flagsOf(cmd.Flags()))
	cmd.RunE = m.runs(func(ctx context.Context) error {
		if _, err := m.openDB(ctx, db, db.url, migrateSchema); err != nil {
			return err
		}
		fmt.Fprintln(m.Stdout, "schema is up to date")
		return nil
	})
	return cmd
}

func (m *Main) workerCommand() *cobra.Command {
	var (
		db       databaseFlags
		bus      busFlags
		temporal temporalFlags
		log      logFlags
		pprof    pprofFlag
		baseline bool
		cmd      = &cobra.Command{Use: "worker", Short: "run the OrderSaga worker (and the outbox relay) against Temporal", Args: noArgs}
	)
	f := m.flagsOf(cmd.Flags())
	db.register(f)
	bus.register(f, "worker")
	temporal.register(f)
	log.register(f)
	pprof.register(f)
	f.Bool(&baseline, "with-baseline", "ORDERSAGA_WITH_BASELINE", false,
		"also run the load test's BaselineSaga (for `ordersaga load --baseline` against this worker)")
	cmd.RunE = m.runs(func(ctx context.Context) error {
		logger := m.logger(false, log.level)
		conn, err := m.connect(ctx, logger, db, &bus, &temporal)
		if err != nil {
			return err
		}
		w, err := system.NewWorker(system.WorkerConfig{DB: conn.db, Bus: conn.bus, Temporal: conn.temporal, Logger: logger, Baseline: baseline})
		if err != nil {
			return err
		}
		return runRole(ctx, w, pprof, logger)
	})
	return cmd
}

func (m *Main) projectorCommand() *cobra.Command {
	var (
		db        databaseFlags
		bus       busFlags
		log       logFlags
		members   int
		reconcile time.Duration
		cmd       = &cobra.Command{Use: "projector", Short: "build the read models from the bus (queue group " + system.ProjectorGroup + ")", Args: noArgs}
	)
	f := m.flagsOf(cmd.Flags())
	db.register(f)
	bus.register(f, "projector")
	log.register(f)
	cmd.Flags().IntVar(&members, "members", 1, "queue-group members in this process")
	cmd.Flags().DurationVar(&reconcile, "reconcile-every", 30*time.Second, "how often to catch up streams whose last messages were lost")
	cmd.RunE = m.runs(func(ctx context.Context) error {
		logger := m.logger(false, log.level)
		conn, err := m.connect(ctx, logger, db, &bus, nil)
		if err != nil {
			return err
		}
		p, err := system.NewProjectors(system.ProjectorsConfig{DB: conn.db, Bus: conn.bus, Logger: logger, Members: members, ReconcileEvery: reconcile})
		if err != nil {
			return err
		}
		return p.Run(ctx)
	})
	return cmd
}

func (m *Main) relayCommand() *cobra.Command {
	var (
		db  databaseFlags
		bus busFlags
		log logFlags
		cmd = &cobra.Command{Use: "relay", Short: "publish committed events that are still in the outbox, until stopped", Args: noArgs}
	)
	f := m.flagsOf(cmd.Flags())
	db.register(f)
	bus.register(f, "relay")
	log.register(f)
	cmd.RunE = m.runs(func(ctx context.Context) error {
		logger := m.logger(false, log.level)
		conn, err := m.connect(ctx, logger, db, &bus, nil)
		if err != nil {
			return err
		}
		r, err := system.NewRelay(system.RelayConfig{DB: conn.db, Bus: conn.bus, Logger: logger})
		if err != nil {
			return err
		}
		return r.Run(ctx)
	})
	return cmd
}

func (m *Main) apiCommand() *cobra.Command {
	var (
		db       databaseFlags
		temporal temporalFlags
		log      logFlags
		pprof    pprofFlag
		addr     string
		cmd      = &cobra.Command{Use: "api", Short: "serve the gRPC API against an existing database", Args: noArgs}
	)
	f := m.flagsOf(cmd.Flags())
	db.register(f)
	temporal.register(f)
	log.register(f)
	pprof.register(f)
	f.String(&addr, "grpc-addr", "ORDERSAGA_GRPC_ADDR", ":50051", "gRPC listen address")
	cmd.RunE = m.runs(func(ctx context.Context) error {
		logger := m.logger(false, log.level)
		conn, err := m.connect(ctx, logger, db, nil, &temporal)
		if err != nil {
			return err
		}
		a, err := newAPI(system.APIConfig{DB: conn.db, Temporal: conn.temporal, Logger: logger, Addr: addr})
		if err != nil {
			return err
		}
		return runRole(ctx, a, pprof, logger)
	})
	return cmd
}

// newAPI builds the API role, naming the flag that moves it when its address is taken.
func newAPI(cfg system.APIConfig) (*system.API, error) {
	a, err := system.NewAPI(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w (choose another address with --grpc-addr)", err)
	}
	return a, nil
}

func (m *Main) restaurantCommand() *cobra.Command {
	var (
		db       databaseFlags
		bus      busFlags
		temporal temporalFlags
		log      logFlags
		rule     restaurantFlags
		cmd      = &cobra.Command{Use: "restaurant", Short: "simulate restaurants: decide orders after their payment", Args: noArgs}
	)
	f := m.flagsOf(cmd.Flags())
	db.register(f)
	bus.register(f, "restaurant")
	temporal.register(f)
	log.register(f)
	rule.register(cmd.Flags())
	cmd.RunE = m.runs(func(ctx context.Context) error {
		logger := m.logger(false, log.level)
		conn, err := m.connect(ctx, logger, db, &bus, &temporal)
		if err != nil {
			return err
		}
		r, err := system.NewRestaurant(rule.config(conn, logger))
		if err != nil {
			return err
		}
		return r.Run(ctx)
	})
	return cmd
}
