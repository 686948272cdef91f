// Package natsembed runs, inside this process, a NATS server with JetStream and a NATS
// Streaming server on top of it, both with file stores in one directory. `ordersaga dev`
// and the tests use it; deployments run real servers instead.
package natsembed

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	stand "github.com/nats-io/nats-streaming-server/server"
	"github.com/nats-io/nats-streaming-server/stores"

	"github.com/ordersaga/ordersaga/internal/freeport"
)

// DefaultClusterID is the NATS Streaming cluster id used when Config.ClusterID is empty.
const DefaultClusterID = "ordersaga"

// Config describes the servers to run.
type Config struct {
	// Dir holds the file stores: Dir/jetstream and Dir/streaming. Required; reusing it
	// after a restart keeps every message.
	Dir string
	// Host to listen on; default 127.0.0.1.
	Host string
	// Port for NATS clients; 0 picks a free port.
	Port int
	// MonitorPort serves the HTTP monitoring endpoints (/varz, /streaming/storez, ...);
	// 0 picks a free port.
	MonitorPort int
	// ClusterID of the NATS Streaming server; default DefaultClusterID.
	ClusterID string
	// Logger receives the servers' warnings and errors; nil discards them.
	Logger *slog.Logger
	// SyncInterval is how often the stores are synced to disk (fsync). 0 syncs at every
	// write, as NATS Streaming does by default: nothing published is lost even if the
	// machine loses power, at the price of one or more fsyncs per message and per ack.
	// Above 0, writes go to the operating system at once and to disk every SyncInterval,
	// as JetStream does by default (every 2 minutes): a killed or restarted server loses
	// nothing, a power cut the last SyncInterval of messages, whose events the event store
	// still has (projectors fill gaps and reconcile from it). It applies to both stores.
	SyncInterval time.Duration
	// User and Password, when set, are required of every client (NATS Streaming's own
	// connection to its NATS server included).
	User, Password string
	// TLS, when set, serves NATS over TLS only; CAFile is the CA that signed its
	// certificate, which NATS Streaming's own connection verifies it with.
	TLS    *tls.Config
	CAFile string
	// MaxPayload is the largest message the server takes, in bytes; 0 keeps NATS's
	// default (1 MiB), far above the largest event the store holds.
	MaxPayload int32
	// Readers are users who may receive events but not publish them (projectors, the
	// restaurant simulator): the server refuses what ReaderPublishDeny lists. User and
	// Password are then the one user who may publish (writers, relays, and NATS Streaming
	// itself), and are required.
	Readers []Credentials
	// Cluster, when set, makes these servers one node of a cluster; nil runs them alone.
	Cluster *Cluster
}

// Cluster makes a node of a cluster of servers: NATS routes between the nodes (JetStream
// replicates a stream with replicas across them, electing a leader per stream) and NATS
// Streaming's clustered mode (a Raft group over the nodes: every message stored on a
// majority before it is acknowledged, a new leader elected when the leader is lost).
type Cluster struct {
	// Name of the NATS cluster, the same on every node.
	Name string
	// NodeID names this node, unique in the cluster: its NATS server name and its NATS
	// Streaming node id.
	NodeID string
	// Port is where this node takes routes from the other nodes.
	Port int
	// Routes are the other nodes' route URLs (nats://host:port).
	Routes []string
	// Peers are the NodeIDs of every node, this one's included.
	Peers []string
}

// validate reports a cluster node that cannot work.
func (c *Cluster) validate() error {
	switch {
	case c.Name == "" || c.NodeID == "":
		return errors.New("natsembed: a cluster node needs the cluster's Name and its own NodeID")
	case c.Port <= 0:
		return errors.New("natsembed: a cluster node needs a route Port")
	case len(c.Routes) == 0:
		return errors.New("natsembed: a cluster node needs the Routes of the other nodes")
	case !slices.Contains(c.Peers, c.NodeID):
		return fmt.Errorf("natsembed: Peers %v must include this node, %s", c.Peers, c.NodeID)
	}
	return nil
}

// Credentials are a NATS user and password.
type Credentials struct {
	User, Password string
}

