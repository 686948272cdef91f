package system

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/ordersaga/ordersaga/api"
	"github.com/ordersaga/ordersaga/auth"
	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventstore"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/natsembed"
	"github.com/ordersaga/ordersaga/pglocal"
	"github.com/ordersaga/ordersaga/sqldb"
	"github.com/ordersaga/ordersaga/telemetry"
	"github.com/ordersaga/ordersaga/temporaldev"
	"github.com/ordersaga/ordersaga/worker"
)

// DevConfig is what `ordersaga dev` runs in one process: a PostgreSQL cluster in the data
// directory (unless DatabaseURL is set), embedded NATS Streaming and JetStream with file
// stores, the Temporal dev server with its Web UI, and every role: the worker (with the
// load test's baseline) and its relay, two projector members, the restaurant simulator,
// the gRPC API and the monitor (a continuous verify, exported as metrics).
type DevConfig struct {
	// DataDir keeps the data between runs. Required. Reset deletes it first.
	DataDir string
	Reset   bool
	// DatabaseURL, when set, is used instead of a cluster in DataDir/postgres.
	DatabaseURL string
	// Bus says which bus to use; its URLs are the embedded servers', whatever they hold.
	Bus BusConfig
	// NATSPort and NATSMonitorPort are the embedded NATS server's; NATSSync how often its
	// stores fsync (natsembed.Config.SyncInterval).
	NATSPort, NATSMonitorPort int
	NATSSync                  time.Duration
	// TemporalBinary is the temporal CLI that runs the dev server (temporaldev.Binary),
	// listening on TemporalAddress (host:port) with its Web UI on TemporalUIPort; its own
	// log goes to TemporalOutput.
	TemporalBinary  string
	TemporalAddress string
	TemporalUIPort  int
	TemporalOutput  io.Writer
	// GRPCAddr is where the API listens.
	GRPCAddr string
	// Pollers says how many goroutines the worker polls Temporal with; zero: autoscaled.
	Pollers worker.Pollers
	// Restaurant is the simulator's rule (Delay, Unavailable, ManualRestaurant).
	Restaurant RestaurantConfig
	// DemoMenus are the restaurants that get DemoMenu if they have no menu yet.
	DemoMenus []string
	// MetricsAddr is where /metrics is served (port 0 picks one; empty: no metrics at all).
	// TraceFile, when set, receives every span as JSON; SpanExporter (tests) too. Traces
	// also go where the OTEL_* variables say.
	MetricsAddr  string
	TraceFile    string
	SpanExporter sdktrace.SpanExporter
	Logger       *slog.Logger
}

// Dev is everything `ordersaga dev` runs, started.
type Dev struct {
	// Where says where everything listens.
	Where DevAddresses

	logger    *slog.Logger
	telemetry *telemetry.Telemetry
	roles     []interface{ Run(context.Context) error }
	closers   []func() error
}

// DevClusterBase is where dev keeps its PostgreSQL cluster when it runs as root and the
// postgres user cannot enter the data directory (pglocal.Config.RelocateTo).
const DevClusterBase = "/var/lib/ordersaga/clusters"

// DevAddresses are where the parts of a Dev listen.
type DevAddresses struct {
	DatabaseURL, GRPC, NATS, NATSMonitor, Bus, Temporal, TemporalWeb, TemporalBinary string
	// Metrics is the URL of /metrics, when served.
	Metrics string
	// NATSUsers is the file with the NATS users (DevNATSUsers).
	NATSUsers string
}

