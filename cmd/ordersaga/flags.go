package main

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventbus/natsconn"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/internal/system"
	"github.com/ordersaga/ordersaga/worker"
)

// envAnnotation marks a flag with the environment variable it defaults from; the compose
// test reads it to know which variables a command reads.
const envAnnotation = "ordersaga_env"

// envFlags registers flags whose default comes from an environment variable when it is set,
// and says so in the help.
type envFlags struct {
	fs     *pflag.FlagSet
	getenv func(string) string
}

func (m *Main) flagsOf(fs *pflag.FlagSet) envFlags { return envFlags{fs: fs, getenv: m.Getenv} }

// note appends the variable to the usage and annotates the flag with it.
func (f envFlags) note(name, env string) {
	fl := f.fs.Lookup(name)
	fl.Usage += " (env " + env + ")"
	_ = f.fs.SetAnnotation(name, envAnnotation, []string{env})
}

// String registers a string flag defaulting to $env, else def.
func (f envFlags) String(p *string, name, env, def, usage string) {
	if v := f.getenv(env); v != "" {
		def = v
	}
	f.fs.StringVar(p, name, def, usage)
	f.note(name, env)
}

// Secret registers a string flag whose value, when the flag is not given, is $env, without
// ever showing that value as the flag's default in the help.
func (f envFlags) Secret(p *string, name, env, usage string) {
	f.fs.StringVar(p, name, "", usage)
	*p = f.getenv(env)
	f.note(name, env)
}

// Bool registers a boolean flag defaulting to $env ("true", "1", ...), else def.
func (f envFlags) Bool(p *bool, name, env string, def bool, usage string) {
	if v, err := strconv.ParseBool(f.getenv(env)); err == nil {
		def = v
	}
	f.fs.BoolVar(p, name, def, usage)
	f.note(name, env)
}

// relayFlags are the settings of the roles that run an outbox relay (relay, worker).
type relayFlags struct {
	id    string
	lease time.Duration
}

func (r *relayFlags) register(f envFlags) {
	f.String(&r.id, "relay-id", "ORDERSAGA_RELAY_ID", "",
		"the name this process's relay claims outbox events under, unique among the relays (default: host name, pid and a random suffix; "+
			"a stable one, such as the pod's name, lets a restarted relay take back at once what it held)")
	f.fs.DurationVar(&r.lease, "relay-lease", 30*time.Second,
		"how long a batch of outbox events a relay claimed stays its own; another relay takes it over when a dead relay's lease runs out")
}

// check refuses settings that cannot work, naming the flag.
func (r *relayFlags) check() error {
	switch {
	case r.lease <= 0:
		return fmt.Errorf("--relay-lease must be positive, got %s", r.lease)
	case r.id != "":
		if err := eventstore.ValidateOwner(r.id); err != nil {
			return fmt.Errorf("--relay-id: %s", ordersaga.ErrorMessage(err))
		}
	}
	return nil
}

// tuning is the relay's settings.
func (r *relayFlags) tuning() system.RelayTuning { return system.RelayTuning{ID: r.id, Lease: r.lease} }

// pollersFlag is --task-pollers, of the roles that run the Temporal worker (worker, dev).
type pollersFlag struct {
	text    string
	pollers worker.Pollers
}

func (p *pollersFlag) register(f envFlags) {
	f.String(&p.text, "task-pollers", "ORDERSAGA_TASK_POLLERS", "auto",
		fmt.Sprintf("goroutines polling Temporal for each kind of task: auto (scaled to the load) or a fixed number from %d to %d",
			worker.MinPollers, worker.MaxPollers))
}

// check parses the flag, naming it in the error.
func (p *pollersFlag) check() error {
	v, err := worker.ParsePollers(p.text)
	if err != nil {
		return fmt.Errorf("--task-pollers: %w", err)
	}
	p.pollers = v
	return nil
}

// logFlags are the settings of every command that logs.
type logFlags struct{ level string }

func (l *logFlags) register(f envFlags) {
	f.String(&l.level, "log-level", "ORDERSAGA_LOG_LEVEL", "info", "debug, info, warn or error")
}

// databaseFlags are the settings of every command that uses the database.
type databaseFlags struct {
	url      string
	maxConns int32
}

func (d *databaseFlags) register(f envFlags) {
	f.String(&d.url, "database-url", "DATABASE_URL", "",
		"CockroachDB or PostgreSQL connection string, e.g. postgresql://root@localhost:26257/ordersaga?sslmode=disable")
	f.fs.Int32Var(&d.maxConns, "db-max-conns", 0, "database pool size (0: max(4, CPUs))")
}

// pprofFlag is where a long-running role serves its profiles.
type pprofFlag struct{ addr string }

func (p *pprofFlag) register(f envFlags) {
	f.String(&p.addr, "pprof-addr", "ORDERSAGA_PPROF_ADDR", "", "serve Go profiles (net/http/pprof) on this address, e.g. 127.0.0.1:6060")
}

// busFlags are the settings of every command that uses the event bus.
type busFlags struct {
	kind             string
	url              string
	monitorURL       string
	clusterID        string
	clientID         string
	prefix           string
	allowMemoryStore bool
	conn             natsconn.Config
	// replicas is --jetstream-replicas as given; check parses it into replicaCount.
	replicas     string
	replicaCount int
}

