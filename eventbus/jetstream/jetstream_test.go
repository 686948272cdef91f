package jetstream_test

import (
	"context"
	"testing"

	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventbus/bustest"
	"github.com/ordersaga/ordersaga/eventbus/jetstream"
)

func TestContract(t *testing.T) {
	srv := bustest.StartServer(t)
	bustest.Run(t, bustest.Harness{
		Connect: func(t *testing.T, name string) eventbus.Bus {
			t.Helper()
			bus, err := jetstream.Connect(context.Background(), jetstream.Config{URL: srv.URL(), ClientName: name})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { bus.Close() })
			return bus
		},
		RestartServer:           srv.Restart,
		DropsDuplicatePublishes: true,
	})
}
