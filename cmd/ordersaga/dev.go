package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/ordersaga/ordersaga/internal/system"
	"github.com/ordersaga/ordersaga/natsembed"
	"github.com/ordersaga/ordersaga/pglocal"
	"github.com/ordersaga/ordersaga/temporaldev"
)

// devFlags are the settings of `ordersaga dev`.
type devFlags struct {
	db          databaseFlags
	bus         busFlags
	temporal    temporalFlags
	log         logFlags
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
}

// devClusterBase is where dev keeps its PostgreSQL cluster when it runs as root and the
// postgres user cannot enter the data directory (pglocal.Config.RelocateTo).
const devClusterBase = "/var/lib/ordersaga/clusters"

// defaultDataDir is where dev keeps its data unless told otherwise.
const defaultDataDir = ".ordersaga"

func (m *Main) devCommand() *cobra.Command {
	var (
		r   devFlags
		cmd = &cobra.Command{Use: "dev", Args: noArgs,
			Short: "run everything in one process on a throwaway PostgreSQL, with Temporal Web and NATS"}
	)
	f := m.flagsOf(cmd.Flags())
	r.db.register(f)
	r.bus.register(f, "dev")
	r.temporal.register(f)
	r.log.register(f)
	r.rule.register(cmd.Flags())
	r.pprof.register(f)
	fs := cmd.Flags()
	f.String(&r.dataDir, "data-dir", "ORDERSAGA_DATA_DIR", defaultDataDir, "where dev keeps its data between runs")
	f.String(&r.grpcAddr, "grpc-addr", "ORDERSAGA_GRPC_ADDR", "127.0.0.1:50051", "gRPC listen address")
	fs.IntVar(&r.natsPort, "nats-port", 4222, "port of the embedded NATS server")
	fs.IntVar(&r.monitorPort, "nats-monitor-port", 8222, "HTTP monitoring port of the embedded NATS server")
	fs.IntVar(&r.uiPort, "temporal-ui-port", 8233, "port of Temporal Web (the dev server's gRPC port is --temporal-address's)")
	fs.BoolVar(&r.reset, "reset", false, "delete the data directory first")
	fs.DurationVar(&r.natsSync, "nats-sync-interval", time.Second,
		"how often the embedded NATS servers fsync their stores; 0 fsyncs every message and ack (safe against power cuts, slower)")
	cmd.RunE = m.runs(func(ctx context.Context) error { return m.dev(ctx, r) })
	return cmd
}

// dev runs everything in one process: a PostgreSQL cluster in the data directory (unless
// --database-url is given), the schema, embedded NATS Streaming and JetStream with file
// stores, the Temporal dev server with its Web UI, and the roles: the saga worker (with the
// load test's baseline) and its relay, two projector members, the restaurant simulator and
// the gRPC API.
func (m *Main) dev(ctx context.Context, r devFlags) error {
	if r.natsSync < 0 {
		return fmt.Errorf("--nats-sync-interval must not be negative, got %s", r.natsSync)
	}
	logger := m.logger(true, r.log.level)
	if r.reset {
		logger.Info("deleting the data directory", "dir", r.dataDir)
		if err := pglocal.Remove(filepath.Join(r.dataDir, "postgres")); err != nil {
			return err
		}
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
		var err error
		if url, err = m.devPostgres(ctx, r.dataDir, logger); err != nil {
			return err
		}
	}
	db, err := m.openDB(ctx, r.db, url, migrateSchema)
	if err != nil {
		return err
	}
	logger.Info("schema is up to date", "database", url)

	nats, err := natsembed.Start(natsembed.Config{Dir: filepath.Join(r.dataDir, "nats"), Port: r.natsPort, MonitorPort: r.monitorPort,
		ClusterID: r.bus.clusterID, Logger: logger, SyncInterval: r.natsSync})
	if err != nil {
		return fmt.Errorf("%w (choose other ports with --nats-port and --nats-monitor-port)", err)
	}
	m.onClose(func() error { nats.Shutdown(); return nil })
	r.bus.url, r.bus.monitorURL = nats.ClientURL(), nats.MonitorURL()
	logger.Info("NATS Streaming and JetStream running", "url", r.bus.url, "monitor", r.bus.monitorURL, "bus", r.bus.kind)
	bus, err := m.openBus(ctx, r.bus, logger)
	if err != nil {
		return err
	}

	server, bin, err := m.startTemporal(ctx, &r, logger)
	if err != nil {
		return err
	}
	temporal, err := m.dialTemporal(ctx, r.temporal, logger)
	if err != nil {
		return err
	}

	worker, err := system.NewWorker(system.WorkerConfig{DB: db, Bus: bus, Temporal: temporal, Logger: logger, Baseline: true})
	if err != nil {
		return err
	}
	projectors, err := system.NewProjectors(system.ProjectorsConfig{DB: db, Bus: bus, Logger: logger, Members: 2})
	if err != nil {
		return err
	}
	restaurant, err := system.NewRestaurant(r.rule.config(conns{db: db, bus: bus, temporal: temporal}, logger))
	if err != nil {
		return err
	}
	api, err := newAPI(system.APIConfig{DB: db, Temporal: temporal, Logger: logger, Addr: r.grpcAddr})
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return servePprof(ctx, logger, r.pprof.addr) })
	for _, role := range []runner{worker, projectors, restaurant, api} {
		g.Go(func() error { return role.Run(ctx) })
	}
	m.banner(r, url, server, bin)
	return g.Wait()
}