// StartDev starts the servers and builds the roles; Run runs them and Close stops it all.
// A failed start stops what it had started.
func StartDev(ctx context.Context, cfg DevConfig) (d *Dev, err error) {
	if cfg.DataDir == "" || cfg.TemporalBinary == "" {
		return nil, errors.New("system: dev needs DataDir and TemporalBinary")
	}
	if cfg.NATSSync < 0 {
		return nil, fmt.Errorf("system: the NATS sync interval must not be negative, got %s", cfg.NATSSync)
	}
	dev := &Dev{logger: orDiscard(cfg.Logger)}
	defer func() {
		if err != nil {
			dev.Close()
		}
	}()
	d = dev
	if err := d.prepareDataDir(cfg); err != nil {
		return nil, err
	}
	if err := d.startTelemetry(ctx, cfg); err != nil {
		return nil, err
	}
	db, err := d.database(ctx, cfg)
	if err != nil {
		return nil, err
	}
	bus, readerBus, err := d.bus(ctx, cfg)
	if err != nil {
		return nil, err
	}
	temporal, err := d.temporal(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// dev's one relay keeps its name across restarts, so that after a crash it takes back
	// at once the batch it held rather than wait out its lease.
	worker, err := NewWorker(WorkerConfig{DB: db, Bus: bus, Temporal: temporal, Logger: d.logger, Baseline: true, Telemetry: d.telemetry,
		Pollers: cfg.Pollers, Relay: RelayTuning{ID: "dev"}})
	if err != nil {
		return nil, err
	}
	projectors, err := NewProjectors(ProjectorsConfig{DB: db, Bus: readerBus, Logger: d.logger, Members: 2})
	if err != nil {
		return nil, err
	}
	tokens, err := DevVerifier(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	api, err := NewAPI(APIConfig{DB: db, Temporal: temporal, Tokens: tokens, Logger: d.logger, Addr: cfg.GRPCAddr, Reflection: true,
		Telemetry: d.telemetry})
	if err != nil {
		return nil, err
	}
	d.Where.GRPC = api.Addr()
	// The restaurant simulator calls the API like any client, with an operator's token.
	orders, err := d.apiClient(cfg.DataDir, api.Addr(), auth.Principal{Role: auth.Operator, ID: "restaurant-simulator"})
	if err != nil {
		return nil, err
	}
	rule := cfg.Restaurant
	rule.Bus, rule.API, rule.Logger, rule.Telemetry = readerBus, orders, d.logger, d.telemetry
	restaurant, err := NewRestaurant(rule)
	if err != nil {
		return nil, err
	}
	monitor, err := NewMonitor(MonitorConfig{DB: db, Temporal: temporal, Logger: d.logger, Telemetry: d.telemetry})
	if err != nil {
		return nil, err
	}
	d.roles = append(d.roles, worker, projectors, restaurant, api, monitor)
	return d, nil
}

// apiClient connects to dev's API on loopback as p, with tokens signed by dev's key.
func (d *Dev) apiClient(dataDir, addr string, p auth.Principal) (ordersagav1.OrderServiceClient, error) {
	signer, err := DevSigner(dataDir)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(&api.SignedTokens{Signer: signer, Principal: p, TTL: time.Hour, AllowInsecure: true}),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(api.InstrumentOptions(d.telemetry.Meters, d.telemetry.Tracers)...)))
	if err != nil {
		return nil, err
	}
	d.closers = append(d.closers, conn.Close)
	return ordersagav1.NewOrderServiceClient(conn), nil
}

// prepareDataDir deletes the data directory when asked, and creates it.
func (d *Dev) prepareDataDir(cfg DevConfig) error {
	if cfg.Reset {
		d.logger.Info("deleting the data directory", "dir", cfg.DataDir)
		if err := pglocal.Remove(filepath.Join(cfg.DataDir, "postgres")); err != nil {
			return err
		}
		if err := os.RemoveAll(cfg.DataDir); err != nil {
			return err
		}
	}
	// 0711: PostgreSQL runs as its own user when we are root and must pass through.
	return os.MkdirAll(cfg.DataDir, 0o711)
}

