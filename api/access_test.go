package api_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/ordersaga/ordersaga/api"
	"github.com/ordersaga/ordersaga/auth"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/internal/stacktest"
	"github.com/ordersaga/ordersaga/internal/system"
	"github.com/ordersaga/ordersaga/internal/testpki"
)

// The identities of the cross-principal suites: customer alice (whose order it is),
// customer bob, restaurant r-7 (the order's), restaurant r-8, and an operator. Every call
// names the code each of them gets, in this order.
var identities = []string{"alice", "bob", "r-7", "r-8", "operator"}

// caller is one client of a cross-principal suite: a name from identities, or one of a
// caller without a valid credential, who gets refused on every call; and how it dials.
type caller struct {
	name    string
	refused codes.Code
	dial    []grpc.DialOption
}

// TestEveryCallAnswersEachCallerAsThePolicySays calls every RPC over a real listener, on
// each bus adapter's stack, as each kind of caller with a bearer token: none, an expired
// token, a token signed by another key, and the identities; each gets the code the policy
// says.
func TestEveryCallAnswersEachCallerAsThePolicySays(t *testing.T) {
	for _, bus := range []string{system.BusNATSStreaming, system.BusJetStream} {
		t.Run(bus, func(t *testing.T) {
			s, addr := serveStackOn(t, bus, nil)
			alice := auth.Principal{Role: auth.Customer, ID: "alice-" + uuid.NewString()[:6]}
			expired, err := s.Tokens.Signer().Token(alice, -time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			plain := grpc.WithTransportCredentials(insecure.NewCredentials())
			as := func(p auth.Principal) []grpc.DialOption { return []grpc.DialOption{plain, s.Tokens.As(t, p)} }
			checkEveryCall(t, addr, alice, []caller{
				{"no credentials", codes.Unauthenticated, []grpc.DialOption{plain}},
				{"expired", codes.Unauthenticated, []grpc.DialOption{plain, grpc.WithPerRPCCredentials(api.BearerToken{Token: expired, AllowInsecure: true})}},
				{"another key", codes.Unauthenticated, []grpc.DialOption{plain, stacktest.NewTokens(t).As(t, stacktest.Operator)}},
				{"alice", codes.OK, as(alice)},
				{"bob", codes.OK, as(bob)},
				{"r-7", codes.OK, as(r7)},
				{"r-8", codes.OK, as(r8)},
				{"operator", codes.OK, as(stacktest.Operator)},
			})
		})
	}
}

// TestEveryCallAnswersEachCertificateAsThePolicySays is the same suite over mutual TLS,
// each caller known by its client certificate: none (TLS alone), one that names no role,
// an expired one and one from another CA (both refused at the handshake, before any call,
// so the client sees the connection fail: Unavailable), and the identities'.
func TestEveryCallAnswersEachCertificateAsThePolicySays(t *testing.T) {
	ca, stranger := testpki.New(t, "ordersaga"), testpki.New(t, "stranger")
	serverCert, serverKey := ca.Issue("server", testpki.Server(), net.ParseIP("127.0.0.1"))
	pair, err := tls.LoadX509KeyPair(serverCert, serverKey)
	if err != nil {
		t.Fatal(err)
	}
	_, addr := serveStackOn(t, system.BusNATSStreaming, &tls.Config{Certificates: []tls.Certificate{pair},
		ClientCAs: certPool(t, ca.CAFile), ClientAuth: tls.VerifyClientCertIfGiven})
	alice := auth.Principal{Role: auth.Customer, ID: "alice-" + uuid.NewString()[:6]}
	subject := func(p auth.Principal) pkix.Name {
		return pkix.Name{OrganizationalUnit: []string{string(p.Role)}, CommonName: p.ID}
	}
	with := func(cert, key string) []grpc.DialOption {
		cfg := &tls.Config{RootCAs: certPool(t, ca.CAFile), MinVersion: tls.VersionTLS12}
		if cert != "" {
			pair, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				t.Fatal(err)
			}
			// Presented whatever CAs the server asks for: a forger's client would.
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
		}
		return []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(cfg))}
	}
	as := func(p auth.Principal) []grpc.DialOption { return with(ca.Issue(p.ID, subject(p), nil)) }
	checkEveryCall(t, addr, alice, []caller{
		{"no certificate", codes.Unauthenticated, with("", "")},
		{"no role", codes.Unauthenticated, with(ca.Issue("anonymous", pkix.Name{CommonName: "anonymous"}, nil))},
		{"expired", codes.Unavailable, with(ca.IssueExpired("expired", subject(alice)))},
		{"another CA", codes.Unavailable, with(stranger.Issue("forged", subject(stacktest.Operator), nil))},
		{"alice", codes.OK, as(alice)},
		{"bob", codes.OK, as(bob)},
		{"r-7", codes.OK, as(r7)},
		{"r-8", codes.OK, as(r8)},
		{"operator", codes.OK, as(stacktest.Operator)},
	})
}

