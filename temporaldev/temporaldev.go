// Package temporaldev runs the Temporal development server (`temporal server start-dev`,
// with its Web UI) as a child process, for `ordersaga dev` and the integration tests. The
// `temporal` CLI is pinned in tools/temporal/go.mod and is not linked into ordersaga: its
// server packages pin an older go.temporal.io/api than the SDK needs.
package temporaldev

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga/internal/freeport"
	"github.com/ordersaga/ordersaga/internal/toolbuild"
)

// CLIVersion is the version of the temporal CLI that tools/temporal/go.mod pins.
const CLIVersion = "v1.5.1"

// EnvBinary names the environment variable that points at a temporal binary to use.
const EnvBinary = "ORDERSAGA_TEMPORAL_BIN"

// SearchAttributes are registered on the dev server at start: the saga's Keyword
// attributes (workflows.OrderStatusAttribute and CustomerIDAttribute), as NAME=Keyword.
func SearchAttributes() []string { return []string{"OrderStatus=Keyword", "CustomerId=Keyword"} }

// DynamicConfig are the server settings the dev server starts with, as KEY=VALUE with a
// JSON value: eager activity execution (off by default in the server; set it on a real
// cluster too), one task-queue partition, and the server's own default for
// system.forceSearchAttributesCacheRefreshOnRead, which the CLI's dev server turns on (a
// testing setting). docs/benchmarks.md tells what each is worth.
func DynamicConfig() []string {
	return []string{"system.enableActivityEagerExecution=true",
		"matching.numTaskqueueReadPartitions=1", "matching.numTaskqueueWritePartitions=1",
		"system.forceSearchAttributesCacheRefreshOnRead=false"}
}

// Binary returns the temporal CLI to run: $ORDERSAGA_TEMPORAL_BIN, else `temporal` on PATH,
// else one built once from tools/temporal into the user's cache directory (about six
// minutes on a 2-core machine; progress goes to logger). repoRoot is the ordersaga source
// tree, needed only for that build.
func Binary(ctx context.Context, repoRoot string, logger *slog.Logger) (string, error) {
	if bin := os.Getenv(EnvBinary); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("temporaldev: %s=%s: %w", EnvBinary, bin, err)
		}
		return bin, nil
	}
	if bin, err := exec.LookPath("temporal"); err == nil {
		return bin, nil
	}
	cache, err := toolbuild.CacheDir()
	if err != nil {
		return "", fmt.Errorf("temporaldev: no temporal on PATH and %s unset: %w", EnvBinary, err)
	}
	bin := filepath.Join(cache, "temporal-cli-"+CLIVersion, "temporal")
	return bin, toolbuild.Once(ctx, toolbuild.Tool{Name: "the temporal CLI " + CLIVersion,
		ModuleDir: filepath.Join(repoRoot, "tools", "temporal"), Package: "github.com/temporalio/cli/cmd/temporal", Out: bin}, logger)
}

// Config describes the dev server to run.
type Config struct {
	// Binary is the temporal CLI (see Binary). Required.
	Binary string
	// IP to listen on; default 127.0.0.1.
	IP string
	// Port of the gRPC frontend (default 7233 when 0; -1 picks a free port).
	Port int
	// UIPort of the Web UI (default Port+1000 when 0; -1 picks a free port).
	UIPort int
	// Headless disables the Web UI.
	Headless bool
	// DBFile persists workflows in SQLite (WAL journal); empty keeps them in memory.
	DBFile string
	// Output receives the server's own log; nil discards it.
	Output io.Writer
	// Logger receives progress lines; nil discards them.
	Logger *slog.Logger
}

// Server is a running dev server.
type Server struct {
	cmd *exec.Cmd
	// done is closed when the process has exited, with its result in exitErr: every
	// waiter sees it, so Stop and Kill may be called any number of times.
	done    chan struct{}
	exitErr error
	addr    string
	uiAddr  string
}

// Start starts the server with the saga's search attributes registered and waits until it
// answers health checks.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Binary == "" {
		return nil, errors.New("temporaldev: Binary is required")
	}
	if cfg.IP == "" {
		cfg.IP = "127.0.0.1"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var err error
	switch cfg.Port {
	case 0:
		cfg.Port = 7233
	case -1:
		if cfg.Port, err = freePort(cfg.IP); err != nil {
			return nil, err
		}
	}
	switch cfg.UIPort {
	case 0:
		cfg.UIPort = cfg.Port + 1000
	case -1:
		if cfg.UIPort, err = freePort(cfg.IP); err != nil {
			return nil, err
		}
	}
	for name, port := range map[string]int{"Temporal": cfg.Port, "Temporal Web": cfg.UIPort} {
		if name == "Temporal Web" && cfg.Headless {
			continue
		}
		if lis, err := net.Listen("tcp", net.JoinHostPort(cfg.IP, strconv.Itoa(port))); err != nil {
			return nil, fmt.Errorf("temporaldev: %s port %d is in use: %w", name, port, err)
		} else {
			lis.Close()
		}
	}
	args := []string{"server", "start-dev", "--ip", cfg.IP, "--port", strconv.Itoa(cfg.Port),
		"--ui-port", strconv.Itoa(cfg.UIPort), "--log-level", "error"}
	for _, kv := range DynamicConfig() {
		args = append(args, "--dynamic-config-value", kv)
	}
	for _, sa := range SearchAttributes() {
		args = append(args, "--search-attribute", sa)
	}
	if cfg.Headless {
		args = append(args, "--headless")
	}
	if cfg.DBFile != "" {
		args = append(args, "--db-filename", cfg.DBFile,
			"--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal")
	}
	cmd := exec.Command(cfg.Binary, args...)
	cmd.Stdout, cmd.Stderr = cfg.Output, cfg.Output
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} // never outlive us
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("temporaldev: start %s: %w", cfg.Binary, err)
	}
	s := &Server{cmd: cmd, done: make(chan struct{}), addr: net.JoinHostPort(cfg.IP, strconv.Itoa(cfg.Port)),
		uiAddr: net.JoinHostPort(cfg.IP, strconv.Itoa(cfg.UIPort))}
	go func() {
		s.exitErr = cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(ctx, cfg.Logger); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// waitReady waits until the frontend answers a health check.
func (s *Server) waitReady(ctx context.Context, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		c, err := client.DialContext(ctx, client.Options{HostPort: s.addr, Logger: quietLogger})
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("temporaldev: the dev server exited: %v", s.exitErr)
		case <-ctx.Done():
			return fmt.Errorf("temporaldev: the dev server at %s never became ready: %w", s.addr, err)
		case <-time.After(200 * time.Millisecond):
		}
		logger.Debug("waiting for the Temporal dev server", "addr", s.addr)
	}
}

// HostPort is the gRPC address clients dial.
func (s *Server) HostPort() string { return s.addr }

// UIURL is the Web UI's address.
func (s *Server) UIURL() string { return "http://" + s.uiAddr }

// Stop asks the server to shut down and waits for it, killing it after 20 seconds. A
// server that has exited already is left as it is.
func (s *Server) Stop() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
		return nil
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		return errors.New("temporaldev: the dev server did not stop in 20s and was killed")
	}
}

// Kill ends the server at once, as a crash would.
func (s *Server) Kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// freePort picks a port the server binds a moment later: on loopback outside the kernel's
// ephemeral range (internal/freeport), so that no outgoing connection takes it meanwhile.
func freePort(ip string) (int, error) {
	if ip == "127.0.0.1" {
		return freeport.Pick()
	}
	lis, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer lis.Close()
	return lis.Addr().(*net.TCPAddr).Port, nil
}
