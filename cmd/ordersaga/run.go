package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// Main is the program: ParseFlags picks the role and its settings, Run runs it until ctx
// ends, Close releases what Run left open. End-to-end tests drive it the same way main does.
type Main struct {
	Stdout, Stderr io.Writer
	// Getenv reads the environment; tests replace it.
	Getenv func(string) string

	role role
}

// role is one subcommand.
type role interface {
	// flags registers the role's flags, with defaults taken from env.
	flags(fs *flag.FlagSet, env func(string) string)
	run(ctx context.Context, m *Main) error
	close() error
}

// NewMain returns a Main writing to the process's standard streams and environment.
func NewMain() *Main {
	return &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}

var roles = map[string]struct {
	summary string
	make    func() role
}{
	"dev":        {"run everything that exists so far in one process on a throwaway PostgreSQL", func() role { return &devRole{} }},
	"api":        {"serve the gRPC API against an existing database", func() role { return &apiRole{} }},
	"worker":     {"run the OrderSaga worker (and the outbox relay) against Temporal", func() role { return &workerRole{} }},
	"relay":      {"publish committed events that are still in the outbox, until stopped", func() role { return &relayRole{} }},
	"projector":  {"build the read models from the bus (queue group order-projectors)", func() role { return &projectorRole{} }},
	"restaurant": {"simulate restaurants: decide orders after their payment (see --help)", func() role { return &restaurantRole{} }},
	"order":      {"place|get|list|history|watch|approve|reject|cancel orders through the API", func() role { return &clientRole{noun: "order"} }},
	"account":    {"credit|get customer accounts through the API", func() role { return &clientRole{noun: "account"} }},
	"migrate":    {"create or upgrade the database schema, then exit", func() role { return &migrateRole{} }},
	"verify":     {"check read models against the store, version gaps and unpublished events; exit 1 on any problem", func() role { return &verifyRole{} }},
	"rebuild":    {"rebuild the read models from the event store into fresh tables and swap them in (resumable)", func() role { return &rebuildRole{} }},
	"load":       {"drive orders through a running stack and report throughput, latency, lag (and --baseline)", func() role { return &loadRole{} }},
}

// ParseFlags selects the role named by args[0] and parses its flags.
func (m *Main) ParseFlags(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		m.usage()
		if len(args) == 0 {
			return errors.New("no command given")
		}
		return flag.ErrHelp
	}
	r, ok := roles[args[0]]
	if !ok {
		m.usage()
		return fmt.Errorf("unknown command %q", args[0])
	}
	m.role = r.make()
	fs := flag.NewFlagSet("ordersaga "+args[0], flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	m.role.flags(fs, m.Getenv)
	// Flags may come before, between or after positional arguments.
	var positional []string
	for rest := args[1:]; ; {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if rest = fs.Args(); len(rest) == 0 {
			break
		}
		positional, rest = append(positional, rest[0]), rest[1:]
	}
	if p, ok := m.role.(interface{ setArgs([]string) error }); ok {
		return p.setArgs(positional)
	}
	if len(positional) > 0 {
		return fmt.Errorf("ordersaga %s takes no arguments, got %q", args[0], positional)
	}
	return nil
}

func (m *Main) usage() {
	fmt.Fprintln(m.Stderr, "usage: ordersaga <command> [flags]\n\ncommands:")
	for _, name := range []string{"dev", "worker", "projector", "restaurant", "api", "relay", "migrate", "verify", "rebuild", "load", "order", "account"} {
		fmt.Fprintf(m.Stderr, "  %-11s %s\n", name, roles[name].summary)
	}
	fmt.Fprintln(m.Stderr, "\nRun 'ordersaga <command> -h' for its flags.")
}

// Run runs the selected role until it finishes or ctx ends.
func (m *Main) Run(ctx context.Context) error {
	if m.role == nil {
		return errors.New("ordersaga: ParseFlags first")
	}
	return m.role.run(ctx, m)
}

// Close releases what the role left open.
func (m *Main) Close() error {
	if m.role == nil {
		return nil
	}
	return m.role.close()
}

// envOr returns the environment variable name, or def when it is unset or empty.
func envOr(env func(string) string, name, def string) string {
	if v := env(name); v != "" {
		return v
	}
	return def
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

// shutdownGrace is how long in-flight calls get to finish on Ctrl-C or SIGTERM.
const shutdownGrace = 10 * time.Second
