package scale_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities"
	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventbus/bustest"
	"github.com/ordersaga/ordersaga/eventstore"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/internal/scale"
	"github.com/ordersaga/ordersaga/internal/stacktest"
	"github.com/ordersaga/ordersaga/internal/system"
	"github.com/ordersaga/ordersaga/payments"
	"github.com/ordersaga/ordersaga/projections"
	"github.com/ordersaga/ordersaga/relay"
	"github.com/ordersaga/ordersaga/sqldb"
	"github.com/ordersaga/ordersaga/telemetry"
)

// TestMain starts the throwaway PostgreSQL the benchmark fills.
func TestMain(m *testing.M) { dbtest.Main(m) }

// The benchmark's settings, from the environment.
const (
	// envSizes lists the sizes of the store to measure at, in events (default 10000,100000).
	envSizes = "ORDERSAGA_SCALE_SIZES"
	// envPlot names the PNG to draw the curves into (none if unset).
	envPlot = "ORDERSAGA_SCALE_PLOT"
	// envTable names a file to write the Markdown table to (besides the log).
	envTable = "ORDERSAGA_SCALE_TABLE"
)

// How many of each measurement one size takes.
const (
	appendRounds, appendsPerRound = 10, 100 // alternating with as many raw inserts
	readCalls                     = 400     // per read
	debits                        = 30      // per kind of debit
	relayed                       = 50_000  // at most, from the backlog
)

