package system

import (
	"path/filepath"

	"github.com/ordersaga/ordersaga/auth"
)

// DevIssuer is the issuer of the tokens dev's key signs.
const DevIssuer = "ordersaga-dev"

// DevKeyDir is where dev keeps its token signing key and the key set that publishes it.
func DevKeyDir(dataDir string) string { return filepath.Join(dataDir, "auth") }

// DevVerifier creates dev's signing key in dataDir unless it is there, and returns the
// verifier that trusts it.
func DevVerifier(dataDir string) (*auth.Verifier, error) {
	key, err := auth.WriteKeys(DevKeyDir(dataDir))
	if err != nil {
		return nil, err
	}
	return auth.NewVerifier(auth.VerifierConfig{Keys: auth.PublicKeySet(key), Issuer: DevIssuer})
}

// DevSigner returns a signer with dev's key in dataDir, for `ordersaga token` and the
// CLI's own credentials next to a running dev.
func DevSigner(dataDir string) (*auth.Signer, error) {
	key, err := auth.ReadSigningKey(DevKeyDir(dataDir))
	if err != nil {
		return nil, err
	}
	return auth.NewSigner(key, DevIssuer, auth.DefaultAudience)
}
