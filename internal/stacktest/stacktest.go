// Package stacktest runs the whole system in-process for tests: a Temporal dev server (one
// per test binary), and per test a fresh PostgreSQL database, NATS Streaming, the saga
// worker with the relay, and two projector members.
package stacktest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga/activities"
	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventbus/bustest"
	"github.com/ordersaga/ordersaga/eventbus/natsstreaming"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/payments"
	"github.com/ordersaga/ordersaga/projections"
	"github.com/ordersaga/ordersaga/relay"
	"github.com/ordersaga/ordersaga/sqldb"
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

// Stack is one test's system.
type Stack struct {
	DB        *sqldb.DB
	Store     *eventstore.Store
	Accounts  payments.Accounts
	Projector *projections.Projector
	Reads     *projections.ReadModels
	Bus       eventbus.Bus
	Temporal  client.Client
}

// Start starts a stack for t and stops it when t ends.
func Start(t *testing.T) *Stack {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, sqldb.Config{URL: dbtest.NewDatabase(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	for _, migrate := range []func(context.Context, *sqldb.DB) error{eventstore.Migrate, projections.Migrate} {
		if err := migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	srv := bustest.StartServer(t)
	bus, err := natsstreaming.Connect(ctx, natsstreaming.Config{URL: srv.URL(), ClusterID: srv.ClusterID(), ClientID: "stack", MonitorURL: srv.MonitorURL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Close() })
	c, err := worker.Dial(ctx, worker.Config{HostPort: temporalAddr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	store := eventstore.New(db)
	s := &Stack{DB: db, Store: store, Accounts: payments.Accounts{Store: store}, Projector: projections.New(db, store, nil), Reads: projections.NewReadModels(db), Bus: bus, Temporal: c}
	for range 2 {
		_, err := bus.Subscribe(ctx, eventbus.SubscribeOptions{Group: "order-projectors", Types: projections.Types(),
			Handler: func(ctx context.Context, m eventbus.Message) error { return s.Projector.Apply(ctx, m.Event) },
			DeadLetter: func(ctx context.Context, m eventbus.Message, cause error) error {
				return s.Projector.DeadLetter(ctx, m.Event, m.Raw, cause)
			},
			AckWait: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 2)
	go func() {
		done <- worker.Run(wctx, c, &activities.Activities{Store: store, Bus: bus, Accounts: payments.NewAccountCache(0)}, nil)
	}()
	r, err := relay.New(relay.Config{Outbox: store, Publisher: bus, GracePeriod: time.Second, PollInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- r.Run(wctx) }()
	t.Cleanup(func() {
		stop()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("stack: %v", err)
			}
		}
	})
	return s
}