// BenchmarkScale fills a fresh store to each size in ORDERSAGA_SCALE_SIZES with
// scale.Fill's history (orders of 2-4 events, customers' accounts, three hot customers
// with a fifth of the orders, one customer with min(100,000, size/10) account events),
// then measures, each beside its baseline in the same run: single-event appends against
// raw single-row inserts into a copy of the events table; a relay publishing from the
// whole backlog (the fill leaves every event in the outbox, as an hour-long bus outage
// would); rebuild and verify; GetOrder, ListOrders by customer and by status over a real
// gRPC listener, against the health check; and a debit of the long-history customer with
// no account cached, against a debit of a customer with one credit. It prints a Markdown
// table and, with ORDERSAGA_SCALE_PLOT, draws the curves (docs/benchmarks.md):
//
//	ORDERSAGA_SCALE_SIZES=10000,1000000,5000000 ORDERSAGA_SCALE_PLOT=$PWD/docs/scale.png \
//	  go test ./internal/scale -run '^$' -bench Scale -benchtime 1x -timeout 6h
//
// Each size is measured once whatever -benchtime says: a fill of millions of events is
// the run.
func BenchmarkScale(b *testing.B) {
	sizes := []int{10_000, 100_000}
	if env := os.Getenv(envSizes); env != "" {
		sizes = nil
		for _, f := range strings.Split(env, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1000 {
				b.Fatalf("%s: %q is not a size of at least 1000 events", envSizes, f)
			}
			sizes = append(sizes, n)
		}
	}
	var rows []scale.Row
	for _, size := range sizes {
		b.Run(fmt.Sprintf("events=%d", size), func(b *testing.B) {
			row := measure(b, size)
			rows = append(rows, row)
			b.ReportMetric(row.AppendRatio(), "append/raw")
			b.ReportMetric(float64(row.GetOrder.P99)/1e6, "getorder-p99-ms")
			b.ReportMetric(float64(row.ColdDebit.P99)/1e6, "colddebit-p99-ms")
			b.ReportMetric(row.RebuildRate, "rebuild-events/s")
			b.ReportMetric(0, "ns/op")
		})
	}
	table := scale.Table(rows)
	fmt.Print("\n" + table) // the log of a benchmark with sub-benchmarks is not shown
	if path := os.Getenv(envTable); path != "" {
		if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if path := os.Getenv(envPlot); path != "" {
		if err := scale.Plot(rows, path); err != nil {
			b.Fatal(err)
		}
	}
}

// measure fills a fresh store with size events and measures it.
func measure(b *testing.B, size int) scale.Row {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, sqldb.Config{URL: dbtest.NewDatabase(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(db.Close)
	if err := system.Migrate(ctx, db); err != nil {
		b.Fatal(err)
	}
	store := eventstore.New(db)
	filled, err := scale.Fill(ctx, store, scale.Shape{Events: size, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	row := scale.Row{Events: filled.Events, FillRate: float64(filled.Events) / filled.Elapsed.Seconds(), LongHistory: filled.LongHistoryEvents}
	b.Logf("filled %d events (%d orders) in %s", filled.Events, filled.Orders, filled.Elapsed.Round(time.Second))
	// The statistics autovacuum keeps on tables that grew to this size.
	if _, err := db.Exec(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	bus := openBus(b)
	row.RelayRate, row.Backlog = relayBacklog(b, store, bus, filled.Events)
	// The rest of the backlog counts as published, as when the relay has caught up.
	if _, err := db.Exec(ctx, "DELETE FROM event_outbox"); err != nil {
		b.Fatal(err)
	}
	row.RebuildRate, row.VerifyRate = rebuildAndVerify(b, db, store, filled.Events)
	reads(b, db, filled, &row)
	row.ColdDebit, row.ColdDebitBaseline = coldDebits(b, store, bus)
	row.AppendRate, row.RawRate = appendsAndInserts(b, db, store)
	return row
}

func openBus(b *testing.B) eventbus.Bus {
	srv := bustest.StartServer(b)
	bus, err := system.OpenBus(context.Background(), system.BusConfig{Kind: system.BusNATSStreaming, URL: srv.URL(), MonitorURL: srv.MonitorURL(),
		ClusterID: srv.ClusterID(), ClientID: "scale"}, nil, telemetry.Off())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bus.Close() })
	return bus
}

// relayBacklog has one relay publish the first min(relayed, backlog) events of the
// outbox and returns its rate.
func relayBacklog(b *testing.B, store *eventstore.Store, bus eventbus.Bus, backlog int) (float64, int) {
	ctx := context.Background()
	r, err := relay.New(relay.Config{Outbox: store, Publisher: bus, GracePeriod: time.Nanosecond})
	if err != nil {
		b.Fatal(err)
	}
	want := min(relayed, backlog)
	start := time.Now()
	for published := 0; published < want; {
		n, err := r.Once(ctx)
		if err != nil || n == 0 {
			b.Fatalf("the relay published %d of %d, then %d: %v", published, want, n, err)
		}
		published += n
	}
	return float64(want) / time.Since(start).Seconds(), backlog
}

// rebuildAndVerify rebuilds the read models from the store and verifies them, and
// returns both rates in events/s.
func rebuildAndVerify(b *testing.B, db *sqldb.DB, store *eventstore.Store, events int) (rebuild, verify float64) {
	ctx := context.Background()
	start := time.Now()
	if err := projections.Rebuild(ctx, db, store, nil); err != nil {
		b.Fatal(err)
	}
	rebuild = float64(events) / time.Since(start).Seconds()
	start = time.Now()
	report, err := projections.Verify(ctx, projections.NewReadModels(db), store, 0)
	if err != nil {
		b.Fatal(err)
	}
	verify = float64(events) / time.Since(start).Seconds()
	if !report.OK() {
		b.Fatalf("verify found %d problems, the first: %v", len(report.Problems), report.Problems[0])
	}
	return rebuild, verify
}

// reads times GetOrder, ListOrders by customer and by status, and the health check, over a
// real gRPC listener, as an operator, each call in turn.
func reads(b *testing.B, db *sqldb.DB, filled scale.Filled, row *scale.Row) {
	ctx := context.Background()
	tokens := stacktest.NewTokens(b)
	temporal, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"}) // reads never call it
	if err != nil {
		b.Fatal(err)
	}
	a, err := system.NewAPI(system.APIConfig{DB: db, Temporal: temporal, Tokens: tokens.Verifier, Addr: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	b.Cleanup(func() { stop(); <-done })
	conn, err := grpc.NewClient(a.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()), tokens.As(b, stacktest.Operator))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	orders, health := ordersagav1.NewOrderServiceClient(conn), healthpb.NewHealthClient(conn)
	rng := rand.New(rand.NewPCG(2, 2))
	customers := append([]string{filled.HotCustomers[0]}, filled.HotCustomers...)
	statuses := []string{ordersaga.StatusApproved, ordersaga.StatusRejected, ordersaga.StatusCancelled, ordersaga.StatusPaid}
	calls := []struct {
		into *scale.Latency
		call func() error
	}{
		{&row.GetOrder, func() error {
			_, err := orders.GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: filled.SampleOrders[rng.IntN(len(filled.SampleOrders))]})
			return err
		}},
		{&row.ListByCustomer, func() error {
			customer := fmt.Sprintf("c-%07d", rng.IntN(filled.Customers))
			if rng.IntN(4) == 0 { // a quarter of the calls for the hot customers
				customer = customers[rng.IntN(len(customers))]
			}
			_, err := orders.ListOrders(ctx, &ordersagav1.ListOrdersRequest{CustomerId: customer})
			return err
		}},
		{&row.ListByStatus, func() error {
			_, err := orders.ListOrders(ctx, &ordersagav1.ListOrdersRequest{Status: statuses[rng.IntN(len(statuses))]})
			return err
		}},
		{&row.Health, func() error {
			_, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
			return err
		}},
	}
	samples := make([][]time.Duration, len(calls))
	for range readCalls {
		for i, c := range calls {
			start := time.Now()
			if err := c.call(); err != nil {
				b.Fatal(err)
			}
			samples[i] = append(samples[i], time.Since(start))
		}
	}
	for i, c := range calls {
		*c.into = scale.LatencyOf(samples[i])
	}
}

// coldDebits times DebitPayment, run as Temporal runs an activity, with no account
// cached: for the long-history customer, and (the baseline) for a customer whose account
// holds one credit, in turn. The long history was appended without folds, so its first
// fold, which reads it whole and saves its snapshot, is not timed: an account that grew
// through debits got its snapshots as it grew.
func coldDebits(b *testing.B, store *eventstore.Store, bus eventbus.Bus) (long, baseline scale.Latency) {
	ctx := context.Background()
	if _, err := (payments.Accounts{Store: store}).Get(ctx, scale.LongHistoryCustomer); err != nil {
		b.Fatal(err)
	}
	var suite testsuite.WorkflowTestSuite
	var longs, bases []time.Duration
	for i := range debits + 1 {
		fresh := "fresh-" + uuid.NewString()[:8]
		if _, err := (payments.Accounts{Store: store}).Credit(ctx, fresh, 10_000, "EUR", "scale"); err != nil {
			b.Fatal(err)
		}
		for _, c := range []struct {
			customer string
			into     *[]time.Duration
		}{{scale.LongHistoryCustomer, &longs}, {fresh, &bases}} {
			acts := &activities.Activities{Store: store, Bus: bus, Published: store, Accounts: payments.NewAccountCache(0)}
			env := suite.NewTestActivityEnvironment()
			env.RegisterActivity(acts)
			orderID := fmt.Sprintf("debit-%d-%s", i, uuid.NewString()[:8])
			start := time.Now()
			if _, err := env.ExecuteActivity(acts.DebitPayment, activities.PaymentInput{OrderID: orderID, CustomerID: c.customer, Amount: 100, Currency: "EUR"}); err != nil {
				b.Fatalf("debit %s: %v", c.customer, err)
			}
			*c.into = append(*c.into, time.Since(start))
		}
	}
	// The first round only warms the SDK's test environment up (its first activity takes
	// a tenth of a second more, whoever it debits).
	return scale.LatencyOf(longs[1:]), scale.LatencyOf(bases[1:])
}

// appendsAndInserts copies the events table (same columns, keys and indexes, same rows),
// then times, alternately, single-event appends to new streams through the store and
// single-row INSERT statements into the copy (each its own transaction, as an append's
// one statement is), and returns both rates.
func appendsAndInserts(b *testing.B, db *sqldb.DB, store *eventstore.Store) (appendRate, rawRate float64) {
	ctx := context.Background()
	for _, stmt := range []string{
		`CREATE TABLE raw_events (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)`,
		`INSERT INTO raw_events SELECT * FROM events`,
		`ANALYZE raw_events`,
	} {
		if _, err := db.Exec(ctx, stmt); err != nil {
			b.Fatal(err)
		}
	}
	data := []byte(`{"order_id":"x","customer_id":"c-0000001","restaurant_id":"r-1","amount":1150,"currency":"EUR"}`)
	var appending, inserting time.Duration
	for round := range appendRounds {
		start := time.Now()
		for i := range appendsPerRound {
			stream := ordersaga.MustParseStream(fmt.Sprintf("order-append-%d-%d", round, i))
			if _, err := store.Append(ctx, stream, ordersaga.NoStream, []ordersaga.EventData{{ID: uuid.New(), Type: ordersaga.EventOrderCreated, Data: data}}); err != nil {
				b.Fatal(err)
			}
		}
		appending += time.Since(start)
		start = time.Now()
		for i := range appendsPerRound {
			_, err := db.Exec(ctx, `INSERT INTO raw_events (stream_id, version, event_id, stream_type, event_type, data, metadata)
				VALUES ($1, 1, $2, 'order', 'order-created', $3, '{}')`, fmt.Sprintf("order-raw-%d-%d", round, i), uuid.New(), string(data))
			if err != nil {
				b.Fatal(err)
			}
		}
		inserting += time.Since(start)
	}
	n := float64(appendRounds * appendsPerRound)
	return n / appending.Seconds(), n / inserting.Seconds()
}
