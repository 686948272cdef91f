package auth_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/auth"
)

func newKey(t *testing.T) jose.JSONWebKey {
	t.Helper()
	key, err := auth.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func sign(t *testing.T, key jose.JSONWebKey, issuer, audience string, p auth.Principal, ttl time.Duration) string {
	t.Helper()
	s, err := auth.NewSigner(key, issuer, audience)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Token(p, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestVerifierAcceptsOnlyItsOwnValidTokens signs tokens every way a caller could get one
// wrong, or forge one: only a fresh token from the issuer's key, for the audience, naming a
// valid principal, verifies.
func TestVerifierAcceptsOnlyItsOwnValidTokens(t *testing.T) {
	key, other := newKey(t), newKey(t)
	v, err := auth.NewVerifier(auth.VerifierConfig{Keys: auth.PublicKeySet(key), Issuer: "ordersaga-test"})
	if err != nil {
		t.Fatal(err)
	}
	alice := auth.Principal{Role: auth.Customer, ID: "alice"}
	good := sign(t, key, "ordersaga-test", "", alice, time.Hour)
	if p, err := v.Verify(good); err != nil || p != alice {
		t.Fatalf("Verify(a good token) = %v, %v; want %v", p, err, alice)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	unsigned := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		b64([]byte(fmt.Sprintf(`{"iss":"ordersaga-test","aud":"ordersaga","sub":"alice","role":"operator","exp":%d}`, time.Now().Add(time.Hour).Unix()))) + "."
	// signRaw signs claims as they are, past the Signer's checks.
	signRaw := func(c jwt.Claims, role string) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Issuer, c.Audience = "ordersaga-test", jwt.Audience{auth.DefaultAudience}
		tok, err := jwt.Signed(s).Claims(c).Claims(map[string]any{"role": role}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	noExpiry := signRaw(jwt.Claims{Subject: "alice"}, "customer")
	for _, c := range []struct{ name, token string }{
		{"empty", ""},
		{"garbage", "not.a.token"},
		{"expired", sign(t, key, "ordersaga-test", "", alice, -2*time.Minute)},
		{"signed by another key", sign(t, other, "ordersaga-test", "", alice, time.Hour)},
		{"another issuer", sign(t, key, "someone-else", "", alice, time.Hour)},
		{"another audience", sign(t, key, "ordersaga-test", "billing", alice, time.Hour)},
		{"no expiry", noExpiry},
		{"unsigned (alg none)", unsigned},
		{"tampered", good[:len(good)-4] + "AAAA"},
		{"an unknown role", signRaw(jwt.Claims{Subject: "eve", Expiry: jwt.NewNumericDate(time.Now().Add(time.Hour))}, "admin")},
		{"no subject", signRaw(jwt.Claims{Expiry: jwt.NewNumericDate(time.Now().Add(time.Hour))}, "operator")},
	} {
		t.Run(c.name, func(t *testing.T) {
			if p, err := v.Verify(c.token); ordersaga.ErrorCode(err) != ordersaga.EUNAUTHENTICATED {
				t.Errorf("Verify = %v, %v; want unauthenticated", p, err)
			}
		})
	}
}

// TestPolicy pins who may do what.
func TestPolicy(t *testing.T) {
	alice, bob := auth.Principal{Role: auth.Customer, ID: "alice"}, auth.Principal{Role: auth.Customer, ID: "bob"}
	r7, r8 := auth.Principal{Role: auth.Restaurant, ID: "r-7"}, auth.Principal{Role: auth.Restaurant, ID: "r-8"}
	op := auth.Principal{Role: auth.Operator, ID: "ops"}
	for _, c := range []struct {
		name string
		got  bool
		want bool
	}{
		{"alice acts for herself", auth.MayActForCustomer(alice, "alice"), true},
		{"alice acts for bob", auth.MayActForCustomer(alice, "bob"), false},
		{"a restaurant acts for a customer", auth.MayActForCustomer(r7, "alice"), false},
		{"an operator acts for anyone", auth.MayActForCustomer(op, "bob"), true},
		{"bob sees alice's order", auth.MaySeeOrder(bob, "alice", "r-7"), false},
		{"r-7 sees its order", auth.MaySeeOrder(r7, "alice", "r-7"), true},
		{"r-8 sees r-7's order", auth.MaySeeOrder(r8, "alice", "r-7"), false},
		{"r-7 decides its order", auth.MayDecide(r7, "r-7"), true},
		{"r-8 decides r-7's order", auth.MayDecide(r8, "r-7"), false},
		{"alice decides", auth.MayDecide(alice, "r-7"), false},
		{"a customer named like the restaurant decides", auth.MayDecide(auth.Principal{Role: auth.Customer, ID: "r-7"}, "r-7"), false},
		{"an operator operates", auth.MayOperate(op), true},
		{"a customer operates", auth.MayOperate(alice), false},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestARememberedTokenStillExpires verifies a token, then asks again after its expiry: the
// Verifier remembers tokens that verified, but not past their expiry.
func TestARememberedTokenStillExpires(t *testing.T) {
	key := newKey(t)
	now := time.Now()
	v, err := auth.NewVerifier(auth.VerifierConfig{Keys: auth.PublicKeySet(key), Issuer: "i", Leeway: time.Second,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	token := sign(t, key, "i", "", auth.Principal{Role: auth.Operator, ID: "ops"}, time.Minute)
	for range 2 { // verified, then remembered
		if _, err := v.Verify(token); err != nil {
			t.Fatalf("a fresh token: %v", err)
		}
	}
	now = now.Add(2 * time.Minute)
	if _, err := v.Verify(token); ordersaga.ErrorCode(err) != ordersaga.EUNAUTHENTICATED {
		t.Errorf("the remembered token after its expiry: %v, want unauthenticated", err)
	}
}

// TestKeysFromAURLFollowTheProvidersRotation serves a key set over HTTP, then rotates it:
// a token signed with the new key verifies once the Verifier has fetched the set again,
// which a key it does not know makes it do.
func TestKeysFromAURLFollowTheProvidersRotation(t *testing.T) {
	first, second := newKey(t), newKey(t)
	var mu sync.Mutex
	published := auth.PublicKeySet(first)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		json.NewEncoder(w).Encode(published)
	}))
	defer srv.Close()
	v, err := auth.NewVerifier(auth.VerifierConfig{KeysURL: srv.URL, Issuer: "idp", MinRefresh: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	alice := auth.Principal{Role: auth.Customer, ID: "alice"}
	if _, err := v.Verify(sign(t, first, "idp", "", alice, time.Hour)); err != nil {
		t.Fatalf("a token of the published key: %v", err)
	}
	if _, err := v.Verify(sign(t, second, "idp", "", alice, time.Hour)); ordersaga.ErrorCode(err) != ordersaga.EUNAUTHENTICATED {
		t.Fatalf("a token of a key not published yet: %v, want unauthenticated", err)
	}
	mu.Lock()
	published = auth.PublicKeySet(second)
	mu.Unlock()
	if _, err := v.Verify(sign(t, second, "idp", "", alice, time.Hour)); err != nil {
		t.Errorf("a token of the rotated-in key: %v", err)
	}
	bad := httptest.NewServer(http.NotFoundHandler())
	defer bad.Close()
	if _, err := auth.NewVerifier(auth.VerifierConfig{KeysURL: bad.URL, Issuer: "idp"}); err == nil {
		t.Error("a key set URL that answers 404: no error")
	}
}

// TestTokensOfUnknownKeysFetchTheKeySetOncePerMinute sends 50 tokens signed with a key the
// provider never published, at once: the Verifier fetches the key set once for all of them,
// not once each (which would let anyone flood the provider through the API).
func TestTokensOfUnknownKeysFetchTheKeySetOncePerMinute(t *testing.T) {
	published, stranger := newKey(t), newKey(t)
	var fetches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		time.Sleep(20 * time.Millisecond)
		json.NewEncoder(w).Encode(auth.PublicKeySet(published))
	}))
	defer srv.Close()
	now := time.Now().Add(time.Hour) // the set fetched at start is a minute old and more
	v, err := auth.NewVerifier(auth.VerifierConfig{KeysURL: srv.URL, Issuer: "idp", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	token := sign(t, stranger, "idp", "", auth.Principal{Role: auth.Customer, ID: "mallory"}, time.Hour)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := v.Verify(token); ordersaga.ErrorCode(err) != ordersaga.EUNAUTHENTICATED {
				t.Errorf("a token of an unknown key: %v, want unauthenticated", err)
			}
		})
	}
	wg.Wait()
	if n := fetches.Load(); n != 2 {
		t.Errorf("%d fetches of the key set, want 2 (at start, then one for all 50 unknown keys)", n)
	}
}
