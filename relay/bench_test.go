package relay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventbus/bustest"
	"github.com/ordersaga/ordersaga/relay"
)

// BenchmarkRelay measures how fast the relay moves events (1 KiB of data each) from the
// store's outbox to each bus, 200 per batch: read, publish, mark. Appending is not timed.
//
//	go test ./relay -run '^$' -bench Relay -benchtime 20x -count 3
func BenchmarkRelay(b *testing.B) {
	const batch = 200
	data := json.RawMessage(`{"filler":"` + strings.Repeat("x", 1000) + `"}`)
	for _, name := range []string{"natsstreaming", "jetstream"} {
		b.Run(name, func(b *testing.B) {
			srv := bustest.StartServer(b)
			store, _ := newStore(b)
			bus := adapters[name](b, srv, "bench-relay-"+uuid.NewString()[:6])
			r, err := relay.New(relay.Config{Outbox: store, Publisher: bus, BatchSize: batch, GracePeriod: time.Nanosecond})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			relayed := 0
			var elapsed time.Duration
			for i := range b.N {
				events := make([]ordersaga.EventData, batch)
				for j := range events {
					events[j] = ordersaga.EventData{ID: uuid.New(), Type: "order-created", Data: data}
				}
				for k := 0; k < batch; k += 100 {
					if _, err := store.Append(ctx, ordersaga.MustParseStream(fmt.Sprintf("order-bench-%d-%d", i, k)), ordersaga.NoStream, events[k:k+100]); err != nil {
						b.Fatal(err)
					}
				}
				start := time.Now()
				n, err := r.Once(ctx)
				elapsed += time.Since(start)
				if err != nil || n != batch {
					b.Fatalf("relayed %d of %d: %v", n, batch, err)
				}
				relayed += n
			}
			b.ReportMetric(float64(relayed)/elapsed.Seconds(), "events/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkRelaysShareTheOutbox drains a backlog of 3,000 events (1 KiB of data each) with
// one relay and with three, on NATS Streaming (which does not de-duplicate, so that every
// publish is a delivery): events/s from the relays' start until every event arrived and
// the outbox is empty (the relays' connections are made before), deliveries per event (1
// when the relays divide the outbox), and the database's retries of conflicting claims.
//
//	go test ./relay -run '^$' -bench RelaysShare -benchtime 3x -count 3
func BenchmarkRelaysShareTheOutbox(b *testing.B) {
	const backlog = 3000
	data := json.RawMessage(`{"filler":"` + strings.Repeat("x", 1000) + `"}`)
	for _, relays := range []int{1, 3} {
		b.Run(fmt.Sprintf("relays=%d", relays), func(b *testing.B) {
			srv := bustest.StartServer(b)
			store, db := newStore(b)
			ctx := context.Background()
			var elapsed time.Duration
			delivered := 0
			for i := range b.N {
				typ := fmt.Sprintf("order-shared-%d", i)
				rec := receive(b, adapters["natsstreaming"](b, srv, fmt.Sprintf("bench-receiver-%d", i)), typ)
				var ids []uuid.UUID
				for k := 0; k < backlog; k += 100 {
					events := make([]ordersaga.EventData, 100)
					for j := range events {
						events[j] = ordersaga.EventData{ID: uuid.New(), Type: typ, Data: data}
						ids = append(ids, events[j].ID)
					}
					if _, err := store.Append(ctx, ordersaga.MustParseStream(fmt.Sprintf("order-share-%d-%d", i, k)), ordersaga.NoStream, events); err != nil {
						b.Fatal(err)
					}
				}
				var buses []eventbus.Bus
				for r := range relays {
					buses = append(buses, adapters["natsstreaming"](b, srv, fmt.Sprintf("bench-relay-%d-%d", i, r)))
				}
				start := time.Now()
				var stops []func()
				for _, bus := range buses {
					stops = append(stops, runRelay(b, relay.Config{Outbox: store, Publisher: bus, GracePeriod: time.Nanosecond, PollInterval: 10 * time.Millisecond}))
				}
				rec.waitAll(b, ids)
				waitOutboxEmpty(b, db)
				elapsed += time.Since(start)
				for _, stop := range stops {
					stop()
				}
				time.Sleep(200 * time.Millisecond) // late duplicates arrive
				delivered += rec.total()
			}
			b.ReportMetric(float64(backlog*b.N)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(delivered)/float64(backlog*b.N), "deliveries/event")
			b.ReportMetric(float64(db.Retries())/float64(b.N), "retries/op")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkRelayDrainsABacklog times one relay's first 20,000 events (100 rounds of 200)
// out of outboxes of different lengths (by default 20,000 and 200,000 events of 100 bytes,
// over streams of 100; ORDERSAGA_BENCH_BACKLOGS lists others, such as 1000000): a claim
// reads about a batch however long the outbox, so the rate should not fall as it grows.
// Filling the outbox is not timed; its rate is reported too. The tables are analyzed after
// filling, as autovacuum would have done while such a backlog built up.
//
//	ORDERSAGA_BENCH_BACKLOGS=20000,1000000 go test ./relay -run '^$' -bench RelayDrains -benchtime 1x -timeout 60m
func BenchmarkRelayDrainsABacklog(b *testing.B) {
	sizes := []int{20_000, 200_000}
	if env := os.Getenv("ORDERSAGA_BENCH_BACKLOGS"); env != "" {
		sizes = nil
		for _, f := range strings.Split(env, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 20_000 {
				b.Fatalf("ORDERSAGA_BENCH_BACKLOGS: %q is not a size of at least 20000", f)
			}
			sizes = append(sizes, n)
		}
	}
	data := json.RawMessage(`{"filler":"` + strings.Repeat("x", 86) + `"}`)
	for _, size := range sizes {
		b.Run(fmt.Sprintf("backlog=%d", size), func(b *testing.B) {
			srv := bustest.StartServer(b)
			bus := adapters["natsstreaming"](b, srv, "bench-backlog")
			ctx := context.Background()
			var filling, draining time.Duration
			for i := range b.N {
				store, db := newStore(b)
				start := time.Now()
				for k := 0; k < size; k += 100 {
					events := make([]ordersaga.EventData, 100)
					for j := range events {
						events[j] = ordersaga.EventData{ID: uuid.New(), Type: "order-created", Data: data}
					}
					if _, err := store.Append(ctx, ordersaga.MustParseStream(fmt.Sprintf("order-backlog-%d-%d", i, k)), ordersaga.NoStream, events); err != nil {
						b.Fatal(err)
					}
				}
				filling += time.Since(start)
				// The statistics autovacuum keeps for a table that grew over an outage;
				// without them PostgreSQL may plan a claim as a scan of the whole outbox.
				if _, err := db.Exec(ctx, "ANALYZE event_outbox, events"); err != nil {
					b.Fatal(err)
				}
				r, err := relay.New(relay.Config{Outbox: store, Publisher: bus, GracePeriod: time.Nanosecond})
				if err != nil {
					b.Fatal(err)
				}
				start = time.Now()
				for range 100 {
					if n, err := r.Once(ctx); err != nil || n != 200 {
						b.Fatalf("a round relayed %d: %v", n, err)
					}
				}
				draining += time.Since(start)
			}
			b.ReportMetric(float64(20_000*b.N)/draining.Seconds(), "events/s")
			b.ReportMetric(float64(size*b.N)/filling.Seconds(), "filled/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
