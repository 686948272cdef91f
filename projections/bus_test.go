package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventbus/bustest"
	"github.com/ordersaga/ordersaga/eventbus/jetstream"
	"github.com/ordersaga/ordersaga/projections"
)

// TestAPoisonMessageIsDeadLetteredWhileTheRestFlows feeds the projector through a real
// bus: a payload that is not an event, then real events.
func TestAPoisonMessageIsDeadLetteredWhileTheRestFlows(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	srv := bustest.StartServer(t)
	bus, err := jetstream.Connect(ctx, jetstream.Config{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	_, err = bus.Subscribe(ctx, eventbus.SubscribeOptions{Group: "order-projectors", Types: projections.Types(), MaxDeliveries: 2, AckWait: time.Second,
		Handler: func(ctx context.Context, m eventbus.Message) error { return f.projector.Apply(ctx, m.Event) },
		DeadLetter: func(ctx context.Context, m eventbus.Message, cause error) error {
			return f.projector.DeadLetter(ctx, m.Event, m.Raw, cause)
		}})
	if err != nil {
		t.Fatal(err)
	}
	// The poison: raw bytes on an event subject.
	bustest.RawPublish(t, srv.URL(), bus.Subject(ordersaga.EventOrderCreated), []byte("not an envelope"))
	in := ordersaga.EventData{ID: uuid.New(), Type: ordersaga.EventOrderCreated,
		Data: []byte(`{"order_id":"q1","customer_id":"c","restaurant_id":"r","items":[],"amount":100,"currency":"EUR"}`)}
	res, err := f.store.Append(ctx, ordersaga.MustParseStream("order-q1"), ordersaga.NoStream, []ordersaga.EventData{in})
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Publish(ctx, res.Recorded(ordersaga.MustParseStream("order-q1"), []ordersaga.EventData{in})[0]); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		o, err := f.reads.Order(ctx, "q1")
		var dead int
		_ = f.db.QueryRow(ctx, `SELECT count(*) FROM projection_dead_letters
			WHERE payload = 'not an envelope' AND error LIKE 'decode event envelope: %'`).Scan(&dead)
		if err == nil && o.Status == ordersaga.StatusCreated && dead == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %+v (%v), %d dead letters; want the order projected and the poison dead-lettered once, saying why", o, err, dead)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
