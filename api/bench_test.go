package api_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/ordersaga/ordersaga/api"
	"github.com/ordersaga/ordersaga/auth"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/internal/stacktest"
	"github.com/ordersaga/ordersaga/internal/system"
)

// trustAll is the baseline's verifier: it takes any token as the operator's, without
// checking anything.
type trustAll struct{}

func (trustAll) Verify(string) (auth.Principal, error) { return stacktest.Operator, nil }

// BenchmarkAuthenticatedRead reads one account over a real listener (a one-row read, like
// GetOrder), as an operator: with its token verified (auth=jwt), and with the same calls
// trusted unchecked (auth=none, the baseline), in the same run:
//
//	go test ./api -run '^$' -bench AuthenticatedRead -benchtime 3s -count 3
func BenchmarkAuthenticatedRead(b *testing.B) {
	s := stacktest.Start(b)
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		tokens api.TokenVerifier
	}{{"auth=none", trustAll{}}, {"auth=jwt", s.Tokens.Verifier}} {
		b.Run(c.name, func(b *testing.B) {
			a, err := system.NewAPI(system.APIConfig{DB: s.DB, Temporal: s.Temporal, Tokens: c.tokens, Addr: "127.0.0.1:0"})
			if err != nil {
				b.Fatal(err)
			}
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- a.Run(runCtx) }()
			defer func() { stop(); <-done }()
			conn, err := grpc.NewClient(a.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()), s.Tokens.As(b, stacktest.Operator))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			c := ordersagav1.NewOrderServiceClient(conn)
			if _, err := c.CreditAccount(ctx, &ordersagav1.CreditAccountRequest{CustomerId: "bench", Amount: 1, Currency: "EUR", Reference: "bench"}); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := c.GetAccount(ctx, &ordersagav1.GetAccountRequest{CustomerId: "bench"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
