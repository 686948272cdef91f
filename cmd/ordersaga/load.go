package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ordersaga/ordersaga"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/internal/proccpu"
	"github.com/ordersaga/ordersaga/internal/system"
	"github.com/ordersaga/ordersaga/loadgen"
	"github.com/ordersaga/ordersaga/sqldb"
)

// loadFlags are the settings of `ordersaga load`.
type loadFlags struct {
	db          databaseFlags
	temporal    temporalFlags
	log         logFlags
	api         apiFlags
	orders      int
	concurrency int
	rate        float64
	via         string
	decideAt    string
	baseline    bool
	rounds      int
	jsonFile    string
	cpu         bool
}

func (m *Main) loadCommand() *cobra.Command {
	var (
		r   loadFlags
		cmd = &cobra.Command{Use: "load", Args: noArgs,
			Short: "drive orders through a running stack and report throughput, latency, lag (and --baseline)"}
	)
	cmd.Long = cmd.Short + ".\n\n" + devDatabaseNote
	f := m.flagsOf(cmd.Flags())
	r.db.register(f)
	r.temporal.register(f)
	r.log.register(f)
	fs := cmd.Flags()
	r.api.register(f)
	fs.IntVar(&r.orders, "orders", 200, "how many orders to place")
	fs.IntVar(&r.concurrency, "concurrency", 0, "orders in flight at once (default 8; with --rate the most in flight, default 256)")
	fs.Float64Var(&r.rate, "rate", 0, "start orders at this many per second instead of as fast as --concurrency allows; latencies count from the scheduled start")
	fs.StringVar(&r.via, "via", loadgen.ViaAPI, "drive the sagas through the gRPC API (api) or straight through Temporal (temporal); the read model is read through the API either way")
	fs.StringVar(&r.decideAt, "decide-at", loadgen.DecideAtStart, "send the restaurant's decision right after placing the order (start, as the baseline does; the saga holds it) or once the read model shows the payment (paid)")
	fs.BoolVar(&r.baseline, "baseline", false, "also run the no-op BaselineSaga the same way and report the ratio (the worker must run it: dev does, or ordersaga worker --with-baseline)")
	fs.IntVar(&r.rounds, "rounds", 0, "with --baseline: alternate saga and baseline in this many rounds, so that drift during the run weighs on both alike (default 4)")
	fs.StringVar(&r.jsonFile, "json", "", "also write the figures to this file as JSON")
	fs.BoolVar(&r.cpu, "cpu", false, "also report CPU per order of the stack's processes on this machine (temporal, ordersaga, postgres; from /proc, Linux only), for the saga and the baseline apart")
	cmd.RunE = m.runs(func(ctx context.Context) error { return m.load(ctx, r) })
	return cmd
}

// asFlag names a field of loadgen.Config's EINVALID error as the flag that sets it
// ("decide_at" is --decide-at).
func asFlag(err error) error {
	var invalid *ordersaga.Error
	if !errors.As(err, &invalid) || invalid.Field == "" {
		return err
	}
	flag := "--" + strings.ReplaceAll(invalid.Field, "_", "-")
	return fmt.Errorf("%s%s", flag, strings.TrimPrefix(invalid.Message, invalid.Field))
}

// cpuGroups are proccpu's groups, with this binary's own name among ordersaga's
// executables: a stack started from a binary built under another name (ordersaga-new,
// say) is measured too, not reported as using no CPU.
func cpuGroups() []proccpu.Group {
	groups := proccpu.DefaultGroups()
	exe, err := os.Executable()
	if err != nil {
		return groups
	}
	for i, g := range groups {
		if g.Name == "ordersaga" && !slices.Contains(g.Executables, filepath.Base(exe)) {
			groups[i].Executables = append(g.Executables, filepath.Base(exe))
		}
	}
	return groups
}

