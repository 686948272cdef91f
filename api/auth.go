package api

import (
	"context"
	"crypto/x509"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/auth"
)

// TokenVerifier checks a bearer token and says whose it is (auth.Verifier).
type TokenVerifier interface {
	// Verify: EUNAUTHENTICATED.
	Verify(token string) (auth.Principal, error)
}

// public says whether a method needs no credentials: health checks and server reflection,
// so that load balancers and tools such as grpcurl keep working.
func public(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/") || strings.HasPrefix(fullMethod, "/grpc.reflection.")
}

// authenticate returns ctx carrying the caller's principal, from its "authorization:
// Bearer <token>" header or, without one, from the client certificate the TLS handshake
// verified; or an EUNAUTHENTICATED error.
func authenticate(ctx context.Context, v TokenVerifier, fullMethod string) (context.Context, error) {
	if public(fullMethod) {
		return ctx, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get("authorization")
	if len(values) == 0 {
		if cert := verifiedClientCertificate(ctx); cert != nil {
			p, err := auth.FromCertificate(cert)
			if err != nil {
				return ctx, err
			}
			return auth.WithPrincipal(ctx, p), nil
		}
	}
	if len(values) != 1 {
		return ctx, ordersaga.Errorf(ordersaga.EUNAUTHENTICATED, "no credentials: send one header authorization: Bearer <token>, or a client certificate")
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ctx, ordersaga.Errorf(ordersaga.EUNAUTHENTICATED, "the authorization header is not Bearer <token>")
	}
	p, err := v.Verify(strings.TrimSpace(token))
	if err != nil {
		return ctx, err
	}
	return auth.WithPrincipal(ctx, p), nil
}

// verifiedClientCertificate returns the client certificate that the TLS handshake verified
// against the server's client CA, or nil.
func verifiedClientCertificate(ctx context.Context) *x509.Certificate {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return nil
	}
	return info.State.VerifiedChains[0][0]
}

// unaryAuth authenticates every unary call.
func unaryAuth(v TokenVerifier) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := authenticate(ctx, v, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// streamAuth authenticates every streaming call.
func streamAuth(v TokenVerifier) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := authenticate(ss.Context(), v, info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, authenticatedStream{ServerStream: ss, ctx: ctx})
	}
}

// authenticatedStream is a server stream whose context carries the caller's principal.
type authenticatedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s authenticatedStream) Context() context.Context { return s.ctx }

// BearerToken is a client's per-call credential: it sends "authorization: Bearer <Token>"
// with every call. AllowInsecure lets it travel without TLS (to an API on loopback).
type BearerToken struct {
	Token         string
	AllowInsecure bool
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (b BearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.Token}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (b BearerToken) RequireTransportSecurity() bool { return !b.AllowInsecure }

// SignedTokens is the per-call credential of a client that holds a signing key (dev's, or
// a service's own): it signs a token naming Principal, valid for TTL, and signs a new one
// when less than a quarter of that is left. AllowInsecure lets it travel without TLS.
type SignedTokens struct {
	Signer        *auth.Signer
	Principal     auth.Principal
	TTL           time.Duration
	AllowInsecure bool

	mu      sync.Mutex
	token   string
	renewAt time.Time
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (s *SignedTokens) GetRequestMetadata(ctx context.Context, uri ...string) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token == "" || time.Now().After(s.renewAt) {
		token, err := s.Signer.Token(s.Principal, s.TTL)
		if err != nil {
			return nil, err
		}
		s.token, s.renewAt = token, time.Now().Add(s.TTL*3/4)
	}
	return BearerToken{Token: s.token}.GetRequestMetadata(ctx, uri...)
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (s *SignedTokens) RequireTransportSecurity() bool { return !s.AllowInsecure }
