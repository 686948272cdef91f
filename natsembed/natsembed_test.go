package natsembed_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/stan.go"

	"github.com/ordersaga/ordersaga/natsembed"
)

func TestPortInUseIsAClearError(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	dir, err := os.MkdirTemp("", "natsembed-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	port := lis.Addr().(*net.TCPAddr).Port
	s, err := natsembed.Start(natsembed.Config{Dir: dir, Port: port})
	if err == nil {
		s.Shutdown()
		t.Fatal("started on a port in use")
	}
	if !strings.Contains(err.Error(), lis.Addr().String()) {
		t.Errorf("error %q does not name %s", err, lis.Addr())
	}
}

// TestPickedPortsAreBelowTheEphemeralRange: the ports Start picks lie under the kernel's
// range for outgoing connections, so that none of those (a client reconnecting to the
// stopped servers, say) can hold one when the servers start again on it.
func TestPickedPortsAreBelowTheEphemeralRange(t *testing.T) {
	raw, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Fatal(err)
	}
	var low, high int
	if _, err := fmt.Sscan(string(raw), &low, &high); err != nil {
		t.Fatalf("ip_local_port_range %q: %v", raw, err)
	}
	dir := t.TempDir()
	for range 5 {
		s, err := natsembed.Start(natsembed.Config{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		s.Shutdown()
		for name, port := range map[string]int{"NATS": s.Port(), "monitoring": s.MonitorPort()} {
			if port >= low && port <= high {
				t.Errorf("%s port %d is in the ephemeral range %d-%d", name, port, low, high)
			}
		}
	}
}

func TestStoresOnDisk(t *testing.T) {
	dir, err := os.MkdirTemp("", "natsembed-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := natsembed.Start(natsembed.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	for _, sub := range []string{"jetstream", "streaming"} {
		if _, err := os.Stat(dir + "/" + sub); err != nil {
			t.Errorf("no %s store in %s: %v", sub, dir, err)
		}
	}
}

func TestMessagesSurviveARestartWhateverTheSyncInterval(t *testing.T) {
	for _, interval := range []time.Duration{0, time.Second} {
		t.Run(fmt.Sprintf("sync interval %s", interval), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cfg := natsembed.Config{Dir: t.TempDir(), SyncInterval: interval}
			s, err := natsembed.Start(cfg)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Port, cfg.MonitorPort = s.Port(), s.MonitorPort()
			sc, err := stan.Connect(s.ClusterID(), "writer", stan.NatsURL(s.ClientURL()))
			if err != nil {
				t.Fatal(err)
			}
			nc, err := nats.Connect(s.ClientURL())
			if err != nil {
				t.Fatal(err)
			}
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s"}, Storage: jetstream.FileStorage}); err != nil {
				t.Fatal(err)
			}
			const sent = 5
			for i := range sent {
				if err := sc.Publish("c", []byte{byte(i)}); err != nil {
					t.Fatal(err)
				}
				if _, err := js.Publish(ctx, "s", []byte{byte(i)}); err != nil {
					t.Fatal(err)
				}
			}
			sc.Close()
			nc.Close()
			s.Shutdown()

			if s, err = natsembed.Start(cfg); err != nil {
				t.Fatal(err)
			}
			defer s.Shutdown()
			sc, err = stan.Connect(s.ClusterID(), "reader", stan.NatsURL(s.ClientURL()))
			if err != nil {
				t.Fatal(err)
			}
			defer sc.Close()
			got := make(chan *stan.Msg, sent)
			if _, err := sc.Subscribe("c", func(m *stan.Msg) { got <- m }, stan.DeliverAllAvailable()); err != nil {
				t.Fatal(err)
			}
			for i := range sent {
				select {
				case m := <-got:
					if m.Sequence != uint64(i+1) {
						t.Errorf("NATS Streaming message %d has sequence %d", i, m.Sequence)
					}
				case <-ctx.Done():
					t.Fatalf("NATS Streaming kept %d of %d messages over a restart", i, sent)
				}
			}
			if nc, err = nats.Connect(s.ClientURL()); err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if js, err = jetstream.New(nc); err != nil {
				t.Fatal(err)
			}
			stream, err := js.Stream(ctx, "S")
			if err != nil {
				t.Fatal(err)
			}
			info, err := stream.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.State.Msgs != sent {
				t.Errorf("JetStream kept %d of %d messages over a restart", info.State.Msgs, sent)
			}
		})
	}
}

func TestNegativeSyncIntervalIsRefused(t *testing.T) {
	_, err := natsembed.Start(natsembed.Config{Dir: t.TempDir(), SyncInterval: -time.Second})
	if err == nil || !strings.Contains(err.Error(), "SyncInterval") {
		t.Errorf("Start with a negative SyncInterval: %v; want an error naming SyncInterval", err)
	}
}
