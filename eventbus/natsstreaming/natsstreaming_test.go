package natsstreaming_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	stand "github.com/nats-io/nats-streaming-server/server"
	"github.com/nats-io/nats-streaming-server/stores"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/stan.go"
	"go.opentelemetry.io/otel/metric"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventbus/bustest"
	"github.com/ordersaga/ordersaga/eventbus/natsstreaming"
	"github.com/ordersaga/ordersaga/internal/syncbuf"
)

func TestContract(t *testing.T) {
	srv := bustest.StartServer(t)
	bustest.Run(t, bustest.Harness{
		Connect: func(t *testing.T, name string, meters metric.MeterProvider) eventbus.Bus {
			t.Helper()
			bus, err := natsstreaming.Connect(context.Background(), natsstreaming.Config{
				URL: srv.URL(), ClusterID: srv.ClusterID(), ClientID: name, MonitorURL: srv.MonitorURL(), Meters: meters})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { bus.Close() })
			return bus
		},
		Server: srv,
	})
}

func TestRefusesUncheckableStore(t *testing.T) {
	_, err := natsstreaming.Connect(context.Background(), natsstreaming.Config{URL: "nats://127.0.0.1:1", ClusterID: "c", ClientID: "x"})
	if err == nil || !strings.Contains(err.Error(), "MonitorURL") {
		t.Errorf("error = %v, want one asking for MonitorURL", err)
	}
}

