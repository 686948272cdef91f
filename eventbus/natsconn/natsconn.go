// Package natsconn is how both bus adapters authenticate to NATS and secure the
// connection: credentials (a user and password, a token, an NKey seed or a creds file) and
// TLS (a CA to verify the server, a client certificate for mutual TLS).
package natsconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/nats-io/nats.go"
)

// Config says who connects to NATS, and over what. Its zero value connects anonymously
// in plaintext (a server on loopback, as dev's).
type Config struct {
	// User and Password, or Token, or NKeySeedFile, or CredsFile (a JWT and NKey, as NATS
	// accounts issue): at most one kind of credential.
	User, Password string
	Token          string
	NKeySeedFile   string
	CredsFile      string
	// CAFile verifies the server's certificate; CertFile and KeyFile are this client's
	// certificate for mutual TLS. Any of them connects over TLS (at least 1.2).
	CAFile, CertFile, KeyFile string
}

// Validate reports credentials that cannot go together.
func (c Config) Validate() error {
	kinds := 0
	for _, set := range []bool{c.User != "" || c.Password != "", c.Token != "", c.NKeySeedFile != "", c.CredsFile != ""} {
		if set {
			kinds++
		}
	}
	switch {
	case kinds > 1:
		return errors.New("natsconn: give one kind of NATS credential: user and password, a token, an NKey seed or a creds file")
	case (c.User == "") != (c.Password == ""):
		return errors.New("natsconn: a NATS user needs a password, and a password a user")
	case (c.CertFile == "") != (c.KeyFile == ""):
		return errors.New("natsconn: a NATS client certificate needs its key, and a key its certificate")
	}
	return nil
}

// Options are the nats.go options of c.
func (c Config) Options() ([]nats.Option, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var opts []nats.Option
	switch {
	case c.User != "":
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	case c.Token != "":
		opts = append(opts, nats.Token(c.Token))
	case c.NKeySeedFile != "":
		opt, err := nats.NkeyOptionFromSeed(c.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("natsconn: NKey seed %s: %w", c.NKeySeedFile, err)
		}
		opts = append(opts, opt)
	case c.CredsFile != "":
		if _, err := os.Stat(c.CredsFile); err != nil {
			return nil, fmt.Errorf("natsconn: creds file: %w", err)
		}
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.CAFile == "" && c.CertFile == "" {
		return opts, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("natsconn: CA: %w", err)
		}
		t.RootCAs = x509.NewCertPool()
		if !t.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("natsconn: %s holds no PEM certificate", c.CAFile)
		}
	}
	if c.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("natsconn: client certificate: %w", err)
		}
		t.Certificates = []tls.Certificate{pair}
	}
	return append(opts, nats.Secure(t)), nil
}
