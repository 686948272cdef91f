// Package localcluster runs ordersaga's deployed shape (internal/topology) on one machine
// as separate OS processes on loopback: PostgreSQL, one or three NATS servers (`ordersaga
// nats`), Temporal (the server's four services on that PostgreSQL, internal/temporalserver,
// or the dev server), and every role of the topology as an `ordersaga <role>` process of
// its own, with the flags the topology gives it and the environment docker-compose.yml and
// deploy/kubernetes give it. Any one process can be killed, paused or restarted while the
// others run: `ordersaga chaos` does so, and checks that nothing was lost.
package localcluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/internal/freeport"
	"github.com/ordersaga/ordersaga/internal/system"
	"github.com/ordersaga/ordersaga/internal/temporalserver"
	"github.com/ordersaga/ordersaga/internal/topology"
	"github.com/ordersaga/ordersaga/natsembed"
	"github.com/ordersaga/ordersaga/pglocal"
	"github.com/ordersaga/ordersaga/sqldb"
	"github.com/ordersaga/ordersaga/temporaldev"
)

// Config says where the cluster lives and what it runs.
type Config struct {
	// Binary is the ordersaga binary the roles run; default this process's own.
	Binary string
	// TemporalBinary is the temporal CLI (temporaldev.Binary): the dev server. Required
	// unless TemporalServer is set.
	TemporalBinary string
	// TemporalServer, when set, runs the Temporal server itself instead of the dev
	// server: its frontend, history, matching and worker services as four processes on
	// the cluster's PostgreSQL (internal/temporalserver).
	TemporalServer *temporalserver.Binaries
	// DataDir holds everything: the PostgreSQL cluster, the NATS stores, Temporal's
	// SQLite file, the keys and every process's log (DataDir/logs). Required.
	DataDir string
	// Reset deletes DataDir first.
	Reset bool
	// Bus is system.BusNATSStreaming (default) or system.BusJetStream.
	Bus string
	// NATSNodes is how many NATS servers run: 1 (default) alone, or 3 as a cluster (NATS
	// Streaming clustered by Raft; JetStream with the events stream on all three).
	NATSNodes int
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

// Cluster is a running local cluster.
type Cluster struct {
	// Where the engines and the API are, for clients (the load, verify).
	DatabaseURL, NATSURL, NATSMonitorURL, TemporalAddress, APIAddr string
	// KeyDir holds the key that signs operator tokens the API trusts (issuer
	// system.DevIssuer).
	KeyDir string
	// Processes are the NATS server and every role's processes, in start order.
	Processes []*Process

	cfg         Config
	pgCfg       pglocal.Config
	pg          *pglocal.Cluster
	temporalCfg temporaldev.Config
	temporal    *temporaldev.Server // nil when the server's services run instead
	serverCfg   temporalserver.Config
}

// Start starts the cluster and waits until every role reports ready.
func Start(ctx context.Context, cfg Config) (c *Cluster, err error) {
	if (cfg.TemporalBinary == "" && cfg.TemporalServer == nil) || cfg.DataDir == "" {
		return nil, errors.New("localcluster: TemporalBinary (or TemporalServer) and DataDir are required")
	}
	if cfg.Binary == "" {
		if cfg.Binary, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	if cfg.Bus == "" {
		cfg.Bus = system.BusNATSStreaming
	}
	switch cfg.NATSNodes {
	case 0:
		cfg.NATSNodes = 1
	case 1, 3:
	default:
		return nil, fmt.Errorf("localcluster: run 1 or 3 NATS servers, not %d", cfg.NATSNodes)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DataDir, err = filepath.Abs(cfg.DataDir); err != nil {
		return nil, err
	}
	if cfg.Reset {
		if err := pglocal.Remove(filepath.Join(cfg.DataDir, "postgres")); err != nil {
			return nil, err
		}
		if err := os.RemoveAll(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	// 0711: PostgreSQL runs as its own user when we are root and must pass through.
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "logs"), 0o711); err != nil {
		return nil, err
	}
	c = &Cluster{cfg: cfg, KeyDir: system.DevKeyDir(cfg.DataDir)}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if err := c.startDatabase(ctx); err != nil {
		return c, err
	}
	if _, err := system.DevVerifier(cfg.DataDir); err != nil { // makes the keys once
		return c, err
	}
	if err := c.startNATS(); err != nil {
		return c, err
	}
	if err := c.startTemporal(ctx); err != nil {
		return c, err
	}
	if err := c.migrate(ctx); err != nil {
		return c, err
	}
	if err := c.startRoles(); err != nil {
		return c, err
	}
	return c, c.WaitReady(ctx, 2*time.Minute)
}

// startDatabase starts PostgreSQL (durable) in DataDir/postgres.
func (c *Cluster) startDatabase(ctx context.Context) error {
	c.pgCfg = pglocal.Config{Dir: filepath.Join(c.cfg.DataDir, "postgres"), Durable: true, RelocateTo: system.DevClusterBase}
	c.cfg.Logger.Info("starting PostgreSQL", "dir", c.pgCfg.Dir)
	pg, err := pglocal.Start(ctx, c.pgCfg)
	if err != nil {
		return err
	}
	c.pg = pg
	c.DatabaseURL, err = system.DevDatabaseURL(c.cfg.DataDir)
	return err
}

// RestartDatabase stops PostgreSQL cleanly and starts it again on the same data.
func (c *Cluster) RestartDatabase(ctx context.Context) error {
	if err := c.pg.Stop(); err != nil {
		return err
	}
	pg, err := pglocal.Start(ctx, c.pgCfg)
	if err != nil {
		return err
	}
	c.pg = pg
	return nil
}

// startNATS starts `ordersaga nats`, once or as the nodes of a cluster, and waits until
// every node takes connections.
func (c *Cluster) startNATS() error {
	type node struct{ name, client, monitor, route string }
	nodes := make([]node, c.cfg.NATSNodes)
	var clients, monitors, names []string
	for i := range nodes {
		name := "nats"
		if len(nodes) > 1 {
			name = fmt.Sprintf("nats-%d", i+1)
		}
		nodes[i] = node{name: name, client: fmt.Sprintf("127.0.0.1:%d", freePort()), monitor: fmt.Sprintf("127.0.0.1:%d", freePort()),
			route: fmt.Sprintf("127.0.0.1:%d", freePort())}
		clients = append(clients, "nats://"+nodes[i].client)
		monitors = append(monitors, "http://"+nodes[i].monitor)
		names = append(names, name)
	}
	c.NATSURL, c.NATSMonitorURL = strings.Join(clients, ","), strings.Join(monitors, ",")
	for _, n := range nodes {
		_, port, _ := net.SplitHostPort(n.client)
		_, monitor, _ := net.SplitHostPort(n.monitor)
		args := []string{"nats", "--data-dir", filepath.Join(c.cfg.DataDir, n.name), "--port", port, "--monitor-port", monitor}
		if len(nodes) > 1 {
			_, route, _ := net.SplitHostPort(n.route)
			var routes []string
			for _, other := range nodes {
				if other.name != n.name {
					routes = append(routes, "nats://"+other.route)
				}
			}
			args = append(args, "--node-id", n.name, "--cluster-port", route, "--routes", strings.Join(routes, ","),
				"--peers", strings.Join(names, ","))
		}
		p := c.process(n.name, "nats", "", args, nil)
		p.MonitorAddr = n.monitor
		if err := p.Start(); err != nil {
			return err
		}
	}
	for _, n := range nodes {
		if err := freeport.WaitListening(context.Background(), n.client, 30*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// startTemporal starts the Temporal dev server on two free ports it keeps across restarts,
// or the Temporal server's services.
func (c *Cluster) startTemporal(ctx context.Context) error {
	if c.cfg.TemporalServer != nil {
		return c.startTemporalServices(ctx)
	}
	log, err := os.OpenFile(filepath.Join(c.cfg.DataDir, "logs", "temporal.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	c.temporalCfg = temporaldev.Config{Binary: c.cfg.TemporalBinary, Port: freePort(), UIPort: freePort(),
		DBFile: filepath.Join(c.cfg.DataDir, "temporal.db"), Output: log, Logger: c.cfg.Logger}
	c.cfg.Logger.Info("starting the Temporal dev server")
	if c.temporal, err = temporaldev.Start(ctx, c.temporalCfg); err != nil {
		return err
	}
	c.TemporalAddress = c.temporal.HostPort()
	return nil
}

// startTemporalServices makes the Temporal server's databases on the cluster's
// PostgreSQL, starts its four services as processes (role "temporal", named
// temporal-<service>) and registers the namespace and the saga's search attributes.
func (c *Cluster) startTemporalServices(ctx context.Context) error {
	c.serverCfg = temporalserver.Config{Binaries: *c.cfg.TemporalServer, Dir: filepath.Join(c.cfg.DataDir, "temporal-server"),
		SocketDir: c.pgCfg.Dir}
	c.cfg.Logger.Info("making the Temporal server's databases", "server", temporalserver.Version)
	if err := temporalserver.Prepare(ctx, &c.serverCfg); err != nil {
		return err
	}
	err := c.serverCfg.StartServices(ctx, func(s string) error {
		p := c.process("temporal-"+s, TemporalRole, "", c.serverCfg.Args(s), nil)
		p.binary = c.serverCfg.Server
		return p.Start()
	})
	if err != nil {
		return err
	}
	c.TemporalAddress = c.serverCfg.HostPort()
	c.cfg.Logger.Info("waiting for the Temporal server's services", "frontend", c.TemporalAddress)
	return temporalserver.Register(ctx, c.TemporalAddress, "default", 2*time.Minute)
}

// RunsTemporalServices says whether the Temporal server's services run as processes
// (role TemporalRole), rather than the dev server.
func (c *Cluster) RunsTemporalServices() bool { return c.temporal == nil }

// TemporalRole is the role of the Temporal server's service processes.
const TemporalRole = "temporal"

// RestartTemporal stops the Temporal dev server and starts it again on the same file and
// ports. With the server's services it restarts all four.
func (c *Cluster) RestartTemporal(ctx context.Context) error {
	if c.temporal == nil {
		for _, p := range c.Processes {
			if p.Role == TemporalRole {
				if err := p.Stop(10 * time.Second); err != nil {
					return err
				}
				if err := p.Start(); err != nil {
					return err
				}
			}
		}
		return temporalserver.Register(ctx, c.TemporalAddress, "default", 2*time.Minute)
	}
	if err := c.temporal.Stop(); err != nil {
		c.cfg.Logger.Warn("temporal stopped with an error", "err", err)
	}
	var err error
	c.temporal, err = temporaldev.Start(ctx, c.temporalCfg)
	return err
}

// TemporalUI is the address of Temporal Web, or "" when the server's services run (they
// serve no Web UI).
func (c *Cluster) TemporalUI() string {
	if c.temporal == nil {
		return ""
	}
	return c.temporal.UIURL()
}

// migrate runs the topology's one-shot roles (migrate) to completion, then gives the
// demo restaurants their menus.
func (c *Cluster) migrate(ctx context.Context) error {
	for _, r := range topology.Roles() {
		if !r.OneShot {
			continue
		}
		cmd := exec.CommandContext(ctx, c.cfg.Binary, r.Args...)
		cmd.Env = c.env(r, r.Name, "")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", r.Name, err, out)
		}
	}
	db, err := sqldb.Open(ctx, sqldb.Config{URL: c.DatabaseURL})
	if err != nil {
		return err
	}
	defer db.Close()
	return system.SeedMenus(ctx, eventstore.New(db), system.DemoRestaurants)
}

// startRoles starts every long-running role's processes: role-1, role-2, ... (or the
// role's name alone when it runs once).
func (c *Cluster) startRoles() error {
	var api topology.Role
	for _, r := range topology.Roles() {
		if r.Name == "api" {
			api = r
		}
	}
	c.APIAddr = fmt.Sprintf("127.0.0.1:%d", freePort())
	for _, r := range append([]topology.Role{api}, topology.Roles()...) {
		if r.OneShot || (r.Name == "api" && c.Process("api") != nil) {
			continue // the API first, so that the restaurant finds it
		}
		for i := 1; i <= r.Replicas; i++ {
			name := r.Name
			if r.Replicas > 1 {
				name = fmt.Sprintf("%s-%d", r.Name, i)
			}
			health, metrics := fmt.Sprintf("127.0.0.1:%d", freePort()), fmt.Sprintf("127.0.0.1:%d", freePort())
			p := c.process(name, r.Name, health, r.Args, append(c.env(r, name, health), "ORDERSAGA_METRICS_ADDR="+metrics))
			p.MetricsAddr = metrics
			if err := p.Start(); err != nil {
				return err
			}
		}
	}
	return nil
}

// BusConfig is how a client named clientID reaches the cluster's bus, as the roles do.
func (c *Cluster) BusConfig(clientID string) system.BusConfig {
	return system.BusConfig{Kind: c.cfg.Bus, URL: c.NATSURL, MonitorURL: c.NATSMonitorURL, ClusterID: natsembed.DefaultClusterID,
		ClientID: clientID, Replicas: c.cfg.NATSNodes}
}

// env is a role's environment: what compose and the manifests give it, on loopback.
func (c *Cluster) env(r topology.Role, name, health string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"DATABASE_URL=" + c.DatabaseURL,
		"NATS_URL=" + c.NATSURL,
		"NATS_MONITOR_URL=" + c.NATSMonitorURL,
		"ORDERSAGA_BUS=" + c.cfg.Bus,
		"ORDERSAGA_STAN_CLUSTER_ID=" + natsembed.DefaultClusterID,
		"ORDERSAGA_STAN_CLIENT_ID=" + name,
		"ORDERSAGA_RELAY_ID=" + name,
		"TEMPORAL_ADDRESS=" + c.TemporalAddress,
		"ORDERSAGA_HEALTH_ADDR=" + health,
		"ORDERSAGA_TOKEN_ISSUER=" + system.DevIssuer,
		"ORDERSAGA_JETSTREAM_REPLICAS=" + strconv.Itoa(c.cfg.NATSNodes),
	}
	switch r.Name {
	case "api":
		env = append(env, "ORDERSAGA_GRPC_ADDR="+c.APIAddr, "ORDERSAGA_JWKS_FILE="+filepath.Join(c.KeyDir, "jwks.json"))
	case "restaurant":
		env = append(env, "ORDERSAGA_API="+c.APIAddr, "ORDERSAGA_KEY_DIR="+c.KeyDir)
	}
	return env
}

// process makes a supervised process whose output goes to DataDir/logs/<name>.log.
func (c *Cluster) process(name, role, health string, args, env []string) *Process {
	if env == nil {
		env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	}
	p := &Process{Name: name, Role: role, HealthAddr: health, binary: c.cfg.Binary, args: args, env: env,
		logPath: filepath.Join(c.cfg.DataDir, "logs", name+".log")}
	c.Processes = append(c.Processes, p)
	return p
}

// Process returns the process named name, or nil.
func (c *Cluster) Process(name string) *Process {
	for _, p := range c.Processes {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// WaitReady waits until every role reports ready, at most within.
func (c *Cluster) WaitReady(ctx context.Context, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for _, p := range c.Processes {
		if err := p.WaitReady(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the processes in the reverse of their start order (SIGTERM, then SIGKILL
// after 10 s): the roles, the Temporal server's services, the NATS servers; then the
// Temporal dev server and PostgreSQL. The data stays in DataDir.
func (c *Cluster) Close() error {
	var errs []error
	for i := len(c.Processes) - 1; i >= 0; i-- {
		errs = append(errs, c.Processes[i].Stop(10*time.Second))
	}
	if c.temporal != nil {
		errs = append(errs, c.temporal.Stop())
	}
	if c.pg != nil {
		errs = append(errs, c.pg.Stop())
	}
	return errors.Join(errs...)
}

// freePort returns a port free on loopback now that no other process of the cluster was
// given (internal/freeport), or 0, which the process's start then reports.
func freePort() int {
	port, _ := freeport.Pick()
	return port
}
