package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ordersaga/ordersaga/telemetry"
)

// Main is the program: ParseFlags picks the command and its settings, Run runs it until
// ctx ends, Close releases what Run left open. End-to-end tests drive it the same way main
// does.
type Main struct {
	Stdout, Stderr io.Writer
	// Getenv reads the environment; tests replace it.
	Getenv func(string) string
	// Environ lists the environment as KEY=VALUE (for TEMPORAL_GRPC_META_*); nil means none.
	Environ func() []string

	// run is what ParseFlags selected; closers undo what it opened, last first.
	run     func(ctx context.Context) error
	closers []func() error
	// tel is the running role's telemetry (nil for the client verbs): what it connects
	// with is instrumented with it.
	tel *telemetry.Telemetry
}

// ErrNothingToRun is what ParseFlags returns after printing help or a completion script:
// there is nothing to run, and nothing went wrong.
var ErrNothingToRun = errors.New("nothing to run")

// NewMain returns a Main writing to the process's standard streams and environment.
func NewMain() *Main {
	return &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Environ: os.Environ}
}

// ParseFlags selects the command named by args and parses its flags and arguments. A
// usage error is returned after that command's usage has been printed.
func (m *Main) ParseFlags(args []string) error {
	root := m.commands()
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, root.UsageString())
		return errors.New("no command given")
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err != nil {
		fmt.Fprint(m.Stderr, cmd.UsageString())
		return err
	}
	if m.run == nil {
		return ErrNothingToRun // help, or a completion script
	}
	return nil
}

// Run runs the selected command until it finishes or ctx ends.
func (m *Main) Run(ctx context.Context) error {
	if m.run == nil {
		return errors.New("ordersaga: ParseFlags first")
	}
	return m.run(ctx)
}

// Close releases what the command left open, last opened first.
func (m *Main) Close() error {
	var errs []error
	for _, c := range slices.Backward(m.closers) {
		errs = append(errs, c())
	}
	m.closers = nil
	return errors.Join(errs...)
}

// onClose registers c to run at Close.
func (m *Main) onClose(c func() error) { m.closers = append(m.closers, c) }

// runs makes a cobra RunE that selects run for Run: parsing and running stay apart, so
// that tests can parse, then run under their own context.
func (m *Main) runs(run func(ctx context.Context) error) func(*cobra.Command, []string) error {
	return func(*cobra.Command, []string) error {
		m.run = run
		return nil
	}
}

// commands builds the command tree.
func (m *Main) commands() *cobra.Command {
	root := &cobra.Command{
		Use:   "ordersaga",
		Short: "An order saga service on Temporal, an event store and NATS",
		Long: "ordersaga runs each order as a saga orchestrated by Temporal, on an event-sourced store,\n" +
			"with events published on NATS to projectors that build read models, and a gRPC API.\n" +
			"Every flag that names an environment variable takes its default from it.",
		SilenceErrors: true, // main prints the error
		SilenceUsage:  true, // ParseFlags prints the usage of the command that failed
	}
	root.SetOut(m.Stdout)
	root.SetErr(m.Stderr)
	root.AddCommand(m.devCommand(), m.workerCommand(), m.projectorCommand(), m.restaurantCommand(), m.apiCommand(),
		m.relayCommand(), m.outboxCommand(), m.migrateCommand(), m.verifyCommand(), m.rebuildCommand(), m.loadCommand(),
		m.orderCommand(), m.accountCommand(), m.menuCommand(), m.tokenCommand(), m.keysCommand(), m.healthCommand(),
		m.monitorCommand(), m.sagasCommand(), m.natsCommand(), m.chaosCommand())
	return root
}

// noArgs refuses positional arguments, naming the command.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}

// logger returns a JSON logger for production roles, or a text logger for dev.
func (m *Main) logger(text bool, level string) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if text {
		return slog.New(slog.NewTextHandler(m.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(m.Stderr, opts))
}
