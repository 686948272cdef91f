// Package temporalserver runs the Temporal server itself (go.temporal.io/server, pinned in
// tools/temporalserver and run as a child process, never linked: its packages pin an older
// go.temporal.io/api than the SDK needs) on PostgreSQL, each of its four services —
// frontend, history, matching, worker — as an OS process of its own, as a Temporal cluster
// runs them. It makes the two databases and their schemas with the server's own schema
// tool, writes the services' configuration, and registers the namespace and the saga's
// search attributes once the frontend answers. internal/localcluster runs the processes.
package temporalserver

import (
	"context"
	cryptorand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ordersaga/ordersaga/internal/freeport"
	"github.com/ordersaga/ordersaga/internal/toolbuild"
	"github.com/ordersaga/ordersaga/temporaldev"
)

// Version is the Temporal server tools/temporalserver/go.mod pins.
const Version = "v1.30.8"

// Services are the server's services, each run as a process of its own, in start order.
func Services() []string { return []string{"history", "matching", "frontend", "worker"} }

// Binaries are the server and its SQL schema tool.
type Binaries struct{ Server, SQLTool string }

// Build returns the server and its schema tool, built once from tools/temporalserver into
// the user's cache directory (about three minutes each on a 2-core machine). repoRoot is
// the ordersaga source tree.
func Build(ctx context.Context, repoRoot string, logger *slog.Logger) (Binaries, error) {
	cache, err := toolbuild.CacheDir()
	if err != nil {
		return Binaries{}, err
	}
	dir := filepath.Join(cache, "temporal-server-"+Version)
	b := Binaries{Server: filepath.Join(dir, "temporal-server"), SQLTool: filepath.Join(dir, "temporal-sql-tool")}
	module := filepath.Join(repoRoot, "tools", "temporalserver")
	for _, t := range []toolbuild.Tool{
		{Name: "the Temporal server " + Version, ModuleDir: module, Package: "go.temporal.io/server/cmd/server", Out: b.Server},
		{Name: "the Temporal SQL schema tool " + Version, ModuleDir: module, Package: "go.temporal.io/server/cmd/tools/sql", Out: b.SQLTool},
	} {
		if err := toolbuild.Once(ctx, t, logger); err != nil {
			return b, err
		}
	}
	return b, nil
}

// Config describes a server on a PostgreSQL reached through its Unix socket.
type Config struct {
	Binaries
	// Dir receives the configuration files. Required.
	Dir string
	// SocketDir is PostgreSQL's socket directory; Port its port (default 5432), User
	// the role to connect as (default postgres; trust authentication). Required.
	SocketDir string
	Port      int
	User      string
	// Database and VisibilityDatabase are the server's two databases, made if missing;
	// default temporal and temporal_visibility.
	Database, VisibilityDatabase string
	// FrontendPort is the frontend's gRPC port, the address clients dial; Prepare picks
	// it, and every service's gRPC and membership ports, when it is zero.
	FrontendPort int
	ports        map[string][2]int
}

// plugin is the server's PostgreSQL driver (pgx).
const plugin = "postgres12_pgx"

