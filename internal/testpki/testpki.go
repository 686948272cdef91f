// Package testpki makes throwaway certificates for TLS tests: a CA, and server and client
// certificates it signs, written as PEM files into the test's temporary directory.
package testpki

import (
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
	"testing"
	"time"
)

// CA is a certificate authority of a test: its PEM file is CAFile.
type CA struct {
	// CAFile is the CA certificate, PEM.
	CAFile string
	t      *testing.T
	dir    string
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
}

// New makes a CA named name for t.
func New(t *testing.T, name string) *CA {
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
	p := &CA{t: t, dir: t.TempDir(), cert: cert, key: key}
	p.CAFile = p.write(name+"-ca.pem", "CERTIFICATE", der)
	return p
}

func (p *CA) write(name, kind string, der []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// Issue signs a certificate for subject (a server at ip, or a client named by its OU and
// CN when ip is nil) and returns the paths of the certificate and its key.
func (p *CA) Issue(name string, subject pkix.Name, ip net.IP) (cert, key string) {
	p.t.Helper()
	return p.issue(name, subject, ip, time.Now().Add(time.Hour))
}

// IssueExpired signs a client certificate for subject that expired a minute ago.
func (p *CA) IssueExpired(name string, subject pkix.Name) (cert, key string) {
	p.t.Helper()
	return p.issue(name, subject, nil, time.Now().Add(-time.Minute))
}

func (p *CA) issue(name string, subject pkix.Name, ip net.IP, notAfter time.Time) (cert, key string) {
	p.t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
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

// Server is the subject of a server certificate.
func Server() pkix.Name { return pkix.Name{CommonName: "server"} }
