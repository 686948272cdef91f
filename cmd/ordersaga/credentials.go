package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/ordersaga/ordersaga/api"
	"github.com/ordersaga/ordersaga/auth"
	"github.com/ordersaga/ordersaga/internal/system"
	"github.com/ordersaga/ordersaga/probes"
)

// apiFlags say where the API is and who calls it.
type apiFlags struct {
	addr, token    string
	keyDir, issuer string
	tls            clientTLSFlags
}

func (a *apiFlags) register(f envFlags) {
	f.String(&a.addr, "api", "ORDERSAGA_API", "127.0.0.1:50051", "gRPC address of the ordersaga API")
	f.Secret(&a.token, "token", "ORDERSAGA_TOKEN",
		"bearer token to call the API with (default: an operator token signed with the key of ordersaga dev in ./.ordersaga, if there is one)")
	f.String(&a.keyDir, "key-dir", "ORDERSAGA_KEY_DIR", "",
		"sign operator tokens with the key in this directory instead of passing --token (default: dev's, in ./.ordersaga/auth)")
	f.String(&a.issuer, "token-issuer", "ORDERSAGA_TOKEN_ISSUER", system.DevIssuer, "issuer of the tokens signed with --key-dir's key")
	a.tls.register(f)
}

// dataDir is dev's data directory as the client commands look for it.
func (m *Main) dataDir() string { return cmp.Or(m.Getenv("ORDERSAGA_DATA_DIR"), defaultDataDir) }

// dialAPI connects to the API with the caller's token, or dev's operator credentials when
// it has none; Close closes the connection.
func (m *Main) dialAPI(a apiFlags) (*grpc.ClientConn, error) {
	tlsConfig, err := a.tls.config()
	if err != nil {
		return nil, err
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if tlsConfig != nil {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig))}
	}
	// A token names the caller, or tokens signed with a key at hand, or else a client
	// certificate alone.
	switch signer, err := m.signer(a); {
	case a.token != "":
		opts = append(opts, grpc.WithPerRPCCredentials(api.BearerToken{Token: a.token, AllowInsecure: tlsConfig == nil}))
	case err != nil:
		return nil, err
	case signer != nil && (tlsConfig == nil || len(tlsConfig.Certificates) == 0):
		opts = append(opts, grpc.WithPerRPCCredentials(&api.SignedTokens{Signer: signer,
			Principal: auth.Principal{Role: auth.Operator, ID: "cli"}, TTL: time.Hour, AllowInsecure: tlsConfig == nil}))
	}
	if m.tel != nil {
		opts = append(opts, grpc.WithStatsHandler(otelgrpc.NewClientHandler(api.InstrumentOptions(m.tel.Meters, m.tel.Tracers)...)))
	}
	conn, err := grpc.NewClient(a.addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("--api %q: %w", a.addr, err)
	}
	m.onClose(conn.Close)
	return conn, nil
}

// signer is the signer of a.keyDir's key, else of dev's key if there is one here; nil
// when there is neither.
func (m *Main) signer(a apiFlags) (*auth.Signer, error) {
	dir := a.keyDir
	if dir == "" {
		dir = system.DevKeyDir(m.dataDir())
	}
	key, err := auth.ReadSigningKey(dir)
	switch {
	case errors.Is(err, os.ErrNotExist) && a.keyDir == "":
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("--key-dir: %w", err)
	}
	return auth.NewSigner(key, a.issuer, auth.DefaultAudience)
}

// explain says in words why a call to the API at addr failed, when that is not the API's
// answer to the call itself: it could not be reached, or it wants credentials.
func explain(err error, conn *grpc.ClientConn, addr string) error {
	switch code := status.Code(err); {
	case code == codes.Unavailable && strings.Contains(status.Convert(err).Message(), "certificate"):
		return fmt.Errorf("the TLS handshake with the ordersaga API at %s failed: %s; check --tls-ca and --tls-server-name",
			addr, status.Convert(err).Message())
	case code == codes.Unavailable && conn.GetState() != connectivity.Ready:
		return fmt.Errorf("cannot reach the ordersaga API at %s: is `ordersaga dev` (or `ordersaga api`) running? "+
			"--api or ORDERSAGA_API choose another address (%s)", addr, status.Convert(err).Message())
	case code == codes.Unauthenticated:
		return fmt.Errorf("the ordersaga API at %s refused the credentials: %s; pass --token or ORDERSAGA_TOKEN "+
			"(next to `ordersaga dev`, `ordersaga token --customer <id>` prints one)", addr, status.Convert(err).Message())
	}
	return err
}

