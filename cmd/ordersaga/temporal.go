package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"

	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/ordersaga/ordersaga/activities"
	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/payments"
	"github.com/ordersaga/ordersaga/relay"
	"github.com/ordersaga/ordersaga/sqldb"
	"github.com/ordersaga/ordersaga/worker"
)

// temporalFlags say where Temporal is.
type temporalFlags struct {
	address, namespace          string
	tlsCert, tlsKey, tlsCA, sni string
	gzip                        bool
}

func (f *temporalFlags) register(fs *flag.FlagSet, env func(string) string) {
	fs.StringVar(&f.address, "temporal-address", envOr(env, "TEMPORAL_ADDRESS", "127.0.0.1:7233"), "Temporal frontend host:port (env TEMPORAL_ADDRESS)")
	fs.StringVar(&f.namespace, "temporal-namespace", envOr(env, "TEMPORAL_NAMESPACE", "default"), "Temporal namespace (env TEMPORAL_NAMESPACE)")
	fs.StringVar(&f.tlsCert, "temporal-tls-cert", env("TEMPORAL_TLS_CERT"), "client certificate for mTLS (env TEMPORAL_TLS_CERT)")
	fs.StringVar(&f.tlsKey, "temporal-tls-key", env("TEMPORAL_TLS_KEY"), "client key for mTLS (env TEMPORAL_TLS_KEY)")
	fs.StringVar(&f.tlsCA, "temporal-tls-ca", env("TEMPORAL_TLS_CA"), "CA certificate to verify the server with (env TEMPORAL_TLS_CA)")
	fs.StringVar(&f.sni, "temporal-tls-server-name", env("TEMPORAL_TLS_SERVER_NAME"), "server name to verify (env TEMPORAL_TLS_SERVER_NAME)")
	fs.BoolVar(&f.gzip, "temporal-gzip", env("TEMPORAL_GZIP") == "true", "gzip requests to Temporal: for slow links such as Temporal Cloud across regions; on a local network it only costs CPU (env TEMPORAL_GZIP=true)")
}

// config builds the worker configuration, with TLS when any TLS flag is set.
func (f *temporalFlags) config(logger *slog.Logger) (worker.Config, error) {
	cfg := worker.Config{HostPort: f.address, Namespace: f.namespace, Logger: logger, Gzip: f.gzip}
	if f.tlsCert == "" && f.tlsKey == "" && f.tlsCA == "" && f.sni == "" {
		return cfg, nil
	}
	t := &tls.Config{ServerName: f.sni, MinVersion: tls.VersionTLS12}
	if f.tlsCert != "" || f.tlsKey != "" {
		pair, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return cfg, fmt.Errorf("--temporal-tls-cert/--temporal-tls-key: %w", err)
		}
		t.Certificates = []tls.Certificate{pair}
	}
	if f.tlsCA != "" {
		pem, err := os.ReadFile(f.tlsCA)
		if err != nil {
			return cfg, fmt.Errorf("--temporal-tls-ca: %w", err)
		}
		t.RootCAs = x509.NewCertPool()
		if !t.RootCAs.AppendCertsFromPEM(pem) {
			return cfg, errors.New("--temporal-tls-ca: no certificate found")
		}
	}
	cfg.TLS = t
	return cfg, nil
}

// workerRole runs the saga worker and the outbox relay.
type workerRole struct {
	db       databaseFlags
	pprof    pprofFlag
	bus      busFlags
	temporal temporalFlags
	conns
}

func (r *workerRole) flags(fs *flag.FlagSet, env func(string) string) {
	r.db.register(fs, env)
	r.bus.register(fs, env, "worker")
	r.temporal.register(fs, env)
	r.pprof.register(fs, env)
}

func (r *workerRole) run(ctx context.Context, m *Main) error {
	logger := m.logger(false, r.db.logLevel)
	if err := r.conns.open(ctx, logger, &r.db, &r.bus, &r.temporal); err != nil {
		return err
	}
	go r.pprof.serve(ctx, logger)
	return runWorker(ctx, logger, r.temporalClient, r.pool, r.conn)
}

// dial connects to Temporal, waiting for it.
func (f *temporalFlags) dial(ctx context.Context, logger *slog.Logger) (client.Client, error) {
	cfg, err := f.config(logger.With("component", "temporal"))
	if err != nil {
		return nil, err
	}
	return worker.Dial(ctx, cfg)
}

// runWorker runs the worker, the marker that takes what its activities published off the
// outbox, and the relay, until ctx ends.
func runWorker(ctx context.Context, logger *slog.Logger, c client.Client, db *sqldb.DB, bus eventbus.Bus) error {
	store := eventstore.New(db)
	marker := relay.NewMarker(store, 0, logger.With("component", "outbox-marker"))
	acts := &activities.Activities{Store: store, Bus: bus, Published: marker, Accounts: payments.NewAccountCache(0)}
	g, ctx := errgroup.WithContext(ctx)
	// The marker outlives the worker, so that its last flush covers the last activities.
	markerCtx, stopMarker := context.WithCancel(context.WithoutCancel(ctx))
	g.Go(func() error { return marker.Run(markerCtx) })
	g.Go(func() error {
		defer stopMarker()
		return worker.Run(ctx, c, acts, logger)
	})
	g.Go(func() error { return runRelay(ctx, logger, db, bus) })
	return g.Wait()
}

// splitHostPort splits "host:port" into its parts.
func splitHostPort(addr string) (string, int, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port <= 0 {
		return "", 0, fmt.Errorf("bad port in %q", addr)
	}
	return host, port, nil
}
