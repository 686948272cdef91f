package stacktest

import (
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/ordersaga/ordersaga/api"
	"github.com/ordersaga/ordersaga/auth"
)

// Issuer is the issuer of the tests' tokens.
const Issuer = "ordersaga-test"

// Operator is who the tests act as when who does not matter.
var Operator = auth.Principal{Role: auth.Operator, ID: "test"}

// Tokens are a test's token issuer: a fresh key, the verifier that trusts it, and tokens
// for any principal.
type Tokens struct {
	Verifier *auth.Verifier
	signer   *auth.Signer
}

// NewTokens makes a key for t.
func NewTokens(t testing.TB) *Tokens {
	t.Helper()
	key, err := auth.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(auth.VerifierConfig{Keys: auth.PublicKeySet(key), Issuer: Issuer})
	if err != nil {
		t.Fatal(err)
	}
	s, err := auth.NewSigner(key, Issuer, auth.DefaultAudience)
	if err != nil {
		t.Fatal(err)
	}
	return &Tokens{Verifier: v, signer: s}
}

// Signer is the signer of the tokens Verifier trusts, for tokens a test crafts itself.
func (k *Tokens) Signer() *auth.Signer { return k.signer }

// Token returns a token naming p, valid for an hour.
func (k *Tokens) Token(t testing.TB, p auth.Principal) string {
	t.Helper()
	tok, err := k.signer.Token(p, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// As is the dial option of a client acting as p, over plaintext loopback.
func (k *Tokens) As(t testing.TB, p auth.Principal) grpc.DialOption {
	t.Helper()
	return grpc.WithPerRPCCredentials(api.BearerToken{Token: k.Token(t, p), AllowInsecure: true})
}
