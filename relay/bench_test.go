package relay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
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
