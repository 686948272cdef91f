package jetstream_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventbus/bustest"
	"github.com/ordersaga/ordersaga/eventbus/jetstream"
	"github.com/ordersaga/ordersaga/natsembed"
)

func freePort(t *testing.T) int {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().(*net.TCPAddr).Port
}

// startCluster starts three servers as one cluster and returns them by node id.
func startCluster(t *testing.T) (map[string]*natsembed.Servers, string) {
	t.Helper()
	ids := []string{"n1", "n2", "n3"}
	routes := map[string]int{}
	for _, id := range ids {
		routes[id] = freePort(t)
	}
	nodes := map[string]*natsembed.Servers{}
	var urls []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, id := range ids {
		var others []string
		for _, o := range ids {
			if o != id {
				others = append(others, fmt.Sprintf("nats://127.0.0.1:%d", routes[o]))
			}
		}
		wg.Go(func() { // a clustered NATS Streaming node waits for its peers as it starts
			s, err := natsembed.Start(natsembed.Config{Dir: t.TempDir(), Cluster: &natsembed.Cluster{Name: "test", NodeID: id,
				Port: routes[id], Routes: others, Peers: ids}})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			nodes[id] = s
			urls = append(urls, s.ClientURL())
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Cleanup(func() {
		for _, s := range nodes {
			s.Shutdown()
		}
	})
	return nodes, strings.Join(urls, ",")
}

// A stream replicated on three servers loses no acknowledged event when the server that
// leads it goes away: what was published before and after its loss reaches a consumer
// group, each event once, through the servers left.
func TestAReplicatedStreamLosesNothingWithItsLeader(t *testing.T) {
	nodes, urls := startCluster(t)
	ctx := context.Background()
	connect := func(name string) *jetstream.Bus {
		var bus *jetstream.Bus
		var err error
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
			if bus, err = jetstream.Connect(ctx, jetstream.Config{URL: urls, ClientName: name, Replicas: 3}); err == nil {
				t.Cleanup(func() { bus.Close() })
				return bus
			}
		}
		t.Fatalf("connect to the cluster: %v", err)
		return nil
	}
	writer := connect("writer")
	const before, after = 50, 50
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			e := bustest.NewEvent("order-noted", i)
			e.ID = uuid.NewSHA1(uuid.Nil, []byte(fmt.Sprint(i)))
			var err error
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				if err = writer.Publish(ctx, e); err == nil {
					break
				}
			}
			if err != nil {
				t.Fatalf("publish %d: %v", i, err)
			}
		}
	}
	publish(0, before)

	leader, err := writer.StreamLeader(ctx)
	if err != nil || nodes[leader] == nil {
		t.Fatalf("the stream's leader: %q, %v", leader, err)
	}
	nodes[leader].Shutdown()
	delete(nodes, leader)
	publish(before, before+after)

	reader := connect("reader")
	var mu sync.Mutex
	seen := map[uuid.UUID]int{}
	done := make(chan struct{})
	if _, err := reader.Subscribe(ctx, eventbus.SubscribeOptions{Group: "cluster-test", Types: []string{"order-noted"},
		Handler: func(_ context.Context, m eventbus.Message) error {
			mu.Lock()
			defer mu.Unlock()
			seen[m.Event.ID]++
			if len(seen) == before+after {
				select {
				case <-done:
				default:
					close(done)
				}
			}
			return nil
		},
		DeadLetter: func(context.Context, eventbus.Message, error) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
	}
	time.Sleep(time.Second) // a duplicate would arrive by now
	mu.Lock()
	defer mu.Unlock()
	twice := 0
	for _, n := range seen {
		if n > 1 {
			twice++
		}
	}
	if len(seen) != before+after || twice != 0 {
		t.Errorf("the group received %d distinct events (%d more than once), want %d once each, after losing leader %s",
			len(seen), twice, before+after, leader)
	}
}
