package natsstreaming

import (
	"errors"
	"testing"

	"github.com/nats-io/stan.go"

	"github.com/ordersaga/ordersaga/eventbus/bustest"
)

// TestClientIDTakenRecognisesTheServersRefusal pins the one text match of the adapter
// against a real server: a second connection with a live client id is refused in words
// that clientIDTaken recognises, and other failures are not taken for it.
func TestClientIDTakenRecognisesTheServersRefusal(t *testing.T) {
	srv := bustest.StartServer(t)
	first, err := stan.Connect(srv.ClusterID(), "taken", stan.NatsURL(srv.URL()))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := stan.Connect(srv.ClusterID(), "taken", stan.NatsURL(srv.URL()))
	if err == nil {
		second.Close()
		t.Fatal("a second connection with a live client id was accepted")
	}
	if !clientIDTaken(err) {
		t.Errorf("clientIDTaken(%q) = false, want true", err)
	}
	for _, other := range []error{nil, errors.New("nats: no servers available for connection"), stan.ErrConnectReqTimeout} {
		if clientIDTaken(other) {
			t.Errorf("clientIDTaken(%v) = true, want false", other)
		}
	}
}