// load drives the load and prints what it measured.
func (m *Main) load(ctx context.Context, r loadFlags) error {
	cfg := loadgen.Config{Orders: r.orders, Concurrency: r.concurrency, Rate: r.rate, Via: r.via, DecideAt: r.decideAt,
		Baseline: r.baseline, Rounds: r.rounds, Progress: m.Stderr}
	if err := cfg.Validate(); err != nil {
		return asFlag(err)
	}
	if r.cpu {
		meter, err := proccpu.New(cpuGroups())
		if err != nil {
			return fmt.Errorf("--cpu: %w", err)
		}
		cfg.CPU = meter
	}
	logger := m.logger(true, r.log.level)
	conn, err := m.dialAPI(r.api)
	if err != nil {
		return err
	}
	temporal, err := m.dialTemporal(ctx, r.temporal, logger)
	if err != nil {
		return err
	}
	var (
		pool           *sqldb.DB
		statementsNote string // why there are no statement statistics
	)
	if url := cmp.Or(r.db.url, m.devDatabase()); url == "" {
		statementsNote = "not collected (pass --database-url)"
	} else {
		if pool, err = m.openDB(ctx, r.db, url, requireSchema); err != nil {
			return err
		}
		if err := pool.ResetStatementStats(ctx); err != nil {
			statementsNote = "not available: " + err.Error()
		}
	}
	cfg.API, cfg.Temporal = ordersagav1.NewOrderServiceClient(conn), temporal
	report, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	printReport(m, report)
	var statements []sqldb.Statement
	if statementsNote == "" {
		if statements, err = pool.TopStatements(ctx, 8); err != nil {
			statementsNote = "not available: " + err.Error()
		}
	}
	printStatements(m, statements, statementsNote, report.Orders)
	verified := "not run (pass --database-url)"
	if pool != nil {
		if verified, err = system.VerifySettled(ctx, pool, time.Minute); err != nil {
			return err
		}
	}
	fmt.Fprintf(m.Stdout, "verify             %s\n", verified)
	if r.jsonFile != "" {
		out := struct {
			loadgen.Report
			Statements []sqldb.Statement `json:"top_statements,omitempty"`
			Verify     string            `json:"verify"`
		}{report, statements, verified}
		b, _ := json.MarshalIndent(out, "", "  ")
		if err := os.WriteFile(r.jsonFile, b, 0o644); err != nil {
			return err
		}
	}
	if report.Failures > 0 {
		return fmt.Errorf("load: %d orders failed", report.Failures)
	}
	return nil
}

func printReport(m *Main, r loadgen.Report) {
	w := m.Stdout
	pace := fmt.Sprintf("concurrency %d", r.Concurrency)
	if r.Rate > 0 {
		pace = fmt.Sprintf("a target of %.1f/s (at most %d in flight)", r.Rate, r.Concurrency)
	}
	fmt.Fprintf(w, "orders             %d at %s in %.1fs, via %s, decisions sent at %s (run %s: workflows order-load-%s-*)\n",
		r.Orders, pace, r.Seconds, r.Via, r.DecideAt, r.RunID, r.RunID)
	fmt.Fprintf(w, "throughput         %.1f orders/s\n", r.OrdersPerSec)
	fmt.Fprintf(w, "saga latency       p50 %.0f ms  p95 %.0f ms  p99 %.0f ms\n", r.SagaLatency.P50, r.SagaLatency.P95, r.SagaLatency.P99)
	fmt.Fprintf(w, "projection lag     p50 %.0f ms  p99 %.0f ms\n", r.ProjectionLag.P50, r.ProjectionLag.P99)
	statuses := make([]string, 0, len(r.Statuses))
	for s := range r.Statuses {
		statuses = append(statuses, s)
	}
	sort.Strings(statuses)
	for _, s := range statuses {
		fmt.Fprintf(w, "  %-40s %d\n", s, r.Statuses[s])
	}
	fmt.Fprintf(w, "refused decisions  %d (each sent again a moment later)\n", r.RefusedDecisions)
	if r.BaselineLatency != nil {
		fmt.Fprintf(w, "baseline           %.1f workflows/s, latency p50 %.0f ms  p99 %.0f ms (%d rounds alternating with the orders; baseline-%s-*)\n",
			r.BaselinePerSec, r.BaselineLatency.P50, r.BaselineLatency.P99, r.Rounds, r.RunID)
		fmt.Fprintf(w, "ratio              %.2f of the baseline's throughput\n", r.Ratio)
	}
	printCPU(w, "cpu per order      ", r.CPUPerOrderMs)
	printCPU(w, "  baseline's       ", r.BaselineCPUPerOrderMs)
}

// printCPU prints CPU per order by group of processes, and their total.
func printCPU(w io.Writer, label string, perOrder map[string]float64) {
	if perOrder == nil {
		return
	}
	names := slices.Sorted(maps.Keys(perOrder))
	var total float64
	parts := make([]string, 0, len(names))
	for _, name := range names {
		total += perOrder[name]
		parts = append(parts, fmt.Sprintf("%s %.1f ms", name, perOrder[name]))
	}
	fmt.Fprintf(w, "%s%s; total %.1f ms\n", label, strings.Join(parts, ", "), total)
}

// printStatements prints the database statements that took the most time during the run,
// or why there are none.
func printStatements(m *Main, statements []sqldb.Statement, note string, orders int) {
	w := m.Stdout
	if note != "" {
		fmt.Fprintf(w, "database           statement statistics %s\n", note)
		return
	}
	fmt.Fprintf(w, "database           top statements by time (pg_stat_statements, this run)\n")
	fmt.Fprintf(w, "  %9s %9s %8s  %s\n", "calls/ord", "total ms", "mean ms", "statement")
	for _, s := range statements {
		q := strings.Join(strings.Fields(s.Query), " ")
		if len(q) > 90 {
			q = q[:87] + "..."
		}
		fmt.Fprintf(w, "  %9.2f %9.0f %8.3f  %s\n", float64(s.Calls)/float64(orders), s.TotalMs, s.MeanMs, q)
	}
}