func (m *Main) tokenCommand() *cobra.Command {
	var (
		customer, restaurant, operator, keyDir, issuer string
		ttl                                            time.Duration
		cmd                                            = &cobra.Command{Use: "token", Args: noArgs,
			Short:   "print a bearer token for one customer, restaurant or operator, signed with dev's key (or --key-dir's)",
			Example: "  ordersaga token --customer c-1\n  ordersaga token --restaurant r-7\n  ordersaga token --operator"}
	)
	f := m.flagsOf(cmd.Flags())
	cmd.Flags().StringVar(&customer, "customer", "", "the customer the token names")
	cmd.Flags().StringVar(&restaurant, "restaurant", "", "the restaurant the token names")
	cmd.Flags().StringVar(&operator, "operator", "", "the operator the token names")
	cmd.Flags().Lookup("operator").NoOptDefVal = "admin"
	cmd.Flags().DurationVar(&ttl, "ttl", 12*time.Hour, "how long the token is valid")
	f.String(&keyDir, "key-dir", "ORDERSAGA_KEY_DIR", "", "directory of the signing key (default: the auth directory of dev's data directory)")
	f.String(&issuer, "issuer", "ORDERSAGA_TOKEN_ISSUER", system.DevIssuer, "issuer the token names, as the API expects it")
	cmd.RunE = m.runs(func(context.Context) error {
		var named []auth.Principal
		for role, id := range map[auth.Role]string{auth.Customer: customer, auth.Restaurant: restaurant, auth.Operator: operator} {
			if id != "" {
				named = append(named, auth.Principal{Role: role, ID: id})
			}
		}
		if len(named) != 1 || ttl <= 0 {
			return errors.New("ordersaga token needs exactly one of --customer, --restaurant and --operator, and a positive --ttl")
		}
		dir := cmp.Or(keyDir, system.DevKeyDir(m.dataDir()))
		key, err := auth.ReadSigningKey(dir)
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no signing key in %s: run `ordersaga dev` here first, or point --key-dir at one", dir)
		}
		if err != nil {
			return err
		}
		signer, err := auth.NewSigner(key, issuer, auth.DefaultAudience)
		if err != nil {
			return err
		}
		token, err := signer.Token(named[0], ttl)
		if err != nil {
			return err
		}
		fmt.Fprintln(m.Stdout, token)
		return nil
	})
	return cmd
}

func (m *Main) keysCommand() *cobra.Command {
	var (
		dir string
		cmd = &cobra.Command{Use: "keys", Args: noArgs,
			Short: "create a token signing key and the key set that publishes it (for `api --jwks-file`), unless they exist"}
	)
	cmd.Flags().StringVar(&dir, "dir", "", "directory to write signing-key.json (private) and jwks.json (public) into")
	cmd.RunE = m.runs(func(context.Context) error {
		if dir == "" {
			return errors.New("ordersaga keys needs --dir")
		}
		if _, err := auth.WriteKeys(dir); err != nil {
			return err
		}
		fmt.Fprintln(m.Stdout, filepath.Join(dir, auth.KeySetFile))
		return nil
	})
	return cmd
}

func (m *Main) healthCommand() *cobra.Command {
	var (
		a       apiFlags
		service string
		cmd     = &cobra.Command{Use: "health", Args: noArgs,
			Short: "check that the API, or a role's --health-addr, serves (no credentials needed); exit 1 if not"}
	)
	a.register(m.flagsOf(cmd.Flags()))
	cmd.Flags().StringVar(&service, "service", "",
		"the service to ask about: \"\" (the whole server; a role: ready), \""+probes.LivenessService+"\" (a role: alive), or a gRPC service name")
	cmd.RunE = m.runs(func(ctx context.Context) error {
		addr := a.addr
		conn, err := m.dialAPI(a)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		res, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return explain(err, conn, addr)
		}
		if res.Status != healthpb.HealthCheckResponse_SERVING {
			what := "the server"
			if service != "" {
				what = fmt.Sprintf("service %q", service)
			}
			return fmt.Errorf("%s at %s is %s", what, addr, res.Status)
		}
		fmt.Fprintln(m.Stdout, res.Status)
		return nil
	})
	return cmd
}
