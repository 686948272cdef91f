package jetstream_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/metric"

	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventbus/bustest"
	"github.com/ordersaga/ordersaga/eventbus/jetstream"
	"github.com/ordersaga/ordersaga/eventbus/natsconn"
	"github.com/ordersaga/ordersaga/natsembed"
)

func TestContract(t *testing.T) {
	srv := bustest.StartServer(t)
	bustest.Run(t, bustest.Harness{
		Connect: func(t *testing.T, name string, meters metric.MeterProvider) eventbus.Bus {
			t.Helper()
			bus, err := jetstream.Connect(context.Background(), jetstream.Config{URL: srv.URL(), ClientName: name, Meters: meters})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { bus.Close() })
			return bus
		},
		Server:                  srv,
		DropsDuplicatePublishes: true,
	})
}

// TestConnectFixesADriftedStreamAndLeavesAWantedOneAlone: a stream whose settings
// drifted (a one-minute de-duplication window, another description) is set back to the
// adapter's (the two-minute default window) when a writer connects; a stream as wanted is
// not touched, so that a reader, whom the server refuses stream updates, connects too.
func TestConnectFixesADriftedStreamAndLeavesAWantedOneAlone(t *testing.T) {
	writer := natsembed.Credentials{User: "writer", Password: "writer-password"}
	reader := natsembed.Credentials{User: "reader", Password: "reader-password"}
	srv := bustest.StartServerWith(t, natsembed.Config{User: writer.User, Password: writer.Password, Readers: []natsembed.Credentials{reader}})
	ctx := context.Background()
	nc, err := nats.Connect(srv.URL(), nats.UserInfo(writer.User, writer.Password))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, natsjs.StreamConfig{Name: "ORDERSAGA_EVENTS", Description: "drifted", Subjects: []string{"ordersaga.events.>"},
		Storage: natsjs.FileStorage, Duplicates: time.Minute}); err != nil {
		t.Fatal(err)
	}
	connect := func(as natsembed.Credentials) error {
		bus, err := jetstream.Connect(ctx, jetstream.Config{URL: srv.URL(), ClientName: as.User, Conn: natsconn.Config{User: as.User, Password: as.Password}})
		if err == nil {
			bus.Close()
		}
		return err
	}
	if err := connect(reader); err == nil {
		t.Errorf("a reader connected to a stream that is not as wanted (it may not fix it)")
	}
	if err := connect(writer); err != nil {
		t.Fatalf("the writer connecting: %v", err)
	}
	stream, err := js.Stream(ctx, "ORDERSAGA_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	if got := stream.CachedInfo().Config; got.Duplicates != 2*time.Minute || got.Description == "drifted" {
		t.Errorf("after the writer connected the stream has a window of %s, description %q; want 2m and the adapter's", got.Duplicates, got.Description)
	}
	if err := connect(reader); err != nil {
		t.Errorf("a reader connecting to the stream as wanted: %v", err)
	}
}
