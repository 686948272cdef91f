package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ordersaga/ordersaga/natsembed"
	"github.com/ordersaga/ordersaga/pglocal"
	"github.com/ordersaga/ordersaga/temporaldev"
)

// devRole runs everything that exists so far in one process: a PostgreSQL cluster in the
// data directory (unless --database-url is given), the schema, embedded NATS Streaming and
// JetStream with file stores, the Temporal dev server with its Web UI, the saga worker, the
// outbox relay, two projector members, the restaurant simulator and the gRPC API.
type devRole struct {
	db          databaseFlags
	bus         busFlags
	temporal    temporalFlags
	rule        restaurantFlags
	pprof       pprofFlag
	dataDir     string
	grpcAddr    string
	natsPort    int
	monitorPort int
	// natsSync is how often the embedded NATS servers fsync (natsembed.Config.SyncInterval).
	natsSync time.Duration
	uiPort   int
	reset    bool

	conns
	cluster *pglocal.Cluster
	nats    *natsembed.Servers
	server  *temporaldev.Server
	// temporalBin is the temporal CLI that runs the dev server.
	temporalBin string
}

func (r *devRole) flags(fs *flag.FlagSet, env func(string) string) {
	r.db.register(fs, env)
	r.bus.register(fs, env, "dev")
	r.temporal.register(fs, env)
	r.rule.register(fs)
	r.pprof.register(fs, env)
	fs.StringVar(&r.dataDir, "data-dir", envOr(env, "ORDERSAGA_DATA_DIR", ".ordersaga"), "where dev keeps its data between runs (env ORDERSAGA_DATA_DIR)")
	fs.StringVar(&r.grpcAddr, "grpc-addr", envOr(env, "ORDERSAGA_GRPC_ADDR", "127.0.0.1:50051"), "gRPC listen address (env ORDERSAGA_GRPC_ADDR)")
	fs.IntVar(&r.natsPort, "nats-port", 4222, "port of the embedded NATS server")
	fs.IntVar(&r.monitorPort, "nats-monitor-port", 8222, "HTTP monitoring port of the embedded NATS server")
	fs.IntVar(&r.uiPort, "temporal-ui-port", 8233, "port of Temporal Web (the dev server's gRPC port is --temporal-address's)")
	fs.BoolVar(&r.reset, "reset", false, "delete the data directory first")
	fs.DurationVar(&r.natsSync, "nats-sync-interval", time.Second,
		"how often the embedded NATS servers fsync their stores; 0 fsyncs every message and ack (safe against power cuts, slower)")
}

func (r *devRole) run(ctx context.Context, m *Main) error {
	if r.natsSync < 0 {
		return fmt.Errorf("--nats-sync-interval must not be negative, got %s", r.natsSync)
	}
	logger := m.logger(true, r.db.logLevel)
	if r.reset {
		logger.Info("deleting the data directory", "dir", r.dataDir)
		if err := os.RemoveAll(r.dataDir); err != nil {
			return err
		}
	}
	// 0711: PostgreSQL runs as its own user when we are root and must pass through.
	if err := os.MkdirAll(r.dataDir, 0o711); err != nil {
		return err
	}
	url := r.db.url
	if url == "" {
		dir := filepath.Join(r.dataDir, "postgres")
		logger.Info("starting PostgreSQL", "dir", dir)
		startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		var err error
		r.cluster, err = pglocal.Start(startCtx, pglocal.Config{Dir: dir, Durable: true})
		cancel()
		if err != nil {
			return err
		}
		url = r.cluster.URL("postgres")
	}
	var err error
	if r.pool, err = r.db.open(ctx, url); err != nil {
		return err
	}
	logger.Info("schema is up to date", "database", url)

	r.nats, err = natsembed.Start(natsembed.Config{Dir: filepath.Join(r.dataDir, "nats"), Port: r.natsPort, MonitorPort: r.monitorPort,
		ClusterID: r.bus.clusterID, Logger: logger, SyncInterval: r.natsSync})
	if err != nil {
		return fmt.Errorf("%w (choose other ports with --nats-port and --nats-monitor-port)", err)
	}
	r.bus.url, r.bus.monitorURL = r.nats.ClientURL(), r.nats.MonitorURL()
	logger.Info("NATS Streaming and JetStream running", "url", r.bus.url, "monitor", r.bus.monitorURL, "bus", r.bus.kind)
	if r.conn, err = r.bus.open(ctx, logger); err != nil {
		return err
	}

	if err := r.startTemporal(ctx, m); err != nil {
		return err
	}

	if r.temporalClient, err = r.temporal.dial(ctx, logger); err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return servePprof(ctx, logger, r.pprof.addr) })
	g.Go(func() error { return runWorker(ctx, logger, r.temporalClient, r.pool, r.conn) })
	g.Go(func() error { return runProjector(ctx, logger, r.pool, r.conn, 2, 30*time.Second) })
	g.Go(func() error { return runRestaurant(ctx, logger, r.temporalClient, r.pool, r.conn, r.rule) })
	g.Go(func() error { return serveAPI(ctx, logger, apiConfig(logger, r.pool, r.temporalClient), r.grpcAddr) })
	r.banner(m, url)
	return g.Wait()
}

