package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/ordersaga/ordersaga"
)

// DefaultAudience is the audience ordersaga's tokens are for, unless configured otherwise.
const DefaultAudience = "ordersaga"

// claims are the private claims of an ordersaga token; the principal's id is "sub".
type claims struct {
	Role Role `json:"role"`
}

// algorithms are the signature algorithms a Verifier accepts (never "none", never HMAC:
// a key set holds public keys).
var algorithms = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.ES512, jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512, jose.EdDSA}

// VerifierConfig says which tokens a Verifier accepts.
type VerifierConfig struct {
	// Keys are the public keys tokens may be signed with. Required, unless KeysURL.
	Keys jose.JSONWebKeySet
	// KeysURL, instead of Keys, is where an identity provider publishes its key set (its
	// jwks_uri): fetched at start, again when a token names a key the set lacks (at most
	// every MinRefresh, default 1 minute), and once it is older than MaxAge (default 1h).
	KeysURL            string
	MinRefresh, MaxAge time.Duration
	// HTTPClient fetches KeysURL; default one with a 10-second timeout.
	HTTPClient *http.Client
	// Issuer is the "iss" tokens must carry. Required.
	Issuer string
	// Audience is one "aud" tokens must carry; default DefaultAudience.
	Audience string
	// Leeway is the clock skew allowed on "exp", "nbf" and "iat"; default 30s.
	Leeway time.Duration
	// Now tells the time; default time.Now.
	Now func() time.Time
	// CacheSize is how many verified tokens the Verifier remembers, so that a client's
	// next call with the same token costs no signature check; default 10,000.
	CacheSize int
}

// Verifier checks bearer tokens: signed by one of its keys, from its issuer, for its
// audience, not expired, naming a valid principal.
type Verifier struct {
	cfg VerifierConfig
	// keys are cfg.Keys, or the set last fetched from cfg.KeysURL (at fetched); attempted
	// is when a fetch last started, so that a flood of tokens naming unknown keys makes one
	// fetch per MinRefresh, not one each.
	mu                 sync.RWMutex
	keys               jose.JSONWebKeySet
	fetched, attempted time.Time
	// verified remembers tokens that verified, with their principal and expiry; a hit is
	// still refused once the token expires.
	verified *lru.Cache[string, verified]
}

// verified is a token that verified: whose it is, and until when.
type verified struct {
	principal Principal
	expiry    time.Time
}