// database starts the cluster (unless a URL is given), connects and migrates.
func (d *Dev) database(ctx context.Context, cfg DevConfig) (*sqldb.DB, error) {
	url := cfg.DatabaseURL
	if url == "" {
		var err error
		if url, err = d.postgres(ctx, cfg); err != nil {
			return nil, err
		}
	}
	db, err := sqldb.Open(ctx, sqldb.Config{URL: url, Meters: d.telemetry.Meters, Tracers: d.telemetry.Tracers})
	if err != nil {
		return nil, err
	}
	d.closers = append(d.closers, func() error { db.Close(); return nil })
	if err := Migrate(ctx, db); err != nil {
		return nil, err
	}
	d.logger.Info("schema is up to date", "database", sqldb.Redact(url))
	if err := SeedMenus(ctx, eventstore.New(db), cfg.DemoMenus); err != nil {
		return nil, err
	}
	d.Where.DatabaseURL = url
	return db, nil
}

// postgres starts the PostgreSQL cluster in the data directory and returns its URL.
func (d *Dev) postgres(ctx context.Context, cfg DevConfig) (string, error) {
	d.logger.Info("starting PostgreSQL", "dir", filepath.Join(cfg.DataDir, "postgres"))
	cluster, url, err := startDevPostgres(ctx, cfg.DataDir)
	if err != nil {
		return "", err
	}
	d.closers = append(d.closers, cluster.Stop)
	return url, nil
}

// startDevPostgres starts the cluster dev keeps in dataDir/postgres, relocated under
// DevClusterBase when the server's user cannot enter dataDir, and returns its URL
// through dataDir's path (see DevDatabaseURL).
func startDevPostgres(ctx context.Context, dataDir string) (*pglocal.Cluster, string, error) {
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cluster, err := pglocal.Start(startCtx, pglocal.Config{Dir: filepath.Join(dataDir, "postgres"), Durable: true, RelocateTo: DevClusterBase})
	if err != nil {
		return nil, "", err
	}
	url, err := DevDatabaseURL(dataDir)
	if err != nil {
		cluster.Stop()
		return nil, "", err
	}
	return cluster, url, nil
}

// DevDatabaseURL is the connection string of the cluster that dev keeps in dataDir,
// through dataDir's own path (it stays the same when the cluster was relocated).
func DevDatabaseURL(dataDir string) (string, error) {
	abs, err := filepath.Abs(filepath.Join(dataDir, "postgres"))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("host=%s user=postgres dbname=postgres sslmode=disable", abs), nil
}

// bus starts the embedded NATS servers and connects to the configured bus on them.
func (d *Dev) bus(ctx context.Context, cfg DevConfig) (writer, reader eventbus.Bus, err error) {
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "nats"), 0o700); err != nil { // the events, as the bus holds them
		return nil, nil, err
	}
	users, err := ReadDevNATSUsers(cfg.DataDir)
	if err != nil {
		return nil, nil, err
	}
	nats, err := natsembed.Start(natsembed.Config{Dir: filepath.Join(cfg.DataDir, "nats"), Port: cfg.NATSPort, MonitorPort: cfg.NATSMonitorPort,
		ClusterID: cfg.Bus.ClusterID, Logger: d.logger, SyncInterval: cfg.NATSSync,
		User: users.Writer.User, Password: users.Writer.Password, Readers: []natsembed.Credentials{users.Reader}})
	if err != nil {
		return nil, nil, err
	}
	d.closers = append(d.closers, func() error { nats.Shutdown(); return nil })
	bc := cfg.Bus
	bc.URL, bc.MonitorURL = nats.ClientURL(), nats.MonitorURL()
	d.Where.NATS, d.Where.NATSMonitor, d.Where.Bus, d.Where.NATSUsers = bc.URL, bc.MonitorURL, bc.Kind, devNATSUsersFile(cfg.DataDir)
	d.logger.Info("NATS Streaming and JetStream running", "url", eventbus.RedactURL(bc.URL), "monitor", bc.MonitorURL, "bus", bc.Kind)
	// Only the worker and its relay publish events; projectors and the restaurant
	// simulator connect as a user whom the server refuses publishes on the event channels.
	open := func(as natsembed.Credentials, clientID string) (eventbus.Bus, error) {
		c := bc
		c.ClientID, c.Conn.User, c.Conn.Password = clientID, as.User, as.Password
		bus, err := OpenBus(ctx, c, d.logger, d.telemetry)
		if err == nil {
			d.closers = append(d.closers, bus.Close)
		}
		return bus, err
	}
	if writer, err = open(users.Writer, bc.ClientID); err != nil {
		return nil, nil, err
	}
	reader, err = open(users.Reader, bc.ClientID+"-reader")
	return writer, reader, err
}

