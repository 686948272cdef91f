package system_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventbus/bustest"
	"github.com/ordersaga/ordersaga/eventbus/natsconn"
	"github.com/ordersaga/ordersaga/internal/system"
	"github.com/ordersaga/ordersaga/natsembed"
)

// TestReadersMayNotPublishEvents runs a NATS server with a writer and a reader, as dev
// does, on both buses: the reader receives what the writer publishes, but what it tries
// to publish itself (a forged envelope) is refused and reaches no one, and it cannot purge
// the JetStream stream.
func TestReadersMayNotPublishEvents(t *testing.T) {
	writer := natsembed.Credentials{User: "writer", Password: "w-" + uuid.NewString()}
	reader := natsembed.Credentials{User: "reader", Password: "r-" + uuid.NewString()}
	srv := bustest.StartServerWith(t, natsembed.Config{User: writer.User, Password: writer.Password, Readers: []natsembed.Credentials{reader}})
	for _, kind := range []string{system.BusNATSStreaming, system.BusJetStream} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			open := func(as natsembed.Credentials) eventbus.Bus {
				bus, err := system.OpenBus(ctx, system.BusConfig{Kind: kind, URL: srv.URL(), MonitorURL: srv.MonitorURL(), ClusterID: srv.ClusterID(),
					ClientID: as.User + "-" + kind, Conn: natsconn.Config{User: as.User, Password: as.Password}}, nil, nil)
				if err != nil {
					t.Fatalf("%s connecting: %v", as.User, err)
				}
				t.Cleanup(func() { bus.Close() })
				return bus
			}
			w := open(writer)
			r := open(reader)
			var mu sync.Mutex
			got := map[uuid.UUID]bool{}
			if _, err := r.Subscribe(ctx, eventbus.SubscribeOptions{Group: "projector-" + kind, Types: []string{ordersaga.EventOrderApproved},
				Handler: func(_ context.Context, m eventbus.Message) error {
					mu.Lock()
					got[m.Event.ID] = true
					mu.Unlock()
					return nil
				},
				DeadLetter: func(context.Context, eventbus.Message, error) error { return nil }}); err != nil {
				t.Fatalf("the reader subscribing: %v", err)
			}
			forged := bustest.NewEvent(ordersaga.EventOrderApproved, 1)
			pubCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			if _, err := r.PublishBatch(pubCtx, []ordersaga.RecordedEvent{forged}); err == nil {
				t.Errorf("the reader published an event")
			}
			genuine := bustest.NewEvent(ordersaga.EventOrderApproved, 2)
			if err := w.Publish(ctx, genuine); err != nil {
				t.Fatalf("the writer publishing: %v", err)
			}
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				mu.Lock()
				done := got[genuine.ID]
				mu.Unlock()
				if done {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the writer's event never reached the reader")
				}
			}
			time.Sleep(200 * time.Millisecond) // the forged event, had it been taken, would be here by now
			mu.Lock()
			defer mu.Unlock()
			if got[forged.ID] {
				t.Errorf("the reader's forged event was delivered")
			}
		})
	}
	nc, err := nats.Connect(srv.URL(), nats.UserInfo(reader.User, reader.Password))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	stream, err := js.Stream(ctx, "ORDERSAGA_EVENTS")
	if err != nil {
		t.Fatalf("the reader looking at the stream: %v", err)
	}
	if err := stream.Purge(ctx); err == nil {
		t.Errorf("the reader purged the event stream")
	}
	if err := js.DeleteStream(ctx, "ORDERSAGA_EVENTS"); err == nil {
		t.Errorf("the reader deleted the event stream")
	}
}