// Prepare makes the databases and their schemas (or brings them up to the pinned
// version: it may run again on the same data) and writes the configuration into Dir.
func Prepare(ctx context.Context, cfg *Config) error {
	if cfg.Server == "" || cfg.SQLTool == "" || cfg.Dir == "" || cfg.SocketDir == "" {
		return errors.New("temporalserver: Binaries, Dir and SocketDir are required")
	}
	if cfg.Port == 0 {
		cfg.Port = 5432
	}
	if cfg.User == "" {
		cfg.User = "postgres"
	}
	if cfg.Database == "" {
		cfg.Database = "temporal"
	}
	if cfg.VisibilityDatabase == "" {
		cfg.VisibilityDatabase = "temporal_visibility"
	}
	for db, schema := range map[string]string{cfg.Database: "postgresql/v12/temporal", cfg.VisibilityDatabase: "postgresql/v12/visibility"} {
		if err := cfg.schema(ctx, db, schema); err != nil {
			return err
		}
	}
	if cfg.ports == nil {
		if cfg.FrontendPort != 0 && !freeport.Reserve(cfg.FrontendPort) {
			return fmt.Errorf("temporalserver: frontend port %d is already another server's", cfg.FrontendPort)
		}
		cfg.ports = map[string][2]int{}
		for _, s := range Services() {
			// Under 32768: the server records its services' ports in a SMALLINT column,
			// so the kernel's ephemeral ports (32768 and up) make every service fail at
			// start.
			grpc, err := freeport.Pick()
			if err != nil {
				return err
			}
			membership, err := freeport.Pick()
			if err != nil {
				return err
			}
			cfg.ports[s] = [2]int{grpc, membership}
		}
		if cfg.FrontendPort != 0 {
			cfg.ports["frontend"] = [2]int{cfg.FrontendPort, cfg.ports["frontend"][1]}
		}
		cfg.FrontendPort = cfg.ports["frontend"][0]
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return err
	}
	var dyn strings.Builder
	for _, kv := range temporaldev.DynamicConfig() {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&dyn, "%s:\n  - value: %s\n", k, v) // the values are JSON, which YAML reads
	}
	if err := os.WriteFile(cfg.dynamicConfigPath(), []byte(dyn.String()), 0o644); err != nil {
		return err
	}
	var conf strings.Builder
	if err := configTemplate.Execute(&conf, cfg.templateData()); err != nil {
		return err
	}
	return os.WriteFile(cfg.ConfigPath(), []byte(conf.String()), 0o644)
}

