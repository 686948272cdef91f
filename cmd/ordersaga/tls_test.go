package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/dbtest"
)

// pki makes certificates for a TLS test: a CA, and certificates it signs.
type pki struct {
	t    *testing.T
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// newPKI makes a CA and writes it to dir/name-ca.pem.
func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	p := &pki{t: t, dir: t.TempDir(), cert: cert, key: key}
	p.write(name+"-ca.pem", "CERTIFICATE", der)
	return p
}

func (p *pki) write(name, kind string, der []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// issue signs a certificate for subject (a server's IP, or a client's OU and CN) and
// returns the paths of the certificate and its key.
func (p *pki) issue(name string, subject pkix.Name, ip net.IP) (cert, key string) {
	p.t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	if ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &k.PublicKey, p.key)
	if err != nil {
		p.t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		p.t.Fatal(err)
	}
	return p.write(name+".pem", "CERTIFICATE", der), p.write(name+"-key.pem", "EC PRIVATE KEY", keyDER)
}

// TestTheAPIOverTLSKnowsClientsByCertificate serves the api role over TLS with a client
// CA: the CLI with the right CA and a customer's certificate acts as that customer, and is
// refused another's orders; with another CA it fails and says to check --tls-ca.
func TestTheAPIOverTLSKnowsClientsByCertificate(t *testing.T) {
	ca, stranger := newPKI(t, "ordersaga"), newPKI(t, "stranger")
	serverCert, serverKey := ca.issue("server", pkix.Name{CommonName: "api"}, net.ParseIP("127.0.0.1"))
	aliceCert, aliceKey := ca.issue("alice", pkix.Name{OrganizationalUnit: []string{"customer"}, CommonName: "alice"}, nil)
	env, _ := apiKeys(t)
	env["DATABASE_URL"], env["TEMPORAL_ADDRESS"] = dbtest.NewDatabase(t), startTemporal(t)
	addr := freeAddr(t)
	stop, out := start(t, env, "api", "--grpc-addr", addr, "--tls-cert", serverCert, "--tls-key", serverKey,
		"--tls-client-ca", filepath.Join(ca.dir, "ordersaga-ca.pem"))
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("api did not stop cleanly: %v\n%s", err, out)
		}
	}()
	asAlice := []string{"--api", addr, "--tls-ca", filepath.Join(ca.dir, "ordersaga-ca.pem"), "--tls-cert", aliceCert, "--tls-key", aliceKey}
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := cli(t, append([]string{"health"}, asAlice...)...)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the TLS API never answered: %v\n%s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got, err := cli(t, append([]string{"order", "list"}, asAlice...)...); err != nil {
		t.Errorf("alice listing her orders over mutual TLS: %v\n%s", err, got)
	}
	if _, err := cli(t, append([]string{"order", "list", "--customer", "bob"}, asAlice...)...); err == nil || !strings.Contains(err.Error(), "not yours") {
		t.Errorf("alice listing bob's orders: %v, want a refusal", err)
	}
	wrongCA := []string{"--api", addr, "--tls-ca", filepath.Join(stranger.dir, "stranger-ca.pem"), "--tls-cert", aliceCert, "--tls-key", aliceKey}
	if _, err := cli(t, append([]string{"order", "list", "--timeout", "5s"}, wrongCA...)...); err == nil || !strings.Contains(err.Error(), "--tls-ca") {
		t.Errorf("with another CA: %v, want an error that says to check --tls-ca", err)
	}
}

// TestTheAPIRefusesPlaintextBeyondLoopback starts the api role on every interface without
// a certificate: it refuses, and says how to serve.
func TestTheAPIRefusesPlaintextBeyondLoopback(t *testing.T) {
	env, _ := apiKeys(t)
	env["DATABASE_URL"], env["TEMPORAL_ADDRESS"] = dbtest.NewDatabase(t), startTemporal(t)
	_, port, _ := net.SplitHostPort(freeAddr(t))
	m := &Main{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, Getenv: func(k string) string { return env[k] }}
	if err := m.ParseFlags([]string{"api", "--grpc-addr", "0.0.0.0:" + port}); err != nil {
		t.Fatal(err)
	}
	err := m.Run(context.Background())
	m.Close()
	if err == nil || !strings.Contains(err.Error(), "without TLS") || !strings.Contains(err.Error(), "--insecure") {
		t.Errorf("plaintext on 0.0.0.0: %v, want a refusal naming --tls-cert and --insecure", err)
	}
}