func TestRefusesMemoryStore(t *testing.T) {
	nopts := stand.NewNATSOptions()
	nopts.Host, nopts.Port, nopts.HTTPHost, nopts.HTTPPort = "127.0.0.1", -1, "127.0.0.1", freePort(t)
	sopts := stand.GetDefaultOptions()
	sopts.ID, sopts.StoreType = "mem", stores.TypeMemory
	s, err := stand.RunServerWithOpts(sopts, nopts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	_, err = natsstreaming.Connect(context.Background(), natsstreaming.Config{URL: s.ClientURL(), ClusterID: "mem", ClientID: "x",
		MonitorURL: fmt.Sprintf("http://127.0.0.1:%d", nopts.HTTPPort)})
	if err == nil || !strings.Contains(err.Error(), "MEMORY store") {
		t.Errorf("error = %v, want a refusal naming the MEMORY store", err)
	}
	// Of a cluster's monitoring addresses, the first that answers is asked: one that is
	// down does not hide the store behind it.
	_, err = natsstreaming.Connect(context.Background(), natsstreaming.Config{URL: s.ClientURL(), ClusterID: "mem", ClientID: "x",
		MonitorURL: fmt.Sprintf("http://127.0.0.1:%d, http://127.0.0.1:%d", freePort(t), nopts.HTTPPort)})
	if err == nil || !strings.Contains(err.Error(), "MEMORY store") {
		t.Errorf("behind a monitoring address that is down: error = %v, want a refusal naming the MEMORY store", err)
	}
	bus, err := natsstreaming.Connect(context.Background(), natsstreaming.Config{URL: s.ClientURL(), ClusterID: "mem", ClientID: "x", AllowMemoryStore: true})
	if err != nil {
		t.Fatalf("with AllowMemoryStore: %v", err)
	}
	bus.Close()
}

func freePort(t *testing.T) int {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().(*net.TCPAddr).Port
}

// TestReconnectsAfterACrashWithTheSameClientID kills a connection without closing it, as a
// crashed process leaves it, and connects again with the same client id.
func TestReconnectsAfterACrashWithTheSameClientID(t *testing.T) {
	srv := bustest.StartServer(t)
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stan.Connect(srv.ClusterID(), "crashy", stan.NatsConn(nc)); err != nil {
		t.Fatal(err)
	}
	nc.Close() // the server still holds client "crashy"
	start := time.Now()
	bus, err := natsstreaming.Connect(context.Background(), natsstreaming.Config{
		URL: srv.URL(), ClusterID: srv.ClusterID(), ClientID: "crashy", MonitorURL: srv.MonitorURL()})
	if err != nil {
		t.Fatalf("reconnect with the crashed process's client id: %v", err)
	}
	t.Logf("reconnected after %s", time.Since(start).Round(time.Millisecond))
	bus.Close()
}

// TestResubscribesAfterLosingTheConnection keeps the server down longer than the ping
// allowance, so the connection is declared lost and the adapter must reconnect and
// resubscribe by itself.
// TestResubscribesAfterLosingTheConnection stops the server for longer than the pings
// allow: the bus reconnects, backing off between attempts (a quarter of a second,
// doubling: a handful of attempts in the outage, not a loop hammering the server),
// and its subscription receives again.
func TestResubscribesAfterLosingTheConnection(t *testing.T) {
	srv := bustest.StartServer(t)
	var log syncbuf.Buffer
	bus, err := natsstreaming.Connect(context.Background(), natsstreaming.Config{
		URL: srv.URL(), ClusterID: srv.ClusterID(), ClientID: "pinger", MonitorURL: srv.MonitorURL(),
		PingInterval: 1, PingMaxOut: 2, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	var mu sync.Mutex
	got := 0
	_, err = bus.Subscribe(context.Background(), eventbus.SubscribeOptions{Group: "lost", Types: []string{"order-lost"},
		Handler: func(context.Context, eventbus.Message) error {
			mu.Lock()
			got++
			mu.Unlock()
			return nil
		},
		DeadLetter: func(context.Context, eventbus.Message, error) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop(t)
	time.Sleep(8 * time.Second) // > PingInterval × PingMaxOut
	srv.Start(t)
	// The connection was lost after two or three seconds; in the five or six left, a
	// backoff from a quarter of a second, doubling up to five, fails at most seven times
	// (randomised by half either way); one that does not grow, at least thirteen.
	if lost, attempts := strings.Count(log.String(), "msg=\"NATS Streaming connection lost; reconnecting\""), strings.Count(log.String(), "msg=\"NATS Streaming reconnect failed; retrying\""); lost != 1 || attempts < 1 || attempts > 10 {
		t.Errorf("the connection was lost %d times and reconnecting failed %d times in the outage; want once, and 1..10 attempts", lost, attempts)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := bus.Publish(context.Background(), bustest.NewEvent("order-lost", 1)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("could not publish after the server came back")
		}
		time.Sleep(200 * time.Millisecond)
	}
	for {
		mu.Lock()
		n := got
		mu.Unlock()
		if n >= 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the subscription did not receive after the connection was lost and re-established")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestMadeUpEventTypesShareOneChannel publishes 300 event types that are not in the
// catalog (as CreateEvent lets an operator make up): the server gains one channel for all
// of them, not 300 (its limit is 1000 per server, and each channel has its own files),
// and a group subscribed to two of them receives exactly those, once each.
func TestMadeUpEventTypesShareOneChannel(t *testing.T) {
	srv := bustest.StartServer(t)
	bus, err := natsstreaming.Connect(context.Background(), natsstreaming.Config{
		URL: srv.URL(), ClusterID: srv.ClusterID(), ClientID: "made-up", MonitorURL: srv.MonitorURL()})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	var mu sync.Mutex
	got := map[string]int{}
	_, err = bus.Subscribe(context.Background(), eventbus.SubscribeOptions{Group: "two-types", Types: []string{"made-up-7", "made-up-250"},
		Handler: func(_ context.Context, m eventbus.Message) error {
			mu.Lock()
			got[m.Event.Type]++
			mu.Unlock()
			return nil
		},
		DeadLetter: func(context.Context, eventbus.Message, error) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	var events []ordersaga.RecordedEvent
	for i := range 300 {
		events = append(events, bustest.NewEvent(fmt.Sprintf("made-up-%d", i), i))
	}
	events = append(events, bustest.NewEvent(ordersaga.EventOrderCreated, 300))
	if n, err := bus.PublishBatch(context.Background(), events); err != nil || n != len(events) {
		t.Fatalf("published %d of %d: %v", n, len(events), err)
	}
	resp, err := http.Get(srv.MonitorURL() + "/streaming/channelsz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var channels struct {
		Count    int      `json:"count"`
		Channels []string `json:"names"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&channels); err != nil {
		t.Fatal(err)
	}
	if channels.Count != 2 {
		t.Errorf("the server has %d channels (%v...), want 2: the shared one and order-created's", channels.Count, channels.Channels[:min(5, len(channels.Channels))])
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		done := got["made-up-7"] == 1 && got["made-up-250"] == 1 && len(got) == 2
		snapshot := fmt.Sprint(got)
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group received %s, want made-up-7 and made-up-250 once each", snapshot)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAfterReconnectingOnlyTheOpenSubscriptionsAreBack closes one of two subscriptions,
// then loses the connection: after the reconnect the open one receives again and the
// closed one stays closed (Close takes it, not another, off the list to resubscribe).
func TestAfterReconnectingOnlyTheOpenSubscriptionsAreBack(t *testing.T) {
	srv := bustest.StartServer(t)
	bus, err := natsstreaming.Connect(context.Background(), natsstreaming.Config{
		URL: srv.URL(), ClusterID: srv.ClusterID(), ClientID: "two-subs", MonitorURL: srv.MonitorURL(), PingInterval: 1, PingMaxOut: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	var mu sync.Mutex
	got := map[string]int{}
	subscribe := func(group string) eventbus.Subscription {
		sub, err := bus.Subscribe(context.Background(), eventbus.SubscribeOptions{Group: group, Types: []string{"order-two"},
			Handler: func(context.Context, eventbus.Message) error {
				mu.Lock()
				got[group]++
				mu.Unlock()
				return nil
			},
			DeadLetter: func(context.Context, eventbus.Message, error) error { return nil }})
		if err != nil {
			t.Fatal(err)
		}
		return sub
	}
	closed := subscribe("closed")
	subscribe("open")
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	srv.Stop(t)
	time.Sleep(4 * time.Second) // > PingInterval × PingMaxOut: the connection is lost
	srv.Start(t)
	deadline := time.Now().Add(60 * time.Second)
	for bus.Publish(context.Background(), bustest.NewEvent("order-two", 1)) != nil {
		if time.Now().After(deadline) {
			t.Fatal("could not publish after the server came back")
		}
		time.Sleep(200 * time.Millisecond)
	}
	deadline = time.Now().Add(10 * time.Second) // delivered within milliseconds once resubscribed
	for {
		mu.Lock()
		open, closedGot := got["open"], got["closed"]
		mu.Unlock()
		if open >= 1 {
			if closedGot != 0 {
				t.Errorf("the closed subscription handled %d messages after the reconnect", closedGot)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the open subscription did not receive after the reconnect")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
