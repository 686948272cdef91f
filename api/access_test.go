package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/ordersaga/ordersaga/api"
	"github.com/ordersaga/ordersaga/auth"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/internal/stacktest"
)

// TestEveryCallAnswersEachCallerAsThePolicySays calls every RPC over a real listener as
// each kind of caller: none, an expired token, a token signed by another key, customer
// alice (whose order it is), customer bob, restaurant r-7 (the order's), restaurant r-8,
// and an operator; each gets the code the policy says. An order that does not exist
// answers everyone but an operator like one that is not theirs.
func TestEveryCallAnswersEachCallerAsThePolicySays(t *testing.T) {
	s, addr := serveStack(t)
	ctx := context.Background()
	other := stacktest.NewTokens(t) // a key the API does not trust
	alice := auth.Principal{Role: auth.Customer, ID: "alice-" + uuid.NewString()[:6]}
	bob := auth.Principal{Role: auth.Customer, ID: "bob"}
	r7, r8 := auth.Principal{Role: auth.Restaurant, ID: "r-7"}, auth.Principal{Role: auth.Restaurant, ID: "r-8"}
	expired, err := s.Tokens.Signer().Token(alice, -time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	callers := []struct {
		name string
		opt  grpc.DialOption
	}{
		{"no credentials", nil},
		{"expired", grpc.WithPerRPCCredentials(api.BearerToken{Token: expired, AllowInsecure: true})},
		{"another key", other.As(t, stacktest.Operator)},
		{"alice", s.Tokens.As(t, alice)},
		{"bob", s.Tokens.As(t, bob)},
		{"r-7", s.Tokens.As(t, r7)},
		{"r-8", s.Tokens.As(t, r8)},
		{"operator", s.Tokens.As(t, stacktest.Operator)},
	}
	clients := map[string]*grpc.ClientConn{}
	for _, c := range callers {
		opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
		if c.opt != nil {
			opts = append(opts, c.opt)
		}
		conn, err := grpc.NewClient(addr, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		clients[c.name] = conn
	}
	op := ordersagav1.NewOrderServiceClient(clients["operator"])
	// alice's order at r-7, funded, waiting for the restaurant (no simulator runs here).
	if _, err := op.CreditAccount(ctx, &ordersagav1.CreditAccountRequest{CustomerId: alice.ID, Amount: 100_000, Currency: "EUR", Reference: "f"}); err != nil {
		t.Fatal(err)
	}
	place := func(c ordersagav1.OrderServiceClient, customer string) (string, error) {
		id := "a-" + uuid.NewString()[:8]
		_, err := c.PlaceOrder(ctx, &ordersagav1.PlaceOrderRequest{OrderId: id, CustomerId: customer, RestaurantId: r7.ID, Currency: "EUR",
			Items: []*ordersagav1.Item{{Id: "m", Name: "Margherita", UnitPrice: 1000, Quantity: 1}}})
		return id, err
	}
	order, err := place(op, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) { // until it is paid
		res, err := op.GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: order})
		if err == nil && res.Order.Version >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s never got paid: %v, %v", order, res, err)
		}
	}
	missing := "never-" + uuid.NewString()[:8]
	// A version the store has not got is refused at once, not waited for.
	if _, err := op.GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: order, MinVersion: 99}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("GetOrder at a version the store has not got: %v, want FailedPrecondition at once", err)
	}

	const (
		ok    = codes.OK
		unaut = codes.Unauthenticated
		deny  = codes.PermissionDenied
	)
	// want lists the code of alice, bob, r-7, r-8, operator; callers without valid
	// credentials always get Unauthenticated.
	type want [5]codes.Code
	calls := []struct {
		name string
		call func(conn *grpc.ClientConn) error
		want want
	}{
		{"PlaceOrder for alice", func(conn *grpc.ClientConn) error {
			_, err := place(ordersagav1.NewOrderServiceClient(conn), alice.ID)
			return err
		}, want{ok, deny, deny, deny, ok}},
		{"GetOrder", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewOrderServiceClient(conn).GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: order})
			return err
		}, want{ok, deny, ok, deny, ok}},
		{"GetOrder of no order", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewOrderServiceClient(conn).GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: missing})
			return err
		}, want{deny, deny, deny, deny, codes.NotFound}},
		{"ListOrders of alice", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewOrderServiceClient(conn).ListOrders(ctx, &ordersagav1.ListOrdersRequest{CustomerId: alice.ID})
			return err
		}, want{ok, deny, ok, ok, ok}},
		{"ListOrders of r-7", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewOrderServiceClient(conn).ListOrders(ctx, &ordersagav1.ListOrdersRequest{RestaurantId: r7.ID})
			return err
		}, want{ok, ok, ok, deny, ok}},
		{"GetOrderHistory", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewOrderServiceClient(conn).GetOrderHistory(ctx, &ordersagav1.GetOrderHistoryRequest{OrderId: order})
			return err
		}, want{ok, deny, ok, deny, ok}},
		{"GetOrderHistory of no order", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewOrderServiceClient(conn).GetOrderHistory(ctx, &ordersagav1.GetOrderHistoryRequest{OrderId: missing})
			return err
		}, want{deny, deny, deny, deny, codes.NotFound}},
		{"WatchOrder", func(conn *grpc.ClientConn) error {
			wctx, cancel := context.WithCancel(ctx)
			defer cancel()
			stream, err := ordersagav1.NewOrderServiceClient(conn).WatchOrder(wctx, &ordersagav1.WatchOrderRequest{OrderId: order})
			if err == nil {
				_, err = stream.Recv()
			}
			return err
		}, want{ok, deny, ok, deny, ok}},
		{"CancelOrder of no order", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewOrderServiceClient(conn).CancelOrder(ctx, &ordersagav1.CancelOrderRequest{OrderId: missing})
			return err
		}, want{deny, deny, deny, deny, codes.NotFound}},
		{"RejectOrder of no order", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewOrderServiceClient(conn).RejectOrder(ctx, &ordersagav1.RejectOrderRequest{OrderId: missing})
			return err
		}, want{deny, deny, deny, deny, codes.NotFound}},
		{"CreditAccount", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewOrderServiceClient(conn).CreditAccount(ctx, &ordersagav1.CreditAccountRequest{CustomerId: alice.ID, Amount: 1, Currency: "EUR", Reference: uuid.NewString()})
			return err
		}, want{deny, deny, deny, deny, ok}},
		{"GetAccount of alice", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewOrderServiceClient(conn).GetAccount(ctx, &ordersagav1.GetAccountRequest{CustomerId: alice.ID})
			return err
		}, want{ok, deny, deny, deny, ok}},
		{"CreateEvent", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewEventStoreServiceClient(conn).CreateEvent(ctx, &ordersagav1.CreateEventRequest{Event: &ordersagav1.Event{
				EventId: uuid.NewString(), EventType: "note-added", AggregateType: "note", AggregateId: "1", EventData: `{}`}})
			return err
		}, want{deny, deny, deny, deny, ok}},
		{"CreateEvent on an account", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewEventStoreServiceClient(conn).CreateEvent(ctx, &ordersagav1.CreateEventRequest{Event: &ordersagav1.Event{
				EventId: uuid.NewString(), EventType: "account-credited", AggregateType: "customer", AggregateId: alice.ID,
				EventData: `{"customer_id": "x", "amount": 1000000, "currency": "EUR"}`}})
			return err
		}, want{deny, deny, deny, deny, deny}},
		{"GetEvents", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewEventStoreServiceClient(conn).GetEvents(ctx, &ordersagav1.GetEventsRequest{})
			return err
		}, want{deny, deny, deny, deny, ok}},
		// Deciding last: r-7's approval moves the order on.
		{"ApproveOrder", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewOrderServiceClient(conn).ApproveOrder(ctx, &ordersagav1.ApproveOrderRequest{OrderId: order})
			return err
		}, want{deny, deny, ok, deny, codes.FailedPrecondition}},
	}
	order5 := []string{"alice", "bob", "r-7", "r-8", "operator"}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			for _, caller := range callers {
				wantCode := unaut
				for i, name := range order5 {
					if name == caller.name {
						wantCode = c.want[i]
					}
				}
				if caller.name == "r-7" && c.name == "ApproveOrder" {
					decideWhenAwaited(t, func() error { return c.call(clients[caller.name]) })
					continue
				}
				if got := status.Code(c.call(clients[caller.name])); got != wantCode {
					t.Errorf("%s: %v, want %v", caller.name, got, wantCode)
				}
			}
		})
	}
	// Health checks and reflection need no credentials.
	anonymous := clients["no credentials"]
	if _, err := healthpb.NewHealthClient(anonymous).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health check without credentials: %v", err)
	}
	refl, err := reflectionpb.NewServerReflectionClient(anonymous).ServerReflectionInfo(ctx)
	if err == nil {
		err = refl.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
	}
	if err == nil {
		_, err = refl.Recv()
	}
	if err != nil {
		t.Errorf("reflection without credentials: %v", err)
	}
}

// decideWhenAwaited retries a decision while the saga is not awaiting it yet.
func decideWhenAwaited(t *testing.T, decide func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := decide()
		if err == nil {
			return
		}
		if status.Code(err) != codes.FailedPrecondition || time.Now().After(deadline) {
			t.Fatalf("r-7 approving its order: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
