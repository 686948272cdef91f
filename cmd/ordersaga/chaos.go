package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ordersaga/ordersaga/internal/chaos"
	"github.com/ordersaga/ordersaga/internal/localcluster"
	"github.com/ordersaga/ordersaga/internal/system"
	"github.com/ordersaga/ordersaga/internal/temporalserver"
)

// chaosFlags are the settings of `ordersaga chaos`.
type chaosFlags struct {
	dataDir, bus, faults, jsonFile string
	temporal                       string
	reset                          bool
	natsNodes                      int
	rate                           float64
	orders                         int
	every, warmup, down, pause     time.Duration
	busOutage                      time.Duration
	settle                         time.Duration
}

func (m *Main) chaosCommand() *cobra.Command {
	var (
		r   chaosFlags
		cmd = &cobra.Command{Use: "chaos", Args: noArgs,
			Short: "run the deployed shape as separate processes, drive orders through it while killing its parts, and check that nothing was lost"}
	)
	cmd.Long = cmd.Short + `.

It starts PostgreSQL, the NATS servers, Temporal (the server's four services, or the dev
server) and every role of the
deployed shape (two workers, two relays, two projectors, the API, the restaurant, the
monitor: internal/topology) as processes of their own on loopback, drives orders at --rate
through them, and injects one fault every --every after --warmup, in turn: ` + strings.Join(chaos.Faults(), ", ") + `.
Then it lets the system settle and checks every order, every account and verify; each
check prints its figure, each fault its recovery time and the saga latency meanwhile.
Exit status 1 if a check fails. Every process's log is in <data-dir>/logs.`
	fs := cmd.Flags()
	fs.StringVar(&r.dataDir, "data-dir", ".ordersaga-chaos", "where the cluster keeps its data and logs")
	fs.BoolVar(&r.reset, "reset", false, "delete the data directory first")
	fs.StringVar(&r.bus, "bus", system.BusNATSStreaming, "event bus: natsstreaming or jetstream")
	fs.StringVar(&r.temporal, "temporal", "server", "Temporal: server, the Temporal server "+temporalserver.Version+
		" on the cluster's PostgreSQL with its frontend, history, matching and worker services as processes of their own (restart-temporal kills one of them, in turn; built once into the cache), or dev, the CLI's dev server on SQLite (with Temporal Web)")
	fs.IntVar(&r.natsNodes, "nats-nodes", 3, "NATS servers: 3, a cluster (NATS Streaming by Raft, JetStream's stream on all three; kill-nats kills the leader), or 1")
	fs.Float64Var(&r.rate, "rate", 5, "orders started per second")
	fs.IntVar(&r.orders, "orders", 300, "how many orders")
	fs.StringVar(&r.faults, "faults", "all", "faults to inject in turn, comma-separated: "+strings.Join(chaos.Faults(), ", ")+"; all; or none")
	fs.DurationVar(&r.every, "every", 20*time.Second, "one fault every this long")
	fs.DurationVar(&r.warmup, "warmup", 20*time.Second, "steady load before the first fault (the figures faults are compared with)")
	fs.DurationVar(&r.down, "down", 3*time.Second, "how long a killed process stays down")
	fs.DurationVar(&r.pause, "pause", 15*time.Second, "how long a paused worker stays stopped (past its activities' 10 s timeout)")
	fs.DurationVar(&r.busOutage, "bus-outage", time.Minute, "how long the bus is cut off (the cut-bus fault)")
	fs.DurationVar(&r.settle, "settle", 3*time.Minute, "how long verify may take to come back clean after the load")
	fs.StringVar(&r.jsonFile, "json", "", "also write the report to this file as JSON")
	cmd.RunE = m.runs(func(ctx context.Context) error { return m.chaos(ctx, r) })
	return cmd
}

