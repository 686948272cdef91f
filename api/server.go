// Package api serves ordersaga over gRPC: OrderService (orders and accounts, for customers,
// restaurants and operators), EventStoreService (the classic demo's event store contract,
// plus batched appends and paged reads; operators only), the standard health service and
// server reflection. Every call but health and reflection carries a bearer token (see
// TokenVerifier); each handler asks package auth's policy what its caller may do. Handlers
// return application errors; one interceptor turns them into gRPC statuses (see Status).
package api

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"runtime/debug"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	lru "github.com/hashicorp/golang-lru/v2"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc/filters"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/ordersaga/ordersaga"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/internal/instrument"
)

// Config configures the gRPC server.
type Config struct {
	// Tokens authenticates every call but health checks and reflection. Required.
	Tokens TokenVerifier
	// Store backs EventStoreService. Required.
	Store EventStore
	// Sagas, ReadModels, Accounts and Menus back OrderService, which is served when all
	// four are set.
	Sagas      Sagas
	ReadModels ReadModels
	Accounts   Accounts
	Menus      Menus
	// Logger receives one line per failed call; nil discards.
	Logger *slog.Logger
	// DefaultTimeout bounds calls that arrive without a deadline. Default 30s.
	DefaultTimeout time.Duration
	// MaxMessageBytes bounds request and response messages. Default 4 MiB, enough for the
	// largest append the store accepts.
	MaxMessageBytes int
	// MaxStreams bounds the calls in flight on one connection. Default 100.
	MaxStreams uint32
	// MaxConnectionAge closes a connection this long after it opened (clients reconnect,
	// and spread over the servers behind a balancer); calls in flight get a minute more.
	// Default 30 minutes.
	MaxConnectionAge time.Duration
	// MaxWatch ends a WatchOrder stream this long after it began; the client resubscribes.
	// Default 10 minutes.
	MaxWatch time.Duration
	// Reflection serves gRPC server reflection, for tools such as grpcurl.
	Reflection bool
	// TLS, when set, serves over TLS (at least 1.2); with ClientCAs and a ClientAuth that
	// verifies them, a client certificate names its caller (auth.FromCertificate).
	TLS *tls.Config
	// Meters and Tracers, when set, receive every call's metrics and span (otelgrpc; the
	// span continues the caller's trace). Health checks are not traced.
	Meters  metric.MeterProvider
	Tracers trace.TracerProvider
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.Store == nil || c.Tokens == nil {
		return errors.New("api: Store and Tokens are required")
	}
	if c.DefaultTimeout < 0 || c.MaxMessageBytes < 0 || c.MaxConnectionAge < 0 || c.MaxWatch < 0 {
		return errors.New("api: timeouts, ages and sizes must not be negative")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.DefaultTimeout == 0 {
		c.DefaultTimeout = 30 * time.Second
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 4 << 20
	}
	if c.MaxStreams == 0 {
		c.MaxStreams = 100
	}
	if c.MaxConnectionAge == 0 {
		c.MaxConnectionAge = 30 * time.Minute
	}
	if c.MaxWatch == 0 {
		c.MaxWatch = 10 * time.Minute
	}
	return c
}

// Server is the gRPC server with every ordersaga service registered.
type Server struct {
	grpc   *grpc.Server
	health *health.Server
}

// NewServer builds the server; call Serve to accept connections.
func NewServer(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	recover := recovery.WithRecoveryHandler(func(p any) error {
		cfg.Logger.Error("a handler panicked", "panic", p, "stack", string(debug.Stack()))
		return ordersaga.Errorf(ordersaga.EINTERNAL, "internal error")
	})
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(cfg.MaxMessageBytes),
		grpc.MaxSendMsgSize(cfg.MaxMessageBytes),
		grpc.MaxConcurrentStreams(cfg.MaxStreams),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionAge: cfg.MaxConnectionAge, MaxConnectionAgeGrace: time.Minute}),
		grpc.ChainUnaryInterceptor(unaryErrors(cfg.Logger, cfg.DefaultTimeout), recovery.UnaryServerInterceptor(recover), unaryAuth(cfg.Tokens)),
		grpc.ChainStreamInterceptor(streamErrors(cfg.Logger), recovery.StreamServerInterceptor(recover), streamAuth(cfg.Tokens)),
	}
	if cfg.Meters != nil || cfg.Tracers != nil {
		opts = append(opts, grpc.StatsHandler(otelgrpc.NewServerHandler(InstrumentOptions(cfg.Meters, cfg.Tracers)...)))
	}
	if cfg.TLS != nil {
		t := cfg.TLS.Clone()
		t.MinVersion = max(t.MinVersion, tls.VersionTLS12)
		opts = append(opts, grpc.Creds(credentials.NewTLS(t)))
	}
	g := grpc.NewServer(opts...)
	ordersagav1.RegisterEventStoreServiceServer(g, &eventStoreServer{store: cfg.Store})
	h := health.NewServer()
	healthpb.RegisterHealthServer(g, h)
	h.SetServingStatus(ordersagav1.EventStoreService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	if cfg.Sagas != nil && cfg.ReadModels != nil && cfg.Accounts != nil && cfg.Menus != nil {
		parties, _ := lru.New[string, orderParties](keptOrderParties) // errs only for a size <= 0
		ordersagav1.RegisterOrderServiceServer(g, &orderServer{sagas: cfg.Sagas, reads: cfg.ReadModels, accounts: cfg.Accounts, menus: cfg.Menus,
			store: cfg.Store, maxWatch: cfg.MaxWatch, parties: parties})
		h.SetServingStatus(ordersagav1.OrderService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	}
	if cfg.Reflection {
		reflection.Register(g)
	}
	return &Server{grpc: g, health: h}, nil
}

// Serve accepts connections on lis until Stop; it returns nil after a graceful stop.
func (s *Server) Serve(lis net.Listener) error {
	err := s.grpc.Serve(lis)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Stop reports NOT_SERVING to health checks, lets calls in flight finish until ctx ends,
// then closes every connection.
func (s *Server) Stop(ctx context.Context) {
	s.health.Shutdown()
	done := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.grpc.Stop()
	}
}

// streamErrors converts a streaming call's error with Status.
func streamErrors(logger *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return Status(logger, info.FullMethod, handler(srv, ss))
	}
}

// unaryErrors gives every call a deadline and converts its error with Status.
func unaryErrors(logger *slog.Logger, timeout time.Duration) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		resp, err := handler(ctx, req)
		return resp, Status(logger, info.FullMethod, err)
	}
}

// InstrumentOptions are otelgrpc's options for the API's server and its clients: the
// providers given (nil: none), W3C trace context, and no spans for health checks.
func InstrumentOptions(meters metric.MeterProvider, tracers trace.TracerProvider) []otelgrpc.Option {
	if meters == nil {
		meters = metricnoop.NewMeterProvider()
	}
	if tracers == nil {
		tracers = tracenoop.NewTracerProvider()
	}
	return []otelgrpc.Option{otelgrpc.WithMeterProvider(meters), otelgrpc.WithTracerProvider(tracers),
		otelgrpc.WithPropagators(instrument.Propagator()), otelgrpc.WithFilter(filters.Not(filters.HealthCheck()))}
}