// devPostgres starts dev's PostgreSQL cluster in the data directory and returns its URL.
// As root, the server runs as the postgres user; if that user cannot enter the data
// directory, the cluster lives under devClusterBase, linked from the data directory.
func (m *Main) devPostgres(ctx context.Context, dataDir string, logger *slog.Logger) (string, error) {
	dir := filepath.Join(dataDir, "postgres")
	logger.Info("starting PostgreSQL", "dir", dir)
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cluster, err := pglocal.Start(startCtx, pglocal.Config{Dir: dir, Durable: true, RelocateTo: devClusterBase})
	if err != nil {
		return "", err
	}
	m.onClose(cluster.Stop)
	return devDatabaseURL(dir)
}

// devDatabaseURL is the connection string of dev's cluster in dir, through dir's path.
func devDatabaseURL(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("host=%s user=postgres dbname=postgres sslmode=disable", abs), nil
}

// startTemporal runs the Temporal dev server, persisted in the data directory, at
// --temporal-address (default 127.0.0.1:7233), and points the Temporal flags at it.
func (m *Main) startTemporal(ctx context.Context, r *devFlags, logger *slog.Logger) (*temporaldev.Server, string, error) {
	if r.temporal.address == "" {
		r.temporal.address = "127.0.0.1:7233"
	}
	root, err := os.Getwd()
	if err != nil {
		return nil, "", err
	}
	bin, err := temporaldev.Binary(ctx, root, logger)
	if err != nil {
		return nil, "", err
	}
	host, portText, err := net.SplitHostPort(r.temporal.address)
	port, perr := strconv.Atoi(portText)
	if err != nil || perr != nil || port <= 0 {
		return nil, "", fmt.Errorf("--temporal-address %q: want host:port", r.temporal.address)
	}
	logger.Info("starting the Temporal dev server", "binary", bin)
	server, err := temporaldev.Start(ctx, temporaldev.Config{Binary: bin, IP: host, Port: port, UIPort: r.uiPort,
		DBFile: filepath.Join(r.dataDir, "temporal.db"), Output: m.Stderr, Logger: logger})
	if err != nil {
		return nil, "", fmt.Errorf("%w (choose other ports with --temporal-address and --temporal-ui-port)", err)
	}
	m.onClose(server.Stop)
	logger.Info("Temporal running", "address", server.HostPort(), "web", server.UIURL())
	return server, bin, nil
}

// banner tells a newcomer where everything is and what to try.
func (m *Main) banner(r devFlags, databaseURL string, server *temporaldev.Server, temporalBin string) {
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
  %s load --orders 200 --concurrency 8 --baseline --api %s --temporal-address %s --database-url "%s"

`, server.UIURL(), r.grpcAddr, r.bus.url, r.bus.monitorURL, r.bus.kind, databaseURL, server.HostPort(), temporalBin,
		cli, cli, cli, cli, r.grpcAddr, cli, databaseURL, cli, r.grpcAddr, server.HostPort(), databaseURL)
}

// errNoDevDatabase says that no database was named and no dev database was found.
var errNoDevDatabase = errors.New("no database: pass --database-url or set DATABASE_URL (or run `ordersaga dev` here first)")
