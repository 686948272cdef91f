package jetstream_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventbus/bustest"
	"github.com/ordersaga/ordersaga/eventbus/jetstream"
)

// BenchmarkPublish compares the adapter's Publish with nats.go's JetStream Publish of the
// same 1 KiB envelope, each on a fresh embedded server and stream, in one run: the raw
// client with a message id as the adapter sets (the same publishes) and without:
//
//	go test ./eventbus/jetstream -run '^$' -bench Publish -benchtime 3s -count 3
func BenchmarkPublish(b *testing.B) {
	ctx := context.Background()
	event := bustest.BenchEvent("order-created", 1024)
	payload, err := eventbus.Encode(event)
	if err != nil {
		b.Fatal(err)
	}
	// fresh starts a server, creates the stream through the adapter, and returns both.
	fresh := func(b *testing.B) (*jetstream.Bus, string) {
		srv := bustest.StartServer(b)
		bus, err := jetstream.Connect(ctx, jetstream.Config{URL: srv.URL()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { bus.Close() })
		return bus, srv.URL()
	}
	raw := func(b *testing.B, url string) natsjs.JetStream {
		nc, err := nats.Connect(url)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(nc.Close)
		js, err := natsjs.New(nc)
		if err != nil {
			b.Fatal(err)
		}
		return js
	}
	b.Run("raw-jetstream", func(b *testing.B) {
		bus, url := fresh(b)
		js := raw(b, url)
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			if _, err := js.Publish(ctx, bus.Subject("order-created"), payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-jetstream-with-msg-id", func(b *testing.B) {
		bus, url := fresh(b)
		js := raw(b, url)
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			if _, err := js.Publish(ctx, bus.Subject("order-created"), payload, natsjs.WithMsgID(uuid.NewString())); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("adapter", func(b *testing.B) {
		bus, _ := fresh(b)
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			event.ID = uuid.New() // or the server drops it as a duplicate
			if err := bus.Publish(ctx, event); err != nil {
				b.Fatal(err)
			}
		}
	})
}
