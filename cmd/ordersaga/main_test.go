package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/api"
	"github.com/ordersaga/ordersaga/auth"
	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventbus/bustest"
	"github.com/ordersaga/ordersaga/eventbus/jetstream"
	"github.com/ordersaga/ordersaga/eventbus/natsconn"
	"github.com/ordersaga/ordersaga/eventbus/natsstreaming"
	"github.com/ordersaga/ordersaga/eventstore"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/internal/freeport"
	"github.com/ordersaga/ordersaga/internal/syncbuf"
	"github.com/ordersaga/ordersaga/internal/system"
	"github.com/ordersaga/ordersaga/sqldb"
	"github.com/ordersaga/ordersaga/temporaldev"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// freePort is a port for a server the command under test binds later: outside the
// kernel's ephemeral range, so that no outgoing connection takes it meanwhile.
func freePort(t *testing.T) int {
	t.Helper()
	port, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func freeAddr(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", freePort(t))
}

// start runs the program with args until the returned stop function is called.
func start(t *testing.T, env map[string]string, args ...string) (stop func() error, output *syncbuf.Buffer) {
	t.Helper()
	output = &syncbuf.Buffer{}
	m := &Main{Stdout: output, Stderr: output, Getenv: func(k string) string { return env[k] }}
	if err := m.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	return func() error {
		cancel()
		err := <-done
		if cerr := m.Close(); err == nil {
			err = cerr
		}
		return err
	}, output
}

// dial waits until the API at addr reports SERVING and returns a client that calls it with
// the token that token returns then.
func dial(t *testing.T, addr string, output *syncbuf.Buffer, token func() string) ordersagav1.EventStoreServiceClient {
	t.Helper()
	health, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { health.Close() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		res, err := healthpb.NewHealthClient(health).Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && res.Status == healthpb.HealthCheckResponse_SERVING {
			conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithPerRPCCredentials(api.BearerToken{Token: token(), AllowInsecure: true}))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			return ordersagav1.NewEventStoreServiceClient(conn)
		}
		if time.Now().After(deadline) {
			t.Fatalf("API at %s never became healthy: %v\noutput:\n%s", addr, err, output)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDevKeepsDataAcrossRestartsAndResetWipesIt(t *testing.T) {
	base, err := os.MkdirTemp("", "ordersaga-dev-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	if err := os.Chmod(base, 0o711); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(base, "data")
	addr := freeAddr(t)
	natsPort, monitorPort := freePort(t), freePort(t)
	temporalAddr, uiPort, metricsAddr := freeAddr(t), freePort(t), freeAddr(t)
	devArgs := func(extra ...string) []string {
		return append([]string{"dev", "--data-dir", dataDir, "--grpc-addr", addr, "--metrics-addr", metricsAddr,
			"--nats-port", fmt.Sprint(natsPort), "--nats-monitor-port", fmt.Sprint(monitorPort),
			"--temporal-address", temporalAddr, "--temporal-ui-port", fmt.Sprint(uiPort)}, extra...)
	}
	ctx := context.Background()
	event := &ordersagav1.Event{EventId: uuid.NewString(), EventType: "order-created", AggregateType: "note", AggregateId: "dev-1", EventData: `{"n": 1}`}
	count := func(client ordersagav1.EventStoreServiceClient) int {
		res, err := client.GetEvents(ctx, &ordersagav1.GetEventsRequest{AggregateType: "note", AggregateId: "dev-1"})
		if err != nil {
			t.Fatal(err)
		}
		return len(res.Events)
	}

	stop, out := start(t, nil, devArgs()...)
	client := dial(t, addr, out, devToken(t, dataDir))
	received := make(chan eventbus.Message, 100)
	// A consumer of dev's bus connects as dev's reader.
	users, err := system.ReadDevNATSUsers(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	bus, err := natsstreaming.Connect(ctx, natsstreaming.Config{URL: fmt.Sprintf("nats://127.0.0.1:%d", natsPort), ClusterID: "ordersaga",
		ClientID: "dev-test", MonitorURL: fmt.Sprintf("http://127.0.0.1:%d", monitorPort),
		Conn: natsconn.Config{User: users.Reader.User, Password: users.Reader.Password}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bus.Subscribe(ctx, eventbus.SubscribeOptions{Group: "dev-test", Types: []string{"order-created"},
		Handler:    func(_ context.Context, m eventbus.Message) error { received <- m; return nil },
		DeadLetter: func(context.Context, eventbus.Message, error) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateEvent(ctx, &ordersagav1.CreateEventRequest{Event: event}); err != nil {
		t.Fatal(err)
	}
	runSaga(t, dataDir, addr)
	// What dev keeps of orders, customers and keys is for its owner's eyes only.
	for path, want := range map[string]os.FileMode{"temporal.db": 0o600, "nats": 0o700 | os.ModeDir, "auth": 0o700 | os.ModeDir,
		"auth/signing-key.json": 0o600} {
		if info, err := os.Stat(filepath.Join(dataDir, path)); err != nil || info.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", path, info.Mode(), err, want)
		}
	}
	// The saga's events arrive too; wait for the one appended through the API.
	relayed := time.After(30 * time.Second)
	for found := false; !found; {
		select {
		case m := <-received:
			found = m.Event.ID.String() == event.EventId
		case <-relayed:
			t.Fatalf("the relay never published the event on NATS Streaming\n%s", out)
		}
	}
	bus.Close()
	if err := stop(); err != nil {
		t.Fatalf("dev did not stop cleanly: %v\n%s", err, out)
	}

	stop, out = start(t, nil, devArgs()...)
	if n := count(dial(t, addr, out, devToken(t, dataDir))); n != 1 {
		t.Errorf("after a restart the stream holds %d events, want 1", n)
	}
	if err := stop(); err != nil {
		t.Fatalf("dev did not stop cleanly: %v\n%s", err, out)
	}

	stop, out = start(t, nil, devArgs("--reset")...)
	if n := count(dial(t, addr, out, devToken(t, dataDir))); n != 0 {
		t.Errorf("after --reset the stream holds %d events, want 0", n)
	}
	if err := stop(); err != nil {
		t.Fatalf("dev did not stop cleanly: %v\n%s", err, out)
	}
}

// startTemporal starts a headless Temporal dev server for t and returns its address.
func startTemporal(t *testing.T) string {
	t.Helper()
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	bin, err := temporaldev.Binary(context.Background(), root, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := temporaldev.Start(context.Background(), temporaldev.Config{Binary: bin, Port: -1, Headless: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	return srv.HostPort()
}

// apiKeys writes a signing key for an api role under test and returns the environment that
// points the role at its key set, and a signer of tokens it accepts.
func apiKeys(t *testing.T) (map[string]string, *auth.Signer) {
	t.Helper()
	dir := t.TempDir()
	key, err := auth.WriteKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auth.NewSigner(key, "ordersaga-test", auth.DefaultAudience)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"ORDERSAGA_JWKS_FILE": filepath.Join(dir, auth.KeySetFile), "ORDERSAGA_TOKEN_ISSUER": "ordersaga-test"}, signer
}

// devToken returns a source of operator tokens signed with dev's key in dataDir.
func devToken(t *testing.T, dataDir string) func() string {
	return func() string {
		t.Helper()
		signer, err := system.DevSigner(dataDir)
		if err != nil {
			t.Fatal(err)
		}
		token, err := signer.Token(auth.Principal{Role: auth.Operator, ID: "test"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return token
	}
}

func TestAPIRoleServesAnExistingDatabase(t *testing.T) {
	env, signer := apiKeys(t)
	env["DATABASE_URL"], env["TEMPORAL_ADDRESS"] = dbtest.NewDatabase(t), startTemporal(t)
	out := &syncbuf.Buffer{}
	m := &Main{Stdout: out, Stderr: out, Getenv: func(k string) string { return env[k] }}
	if err := m.ParseFlags([]string{"migrate"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if !strings.Contains(out.String(), "schema is up to date") {
		t.Errorf("migrate printed %q", out)
	}
	addr := freeAddr(t)
	env["ORDERSAGA_GRPC_ADDR"] = addr
	stop, out := start(t, env, "api")
	client := dial(t, addr, out, func() string {
		token, err := signer.Token(auth.Principal{Role: auth.Operator, ID: "test"}, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return token
	})
	if _, err := client.CreateEvent(context.Background(), &ordersagav1.CreateEventRequest{Event: &ordersagav1.Event{
		EventId: uuid.NewString(), EventType: "order-created", AggregateType: "note", AggregateId: "a", EventData: `{}`}}); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatalf("api did not stop cleanly: %v\n%s", err, out)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"fly"}, `unknown command "fly"`},
		{[]string{"api", "--no-such-flag"}, "unknown flag: --no-such-flag"},
		{[]string{"account", "get", "--item", "x:y:1:1"}, "unknown flag: --item"},
		{[]string{"order"}, "needs a verb"},
		{[]string{"order", "frob"}, `unknown verb "frob"`},
		{[]string{"order", "get"}, "exactly one order id"},
		{[]string{"order", "place", "o1", "--item", "pizza:Pizza:2"}, "id:quantity, or id:name:unit_price:quantity"},
		{[]string{"migrate", "extra"}, "takes no arguments"},
	}
	for _, tt := range tests {
		out := &syncbuf.Buffer{}
		m := &Main{Stdout: out, Stderr: out, Getenv: func(string) string { return "" }}
		err := m.ParseFlags(tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseFlags(%q) = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
	m := &Main{Stdout: &syncbuf.Buffer{}, Stderr: &syncbuf.Buffer{}, Getenv: func(string) string { return "" }}
	if err := m.ParseFlags([]string{"migrate"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("migrate without a database: %v, want an error naming DATABASE_URL", err)
	}
	// The load and dev refuse figures that cannot work, before they start anything.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"load", "--orders", "0"}, "--orders"},
		{[]string{"load", "--rate", "-2"}, "--rate"},
		{[]string{"load", "--rounds", "-1"}, "--rounds"},
		{[]string{"load", "--via", "carrier-pigeon"}, "--via"},
		{[]string{"load", "--decide-at", "never"}, "--decide-at"},
		{[]string{"dev", "--data-dir", t.TempDir(), "--nats-sync-interval", "-1s"}, "--nats-sync-interval"},
		{[]string{"sagas", "stuck", "--attempts", "0"}, "--attempts"},
		{[]string{"sagas", "stuck", "--grace", "-1s"}, "--grace"},
		{[]string{"sagas", "stuck", "--limit", "-5"}, "--limit"},
		{[]string{"relay", "--relay-lease", "0s"}, "--relay-lease"},
		{[]string{"worker", "--relay-lease", "-1s"}, "--relay-lease"},
		{[]string{"worker", "--task-pollers", "1"}, "--task-pollers"},
		{[]string{"worker", "--task-pollers", "101"}, "--task-pollers"},
		{[]string{"dev", "--data-dir", t.TempDir(), "--task-pollers", "-2"}, "--task-pollers"},
		{[]string{"relay", "--relay-id", strings.Repeat("r", 201)}, "--relay-id"},
		{[]string{"worker", "--relay-id", "relay\xff"}, "--relay-id"},
		{[]string{"relay", "--jetstream-replicas", "0"}, "--jetstream-replicas"},
		{[]string{"projector", "--jetstream-replicas", "three"}, "--jetstream-replicas"},
		{[]string{"worker", "--jetstream-replicas", "6"}, "--jetstream-replicas"},
		{[]string{"chaos", "--rate", "0"}, "--rate"},
		{[]string{"chaos", "--orders", "-1"}, "--orders"},
		{[]string{"chaos", "--every", "0s"}, "--every"},
		{[]string{"chaos", "--faults", "kill-everything"}, "--faults"},
		{[]string{"chaos", "--nats-nodes", "2"}, "--nats-nodes"},
		{[]string{"chaos", "--bus", "kafka"}, "--bus"},
		{[]string{"nats", "--data-dir", t.TempDir(), "--host", "0.0.0.0"}, "--host"},
		{[]string{"nats"}, "--data-dir"},
	} {
		m := &Main{Stdout: &syncbuf.Buffer{}, Stderr: &syncbuf.Buffer{}, Getenv: func(string) string { return "" }}
		if err := m.ParseFlags(tt.args); err != nil {
			t.Fatal(err)
		}
		if err := m.Run(context.Background()); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want an error naming %s", tt.args, err, tt.want)
		}
	}
}

// A number of pollers from the environment is checked like the flag's.
func TestTaskPollersFromTheEnvironmentAreChecked(t *testing.T) {
	for _, v := range []string{"1", "0", "-1", "1000", "many"} {
		m := &Main{Stdout: &syncbuf.Buffer{}, Stderr: &syncbuf.Buffer{},
			Getenv: func(k string) string { return map[string]string{"ORDERSAGA_TASK_POLLERS": v}[k] }}
		if err := m.ParseFlags([]string{"worker"}); err != nil {
			t.Fatal(err)
		}
		if err := m.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "--task-pollers") {
			t.Errorf("ORDERSAGA_TASK_POLLERS=%s: %v, want an error naming --task-pollers", v, err)
		}
	}
}

func TestPortInUseIsNamed(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	env, _ := apiKeys(t)
	env["DATABASE_URL"], env["TEMPORAL_ADDRESS"] = dbtest.NewDatabase(t), startTemporal(t)
	out := &syncbuf.Buffer{}
	m := &Main{Stdout: out, Stderr: out, Getenv: func(k string) string { return env[k] }}
	if err := m.ParseFlags([]string{"api", "--grpc-addr", lis.Addr().String()}); err != nil {
		t.Fatal(err)
	}
	err = m.Run(context.Background())
	m.Close()
	if err == nil || !strings.Contains(err.Error(), lis.Addr().String()) || !strings.Contains(err.Error(), "--grpc-addr") {
		t.Errorf("error = %v, want one naming %s and --grpc-addr", err, lis.Addr())
	}
}

func TestRelayRolePublishesTheOutbox(t *testing.T) {
	srv := bustest.StartServer(t)
	env := map[string]string{"DATABASE_URL": dbtest.NewDatabase(t), "NATS_URL": srv.URL(), "NATS_MONITOR_URL": srv.MonitorURL(),
		"ORDERSAGA_BUS": "jetstream"}
	stop, out := start(t, env, "relay")
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("relay did not stop cleanly: %v\n%s", err, out)
		}
	}()
	ctx := context.Background()
	bus, err := jetstream.Connect(ctx, jetstream.Config{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	received := make(chan eventbus.Message, 1)
	if _, err := bus.Subscribe(ctx, eventbus.SubscribeOptions{Group: "relay-role-test", Types: []string{"order-created"},
		Handler:    func(_ context.Context, m eventbus.Message) error { received <- m; return nil },
		DeadLetter: func(context.Context, eventbus.Message, error) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	db, err := sqldb.Open(ctx, sqldb.Config{URL: env["DATABASE_URL"]})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The relay role migrates at start; wait for the schema rather than race it.
	store := eventstore.New(db)
	if err := eventstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	if _, err := store.Append(ctx, ordersaga.MustParseStream("order-relayed"), ordersaga.NoStream, []ordersaga.EventData{{ID: id, Type: "order-created", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-received:
		if m.Event.ID != id {
			t.Errorf("relayed event %s, want %s", m.Event.ID, id)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the relay role never published the appended event\n%s", out)
	}
}

// cli runs one ordersaga command and returns what it printed.
func cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out := &syncbuf.Buffer{}
	m := &Main{Stdout: out, Stderr: out, Getenv: func(string) string { return "" }}
	if err := m.ParseFlags(args); err != nil {
		return out.String(), err
	}
	err := m.Run(context.Background())
	m.Close()
	return out.String(), err
}

// runSaga drives an order through the dev stack with the CLI: fund the customer, place the
// order, approve it, watch it, read it, list it, see its history, and verify the system.
func runSaga(t *testing.T, dataDir, apiAddr string) {
	t.Helper()
	token := devToken(t, dataDir)()
	mustCLI := func(args ...string) string {
		t.Helper()
		out, err := cli(t, append(args, "--api", apiAddr, "--token", token)...)
		if err != nil {
			t.Fatalf("ordersaga %v: %v\n%s", args, err, out)
		}
		return out
	}
	if out := mustCLI("account", "credit", "--customer", "dev-c1", "--amount", "5000", "--currency", "EUR"); !strings.Contains(out, "50.00") {
		t.Errorf("account credit printed %q", out)
	}
	mustCLI("order", "place", "dev-saga-1", "--customer", "dev-c1", "--restaurant", "manual", "--item", "margherita:2")
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := cli(t, "order", "approve", "dev-saga-1", "--api", apiAddr, "--token", token)
		if err == nil {
			break
		}
		if !strings.Contains(out+err.Error(), "not awaiting") || time.Now().After(deadline) {
			t.Fatalf("order approve: %v\n%s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out := mustCLI("order", "watch", "dev-saga-1"); !strings.Contains(out, "approved") {
		t.Errorf("order watch printed %q, want it to end at approved", out)
	}
	got := mustCLI("order", "get", "dev-saga-1", "--min-version", "3", "--json")
	var o struct {
		Status  string `json:"status"`
		Amount  string `json:"amount"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal([]byte(got), &o); err != nil || o.Status != "approved" || o.Amount != "2300" || o.Version != "3" {
		t.Errorf("order get --json = %s (%v), want approved, 2300, version 3", got, err)
	}
	if out := mustCLI("order", "history", "dev-saga-1"); strings.Count(out, "order-") != 3 {
		t.Errorf("order history printed %q, want three events", out)
	}
	if out := mustCLI("order", "list", "--customer", "dev-c1"); !strings.Contains(out, "dev-saga-1") {
		t.Errorf("order list printed %q", out)
	}
	if out := mustCLI("account", "get", "--customer", "dev-c1"); !strings.Contains(out, "27.00") {
		t.Errorf("account get printed %q, want 27.00 left", out)
	}
	dir, _ := filepath.Abs(filepath.Join(dataDir, "postgres"))
	dbURL := fmt.Sprintf("host=%s user=postgres dbname=postgres sslmode=disable", dir)
	if out, err := cli(t, "rebuild", "--database-url", dbURL); err != nil || !strings.Contains(out, "rebuilt") {
		t.Fatalf("rebuild: %v\n%s", err, out)
	}
	for {
		out, err := cli(t, "verify", "--database-url", dbURL, "--grace", "3s")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("verify: %v\n%s", err, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestAClientVerbThatCannotReachTheAPISaysSo calls the API where nothing listens: the
// error names the address, the likely cause and the flag that changes it.
func TestAClientVerbThatCannotReachTheAPISaysSo(t *testing.T) {
	addr := freeAddr(t) // closed again: nothing listens there
	for _, args := range [][]string{{"order", "get", "41"}, {"order", "watch", "41"}, {"account", "get", "--customer", "c-1"}} {
		out, err := cli(t, append(args, "--api", addr, "--timeout", "3s")...)
		if err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "ordersaga dev") ||
			!strings.Contains(err.Error(), "--api") {
			t.Errorf("ordersaga %v against %s: %v (%s); want an error naming the address, ordersaga dev and --api", args, addr, err, out)
		}
	}
}

// TestReadOnlyToolsNeverMigrate runs verify and rebuild against an empty database: each
// says which schema version it needs and to run ordersaga migrate, and creates nothing.
func TestReadOnlyToolsNeverMigrate(t *testing.T) {
	url := dbtest.NewDatabase(t)
	for _, tool := range []string{"verify", "rebuild"} {
		_, err := cli(t, tool, "--database-url", url)
		if err == nil || !strings.Contains(err.Error(), "ordersaga migrate") || !strings.Contains(err.Error(), "needs version") {
			t.Errorf("%s on an empty database: %v, want an error naming the version it needs and ordersaga migrate", tool, err)
		}
	}
	db, err := sqldb.Open(context.Background(), sqldb.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables int
	if err := db.QueryRow(context.Background(), `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("the read-only tools left %d tables in the database, want none", tables)
	}
	if out, err := cli(t, "migrate", "--database-url", url); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if out, err := cli(t, "verify", "--database-url", url); err != nil {
		t.Errorf("verify after migrate: %v\n%s", err, out)
	}
}

// TestSecretsFromTheEnvironmentStayOutOfTheHelp sets a token and a NATS password in the
// environment: the commands use them, and their help does not show them.
func TestSecretsFromTheEnvironmentStayOutOfTheHelp(t *testing.T) {
	env := map[string]string{"ORDERSAGA_TOKEN": "tok3n-s3cret", "NATS_PASSWORD": "pa55-s3cret"}
	for _, args := range [][]string{{"order", "list", "-h"}, {"worker", "-h"}} {
		out := &syncbuf.Buffer{}
		m := &Main{Stdout: out, Stderr: out, Getenv: func(k string) string { return env[k] }}
		if err := m.ParseFlags(args); !errors.Is(err, ErrNothingToRun) {
			t.Fatalf("%v: %v", args, err)
		}
		if strings.Contains(out.String(), "s3cret") || !strings.Contains(out.String(), "env ") {
			t.Errorf("%v shows a secret, or no environment variables:\n%s", args, out)
		}
	}
	m := &Main{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return env[k] }}
	cmd, _, err := m.commands().Find([]string{"worker"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	if v, _ := cmd.Flags().GetString("nats-password"); v != "pa55-s3cret" {
		t.Errorf("--nats-password from NATS_PASSWORD = %q, want the variable's value", v)
	}
}

// TestEveryFlagsHelpReadsAsWritten walks every command's flags: pflag turns a back-quoted
// phrase in a usage into the flag's value name, so help would print
// "--baseline ordersaga worker --with-baseline  also run ...".
func TestEveryFlagsHelpReadsAsWritten(t *testing.T) {
	m := &Main{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if strings.Contains(f.Usage, "`") {
				name, _ := pflag.UnquoteUsage(f)
				t.Errorf("%s --%s: help shows %q as its value", c.CommandPath(), f.Name, name)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(m.commands())
}

// load --cpu counts the stack's ordersaga processes under this binary's name too, whatever
// it was built as (a test binary here), beside the name ordersaga.
func TestCPUGroupsNameThisBinary(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range cpuGroups() {
		if g.Name == "ordersaga" {
			names = g.Executables
		}
	}
	if !slices.Contains(names, "ordersaga") || !slices.Contains(names, filepath.Base(exe)) {
		t.Fatalf("ordersaga's executables are %v, want ordersaga and %s", names, filepath.Base(exe))
	}
}
