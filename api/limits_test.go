package api_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
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

type noSagas struct{}

func (noSagas) PlaceShowing(context.Context, ordersaga.OrderInput, int64) (workflows.Placed, error) {
	return workflows.Placed{}, errors.New("not here")
}
func (noSagas) Decide(context.Context, string, workflows.Decision) (workflows.DecisionResult, error) {
	return workflows.DecisionResult{}, errors.New("not here")
}
func (noSagas) Cancel(context.Context, string) error { return errors.New("not here") }

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
	tokens := stacktest.NewTokens(t)
	cfg.Tokens, cfg.Store, cfg.Sagas, cfg.ReadModels, cfg.Accounts, cfg.Menus = tokens.Verifier, unusedStore{}, noSagas{}, readModels{}, noAccounts{}, noMenus{}
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
	if _, err := c.GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: "other"}); err != nil {
		t.Errorf("a call once the stream ended: %v", err)
	}
}