// ReaderPublishDeny are the subjects a reader may not publish to: NATS Streaming's
// publishes (on every channel), JetStream's event subjects (the adapter's default
// prefix), and the JetStream API calls that create, change, purge or delete a stream or
// its messages. Everything a subscriber needs (subscribing, acks, consumers) stays
// allowed. An operator's nats-server.conf gives the same list to the readers' users
// (docs/operating.md).
var ReaderPublishDeny = []string{
	"_STAN.pub.>",
	"ordersaga.events.>",
	"$JS.API.STREAM.CREATE.>", "$JS.API.STREAM.UPDATE.>", "$JS.API.STREAM.DELETE.>",
	"$JS.API.STREAM.PURGE.>", "$JS.API.STREAM.MSG.DELETE.>",
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.Dir == "" {
		return errors.New("natsembed: Dir is required")
	}
	if c.Port < 0 || c.MonitorPort < 0 {
		return errors.New("natsembed: ports must not be negative")
	}
	if c.SyncInterval < 0 {
		return fmt.Errorf("natsembed: SyncInterval must not be negative, got %s", c.SyncInterval)
	}
	if len(c.Readers) > 0 && (c.User == "" || c.Password == "") {
		return errors.New("natsembed: Readers need a User and Password who may publish")
	}
	for _, r := range c.Readers {
		if r.User == "" || r.Password == "" || r.User == c.User {
			return errors.New("natsembed: every reader needs a user of its own and a password")
		}
	}
	if c.Cluster != nil {
		return c.Cluster.validate()
	}
	return nil
}

// Servers is a running NATS server with JetStream and NATS Streaming.
type Servers struct {
	stan        *stand.StanServer
	host        string
	port        int
	monitorPort int
	clusterID   string
}

