package system

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ordersaga/ordersaga/auth"
	"github.com/ordersaga/ordersaga/natsembed"
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

// DevNATSUsers are the NATS users of dev's embedded server: the writer (the worker and
// its relay) may publish events, the reader (projectors, the restaurant simulator) may
// only receive them.
type DevNATSUsers struct {
	Writer natsembed.Credentials `json:"writer"`
	Reader natsembed.Credentials `json:"reader"`
}

// devNATSUsersFile is where dev keeps them, readable by its owner only.
func devNATSUsersFile(dataDir string) string { return filepath.Join(dataDir, "nats-users.json") }

// ReadDevNATSUsers returns the NATS users of dev's server in dataDir, making them (with
// random passwords) the first time.
func ReadDevNATSUsers(dataDir string) (DevNATSUsers, error) {
	var users DevNATSUsers
	raw, err := os.ReadFile(devNATSUsersFile(dataDir))
	switch {
	case err == nil:
		if err := json.Unmarshal(raw, &users); err != nil || users.Writer.Password == "" || users.Reader.Password == "" {
			return users, fmt.Errorf("%s is not dev's NATS users (delete it to make new ones): %v", devNATSUsersFile(dataDir), err)
		}
		return users, nil
	case !errors.Is(err, os.ErrNotExist):
		return users, err
	}
	users = DevNATSUsers{Writer: natsembed.Credentials{User: "ordersaga-writer", Password: rand.Text()},
		Reader: natsembed.Credentials{User: "ordersaga-reader", Password: rand.Text()}}
	raw, _ = json.MarshalIndent(users, "", "  ")
	return users, os.WriteFile(devNATSUsersFile(dataDir), raw, 0o600)
}