// The suites' other identities; alice's id is new in each run.
var (
	bob    = auth.Principal{Role: auth.Customer, ID: "bob"}
	r7, r8 = auth.Principal{Role: auth.Restaurant, ID: "r-7"}, auth.Principal{Role: auth.Restaurant, ID: "r-8"}
)

// certPool reads a PEM CA file into a pool.
func certPool(t *testing.T, caFile string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", caFile)
	}
	return pool
}

// checkEveryCall places an order of alice at r-7 as the operator, then makes every RPC as
// each caller and checks its code: an identity's from the table, any other caller's its
// refused code. An order that does not exist answers everyone but an operator like one
// that is not theirs. Health checks and reflection answer every caller but those refused
// at the handshake.
func checkEveryCall(t *testing.T, addr string, alice auth.Principal, callers []caller) {
	t.Helper()
	ctx := context.Background()
	clients := map[string]*grpc.ClientConn{}
	for _, c := range callers {
		conn, err := grpc.NewClient(addr, c.dial...)
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
			Items: []*ordersagav1.Item{{Id: "margherita", Quantity: 1}}})
		return id, err
	}
	order, err := place(op, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	cancellable, err := place(op, alice.ID) // alice cancels it; no one else may
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{order, cancellable} {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) { // until it is paid
			res, err := op.GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: id})
			if err == nil && res.Order.Version >= 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("order %s never got paid: %v, %v", id, res, err)
			}
		}
	}
	missing := "never-" + uuid.NewString()[:8]
	// A version the store has not got is refused at once, not waited for.
	if _, err := op.GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: order, MinVersion: 99}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("GetOrder at a version the store has not got: %v, want FailedPrecondition at once", err)
	}

	const (
		ok   = codes.OK
		deny = codes.PermissionDenied
	)
	// want lists the code of each of identities.
	type want [5]codes.Code
	type accessCheck struct {
		name string
		call func(conn *grpc.ClientConn) error
		want want
	}
	calls := []accessCheck{
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
		// The timeline shows the saga's failures as Temporal recorded them: operators only.
		{"GetOrderTimeline", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewOrderServiceClient(conn).GetOrderTimeline(ctx, &ordersagav1.GetOrderTimelineRequest{OrderId: order})
			return err
		}, want{deny, deny, deny, deny, ok}},
		{"GetOrderTimeline of no order", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewOrderServiceClient(conn).GetOrderTimeline(ctx, &ordersagav1.GetOrderTimelineRequest{OrderId: missing})
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
		{"CancelOrder of alice's", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewOrderServiceClient(conn).CancelOrder(ctx, &ordersagav1.CancelOrderRequest{OrderId: cancellable})
			return err
		}, want{ok, deny, deny, deny, ok}},
		{"CancelOrder of no order", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewOrderServiceClient(conn).CancelOrder(ctx, &ordersagav1.CancelOrderRequest{OrderId: missing})
			return err
		}, want{deny, deny, deny, deny, codes.NotFound}},
		{"RejectOrder of no order", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewOrderServiceClient(conn).RejectOrder(ctx, &ordersagav1.RejectOrderRequest{OrderId: missing})
			return err
		}, want{deny, deny, deny, deny, codes.NotFound}},
		{"SetMenuItem of r-7", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewOrderServiceClient(conn).SetMenuItem(ctx, &ordersagav1.SetMenuItemRequest{RestaurantId: r7.ID, Currency: "EUR",
				Item: &ordersagav1.MenuItem{ItemId: "special", Name: "Special", Price: 1500}})
			return err
		}, want{deny, deny, ok, deny, ok}},
		{"RemoveMenuItem of r-7 (not on it)", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewOrderServiceClient(conn).RemoveMenuItem(ctx, &ordersagav1.RemoveMenuItemRequest{RestaurantId: r7.ID, ItemId: "nothing"})
			return err
		}, want{deny, deny, codes.NotFound, deny, codes.NotFound}},
		{"GetMenu of r-7", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewOrderServiceClient(conn).GetMenu(ctx, &ordersagav1.GetMenuRequest{RestaurantId: r7.ID})
			return err
		}, want{ok, ok, ok, ok, ok}},
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
		{"CreateEvent on a menu", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewEventStoreServiceClient(conn).CreateEvent(ctx, &ordersagav1.CreateEventRequest{Event: &ordersagav1.Event{
				EventId: uuid.NewString(), EventType: "menu-item-set", AggregateType: "restaurant", AggregateId: r7.ID,
				EventData: `{"id": "m", "price": 1, "currency": "EUR"}`}})
			return err
		}, want{deny, deny, deny, deny, deny}},
		{"AppendEvents", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewEventStoreServiceClient(conn).AppendEvents(ctx, &ordersagav1.AppendEventsRequest{AggregateType: "note", AggregateId: "2",
				Events: []*ordersagav1.NewEvent{{EventId: uuid.NewString(), EventType: "note-added", EventData: `{}`}}})
			return err
		}, want{deny, deny, deny, deny, ok}},
		{"AppendEvents on an account", func(conn *grpc.ClientConn) error {
			_, err := ordersagav1.NewEventStoreServiceClient(conn).AppendEvents(ctx, &ordersagav1.AppendEventsRequest{AggregateType: "customer", AggregateId: alice.ID,
				Events: []*ordersagav1.NewEvent{{EventId: uuid.NewString(), EventType: "account-credited", EventData: `{"customer_id": "x", "amount": 1000000, "currency": "EUR"}`}}})
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
	// Every call of both services is here, so that a new one cannot skip the policy.
	for _, desc := range []grpc.ServiceDesc{ordersagav1.OrderService_ServiceDesc, ordersagav1.EventStoreService_ServiceDesc} {
		var methods []string
		for _, m := range desc.Methods {
			methods = append(methods, m.MethodName)
		}
		for _, s := range desc.Streams {
			methods = append(methods, s.StreamName)
		}
		for _, m := range methods {
			if !slices.ContainsFunc(calls, func(c accessCheck) bool { return c.name == m || strings.HasPrefix(c.name, m+" ") }) {
				t.Errorf("%s.%s is not checked against every caller", desc.ServiceName, m)
			}
		}
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			for _, caller := range callers {
				wantCode := caller.refused
				for i, name := range identities {
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
	for _, caller := range callers {
		if caller.refused == codes.Unavailable {
			continue
		}
		conn := clients[caller.name]
		if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Errorf("health check as %s: %v", caller.name, err)
		}
		refl, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
		if err == nil {
			err = refl.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
		}
		if err == nil {
			_, err = refl.Recv()
		}
		if err != nil {
			t.Errorf("reflection as %s: %v", caller.name, err)
		}
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