// Start starts the servers and waits until they accept clients.
func Start(cfg Config) (*Servers, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.ClusterID == "" {
		cfg.ClusterID = DefaultClusterID
	}
	var err error
	if cfg.Port == 0 {
		if cfg.Port, err = freePort(); err != nil {
			return nil, err
		}
	}
	if cfg.MonitorPort == 0 {
		if cfg.MonitorPort, err = freePort(); err != nil {
			return nil, err
		}
	}
	for name, port := range map[string]int{"NATS": cfg.Port, "NATS monitoring": cfg.MonitorPort} {
		if err := portFree(cfg.Host, port); err != nil {
			return nil, fmt.Errorf("natsembed: %s port %d is in use: %w", name, port, err)
		}
	}
	for _, sub := range []string{"jetstream", "streaming"} {
		if err := os.MkdirAll(filepath.Join(cfg.Dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("natsembed: %w", err)
		}
	}
	nopts := stand.NewNATSOptions()
	nopts.Host, nopts.Port = cfg.Host, cfg.Port
	nopts.HTTPHost, nopts.HTTPPort = cfg.Host, cfg.MonitorPort
	nopts.JetStream = true
	nopts.StoreDir = filepath.Join(cfg.Dir, "jetstream")
	nopts.NoSigs = true
	nopts.NoLog = cfg.Logger == nil
	nopts.DisableJetStreamBanner = true
	nopts.Username, nopts.Password = cfg.User, cfg.Password
	if len(cfg.Readers) > 0 {
		// Several users: the writer may do everything, the readers may not publish events.
		nopts.Username, nopts.Password = "", ""
		nopts.Users = []*server.User{{Username: cfg.User, Password: cfg.Password}}
		for _, r := range cfg.Readers {
			nopts.Users = append(nopts.Users, &server.User{Username: r.User, Password: r.Password,
				Permissions: &server.Permissions{Publish: &server.SubjectPermission{Deny: ReaderPublishDeny}}})
		}
	}
	if cfg.MaxPayload > 0 {
		nopts.MaxPayload = cfg.MaxPayload
	}
	if cfg.TLS != nil {
		nopts.TLSConfig, nopts.TLS = cfg.TLS, true
	}
	nopts.SyncAlways = cfg.SyncInterval == 0
	if cfg.SyncInterval > 0 {
		nopts.SyncInterval = cfg.SyncInterval
	}

	sopts := stand.GetDefaultOptions()
	sopts.ID = cfg.ClusterID
	sopts.StoreType = stores.TypeFile
	sopts.FilestoreDir = filepath.Join(cfg.Dir, "streaming")
	sopts.HandleSignals = false
	sopts.ClientCA = cfg.CAFile
	// NATS Streaming's own connection: as the one user who may publish.
	sopts.Username, sopts.Password = cfg.User, cfg.Password
	if cfg.SyncInterval > 0 {
		sopts.FileStoreOpts.DoSync = false
		sopts.FileStoreOpts.AutoSync = cfg.SyncInterval
	}
	// No channel drops old messages: a projector that was down must find them all.
	sopts.StoreLimits.MaxChannels = 1000
	sopts.StoreLimits.MaxMsgs = 0
	sopts.StoreLimits.MaxBytes = 0
	if cfg.Logger != nil {
		sopts.EnableLogging = true
		sopts.CustomLogger = slogAdapter{cfg.Logger.With("component", "nats")}
	}
	if c := cfg.Cluster; c != nil {
		nopts.ServerName = c.NodeID
		nopts.Cluster.Name, nopts.Cluster.Host, nopts.Cluster.Port = c.Name, cfg.Host, c.Port
		nopts.Routes = server.RoutesFromStr(strings.Join(c.Routes, ","))
		sopts.Clustering.Clustered = true
		sopts.Clustering.NodeID = c.NodeID
		sopts.Clustering.Peers = c.Peers
		sopts.Clustering.RaftLogPath = filepath.Join(cfg.Dir, "streaming-raft")
		sopts.Clustering.Sync = cfg.SyncInterval == 0
		// The nats-streaming-server command's defaults, which its options leave at zero.
		sopts.Clustering.LogCacheSize = stand.DefaultLogCacheSize
		sopts.Clustering.LogSnapshots = stand.DefaultLogSnapshots
		sopts.Clustering.TrailingLogs = stand.DefaultTrailingLogs
	}
	s, err := stand.RunServerWithOpts(sopts, nopts)
	if err != nil {
		return nil, fmt.Errorf("natsembed: start NATS on %s:%d (is the port in use?): %w", cfg.Host, cfg.Port, err)
	}
	return &Servers{stan: s, host: cfg.Host, port: cfg.Port, monitorPort: cfg.MonitorPort, clusterID: cfg.ClusterID}, nil
}

// ClientURL is the nats:// URL clients connect to.
func (s *Servers) ClientURL() string {
	return "nats://" + net.JoinHostPort(s.host, strconv.Itoa(s.port))
}

// MonitorURL is the base URL of the HTTP monitoring endpoints.
func (s *Servers) MonitorURL() string {
	return "http://" + net.JoinHostPort(s.host, strconv.Itoa(s.monitorPort))
}

// ClusterID is the NATS Streaming cluster id.
func (s *Servers) ClusterID() string { return s.clusterID }

// Port is the NATS client port; start again on it to keep clients' URLs valid.
func (s *Servers) Port() int { return s.port }

// MonitorPort is the HTTP monitoring port.
func (s *Servers) MonitorPort() int { return s.monitorPort }

// Shutdown stops both servers; their stores stay on disk.
func (s *Servers) Shutdown() { s.stan.Shutdown() }

// portFree checks that port can be listened on now (the server would otherwise wait 10s
// before failing).
func portFree(host string, port int) error {
	lis, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return lis.Close()
}

// freePort picks a port for Start to bind (Start then checks it is free on its host)
// from under the kernel's ephemeral range (package freeport). A port from that range,
// as listening on port 0 gives, can be taken by an outgoing connection while the servers
// are down for a restart on the same ports: even by a client's own reconnect to it, as a
// loopback connection to a port nobody listens on can get that very port as its source
// and connect to itself.
func freePort() (int, error) {
	port, err := freeport.Pick()
	if err != nil {
		return 0, fmt.Errorf("natsembed: find a free port: %w", err)
	}
	return port, nil
}

// slogAdapter hands the servers' log lines to slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
