package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// serverTLSFlags are the api role's TLS settings.
type serverTLSFlags struct {
	cert, key, clientCA string
	insecure            bool
}

func (t *serverTLSFlags) register(f envFlags) {
	f.String(&t.cert, "tls-cert", "ORDERSAGA_TLS_CERT", "", "certificate (PEM) the API serves TLS with")
	f.String(&t.key, "tls-key", "ORDERSAGA_TLS_KEY", "", "private key (PEM) of --tls-cert")
	f.String(&t.clientCA, "tls-client-ca", "ORDERSAGA_TLS_CLIENT_CA", "",
		"CA (PEM) whose client certificates name their caller (mutual TLS: OU = role, CN = id); tokens still work")
	f.Bool(&t.insecure, "insecure", "ORDERSAGA_INSECURE", false,
		"serve plaintext on an address that is not loopback (behind a proxy that terminates TLS, say)")
}

// config is the server's TLS, or nil without a certificate.
func (t serverTLSFlags) config() (*tls.Config, error) {
	if t.cert == "" && t.key == "" {
		if t.clientCA != "" {
			return nil, errors.New("--tls-client-ca needs --tls-cert and --tls-key")
		}
		return nil, nil
	}
	pair, err := tls.LoadX509KeyPair(t.cert, t.key)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	if t.clientCA != "" {
		if cfg.ClientCAs, err = certPool(t.clientCA); err != nil {
			return nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// clientTLSFlags are how a client reaches an API served over TLS.
type clientTLSFlags struct {
	ca, cert, key, serverName string
}

func (t *clientTLSFlags) register(f envFlags) {
	f.String(&t.ca, "tls-ca", "ORDERSAGA_API_CA", "", "CA (PEM) to verify the API's certificate with; setting any --tls-* flag calls over TLS")
	f.String(&t.cert, "tls-cert", "ORDERSAGA_API_CERT", "", "client certificate (PEM) for mutual TLS")
	f.String(&t.key, "tls-key", "ORDERSAGA_API_KEY", "", "private key (PEM) of --tls-cert")
	f.String(&t.serverName, "tls-server-name", "ORDERSAGA_API_SERVER_NAME", "", "name to verify the API's certificate against (default: --api's host)")
}

// config is the client's TLS, or nil for plaintext.
func (t clientTLSFlags) config() (*tls.Config, error) {
	if t == (clientTLSFlags{}) {
		return nil, nil
	}
	cfg := &tls.Config{ServerName: t.serverName, MinVersion: tls.VersionTLS12}
	if t.ca != "" {
		pool, err := certPool(t.ca)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		cfg.RootCAs = pool
	}
	if t.cert != "" || t.key != "" {
		pair, err := tls.LoadX509KeyPair(t.cert, t.key)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// certPool reads the PEM certificates of path.
func certPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
