package temporalserver

import (
	"context"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// The services after the first start only once the first listens on its gRPC port: on a
// new database they would otherwise race it to write the cluster's metadata.
func TestStartServicesWaitsForTheFirstToListen(t *testing.T) {
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	address := probe.Addr().String()
	probe.Close()
	first := Services()[0]
	cfg := &Config{ports: map[string][2]int{first: {probe.Addr().(*net.TCPAddr).Port, 0}}}
	var (
		started   []string
		listening atomic.Bool
	)
	listeners := make(chan net.Listener, 1)
	err = cfg.StartServices(context.Background(), func(service string) error {
		started = append(started, service)
		if service != first {
			if !listening.Load() {
				t.Errorf("%s started before %s listened", service, first)
			}
			return nil
		}
		go func() { // the first service takes a while to listen
			time.Sleep(700 * time.Millisecond)
			l, err := net.Listen("tcp", address)
			if err != nil {
				t.Error(err)
				close(listeners)
				return
			}
			listening.Store(true)
			listeners <- l
		}()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := <-listeners; ok {
		l.Close()
	}
	if !slices.Equal(started, Services()) {
		t.Fatalf("started %v, want %v", started, Services())
	}
}
