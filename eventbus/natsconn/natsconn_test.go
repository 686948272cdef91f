package natsconn_test

import (
	"context"
	"crypto/tls"
	"net"
	"testing"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventbus/bustest"
	"github.com/ordersaga/ordersaga/eventbus/jetstream"
	"github.com/ordersaga/ordersaga/eventbus/natsconn"
	"github.com/ordersaga/ordersaga/eventbus/natsstreaming"
	"github.com/ordersaga/ordersaga/internal/testpki"
	"github.com/ordersaga/ordersaga/natsembed"
)

// TestBothAdaptersConnectOverTLSWithCredentials runs NATS over TLS with a user and a
// password: both adapters connect and publish with the CA and the credentials, and are
// refused with a wrong password or without the CA.
func TestBothAdaptersConnectOverTLSWithCredentials(t *testing.T) {
	ca := testpki.New(t, "nats")
	cert, key := ca.Issue("nats", testpki.Server(), net.ParseIP("127.0.0.1"))
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := natsembed.Start(natsembed.Config{Dir: t.TempDir(), User: "ordersaga", Password: "s3cret",
		TLS: &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, CAFile: ca.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	good := natsconn.Config{User: "ordersaga", Password: "s3cret", CAFile: ca.CAFile}
	connect := map[string]func(natsconn.Config) (eventbus.Bus, error){
		"jetstream": func(c natsconn.Config) (eventbus.Bus, error) {
			return jetstream.Connect(context.Background(), jetstream.Config{URL: srv.ClientURL(), Conn: c})
		},
		"natsstreaming": func(c natsconn.Config) (eventbus.Bus, error) {
			return natsstreaming.Connect(context.Background(), natsstreaming.Config{URL: srv.ClientURL(), ClusterID: srv.ClusterID(),
				ClientID: "tls-test", MonitorURL: srv.MonitorURL(), Conn: c, ConnectTimeout: 5e9})
		},
	}
	for name, connect := range connect {
		t.Run(name, func(t *testing.T) {
			bus, err := connect(good)
			if err != nil {
				t.Fatalf("with the CA and the credentials: %v", err)
			}
			if err := bus.Publish(context.Background(), bustestEvent()); err != nil {
				t.Errorf("publish over TLS: %v", err)
			}
			bus.Close()
			for why, c := range map[string]natsconn.Config{
				"a wrong password": {User: "ordersaga", Password: "guess", CAFile: ca.CAFile},
				"no CA":            {User: "ordersaga", Password: "s3cret"},
			} {
				if bus, err := connect(c); err == nil {
					bus.Close()
					t.Errorf("with %s: connected, want a refusal", why)
				}
			}
		})
	}
}

// bustestEvent is an event to publish.
func bustestEvent() ordersaga.RecordedEvent { return bustest.NewEvent("order-noted", 1) }

// TestConfigRefusesMixedCredentials checks Validate.
func TestConfigRefusesMixedCredentials(t *testing.T) {
	for _, c := range []natsconn.Config{
		{User: "u", Password: "p", Token: "t"},
		{User: "u"},
		{CertFile: "c.pem"},
		{Token: "t", CredsFile: "x.creds"},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", c)
		}
	}
	if err := (natsconn.Config{Token: "t", CAFile: "ca.pem"}).Validate(); err != nil {
		t.Errorf("a token over TLS: %v", err)
	}
}
