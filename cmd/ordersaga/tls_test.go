package main

import (
	"context"
	"crypto/x509/pkix"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/internal/syncbuf"
	"github.com/ordersaga/ordersaga/internal/testpki"
)

// TestTheAPIOverTLSKnowsClientsByCertificate serves the api role over TLS with a client
// CA: the CLI with the right CA and a customer's certificate acts as that customer, and is
// refused another's orders; with another CA it fails and says to check --tls-ca.
func TestTheAPIOverTLSKnowsClientsByCertificate(t *testing.T) {
	ca, stranger := testpki.New(t, "ordersaga"), testpki.New(t, "stranger")
	serverCert, serverKey := ca.Issue("server", pkix.Name{CommonName: "api"}, net.ParseIP("127.0.0.1"))
	aliceCert, aliceKey := ca.Issue("alice", pkix.Name{OrganizationalUnit: []string{"customer"}, CommonName: "alice"}, nil)
	env, _ := apiKeys(t)
	env["DATABASE_URL"], env["TEMPORAL_ADDRESS"] = dbtest.NewDatabase(t), startTemporal(t)
	addr := freeAddr(t)
	stop, out := start(t, env, "api", "--grpc-addr", addr, "--tls-cert", serverCert, "--tls-key", serverKey,
		"--tls-client-ca", ca.CAFile)
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("api did not stop cleanly: %v\n%s", err, out)
		}
	}()
	asAlice := []string{"--api", addr, "--tls-ca", ca.CAFile, "--tls-cert", aliceCert, "--tls-key", aliceKey}
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
	wrongCA := []string{"--api", addr, "--tls-ca", stranger.CAFile, "--tls-cert", aliceCert, "--tls-key", aliceKey}
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
	m := &Main{Stdout: &syncbuf.Buffer{}, Stderr: &syncbuf.Buffer{}, Getenv: func(k string) string { return env[k] }}
	if err := m.ParseFlags([]string{"api", "--grpc-addr", "0.0.0.0:" + port}); err != nil {
		t.Fatal(err)
	}
	err := m.Run(context.Background())
	m.Close()
	if err == nil || !strings.Contains(err.Error(), "without TLS") || !strings.Contains(err.Error(), "--insecure") {
		t.Errorf("plaintext on 0.0.0.0: %v, want a refusal naming --tls-cert and --insecure", err)
	}
}
