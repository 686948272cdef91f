package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/ordersaga/ordersaga/auth"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/internal/system"
	"github.com/ordersaga/ordersaga/telemetry"
	"github.com/ordersaga/ordersaga/workflows"
)

// runRole runs one long-running role built by internal/system, with its metrics and Go
// profiles served beside it when asked for. A metrics address that cannot be bound stops
// the role at start (a scraper would see nothing); profiles are only a warning.
func runRole(ctx context.Context, r runner, tel *telemetry.Telemetry, pprof pprofFlag, logger *slog.Logger) error {
	metrics, err := tel.Listen()
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := servePprof(ctx, logger, pprof.addr); err != nil {
			logger.Warn("pprof not served", "err", err)
		}
		return nil
	})
	g.Go(func() error { return tel.Serve(ctx, metrics) })
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

// runner is a role built by internal/system.
type runner interface {
	Run(ctx context.Context) error
}

// roleSpec describes a long-running role's command: what it connects to besides the
// database, its own flags, and how it builds the role from its connections.
type roleSpec struct {
	use, short    string
	bus, temporal bool
	// noDatabase: the role does not use the database (it calls the API instead).
	noDatabase bool
	// flags registers the role's own flags; nil for none.
	flags func(f envFlags)
	// check refuses flags that cannot work, before anything connects; nil for none.
	check func() error
	// build makes the role once its connections are open.
	build func(c conns, logger *slog.Logger) (runner, error)
}

// roleCommand is the command of a long-running role: its health service (live at once,
// ready once connected), the database (migrated at start), the bus and Temporal as the
// spec asks, logging and profiles, then the role until stopped.
func (m *Main) roleCommand(spec roleSpec) *cobra.Command {
	var (
		db       databaseFlags
		bus      busFlags
		temporal temporalFlags
		log      logFlags
		pprof    pprofFlag
		metrics  metricsFlag
		health   healthFlag
		busOf    *busFlags
		tempOf   *temporalFlags
		cmd      = &cobra.Command{Use: spec.use, Short: spec.short, Args: noArgs}
	)
	f := m.flagsOf(cmd.Flags())
	if !spec.noDatabase {
		db.register(f)
	}
	if spec.bus {
		bus.register(f, spec.use)
		busOf = &bus
	}
	if spec.temporal {
		temporal.register(f)
		tempOf = &temporal
	}
	log.register(f)
	pprof.register(f)
	metrics.register(f)
	health.register(f)
	if spec.flags != nil {
		spec.flags(f)
	}
	cmd.RunE = m.runs(func(ctx context.Context) error {
		if spec.check != nil {
			if err := spec.check(); err != nil {
				return err
			}
		}
		if busOf != nil {
			if err := bus.check(); err != nil {
				return err
			}
		}
		logger := m.logger(false, log.level)
		started, err := m.serveProbes(ctx, health, logger)
		if err != nil {
			return err
		}
		tel, err := m.startTelemetry(ctx, spec.use, metrics)
		if err != nil {
			return err
		}
		conn, err := m.connect(ctx, logger, db, !spec.noDatabase, busOf, tempOf)
		if err != nil {
			return err
		}
		r, err := spec.build(conn, logger)
		if err != nil {
			return err
		}
		started(conn)
		return runRole(ctx, r, tel, pprof, logger)
	})
	return cmd
}

func (m *Main) workerCommand() *cobra.Command {
	var (
		baseline bool
		relay    relayFlags
		pollers  pollersFlag
	)
	return m.roleCommand(roleSpec{use: "worker", short: "run the OrderSaga worker (and the outbox relay) against Temporal", bus: true, temporal: true,
		flags: func(f envFlags) {
			f.Bool(&baseline, "with-baseline", "ORDERSAGA_WITH_BASELINE", false,
				"also run the load test's BaselineSaga (for ordersaga load --baseline against this worker)")
			relay.register(f)
			pollers.register(f)
		},
		check: func() error { return errors.Join(relay.check(), pollers.check()) },
		build: func(c conns, logger *slog.Logger) (runner, error) {
			return system.NewWorker(system.WorkerConfig{DB: c.db, Bus: c.bus, Temporal: c.temporal, Logger: logger, Baseline: baseline, Telemetry: m.tel,
				Pollers: pollers.pollers, Relay: relay.tuning()})
		}})
}

func (m *Main) projectorCommand() *cobra.Command {
	var (
		members   int
		reconcile time.Duration
	)
	return m.roleCommand(roleSpec{use: "projector", short: "build the read models from the bus (queue group " + system.ProjectorGroup + ")", bus: true,
		flags: func(f envFlags) {
			f.fs.IntVar(&members, "members", 1, "queue-group members in this process")
			f.fs.DurationVar(&reconcile, "reconcile-every", 30*time.Second, "how often to catch up streams whose last messages were lost")
		},
		build: func(c conns, logger *slog.Logger) (runner, error) {
			return system.NewProjectors(system.ProjectorsConfig{DB: c.db, Bus: c.bus, Logger: logger, Members: members, ReconcileEvery: reconcile})
		}})
}

