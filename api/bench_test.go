package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/ordersaga/ordersaga/api"
	"github.com/ordersaga/ordersaga/auth"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/internal/stacktest"
	"github.com/ordersaga/ordersaga/internal/system"
)

// trustAll is the baseline's verifier: it takes any token as the operator's, without
// checking anything, so no policy check can refuse either.
type trustAll struct{}

func (trustAll) Verify(string) (auth.Principal, error) { return stacktest.Operator, nil }

// BenchmarkAuthenticatedRead reads one order with GetOrder over a real listener: as its
// customer, with her token verified and the policy checked against the order
// (auth=jwt), and with the same calls, the same token on the wire, trusted unchecked as an
// operator's (auth=none, the baseline), in the same run:
//
//	go test ./api -run '^$' -bench AuthenticatedRead -benchtime 3s -count 3
func BenchmarkAuthenticatedRead(b *testing.B) {
	s := stacktest.Start(b)
	ctx := context.Background()
	alice := auth.Principal{Role: auth.Customer, ID: "bench-" + uuid.NewString()[:6]}
	orderID := placePaidOrder(b, s, alice)
	for _, c := range []struct {
		name   string
		tokens api.TokenVerifier
	}{{"auth=none", trustAll{}}, {"auth=jwt", s.Tokens.Verifier}} {
		b.Run(c.name, func(b *testing.B) {
			c := ordersagav1.NewOrderServiceClient(serveVerifying(b, s, c.tokens, s.Tokens.As(b, alice)))
			for b.Loop() {
				if _, err := c.GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: orderID}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// serveVerifying runs an API on s that verifies tokens with tokens until b ends, and connects to
// it with creds.
func serveVerifying(b *testing.B, s *stacktest.Stack, tokens api.TokenVerifier, creds grpc.DialOption) *grpc.ClientConn {
	b.Helper()
	a, err := system.NewAPI(system.APIConfig{DB: s.DB, Temporal: s.Temporal, Tokens: tokens, Addr: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	b.Cleanup(func() { stop(); <-done })
	conn, err := grpc.NewClient(a.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()), creds)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return conn
}

// placePaidOrder funds customer and places an order for them, as an operator, and returns
// its id once the read model shows it paid.
func placePaidOrder(b *testing.B, s *stacktest.Stack, customer auth.Principal) string {
	b.Helper()
	ctx := context.Background()
	op := ordersagav1.NewOrderServiceClient(serveVerifying(b, s, s.Tokens.Verifier, s.Tokens.As(b, stacktest.Operator)))
	if _, err := op.CreditAccount(ctx, &ordersagav1.CreditAccountRequest{CustomerId: customer.ID, Amount: 10_000, Currency: "EUR", Reference: "bench"}); err != nil {
		b.Fatal(err)
	}
	orderID := "bench-" + uuid.NewString()[:8]
	if _, err := op.PlaceOrder(ctx, &ordersagav1.PlaceOrderRequest{OrderId: orderID, CustomerId: customer.ID, RestaurantId: "r-1", Currency: "EUR",
		Items: []*ordersagav1.Item{{Id: "m", Name: "Margherita", UnitPrice: 1000, Quantity: 1}}}); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		res, err := op.GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: orderID})
		if err == nil && res.Order.Version >= 2 {
			return orderID
		}
		if time.Now().After(deadline) {
			b.Fatalf("order %s never got paid: %v, %v", orderID, res, err)
		}
	}
}
