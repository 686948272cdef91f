package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/api"
	"github.com/ordersaga/ordersaga/auth"
	"github.com/ordersaga/ordersaga/internal/stacktest"
)

// TestSignedTokensAreReusedThenRenewedBeforeTheyExpire follows a client's credential
// through a token's life: calls reuse one token (a signature per call would be wasted
// work) until a quarter of its lifetime is left, then a new one is signed, which the
// server's verifier accepts; at no point is an expired token sent. ECDSA signatures are
// randomised, so every signing gives another string.
func TestSignedTokensAreReusedThenRenewedBeforeTheyExpire(t *testing.T) {
	tokens := stacktest.NewTokens(t)
	const ttl = 2 * time.Second // renewed after 1.5s
	creds := &api.SignedTokens{Signer: tokens.Signer(), Principal: auth.Principal{Role: auth.Customer, ID: "c-1"}, TTL: ttl}
	ctx := context.Background()
	sent := func() string {
		t.Helper()
		md, err := creds.GetRequestMetadata(ctx)
		if err != nil {
			t.Fatal(err)
		}
		token := md["authorization"][len("Bearer "):]
		p, err := tokens.Verifier.Verify(token)
		if err != nil || p.ID != "c-1" {
			t.Fatalf("the token sent is refused: %v (%v)", err, p)
		}
		return token
	}
	first := sent()
	if again := sent(); again != first {
		t.Error("a second call signed a new token; it should reuse the first")
	}
	time.Sleep(ttl / 2) // half the lifetime: still well before the renewal
	if mid := sent(); mid != first {
		t.Error("the token was renewed after half its lifetime; it is renewed when a quarter is left")
	}
	time.Sleep(ttl/4 + ttl/10) // past three quarters of the lifetime
	renewed := sent()
	if renewed == first {
		t.Fatal("the token was not renewed with less than a quarter of its lifetime left")
	}
	if again := sent(); again != renewed {
		t.Error("the renewed token was not reused")
	}
}