// temporal starts the Temporal dev server, persisted in the data directory, and connects.
func (d *Dev) temporal(ctx context.Context, cfg DevConfig) (client.Client, error) {
	host, portText, err := net.SplitHostPort(cfg.TemporalAddress)
	port, perr := strconv.Atoi(portText)
	if err != nil || perr != nil || port <= 0 {
		return nil, fmt.Errorf("system: the Temporal address %q is not host:port", cfg.TemporalAddress)
	}
	dbFile := filepath.Join(cfg.DataDir, "temporal.db")
	d.logger.Info("starting the Temporal dev server", "binary", cfg.TemporalBinary)
	server, err := temporaldev.Start(ctx, temporaldev.Config{Binary: cfg.TemporalBinary, IP: host, Port: port, UIPort: cfg.TemporalUIPort,
		DBFile: dbFile, Output: cfg.TemporalOutput, Logger: d.logger})
	if err != nil {
		return nil, err
	}
	d.closers = append(d.closers, server.Stop)
	// Orders and customers are in its database: readable by its owner only.
	for _, f := range []string{dbFile, dbFile + "-wal", dbFile + "-shm"} {
		if err := os.Chmod(f, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	d.Where.Temporal, d.Where.TemporalWeb, d.Where.TemporalBinary = server.HostPort(), server.UIURL(), cfg.TemporalBinary
	d.logger.Info("Temporal running", "address", server.HostPort(), "web", server.UIURL())
	c, err := worker.Dial(ctx, worker.Config{Client: client.Options{HostPort: server.HostPort()}, Logger: d.logger.With("component", "temporal"),
		Meters: d.telemetry.Meters, Tracers: d.telemetry.Tracers})
	if err != nil {
		return nil, err
	}
	d.closers = append(d.closers, func() error { c.Close(); return nil })
	return c, nil
}

// startTelemetry makes dev's metrics (when it serves them) and traces (to TraceFile,
// SpanExporter or where OTEL_* says), and binds the metrics address, so that a taken port
// is known now.
func (d *Dev) startTelemetry(ctx context.Context, cfg DevConfig) error {
	tel, err := telemetry.New(ctx, telemetry.Config{Service: "ordersaga-dev", MetricsAddr: cfg.MetricsAddr,
		TracesFromEnv: true, TraceFile: cfg.TraceFile, SpanExporter: cfg.SpanExporter, Logger: d.logger})
	if err != nil {
		return err
	}
	d.telemetry = tel
	d.closers = append(d.closers, func() error {
		stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return tel.Shutdown(stopCtx)
	})
	lis, err := tel.Listen()
	if err != nil {
		return err
	}
	if lis != nil {
		d.Where.Metrics = "http://" + lis.Addr().String() + "/metrics"
		d.roles = append(d.roles, metricsServer{tel, lis})
	}
	return nil
}

// metricsServer serves a process's /metrics as a role.
type metricsServer struct {
	tel *telemetry.Telemetry
	lis net.Listener
}

func (m metricsServer) Run(ctx context.Context) error { return m.tel.Serve(ctx, m.lis) }

// Run runs every role until ctx ends or one fails.
func (d *Dev) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, role := range d.roles {
		g.Go(func() error { return role.Run(ctx) })
	}
	return g.Wait()
}

// Close stops what StartDev started, last started first.
func (d *Dev) Close() error {
	var errs []error
	for _, c := range slices.Backward(d.closers) {
		errs = append(errs, c())
	}
	d.closers = nil
	return errors.Join(errs...)
}
