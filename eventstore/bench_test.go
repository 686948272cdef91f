package eventstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga"
)

// benchPayload is a typical order-created payload (about 300 bytes).
var benchPayload = json.RawMessage(`{"order_id":"7d3c1e0a-54a4-4f5e-9d8b-0c7f1f0f2a11","customer_id":"c-1042",` +
	`"restaurant_id":"r-7","currency":"EUR","amount":4250,"items":[{"id":"pizza-margherita","name":"Margherita",` +
	`"unit_price":1150,"quantity":2},{"id":"tiramisu","name":"Tiramisu","unit_price":650,"quantity":3}]}`)

// BenchmarkAppend measures Append sequentially and with 8 concurrent writers: 1 event per
// call to a new stream each time (NoStream, how every order starts), 1 and 10 events per
// call to a growing stream per writer (AnyVersion). BenchmarkRawInsert, the baseline, runs
// on the same database in the same invocation:
//
//	go test ./eventstore -run '^$' -bench 'Append|RawInsert' -benchtime 3s -count 3
func BenchmarkAppend(b *testing.B) {
	cases := []struct {
		name      string
		perCall   int
		newStream bool
	}{
		{"new-stream/events=1", 1, true},
		{"same-stream/events=1", 1, false},
		{"same-stream/events=10", 10, false},
	}
	for _, c := range cases {
		for _, parallel := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/parallel=%v", c.name, parallel), func(b *testing.B) {
				f := newFixture(b)
				ctx := context.Background()
				var streams atomic.Int64
				appendLoop := func(next func() bool) {
					stream := fmt.Sprintf("order-bench-%d", streams.Add(1))
					expected := ordersaga.AnyVersion
					if c.newStream {
						expected = ordersaga.NoStream
					}
					for next() {
						if c.newStream {
							stream = fmt.Sprintf("order-bench-%d", streams.Add(1))
						}
						events := make([]ordersaga.EventData, c.perCall)
						for i := range events {
							events[i] = ordersaga.EventData{ID: uuid.New(), Type: "order-created", Data: benchPayload}
						}
						if _, err := f.store.Append(ctx, ordersaga.MustParseStream(stream), expected, events); err != nil {
							b.Error(err)
							return
						}
					}
				}
				runBench(b, parallel, appendLoop)
				b.ReportMetric(float64(b.N*c.perCall)/b.Elapsed().Seconds(), "events/s")
				b.ReportMetric(float64(f.db.Retries())/float64(b.N), "retries/op")
			})
		}
	}
}

// BenchmarkRawInsert is the baseline: one single-row INSERT transaction per operation
// (BEGIN, INSERT, COMMIT, through the same InTx as every transaction), into a table with the events table's columns and a
// primary key, on the same database and pool settings, with no concurrency control,
// idempotency or outbox.
func BenchmarkRawInsert(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		b.Run(fmt.Sprintf("events=1/parallel=%v", parallel), func(b *testing.B) {
			f := newFixture(b)
			ctx := context.Background()
			if _, err := f.db.Exec(ctx, `CREATE TABLE raw_events (
				stream_id TEXT NOT NULL, version INT8 NOT NULL, event_id UUID NOT NULL, stream_type TEXT NOT NULL,
				event_type TEXT NOT NULL, data JSONB NOT NULL, metadata JSONB NOT NULL,
				recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (stream_id, version))`); err != nil {
				b.Fatal(err)
			}
			var streams atomic.Int64
			insertLoop := func(next func() bool) {
				stream := fmt.Sprintf("order-bench-%d", streams.Add(1))
				for version := int64(1); next(); version++ {
					err := f.db.InTx(ctx, func(tx pgx.Tx) error {
						_, err := tx.Exec(ctx, `INSERT INTO raw_events (stream_id, version, event_id, stream_type, event_type, data, metadata)
							VALUES ($1, $2, $3, 'order', 'order-created', $4, '{}')`, stream, version, uuid.New(), string(benchPayload))
						return err
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			}
			runBench(b, parallel, insertLoop)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// runBench runs loop once (sequential) or on 8 goroutines sharing b.N.
func runBench(b *testing.B, parallel bool, loop func(next func() bool)) {
	b.ResetTimer()
	if !parallel {
		n := 0
		loop(func() bool { n++; return n <= b.N })
		return
	}
	b.SetParallelism(4) // 4 × GOMAXPROCS(2) = 8 writers
	b.RunParallel(func(pb *testing.PB) { loop(pb.Next) })
}
