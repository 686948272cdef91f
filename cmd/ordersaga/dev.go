package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/ordersaga/ordersaga/internal/system"
	"github.com/ordersaga/ordersaga/natsembed"
	"github.com/ordersaga/ordersaga/sqldb"
	"github.com/ordersaga/ordersaga/temporaldev"
)

// devFlags are the settings of `ordersaga dev`.
type devFlags struct {
	databaseURL string
	busKind     string
	temporal    string // where the Temporal dev server listens
	log         logFlags
	pollers     pollersFlag
	rule        restaurantFlags
	pprof       pprofFlag
	metricsAddr string
	traceFile   string
	dataDir     string
	grpcAddr    string
	natsPort    int
	monitorPort int
	// natsSync is how often the embedded NATS servers fsync (natsembed.Config.SyncInterval).
	natsSync time.Duration
	uiPort   int
	reset    bool
	// demoMenus are the restaurants that get system.DemoMenu if they have no menu yet.
	demoMenus []string
}

// defaultDataDir is where dev keeps its data unless told otherwise.
const defaultDataDir = ".ordersaga"

func (m *Main) devCommand() *cobra.Command {
	var (
		r   devFlags
		cmd = &cobra.Command{Use: "dev", Args: noArgs,
			Short: "run everything in one process on a throwaway PostgreSQL, with Temporal Web and NATS"}
	)
	f := m.flagsOf(cmd.Flags())
	f.String(&r.databaseURL, "database-url", "DATABASE_URL", "", "use this database instead of a PostgreSQL cluster in the data directory")
	f.String(&r.busKind, "bus", "ORDERSAGA_BUS", system.BusNATSStreaming, "event bus: natsstreaming or jetstream")
	f.String(&r.temporal, "temporal-address", "TEMPORAL_ADDRESS", "127.0.0.1:7233", "where the Temporal dev server listens (host:port)")
	r.log.register(f)
	r.pollers.register(f)
	r.rule.register(cmd.Flags())
	r.pprof.register(f)
	fs := cmd.Flags()
	f.String(&r.dataDir, "data-dir", "ORDERSAGA_DATA_DIR", defaultDataDir, "where dev keeps its data between runs")
	f.String(&r.grpcAddr, "grpc-addr", "ORDERSAGA_GRPC_ADDR", "127.0.0.1:50051", "gRPC listen address")
	f.String(&r.metricsAddr, "metrics-addr", "ORDERSAGA_METRICS_ADDR", "127.0.0.1:9464", "serve Prometheus metrics on http://<this address>/metrics; empty: no metrics")
	f.String(&r.traceFile, "trace-file", "ORDERSAGA_TRACE_FILE", "",
		"write every span to this file, a JSON object each (traces also go where the OTEL_* variables say)")
	fs.IntVar(&r.natsPort, "nats-port", 4222, "port of the embedded NATS server")
	fs.IntVar(&r.monitorPort, "nats-monitor-port", 8222, "HTTP monitoring port of the embedded NATS server")
	fs.IntVar(&r.uiPort, "temporal-ui-port", 8233, "port of Temporal Web (the dev server's gRPC port is --temporal-address's)")
	fs.BoolVar(&r.reset, "reset", false, "delete the data directory first")
	fs.StringSliceVar(&r.demoMenus, "demo-menus", system.DemoRestaurants,
		"restaurants that get the demo menu (margherita, marinara, tiramisu, caviar, sold-out) if they have no menu yet; empty: none")
	fs.DurationVar(&r.natsSync, "nats-sync-interval", time.Second,
		"how often the embedded NATS servers fsync their stores; 0 fsyncs every message and ack (safe against power cuts, slower)")
	cmd.RunE = m.runs(func(ctx context.Context) error { return m.dev(ctx, r) })
	return cmd
}