// banner tells a newcomer where everything is and what to try.
func (r *devRole) banner(m *Main, databaseURL string) {
	cli := "go run ./cmd/ordersaga"
	fmt.Fprintf(m.Stdout, `
ordersaga dev is running. Ctrl-C stops everything; running it again keeps the data (--reset wipes it).

  Temporal Web  %s
  gRPC API      %s  (OrderService, EventStoreService; server reflection on)
  NATS          %s  (monitoring %s, bus: %s)
  PostgreSQL    %s
  Temporal      %s  (temporal CLI: %s)

Try, in another terminal:
  %s account credit --customer c-1 --amount 5000 --currency EUR
  %s order place 1 --customer c-1 --restaurant r-7 --item margherita:Margherita:1150:2
  %s order watch 1
  temporal workflow start --type OrderSaga --task-queue orders --workflow-id order-2 --id-reuse-policy RejectDuplicate \
    --input '{"order_id":"2","customer_id":"c-1","restaurant_id":"manual","currency":"EUR","items":[{"id":"m","name":"Margherita","unit_price":1150,"quantity":1}]}'
  %s order approve 2
  go run github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4 -plaintext -d '{"order_id":"1"}' %s ordersaga.v1.OrderService/GetOrder
  %s verify --database-url "%s"

`, r.server.UIURL(), r.grpcAddr, r.bus.url, r.bus.monitorURL, r.bus.kind, databaseURL, r.server.HostPort(), r.temporalBin,
		cli, cli, cli, cli, r.grpcAddr, cli, databaseURL)
}

// startTemporal runs the Temporal dev server, persisted in the data directory.
func (r *devRole) startTemporal(ctx context.Context, m *Main) error {
	logger := m.logger(true, r.db.logLevel)
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	bin, err := temporaldev.Binary(ctx, root, logger)
	if err != nil {
		return err
	}
	host, port, err := splitHostPort(r.temporal.address)
	if err != nil {
		return fmt.Errorf("--temporal-address: %w", err)
	}
	r.temporalBin = bin
	logger.Info("starting the Temporal dev server", "binary", bin)
	r.server, err = temporaldev.Start(ctx, temporaldev.Config{Binary: bin, IP: host, Port: port, UIPort: r.uiPort,
		DBFile: filepath.Join(r.dataDir, "temporal.db"), Output: m.Stderr, Logger: logger})
	if err != nil {
		return fmt.Errorf("%w (choose other ports with --temporal-address and --temporal-ui-port)", err)
	}
	logger.Info("Temporal running", "address", r.server.HostPort(), "web", r.server.UIURL())
	return nil
}

func (r *devRole) close() error {
	errs := []error{r.conns.close()}
	if r.server != nil {
		errs = append(errs, r.server.Stop())
	}
	if r.nats != nil {
		r.nats.Shutdown()
	}
	if r.cluster != nil {
		errs = append(errs, r.cluster.Stop())
	}
	return errors.Join(errs...)
}
