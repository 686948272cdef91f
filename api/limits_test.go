package api_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/api"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/internal/stacktest"
	"github.com/ordersaga/ordersaga/workflows"
)

// readModels is a read model whose order "boom" panics, and whose every other order waits
// for the restaurant: nothing real panics on demand.
type readModels struct{}

func (readModels) Order(_ context.Context, id string) (ordersaga.OrderView, error) {
	if id == "boom" {
		panic("a bug in a handler")
	}
	return ordersaga.OrderView{OrderID: id, CustomerID: "c", RestaurantID: "r", Status: ordersaga.StatusAwaitingDecision, Version: 2}, nil
}

func (readModels) ListOrders(context.Context, ordersaga.OrderFilter, string, int) ([]ordersaga.OrderView, error) {
	return nil, nil
}

func (readModels) OrderMarks(context.Context, string) ([]ordersaga.OrderMark, error) { return nil, nil }

type noSagas struct{}

func (noSagas) PlaceShowing(context.Context, ordersaga.OrderInput, int64) (workflows.Placed, error) {
	return workflows.Placed{}, errors.New("not here")
}
func (noSagas) Decide(context.Context, string, workflows.Decision) (workflows.DecisionResult, error) {
	return workflows.DecisionResult{}, errors.New("not here")
}
func (noSagas) Cancel(context.Context, string) error { return errors.New("not here") }
func (noSagas) History(context.Context, string) ([]workflows.Step, error) {
	return nil, errors.New("not here")
}

type noAccounts struct{}

func (noAccounts) Credit(context.Context, string, int64, string, string) (ordersaga.Account, error) {
	return ordersaga.Account{}, errors.New("not here")
}
func (noAccounts) Get(context.Context, string) (ordersaga.Account, error) {
	return ordersaga.Account{}, errors.New("not here")
}

// limitedServer serves an OrderService with the given limits over those stand-ins.
func limitedServer(t *testing.T, cfg api.Config) ordersagav1.OrderServiceClient {
	t.Helper()
	cfg.Store, cfg.ReadModels = unusedStore{}, readModels{}
	return serveStandIns(t, cfg)
}

// serveStandIns serves an OrderService over cfg's Store and ReadModels and stand-ins for
// the rest.
func serveStandIns(t *testing.T, cfg api.Config) ordersagav1.OrderServiceClient {
	t.Helper()
	tokens := stacktest.NewTokens(t)
	cfg.Tokens, cfg.Sagas, cfg.Accounts, cfg.Menus = tokens.Verifier, noSagas{}, noAccounts{}, noMenus{}
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := api.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Stop(ctx)
	})
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()), tokens.As(t, stacktest.Operator))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return ordersagav1.NewOrderServiceClient(conn)
}

// noMenus are menus the calls under test never reach.
type noMenus struct{ api.Menus }

// unusedStore is an event store the calls under test never reach.
type unusedStore struct{ api.EventStore }

// TestAPanicInAHandlerIsInternalAndTheServerKeepsServing calls a handler that panics.
func TestAPanicInAHandlerIsInternalAndTheServerKeepsServing(t *testing.T) {
	c := limitedServer(t, api.Config{})
	ctx := context.Background()
	if _, err := c.GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: "boom"}); status.Code(err) != codes.Internal {
		t.Errorf("a panicking handler: %v, want Internal", err)
	}
	if _, err := c.GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: "fine"}); err != nil {
		t.Errorf("the next call: %v", err)
	}
}

// TestAWatchEndsAtItsLifetimeAndStreamsAreLimited watches an order that does not end: the
// stream ends cleanly at MaxWatch, and while it is open, a connection limited to one
// stream has no room for another call.
func TestAWatchEndsAtItsLifetimeAndStreamsAreLimited(t *testing.T) {
	c := limitedServer(t, api.Config{MaxWatch: 2 * time.Second, MaxStreams: 1})
	ctx := context.Background()
	watch, err := c.WatchOrder(ctx, &ordersagav1.WatchOrderRequest{OrderId: "long"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil {
		t.Fatalf("the first version: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := c.GetOrder(short, &ordersagav1.GetOrderRequest{OrderId: "other"}); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("a second call while the one stream allowed is open: %v, want it to wait past its deadline", err)
	}
	if _, err := watch.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("the watch after its lifetime: %v, want a clean end (EOF)", err)
	}
	// Bounded, so that a watch that never ends fails here rather than hangs.
	bounded, cancelBounded := context.WithTimeout(ctx, 5*time.Second)
	defer cancelBounded()
	if _, err := c.GetOrder(bounded, &ordersagav1.GetOrderRequest{OrderId: "other"}); err != nil {
		t.Errorf("a call once the stream ended: %v", err)
	}
}

// countedReads is a read model whose every order waits for the restaurant at version 2,
// counting the reads.
type countedReads struct {
	readModels
	n atomic.Int64
}

func (c *countedReads) Order(ctx context.Context, id string) (ordersaga.OrderView, error) {
	c.n.Add(1)
	return c.readModels.Order(ctx, id)
}

// storeAtVersion3 holds every order at version 3, created for customer c at restaurant r.
type storeAtVersion3 struct{ api.EventStore }

func (storeAtVersion3) ReadStream(_ context.Context, stream ordersaga.Stream, _ int64, _ int) ([]ordersaga.RecordedEvent, error) {
	return []ordersaga.RecordedEvent{{StreamID: stream.String(), Version: 1, Type: ordersaga.EventOrderCreated,
		Data: []byte(`{"order_id":"` + stream.ID() + `","customer_id":"c","restaurant_id":"r"}`)}}, nil
}

func (storeAtVersion3) StreamVersion(context.Context, ordersaga.Stream) (int64, error) { return 3, nil }

// TestWaitingReadsPollTheReadModelAtABoundedRate waits for versions the read model does
// not reach (GetOrder with min_version, WatchOrder for the next version) for a second
// each: the API looks again after 2 ms, doubling to 50 ms (GetOrder) or 200 ms (a watch,
// which waits on people), so a second costs some 25 reads, not a read-model query in a
// tight loop. The watch sends the order once: a version it has sent is not sent again.
func TestWaitingReadsPollTheReadModelAtABoundedRate(t *testing.T) {
	reads := &countedReads{}
	c := serveStandIns(t, api.Config{Store: storeAtVersion3{}, ReadModels: reads, MaxWatch: time.Second})
	ctx := context.Background()
	second, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := c.GetOrder(second, &ordersagav1.GetOrderRequest{OrderId: "slow", MinVersion: 3}); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("waiting for version 3 for a second: %v, want the deadline", err)
	}
	if n := reads.n.Swap(0); n < 5 || n > 60 {
		t.Errorf("GetOrder read the read model %d times in a second of waiting, want about 25", n)
	}
	watch, err := c.WatchOrder(ctx, &ordersagav1.WatchOrderRequest{OrderId: "slow"})
	if err != nil {
		t.Fatal(err)
	}
	for sent := 0; err == nil; sent++ {
		if _, err = watch.Recv(); err == nil && sent == 1 {
			t.Fatal("the watch sent the order again at the same version")
		}
	}
	if n := reads.n.Load(); n < 3 || n > 30 {
		t.Errorf("WatchOrder read the read model %d times in its one-second lifetime, want about 13", n)
	}
}