// NewVerifier returns a Verifier.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	switch {
	case len(cfg.Keys.Keys) == 0 && cfg.KeysURL == "":
		return nil, errors.New("auth: the verifier needs at least one public key, or the URL of a key set")
	case cfg.Issuer == "":
		return nil, errors.New("auth: the verifier needs the tokens' issuer")
	}
	if err := publicOnly(cfg.Keys); err != nil {
		return nil, err
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 10_000
	}
	if cfg.MinRefresh == 0 {
		cfg.MinRefresh = time.Minute
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = time.Hour
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	cache, err := lru.New[string, verified](cfg.CacheSize)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	v := &Verifier{cfg: cfg, verified: cache, keys: cfg.Keys}
	if cfg.KeysURL != "" {
		if err := v.fetch(); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// publicOnly refuses a key set that holds a private key.
func publicOnly(set jose.JSONWebKeySet) error {
	for _, k := range set.Keys {
		if !k.IsPublic() {
			return fmt.Errorf("auth: key %q of the key set is private; publish public keys only", k.KeyID)
		}
	}
	return nil
}

// fetch reads the key set at cfg.KeysURL and keeps it.
func (v *Verifier) fetch() error {
	resp, err := v.cfg.HTTPClient.Get(v.cfg.KeysURL)
	if err != nil {
		return fmt.Errorf("auth: fetch the key set: %w", err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("auth: fetch the key set at %s: HTTP %d", v.cfg.KeysURL, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil || len(set.Keys) == 0 {
		return fmt.Errorf("auth: %s holds no JSON Web Key Set (%v)", v.cfg.KeysURL, err)
	}
	if err := publicOnly(set); err != nil {
		return err
	}
	v.mu.Lock()
	v.keys, v.fetched = set, v.cfg.Now()
	v.mu.Unlock()
	return nil
}

// refresh fetches the key set again if it comes from a URL, was fetched at least after
// ago, and no other fetch started within MinRefresh; it reports whether it did. A failed
// fetch keeps the set there was.
func (v *Verifier) refresh(after time.Duration) bool {
	if v.cfg.KeysURL == "" {
		return false
	}
	now := v.cfg.Now()
	v.mu.Lock()
	due := now.Sub(v.fetched) >= after && now.Sub(v.attempted) >= v.cfg.MinRefresh
	if due {
		v.attempted = now
	}
	v.mu.Unlock()
	return due && v.fetch() == nil
}

// Verify returns the principal that token names, or an EUNAUTHENTICATED error saying what
// is wrong with it.
func (v *Verifier) Verify(token string) (Principal, error) {
	unauthenticated := func(why string) (Principal, error) {
		return Principal{}, ordersaga.Errorf(ordersaga.EUNAUTHENTICATED, "invalid token: %s", why)
	}
	if hit, ok := v.verified.Get(token); ok {
		if v.cfg.Now().After(hit.expiry.Add(v.cfg.Leeway)) {
			v.verified.Remove(token)
			return unauthenticated("it has expired")
		}
		return hit.principal, nil
	}
	tok, err := jwt.ParseSigned(token, algorithms)
	if err != nil || len(tok.Headers) != 1 {
		return unauthenticated("not a signed JWT")
	}
	v.refresh(v.cfg.MaxAge)
	key, ok := v.key(tok.Headers[0].KeyID)
	if !ok && v.refresh(v.cfg.MinRefresh) { // a key the provider has added since
		key, ok = v.key(tok.Headers[0].KeyID)
	}
	if !ok {
		return unauthenticated("signed with an unknown key")
	}
	var (
		registered jwt.Claims
		private    claims
	)
	if err := tok.Claims(key.Key, &registered, &private); err != nil {
		return unauthenticated("the signature does not verify")
	}
	if registered.Expiry == nil {
		return unauthenticated("it has no expiry")
	}
	err = registered.ValidateWithLeeway(jwt.Expected{Issuer: v.cfg.Issuer, AnyAudience: jwt.Audience{v.cfg.Audience}, Time: v.cfg.Now()}, v.cfg.Leeway)
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return unauthenticated("it has expired")
	case err != nil:
		return unauthenticated(err.Error())
	}
	p := Principal{Role: private.Role, ID: registered.Subject}
	if err := p.Validate(); err != nil {
		return unauthenticated("it names no valid principal (" + ordersaga.ErrorMessage(err) + ")")
	}
	v.verified.Add(token, verified{principal: p, expiry: registered.Expiry.Time()})
	return p, nil
}

// key finds the key a token names; a token that names none may use the only key.
func (v *Verifier) key(id string) (jose.JSONWebKey, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if id == "" {
		if len(v.keys.Keys) == 1 {
			return v.keys.Keys[0], true
		}
		return jose.JSONWebKey{}, false
	}
	keys := v.keys.Key(id)
	if len(keys) == 0 {
		return jose.JSONWebKey{}, false
	}
	return keys[0], true
}

// Signer issues tokens: what an identity provider does for a real deployment, and what
// `ordersaga token` does for dev.
type Signer struct {
	signer           jose.Signer
	issuer, audience string
}

// NewSigner returns a Signer with the private key key.
func NewSigner(key jose.JSONWebKey, issuer, audience string) (*Signer, error) {
	if key.IsPublic() {
		return nil, errors.New("auth: a signer needs a private key")
	}
	if audience == "" {
		audience = DefaultAudience
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.Algorithm), Key: key},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return &Signer{signer: signer, issuer: issuer, audience: audience}, nil
}

// Token returns a token naming p, valid for ttl.
func (s *Signer) Token(p Principal, ttl time.Duration) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	now := time.Now()
	return jwt.Signed(s.signer).Claims(jwt.Claims{Issuer: s.issuer, Audience: jwt.Audience{s.audience}, Subject: p.ID,
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(ttl))}).
		Claims(claims{Role: p.Role}).Serialize()
}

// NewKey returns a new ES256 signing key, named by its thumbprint.
func NewKey() (jose.JSONWebKey, error) {
	private, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("auth: %w", err)
	}
	key := jose.JSONWebKey{Key: private, Algorithm: string(jose.ES256), Use: "sig"}
	thumb, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("auth: %w", err)
	}
	key.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	return key, nil
}

// PublicKeySet is the key set that publishes key's public half.
func PublicKeySet(key jose.JSONWebKey) jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{key.Public()}}
}

// ReadKeySet reads a JSON Web Key Set file.
func ReadKeySet(path string) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	raw, err := os.ReadFile(path)
	if err != nil {
		return set, fmt.Errorf("auth: %w", err)
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return set, fmt.Errorf("auth: %s is not a JSON Web Key Set: %w", path, err)
	}
	return set, nil
}

// Key files in a key directory (WriteKeys, ReadSigningKey).
const (
	SigningKeyFile = "signing-key.json"
	KeySetFile     = "jwks.json"
)

// WriteKeys writes a new signing key into dir (readable by its owner only) and the key set
// that publishes it beside it, unless dir holds a signing key already; it returns the
// signing key either way.
func WriteKeys(dir string) (jose.JSONWebKey, error) {
	if key, err := ReadSigningKey(dir); err == nil {
		return key, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return jose.JSONWebKey{}, err
	}
	key, err := NewKey()
	if err != nil {
		return key, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return key, fmt.Errorf("auth: %w", err)
	}
	private, err := json.Marshal(key)
	if err != nil {
		return key, fmt.Errorf("auth: %w", err)
	}
	public, err := json.Marshal(PublicKeySet(key))
	if err != nil {
		return key, fmt.Errorf("auth: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, KeySetFile), public, 0o644); err != nil {
		return key, fmt.Errorf("auth: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, SigningKeyFile), private, 0o600); err != nil {
		return key, fmt.Errorf("auth: %w", err)
	}
	return key, nil
}

// ReadSigningKey reads the signing key WriteKeys wrote into dir.
func ReadSigningKey(dir string) (jose.JSONWebKey, error) {
	var key jose.JSONWebKey
	raw, err := os.ReadFile(filepath.Join(dir, SigningKeyFile))
	if err != nil {
		return key, err
	}
	if err := json.Unmarshal(raw, &key); err != nil || key.IsPublic() {
		return key, fmt.Errorf("auth: %s is not a private JSON Web Key", filepath.Join(dir, SigningKeyFile))
	}
	return key, nil
}
