// Package stacktest runs the whole system in-process for tests: a Temporal dev server (one
// per test binary), and per test a fresh PostgreSQL database, NATS Streaming, and the saga
// worker and two projector members built by internal/system, as production builds them.
package stacktest

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventbus/bustest"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/internal/system"
	"github.com/ordersaga/ordersaga/payments"
	"github.com/ordersaga/ordersaga/projections"
	"github.com/ordersaga/ordersaga/sqldb"
	"github.com/ordersaga/ordersaga/telemetry"
	"github.com/ordersaga/ordersaga/temporaldev"
	"github.com/ordersaga/ordersaga/worker"
)

var temporalAddr, temporalBin string

// TemporalAddress is the dev server's frontend, for tests that use the temporal CLI.
func TemporalAddress() string { return temporalAddr }

// TemporalBinary is the temporal CLI that runs the dev server.
func TemporalBinary() string { return temporalBin }

// Main runs the package's tests with a Temporal dev server and a database server.
func Main(m *testing.M) {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin, err := temporaldev.Binary(ctx, root, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv, err := temporaldev.Start(ctx, temporaldev.Config{Binary: bin, Port: -1, Headless: true, Logger: logger})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	temporalAddr, temporalBin = srv.HostPort(), bin
	code := dbtest.Run(m)
	_ = srv.Stop()
	os.Exit(code)
}

// Stack is one test's system: the roles run as internal/system builds them for
// production (the worker with its outbox marker and relay, two projector members).
type Stack struct {
	DB       *sqldb.DB
	Store    *eventstore.Store
	Accounts payments.Accounts
	Reads    *projections.ReadModels
	Bus      eventbus.Bus
	Temporal client.Client
	// Tokens issue the tokens an API on this stack trusts.
	Tokens *Tokens
	// Telemetry is the stack's (Options.Telemetry, or telemetry.Off()).
	Telemetry *telemetry.Telemetry
}

// Start starts a stack on NATS Streaming for t and stops it when t ends.
func Start(t testing.TB) *Stack {
	t.Helper()
	return StartOn(t, system.BusNATSStreaming)
}

// StartOn starts a stack on the bus of kind busKind (system.BusNATSStreaming or
// system.BusJetStream) for t and stops it when t ends.
func StartOn(t testing.TB, busKind string) *Stack {
	t.Helper()
	return StartWith(t, Options{Bus: busKind})
}

// Options choose a stack's bus and its telemetry.
type Options struct {
	// Bus is system.BusNATSStreaming (the default) or system.BusJetStream.
	Bus string
	// Telemetry instruments every role of the stack, as production does; nil: none.
	Telemetry *telemetry.Telemetry
}

// StartWith starts a stack as opts say for t and stops it when t ends.
func StartWith(t testing.TB, opts Options) *Stack {
	t.Helper()
	ctx := context.Background()
	busKind, tel := cmp.Or(opts.Bus, system.BusNATSStreaming), opts.Telemetry
	if tel == nil {
		tel = telemetry.Off()
	}
	db, err := sqldb.Open(ctx, sqldb.Config{URL: dbtest.NewDatabase(t), Meters: tel.Meters, Tracers: tel.Tracers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := system.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	srv := bustest.StartServer(t)
	bus, err := system.OpenBus(ctx, system.BusConfig{Kind: busKind, URL: srv.URL(), MonitorURL: srv.MonitorURL(), ClusterID: srv.ClusterID(), ClientID: "stack"}, nil, tel)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Close() })
	c, err := worker.Dial(ctx, worker.Config{Client: client.Options{HostPort: temporalAddr}, Meters: tel.Meters, Tracers: tel.Tracers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	store := eventstore.New(db)
	// The restaurants the tests order from have the demo menu, as under dev.
	if err := system.SeedMenus(ctx, store, system.DemoRestaurants); err != nil {
		t.Fatal(err)
	}
	w, err := system.NewWorker(system.WorkerConfig{DB: db, Bus: bus, Temporal: c, Telemetry: tel,
		Relay: system.RelayTuning{GracePeriod: time.Second, PollInterval: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := system.NewProjectors(system.ProjectorsConfig{DB: db, Bus: bus, Members: 2, AckWait: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	Run(t, w, p)
	return &Stack{DB: db, Store: store, Accounts: payments.Accounts{Store: store}, Reads: projections.NewReadModels(db), Bus: bus, Temporal: c,
		Tokens: NewTokens(t), Telemetry: tel}
}

// Role is anything that runs until its context ends: what internal/system builds.
type Role interface {
	Run(ctx context.Context) error
}

// Run runs roles in the background until t ends, then stops them and fails t if one
// returned an error.
func Run(t testing.TB, roles ...Role) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, len(roles))
	for _, r := range roles {
		go func() { done <- r.Run(ctx) }()
	}
	t.Cleanup(func() {
		stop()
		for range roles {
			if err := <-done; err != nil {
				t.Errorf("stack: %v", err)
			}
		}
	})
}