// dev runs everything in one process (system.Dev) and prints where it is.
func (m *Main) dev(ctx context.Context, r devFlags) error {
	if r.natsSync < 0 {
		return fmt.Errorf("--nats-sync-interval must not be negative, got %s", r.natsSync)
	}
	if err := r.pollers.check(); err != nil {
		return err
	}
	logger := m.logger(true, r.log.level)
	bin, err := temporalCLI(ctx, logger)
	if err != nil {
		return err
	}
	d, err := system.StartDev(ctx, system.DevConfig{
		DataDir: r.dataDir, Reset: r.reset, DatabaseURL: r.databaseURL,
		Bus:      system.BusConfig{Kind: r.busKind, ClusterID: natsembed.DefaultClusterID, ClientID: "dev"},
		NATSPort: r.natsPort, NATSMonitorPort: r.monitorPort, NATSSync: r.natsSync,
		TemporalBinary: bin, TemporalAddress: r.temporal, TemporalUIPort: r.uiPort, TemporalOutput: m.Stderr,
		GRPCAddr:    r.grpcAddr,
		Pollers:     r.pollers.pollers,
		Restaurant:  r.rule.config(logger),
		DemoMenus:   r.demoMenus,
		MetricsAddr: r.metricsAddr,
		TraceFile:   r.traceFile,
		Logger:      logger,
	})
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w (choose other addresses with --grpc-addr, --nats-port, --nats-monitor-port, --temporal-address, --temporal-ui-port, --metrics-addr)", err)
	}
	if err != nil {
		return err
	}
	m.onClose(d.Close)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return servePprof(ctx, logger, r.pprof.addr) })
	g.Go(func() error { return d.Run(ctx) })
	where := d.Where
	where.DatabaseURL = sqldb.Redact(where.DatabaseURL) // a --database-url may carry a password
	m.banner(where)
	return g.Wait()
}

// temporalCLI is the temporal CLI that runs the dev server: built once from this
// checkout's tools module (the working directory's) into the cache.
func temporalCLI(ctx context.Context, logger *slog.Logger) (string, error) {
	root, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return temporaldev.Binary(ctx, root, logger)
}

// banner tells a newcomer where everything is and what to try.
func (m *Main) banner(at system.DevAddresses) {
	cli := "go run ./cmd/ordersaga"
	fmt.Fprintf(m.Stdout, `
ordersaga dev is running. Ctrl-C stops everything; running it again keeps the data (--reset wipes it).

  Temporal Web  %s
  gRPC API      %s  (OrderService, EventStoreService; server reflection on)
  NATS          %s  (monitoring %s, bus: %s; users in %s)
  PostgreSQL    %s
  Temporal      %s  (temporal CLI: %s)
  Metrics       %s  (Prometheus; alert rules and a Grafana dashboard in deploy/)

Try, in another terminal (the CLI calls the API as an operator with dev's key; --token as anyone else):
  %s account credit --customer c-1 --amount 5000 --currency EUR
  %s order place 1 --customer c-1 --restaurant r-7 --item margherita:2
  %s order watch 1
  temporal workflow start --type OrderSaga --task-queue orders --workflow-id order-2 --id-reuse-policy RejectDuplicate \
    --input '{"order_id":"2","customer_id":"c-1","restaurant_id":"manual","currency":"EUR","items":[{"id":"margherita","quantity":1}]}'
  %s order approve 2
  %s menu show --restaurant r-7
  %s order get 1 --token "$(%s token --customer c-1)"
  go run github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4 -plaintext -H "authorization: Bearer $(%s token --operator)" -d '{"order_id":"1"}' %s ordersaga.v1.OrderService/GetOrder
  %s verify --database-url "%s"
  %s load --orders 200 --concurrency 8 --baseline --api %s --temporal-address %s --database-url "%s"

`, at.TemporalWeb, at.GRPC, at.NATS, at.NATSMonitor, at.Bus, at.NATSUsers, at.DatabaseURL, at.Temporal, at.TemporalBinary, cmp.Or(at.Metrics, "off"),
		cli, cli, cli, cli, cli, cli, cli, cli, at.GRPC, cli, at.DatabaseURL, cli, at.GRPC, at.Temporal, at.DatabaseURL)
}