func (m *Main) relayCommand() *cobra.Command {
	var relay relayFlags
	return m.roleCommand(roleSpec{use: "relay", short: "publish committed events that are still in the outbox, until stopped (relays divide the outbox)", bus: true,
		flags: relay.register,
		check: relay.check,
		build: func(c conns, logger *slog.Logger) (runner, error) {
			return system.NewRelay(system.RelayConfig{DB: c.db, Bus: c.bus, Logger: logger, Telemetry: m.tel, Tuning: relay.tuning()})
		}})
}

func (m *Main) apiCommand() *cobra.Command {
	var (
		addr, jwks, jwksURL, issuer, audience string
		reflection                            bool
		serverTLS                             serverTLSFlags
	)
	return m.roleCommand(roleSpec{use: "api", short: "serve the gRPC API against an existing database", temporal: true,
		flags: func(f envFlags) {
			f.String(&addr, "grpc-addr", "ORDERSAGA_GRPC_ADDR", ":50051", "gRPC listen address")
			f.String(&jwks, "jwks-file", "ORDERSAGA_JWKS_FILE", "", "JSON Web Key Set of the keys that sign callers' tokens (this or --jwks-url; ordersaga keys makes one)")
			f.String(&jwksURL, "jwks-url", "ORDERSAGA_JWKS_URL", "", "URL where an identity provider publishes its key set (its jwks_uri); fetched again as keys rotate")
			f.String(&issuer, "token-issuer", "ORDERSAGA_TOKEN_ISSUER", "", "issuer (iss) callers' tokens must name (required)")
			f.String(&audience, "token-audience", "ORDERSAGA_TOKEN_AUDIENCE", auth.DefaultAudience, "audience (aud) callers' tokens must name")
			f.Bool(&reflection, "reflection", "ORDERSAGA_REFLECTION", false, "serve gRPC server reflection (for grpcurl and the like)")
			serverTLS.register(f)
		},
		build: func(c conns, logger *slog.Logger) (runner, error) {
			if (jwks == "") == (jwksURL == "") || issuer == "" {
				return nil, errors.New("the api role authenticates every caller: pass --token-issuer and one of --jwks-file and --jwks-url " +
					"(or ORDERSAGA_TOKEN_ISSUER and ORDERSAGA_JWKS_FILE or ORDERSAGA_JWKS_URL)")
			}
			cfg := auth.VerifierConfig{KeysURL: jwksURL, Issuer: issuer, Audience: audience}
			if jwks != "" {
				keys, err := auth.ReadKeySet(jwks)
				if err != nil {
					return nil, err
				}
				cfg.Keys = keys
			}
			tokens, err := auth.NewVerifier(cfg)
			if err != nil {
				return nil, err
			}
			tlsConfig, err := serverTLS.config()
			if err != nil {
				return nil, err
			}
			return newAPI(system.APIConfig{DB: c.db, Temporal: c.temporal, Tokens: tokens, Logger: logger, Addr: addr, Reflection: reflection,
				TLS: tlsConfig, AllowPlaintext: serverTLS.insecure, Telemetry: m.tel})
		}})
}

// newAPI builds the API role, naming the flag that moves it when its address is taken.
func newAPI(cfg system.APIConfig) (*system.API, error) {
	a, err := system.NewAPI(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w (choose another address with --grpc-addr; --tls-cert and --tls-key, or --insecure, to serve beyond loopback)", err)
	}
	return a, nil
}

func (m *Main) restaurantCommand() *cobra.Command {
	var (
		rule restaurantFlags
		a    apiFlags
	)
	return m.roleCommand(roleSpec{use: "restaurant", noDatabase: true, bus: true,
		short: "simulate restaurants: decide orders after their payment, through the API (as an operator: --token or --key-dir)",
		flags: func(f envFlags) {
			rule.register(f.fs)
			a.register(f)
		},
		build: func(c conns, logger *slog.Logger) (runner, error) {
			conn, err := m.dialAPI(a)
			if err != nil {
				return nil, err
			}
			cfg := rule.config(logger)
			cfg.Bus, cfg.API, cfg.Telemetry = c.bus, ordersagav1.NewOrderServiceClient(conn), m.tel
			return system.NewRestaurant(cfg)
		}})
}

func (m *Main) monitorCommand() *cobra.Command {
	var (
		every, grace, stuckGrace time.Duration
		attempts                 int32
	)
	return m.roleCommand(roleSpec{use: "monitor", temporal: true,
		short: "verify continuously and watch for stuck sagas; export what is wrong as metrics (--metrics-addr) for alerts",
		flags: func(f envFlags) {
			f.fs.DurationVar(&every, "every", 30*time.Second, "pause between two passes")
			f.fs.DurationVar(&grace, "grace", 10*time.Second, "events younger than this may still be on their way to the bus and the read models")
			f.fs.Int32Var(&attempts, "stuck-attempts", 3, "an activity retrying past this attempt makes its saga stuck")
			f.fs.DurationVar(&stuckGrace, "stuck-grace", time.Minute, "a deadline passed, or a workflow task waiting, longer ago than this makes a saga stuck")
		},
		build: func(c conns, logger *slog.Logger) (runner, error) {
			return system.NewMonitor(system.MonitorConfig{DB: c.db, Temporal: c.temporal, Every: every, Grace: grace, Logger: logger, Telemetry: m.tel,
				Stuck: workflows.StuckOptions{Attempts: attempts, Grace: stuckGrace}})
		}})
}