// schema makes db if it is missing, sets up the versioning tables the first time, and
// updates the schema to the pinned server's version, with the server's schema tool.
func (cfg *Config) schema(ctx context.Context, db, schema string) error {
	base := []string{"--plugin", plugin, "--endpoint", "127.0.0.1", "--port", fmt.Sprint(cfg.Port), "--user", cfg.User,
		"--connect-attributes", "host=" + cfg.SocketDir, "--database", db}
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, cfg.SQLTool, append(base, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("create-database"); err != nil && !strings.Contains(out, "already exists") {
		return fmt.Errorf("temporalserver: create database %s: %w\n%s", db, err, out)
	}
	// Version 0.0 creates the tables that record the schema version; on a database set
	// up before, it fails because they exist, which is fine: update-schema goes on.
	if out, err := run("setup-schema", "--version", "0.0"); err != nil && !strings.Contains(out, "already exists") {
		return fmt.Errorf("temporalserver: set up %s: %w\n%s", db, err, out)
	}
	if out, err := run("update-schema", "--schema-name", schema); err != nil {
		return fmt.Errorf("temporalserver: update the schema of %s: %w\n%s", db, err, out)
	}
	return nil
}

// ConfigPath is the services' configuration file.
func (cfg *Config) ConfigPath() string { return filepath.Join(cfg.Dir, "temporal.yaml") }

func (cfg *Config) dynamicConfigPath() string { return filepath.Join(cfg.Dir, "dynamicconfig.yaml") }

// StartServices starts the server's services, after Prepare, with start, in Services'
// order. The first runs alone until it listens: a service writes the cluster's metadata
// into the database (or brings it up to this configuration's ports) before it builds its
// gRPC server, and services that do so at once race, the losers exiting ("failed to
// initialize current cluster metadata"), as CI once saw history do.
func (cfg *Config) StartServices(ctx context.Context, start func(service string) error) error {
	services := Services()
	if err := start(services[0]); err != nil {
		return err
	}
	address := fmt.Sprintf("127.0.0.1:%d", cfg.ports[services[0]][0])
	if err := freeport.WaitListening(ctx, address, 2*time.Minute); err != nil {
		return fmt.Errorf("temporalserver: the %s service never listened: %w", services[0], err)
	}
	for _, s := range services[1:] {
		if err := start(s); err != nil {
			return err
		}
	}
	return nil
}

// Args are the server's arguments that run one service.
func (cfg *Config) Args(service string) []string {
	return []string{"--config-file", cfg.ConfigPath(), "--allow-no-auth", "start", "--service", service}
}

// HostPort is the frontend's address, which clients dial.
func (cfg *Config) HostPort() string { return fmt.Sprintf("127.0.0.1:%d", cfg.FrontendPort) }

// templateData is what the configuration template reads.
type templateData struct {
	*Config
	Stores   []store
	Services []service
}

// store is one of the server's two databases, service one of its services.
type (
	store   struct{ Name, Database string }
	service struct {
		Name                 string
		GRPCPort, Membership int
	}
)

func (cfg *Config) templateData() templateData {
	d := templateData{Config: cfg, Stores: []store{{"default", cfg.Database}, {"visibility", cfg.VisibilityDatabase}}}
	for _, s := range Services() {
		d.Services = append(d.Services, service{s, cfg.ports[s][0], cfg.ports[s][1]})
	}
	return d
}

// configTemplate is the services' configuration: the development-postgres12.yaml the
// server ships, on our socket, ports and dynamic configuration, without archival,
// metrics and pprof (four processes cannot share their ports).
var configTemplate = template.Must(template.New("temporal.yaml").Parse(`# Written by ordersaga (internal/temporalserver); rewritten at every start.
log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: 4
  datastores:
{{- range .Stores }}
    {{ .Name }}:
      sql:
        pluginName: "` + plugin + `"
        databaseName: "{{ .Database }}"
        connectAddr: "127.0.0.1:{{ $.Port }}"
        connectProtocol: "tcp"
        user: "{{ $.User }}"
        connectAttributes:
          host: "{{ $.SocketDir }}"
        maxConns: 10
        maxIdleConns: 10
        maxConnLifetime: "1h"
{{- end }}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"
services:
{{- range .Services }}
  {{ .Name }}:
    rpc:
      grpcPort: {{ .GRPCPort }}
      membershipPort: {{ .Membership }}
      bindOnLocalHost: true
{{- end }}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "127.0.0.1:{{ .FrontendPort }}"
dcRedirectionPolicy:
  policy: "noop"
publicClient:
  hostPort: "127.0.0.1:{{ .FrontendPort }}"
dynamicConfigClient:
  filepath: "{{ .Dir }}/dynamicconfig.yaml"
  pollInterval: "10s"
`))

// Register waits, up to within, until the frontend at hostPort answers, then registers
// namespace (a day's retention) and the saga's search attributes
// (temporaldev.SearchAttributes) unless they exist, as an operator does once on a new
// cluster.
func Register(ctx context.Context, hostPort, namespace string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var c client.Client
	err := retry(ctx, func() (err error) {
		c, err = client.DialContext(ctx, client.Options{HostPort: hostPort, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
		return err
	})
	if err != nil {
		return fmt.Errorf("temporalserver: the frontend at %s never answered: %w", hostPort, err)
	}
	defer c.Close()
	_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: namespace, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)})
	if err != nil && !isAlreadyExists(err) {
		return fmt.Errorf("temporalserver: register namespace %s: %w", namespace, err)
	}
	attrs := map[string]enumspb.IndexedValueType{}
	var probe []temporal.SearchAttributeUpdate
	for _, sa := range temporaldev.SearchAttributes() {
		name, _, _ := strings.Cut(sa, "=")
		attrs[name] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
		probe = append(probe, temporal.NewSearchAttributeKeyKeyword(name).ValueSet("probe"))
	}
	// The namespace reaches every service's cache within seconds; until then adding
	// attributes to it fails with NotFound, and then, for a while, starting a workflow
	// with them fails with "no mapping defined": wait until one starts.
	err = retry(ctx, func() error {
		_, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace: namespace, SearchAttributes: attrs})
		if isAlreadyExists(err) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("temporalserver: add search attributes: %w", err)
	}
	id := "temporalserver-search-attribute-probe-" + cryptorand.Text()[:8]
	err = retry(ctx, func() error {
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "temporalserver-probe",
			TypedSearchAttributes: temporal.NewSearchAttributes(probe...)}, "probe")
		return err
	})
	if err != nil {
		return fmt.Errorf("temporalserver: a workflow with the search attributes never started: %w", err)
	}
	return c.TerminateWorkflow(ctx, id, "", "probe of the search attributes, done")
}

// retry calls fn every half second until it succeeds or ctx ends, and returns its last
// error.
func retry(ctx context.Context, fn func() error) error {
	for {
		err := fn()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func isAlreadyExists(err error) bool {
	var exists *serviceerror.NamespaceAlreadyExists
	var already *serviceerror.AlreadyExists
	return errors.As(err, &exists) || errors.As(err, &already)
}
