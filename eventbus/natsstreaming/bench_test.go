package natsstreaming_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/nats-io/stan.go"

	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventbus/bustest"
	"github.com/ordersaga/ordersaga/eventbus/natsstreaming"
)

// BenchmarkPublish compares the adapter's Publish with stan.go's Publish of the same 1 KiB
// envelope on the same embedded file-store server, in one run:
//
//	go test ./eventbus/natsstreaming -run '^$' -bench Publish -benchtime 3s -count 3
func BenchmarkPublish(b *testing.B) {
	srv := bustest.StartServer(b)
	event := bustest.BenchEvent("order-created", 1024)
	payload, err := eventbus.Encode(event)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("raw-stan", func(b *testing.B) {
		sc, err := stan.Connect(srv.ClusterID(), "raw-"+uuid.NewString()[:8], stan.NatsURL(srv.URL()))
		if err != nil {
			b.Fatal(err)
		}
		defer sc.Close()
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			if err := sc.Publish("order-created", payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("adapter", func(b *testing.B) {
		bus, err := natsstreaming.Connect(context.Background(), natsstreaming.Config{URL: srv.URL(), ClusterID: srv.ClusterID(),
			ClientID: "adapter-" + uuid.NewString()[:8], MonitorURL: srv.MonitorURL()})
		if err != nil {
			b.Fatal(err)
		}
		defer bus.Close()
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			if err := bus.Publish(context.Background(), event); err != nil {
				b.Fatal(err)
			}
		}
	})
}