// chaos runs `ordersaga chaos`.
func (m *Main) chaos(ctx context.Context, r chaosFlags) error {
	var faults []string
	if r.faults != "none" {
		var err error
		if faults, err = chaos.ParseFaults(r.faults); err != nil {
			return fmt.Errorf("--faults: %w", err)
		}
	}
	if r.natsNodes != 1 && r.natsNodes != 3 {
		return fmt.Errorf("--nats-nodes must be 1 or 3, got %d", r.natsNodes)
	}
	if r.temporal != "server" && r.temporal != "dev" {
		return fmt.Errorf("--temporal must be server or dev, got %q", r.temporal)
	}
	if r.bus != system.BusNATSStreaming && r.bus != system.BusJetStream {
		return fmt.Errorf("--bus must be %s or %s, got %q", system.BusNATSStreaming, system.BusJetStream, r.bus)
	}
	cfg := chaos.Config{DataDir: r.dataDir, Rate: r.rate, Orders: r.orders, Faults: faults, Every: r.every, Warmup: r.warmup,
		Down: r.down, Pause: r.pause, BusOutage: r.busOutage, Settle: r.settle, Progress: m.Stderr}
	cfg.Cluster = &localcluster.Cluster{} // validated before anything starts
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("--%w", err)
	}
	logger := m.logger(true, "info")
	clusterCfg := localcluster.Config{DataDir: r.dataDir, Reset: r.reset, Bus: r.bus, NATSNodes: r.natsNodes, Logger: logger}
	if err := temporalFor(ctx, r.temporal, &clusterCfg, logger); err != nil {
		return err
	}
	c, err := localcluster.Start(ctx, clusterCfg)
	if err != nil {
		return err // Start has stopped what it started
	}
	m.onClose(c.Close)
	web, processes := "no Web UI", len(c.Processes)+1 // and PostgreSQL
	if ui := c.TemporalUI(); ui != "" {
		web, processes = "Web "+ui, processes+1 // and the dev server
	}
	fmt.Fprintf(m.Stdout, "cluster: %d processes on loopback (logs in %s), API %s, Temporal %s at %s (%s)\n",
		processes, filepath.Join(r.dataDir, "logs"), c.APIAddr, r.temporal, c.TemporalAddress, web)
	cfg.Cluster, cfg.Logger = c, logger
	report, err := chaos.Run(ctx, cfg)
	if err != nil {
		return err
	}
	printChaos(m, report)
	if r.jsonFile != "" {
		b, _ := json.MarshalIndent(report, "", "  ")
		if err := os.WriteFile(r.jsonFile, b, 0o644); err != nil {
			return err
		}
	}
	if !report.OK {
		return fmt.Errorf("chaos: a check failed or a fault could not be undone")
	}
	return nil
}

// temporalFor gives cfg the Temporal the run asked for: the server's binaries or the CLI,
// each built once from this checkout's tools modules into the cache.
func temporalFor(ctx context.Context, which string, cfg *localcluster.Config, logger *slog.Logger) error {
	if which == "dev" {
		bin, err := temporalCLI(ctx, logger)
		cfg.TemporalBinary = bin
		return err
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	bins, err := temporalserver.Build(ctx, root, logger)
	cfg.TemporalServer = &bins
	return err
}

func printChaos(m *Main, r chaos.Report) {
	w := m.Stdout
	fmt.Fprintf(w, "orders             %d at %.1f/s in %.1fs\n", r.Orders, r.Rate, r.Seconds)
	fmt.Fprintf(w, "steady             saga latency p99 %.0f ms, projection lag p99 %.0f ms (orders that ended before the first fault)\n",
		r.SteadyP99Ms, r.SteadyLagP99Ms)
	fmt.Fprintf(w, "  %-17s %-12s %6s %6s %9s %6s %8s %9s %9s %9s %9s %9s %8s %5s  %s\n", "fault", "on", "at s", "took s", "recover s", "orders", "p99 ms",
		"lag max s", "no lead s", "bus gap s", "to bus s", "to cons s", "redeliv.", "dead", "slowest")
	for _, f := range r.Faults {
		leaderless := "-"
		if f.LeaderlessSeconds != 0 {
			leaderless = fmt.Sprintf("%.1f", f.LeaderlessSeconds)
		}
		fmt.Fprintf(w, "  %-17s %-12s %6.1f %6.1f %9.1f %6d %8.0f %9.1f %9s %9.1f %9.1f %9.1f %8.0f %5.0f  %s%s\n", f.Fault, f.Target, f.AtSeconds, f.TookSeconds,
			f.RecoverSeconds, f.Orders, f.P99Ms, f.LagMaxMs/1000, leaderless, f.BusGapMs/1000, f.PublishWaitMaxMs/1000, f.DeliveryWaitMaxMs/1000,
			f.Redeliveries, f.DeadLetters, f.Slowest, f.Err)
	}
	for _, c := range r.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "%s %s: %s\n", mark, c.Name, c.Figure)
	}
}