func (b *busFlags) register(f envFlags, role string) {
	host, _ := os.Hostname()
	f.String(&b.kind, "bus", "ORDERSAGA_BUS", "natsstreaming", "event bus: natsstreaming or jetstream")
	f.String(&b.url, "nats-url", "NATS_URL", "nats://127.0.0.1:4222", "NATS server URL")
	f.String(&b.monitorURL, "nats-monitor-url", "NATS_MONITOR_URL", "http://127.0.0.1:8222",
		"NATS HTTP monitoring URL, used to check that NATS Streaming stores on disk")
	f.String(&b.clusterID, "stan-cluster-id", "ORDERSAGA_STAN_CLUSTER_ID", "ordersaga", "NATS Streaming cluster id")
	f.String(&b.clientID, "stan-client-id", "ORDERSAGA_STAN_CLIENT_ID", role+"-"+host,
		"NATS Streaming client id: stable across restarts, unique per process")
	f.String(&b.prefix, "channel-prefix", "ORDERSAGA_CHANNEL_PREFIX", "",
		`prefix of channel/subject names; default "" for natsstreaming (channel = event type), "ordersaga.events." for jetstream`)
	f.String(&b.replicas, "jetstream-replicas", "ORDERSAGA_JETSTREAM_REPLICAS", "1",
		"servers of a JetStream cluster that keep the events stream, 1 to 5 (3 in a cluster of three: one may be lost)")
	f.fs.BoolVar(&b.allowMemoryStore, "allow-memory-store", false, "accept a NATS Streaming server with a memory store (loses messages on restart)")
	f.String(&b.conn.User, "nats-user", "NATS_USER", "", "NATS user (with --nats-password)")
	f.Secret(&b.conn.Password, "nats-password", "NATS_PASSWORD", "NATS password")
	f.Secret(&b.conn.Token, "nats-token", "NATS_TOKEN", "NATS authentication token")
	f.String(&b.conn.NKeySeedFile, "nats-nkey-seed", "NATS_NKEY_SEED", "", "file of the NKey seed to authenticate to NATS with")
	f.String(&b.conn.CredsFile, "nats-creds", "NATS_CREDS", "", "NATS credentials file (a user JWT and its NKey, as NATS accounts issue)")
	f.String(&b.conn.CAFile, "nats-ca", "NATS_CA", "", "CA (PEM) to verify the NATS server with; any --nats-ca/--nats-cert connects over TLS")
	f.String(&b.conn.CertFile, "nats-cert", "NATS_CERT", "", "client certificate (PEM) for NATS mutual TLS")
	f.String(&b.conn.KeyFile, "nats-key", "NATS_KEY", "", "private key (PEM) of --nats-cert")
}

// check refuses settings that cannot work, naming the flag.
func (b *busFlags) check() error {
	n, err := strconv.Atoi(b.replicas)
	if err != nil || n < 1 || n > 5 {
		return fmt.Errorf("--jetstream-replicas must be 1 to 5, got %q", b.replicas)
	}
	b.replicaCount = n
	return nil
}

// config is the bus these flags name.
func (b busFlags) config() system.BusConfig {
	return system.BusConfig{Kind: b.kind, URL: b.url, MonitorURL: b.monitorURL, AllowMemoryStore: b.allowMemoryStore,
		ClusterID: b.clusterID, ClientID: b.clientID, Prefix: b.prefix, Conn: b.conn, Replicas: b.replicaCount}
}

// temporalFlags say where Temporal is. Everything else about the connection (TLS, API key,
// headers) comes from the TEMPORAL_* variables and the profile file the temporal CLI
// reads (go.temporal.io/sdk/contrib/envconfig); the flags override the address and the
// namespace.
type temporalFlags struct {
	address, namespace, profile string
	gzip                        bool
}

func (t *temporalFlags) register(f envFlags) {
	f.String(&t.address, "temporal-address", "TEMPORAL_ADDRESS", "",
		"Temporal frontend host:port (default: the temporal CLI's profile, else 127.0.0.1:7233)")
	f.String(&t.namespace, "temporal-namespace", "TEMPORAL_NAMESPACE", "", "Temporal namespace (default: the profile's, else default)")
	f.String(&t.profile, "temporal-profile", "TEMPORAL_PROFILE", "",
		"profile of the temporal CLI's configuration file to connect with (TLS, API key); TEMPORAL_TLS_* and TEMPORAL_API_KEY override it")
	f.Bool(&t.gzip, "temporal-gzip", "TEMPORAL_GZIP", false,
		"gzip requests to Temporal: for slow links such as Temporal Cloud across regions; on a local network it only costs CPU")
}

// restaurantFlags configure the simulator's rule.
type restaurantFlags struct {
	delay       time.Duration
	unavailable []string
	manual      string
}

func (r *restaurantFlags) register(fs *pflag.FlagSet) {
	fs.DurationVar(&r.delay, "restaurant-delay", 3*time.Second, "how long the simulated restaurant thinks before approving")
	fs.StringSliceVar(&r.unavailable, "unavailable", []string{system.SoldOutItem}, "item ids the simulated restaurant rejects orders for (comma-separated)")
	fs.StringVar(&r.manual, "manual-restaurant", "manual", "restaurant id whose orders the simulator leaves to a human")
}

// config is the restaurant's configuration with this rule.
func (r restaurantFlags) config(logger *slog.Logger) system.RestaurantConfig {
	return system.RestaurantConfig{Logger: logger, Delay: r.delay, Unavailable: r.unavailable, ManualRestaurant: r.manual}
}
