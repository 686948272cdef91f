package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/internal/system"
	"github.com/ordersaga/ordersaga/sqldb"
	"github.com/ordersaga/ordersaga/worker"
)

// schema says what opening the database does to its schema.
type schema int

const (
	// migrateSchema creates or upgrades it: migrate, dev and the long-running roles.
	migrateSchema schema = iota
	// requireSchema changes nothing and refuses a schema that is behind: the read-only
	// tools (verify, rebuild, load).
	requireSchema
)

// openDB connects to the database at url and migrates or checks its schema; Close closes
// it. The read-only tools, given no url, use dev's database if there is one here.
func (m *Main) openDB(ctx context.Context, d databaseFlags, url string, s schema) (*sqldb.DB, error) {
	if url == "" && s == requireSchema {
		if url = m.devDatabase(); url == "" {
			return nil, errNoDevDatabase
		}
	}
	if url == "" {
		return nil, errors.New("no database: pass --database-url or set DATABASE_URL")
	}
	cfg := sqldb.Config{URL: url, MaxConns: d.maxConns}
	if m.tel != nil {
		cfg.Meters, cfg.Tracers = m.tel.Meters, m.tel.Tracers
	}
	db, err := sqldb.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	m.onClose(func() error { db.Close(); return nil })
	if s == migrateSchema {
		return db, system.Migrate(ctx, db)
	}
	return db, system.CheckSchema(ctx, db)
}

// devDatabase is the connection string of the PostgreSQL cluster that `ordersaga dev` keeps
// in its data directory ($ORDERSAGA_DATA_DIR, else ./.ordersaga), or "" if there is none.
func (m *Main) devDatabase() string {
	dataDir := m.dataDir()
	if _, err := os.Stat(filepath.Join(dataDir, "postgres", "data", "PG_VERSION")); err != nil {
		return ""
	}
	url, err := system.DevDatabaseURL(dataDir)
	if err != nil {
		return ""
	}
	fmt.Fprintf(m.Stderr, "using the database of ordersaga dev: %s\n", url)
	return url
}

// conns are what a long-running role connects to.
type conns struct {
	db       *sqldb.DB
	bus      eventbus.Bus  // nil unless asked for
	temporal client.Client // nil unless asked for
}

// connect opens the database when withDB (migrating it, as every long-running role does
// at start), the bus when bus is not nil, and Temporal when temporal is not nil.
func (m *Main) connect(ctx context.Context, logger *slog.Logger, db databaseFlags, withDB bool, bus *busFlags, temporal *temporalFlags) (conns, error) {
	var c conns
	var err error
	if withDB {
		if c.db, err = m.openDB(ctx, db, db.url, migrateSchema); err != nil {
			return c, err
		}
	}
	if bus != nil {
		if c.bus, err = m.openBus(ctx, *bus, logger); err != nil {
			return c, err
		}
	}
	if temporal != nil {
		if c.temporal, err = m.dialTemporal(ctx, *temporal, logger); err != nil {
			return c, err
		}
	}
	return c, nil
}

// openBus connects to the configured bus; Close closes it.
func (m *Main) openBus(ctx context.Context, b busFlags, logger *slog.Logger) (eventbus.Bus, error) {
	bus, err := system.OpenBus(ctx, b.config(), logger, m.tel)
	if err != nil {
		return nil, err
	}
	m.onClose(bus.Close)
	return bus, nil
}

// temporalOptions are the client options: the temporal CLI's profile and TEMPORAL_*
// variables (envconfig), with the address and namespace flags over them.
func (m *Main) temporalOptions(t temporalFlags) (client.Options, error) {
	profile, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{
		ConfigFileProfile: t.profile, EnvLookup: envLookup{m},
	})
	if err != nil {
		return client.Options{}, fmt.Errorf("temporal client configuration: %w", err)
	}
	if t.address != "" {
		profile.Address = t.address
	}
	if t.namespace != "" {
		profile.Namespace = t.namespace
	}
	opts, err := profile.ToClientOptions(envconfig.ToClientOptionsRequest{})
	if err != nil {
		return client.Options{}, fmt.Errorf("temporal client configuration: %w", err)
	}
	return opts, nil
}

// dialTemporal connects to Temporal, waiting for it; Close closes the client.
func (m *Main) dialTemporal(ctx context.Context, t temporalFlags, logger *slog.Logger) (client.Client, error) {
	opts, err := m.temporalOptions(t)
	if err != nil {
		return nil, err
	}
	cfg := worker.Config{Client: opts, Gzip: t.gzip, Logger: logger.With("component", "temporal")}
	if m.tel != nil {
		cfg.Meters, cfg.Tracers = m.tel.Meters, m.tel.Tracers
	}
	c, err := worker.Dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	m.onClose(func() error { c.Close(); return nil })
	return c, nil
}

// envLookup is Main's environment as envconfig reads it; an empty variable counts as unset.
type envLookup struct{ m *Main }

func (e envLookup) LookupEnv(key string) (string, bool) {
	v := e.m.Getenv(key)
	return v, v != ""
}

func (e envLookup) Environ() []string {
	if e.m.Environ == nil {
		return nil
	}
	var out []string
	for _, kv := range e.m.Environ() {
		if strings.HasPrefix(kv, "TEMPORAL_") {
			out = append(out, kv)
		}
	}
	return out
}

// errNoDevDatabase says that no database was named and no dev database was found.
var errNoDevDatabase = errors.New("no database: pass --database-url or set DATABASE_URL (or run `ordersaga dev` here first)")

// devDatabaseNote is the help text of the tools that find dev's database by themselves.
const devDatabaseNote = "Without --database-url or DATABASE_URL it uses the database of `ordersaga dev` in ./.ordersaga\n" +
	"(or $ORDERSAGA_DATA_DIR), if there is one. It never changes the schema: against an older one it\n" +
	"says which version it needs and to run `ordersaga migrate`."
