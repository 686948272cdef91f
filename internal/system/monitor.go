package system

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/internal/instrument"
	"github.com/ordersaga/ordersaga/projections"
	"github.com/ordersaga/ordersaga/sqldb"
	"github.com/ordersaga/ordersaga/telemetry"
	"github.com/ordersaga/ordersaga/workflows"
)

// MonitorConfig are the monitor role's dependencies and settings.
type MonitorConfig struct {
	DB *sqldb.DB // required
	// Temporal, when set, is asked for stuck sagas too.
	Temporal client.Client
	// Every is the pause between two passes; default 30s.
	Every time.Duration
	// Grace is how long a fresh event may take to reach the bus and the read models;
	// default 10s (projections.Verify).
	Grace time.Duration
	// Stuck says what counts as a stuck saga (workflows.StuckOptions).
	Stuck  workflows.StuckOptions
	Logger *slog.Logger
	// Telemetry receives the findings as metrics. Required (what else would they be for).
	Telemetry *telemetry.Telemetry
}

// Monitor is `verify` run for ever: each pass proves the read models against the store,
// looks for version gaps, unpublished and parked events and stuck sagas, and exports what
// it found as gauges (ordersaga_verify_*, ordersaga_sagas_stuck), which deploy/'s alert
// rules watch. A failed pass is counted and logged; the gauges keep the last good pass,
// and its age says how fresh they are.
type Monitor struct {
	cfg   MonitorConfig
	store *eventstore.Store
	reads *projections.ReadModels

	mu       sync.Mutex
	last     pass
	failures metric.Int64Counter
}

// pass is what one pass found.
type pass struct {
	at       time.Time
	took     time.Duration
	report   projections.Report
	stuck    map[string]int // by workflows.Stuck* reason
	examined int
}

// NewMonitor builds the monitor role and registers its metrics.
func NewMonitor(cfg MonitorConfig) (*Monitor, error) {
	if cfg.DB == nil || cfg.Telemetry == nil {
		return nil, errors.New("system: the monitor needs DB and Telemetry")
	}
	if cfg.Every < 0 || cfg.Grace < 0 {
		return nil, errors.New("system: the monitor's interval and grace period must not be negative")
	}
	if err := cfg.Stuck.Validate(); err != nil {
		return nil, fmt.Errorf("system: the monitor's stuck sagas: %w", err)
	}
	if cfg.Every == 0 {
		cfg.Every = 30 * time.Second
	}
	if cfg.Grace == 0 {
		cfg.Grace = 10 * time.Second
	}
	cfg.Logger = orDiscard(cfg.Logger).With("component", "monitor")
	m := &Monitor{cfg: cfg, store: eventstore.New(cfg.DB), reads: projections.NewReadModels(cfg.DB)}
	if err := m.registerMetrics(instrument.Meter(cfg.Telemetry.Meters, "github.com/ordersaga/ordersaga/monitor")); err != nil {
		return nil, err
	}
	return m, nil
}

// Run makes a pass at once, then every cfg.Every, until ctx ends.
func (m *Monitor) Run(ctx context.Context) error {
	m.cfg.Logger.Info("monitor running", "every", m.cfg.Every, "grace", m.cfg.Grace, "sagas", m.cfg.Temporal != nil)
	for {
		if err := m.Pass(ctx); err != nil && ctx.Err() == nil {
			m.failures.Add(ctx, 1)
			m.cfg.Logger.Warn("monitor pass failed; the metrics keep the last good pass", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(m.cfg.Every):
		}
	}
}

// Pass verifies once and keeps what it found for the metrics.
func (m *Monitor) Pass(ctx context.Context) error {
	start := time.Now()
	report, err := projections.Verify(ctx, m.reads, m.store, m.cfg.Grace)
	if err != nil {
		return err
	}
	p := pass{report: report, stuck: map[string]int{}}
	if m.cfg.Temporal != nil {
		stuck, examined, err := workflows.Client{Temporal: m.cfg.Temporal}.Stuck(ctx, m.cfg.Stuck)
		if err != nil {
			return err
		}
		for _, s := range stuck {
			p.stuck[s.Why]++
		}
		p.examined = examined
	}
	p.at, p.took = time.Now(), time.Since(start)
	if !report.OK() || len(p.stuck) > 0 {
		m.cfg.Logger.Warn("monitor found problems", "problems", len(report.Problems), "stuck_sagas", p.stuck, "first", first(report.Problems))
	}
	m.mu.Lock()
	m.last = p
	m.mu.Unlock()
	return nil
}

func first(problems []string) string {
	if len(problems) == 0 {
		return ""
	}
	return problems[0]
}

// registerMetrics makes the gauges that report the last good pass.
func (m *Monitor) registerMetrics(meter metric.Meter) error {
	var err error
	must := func(g metric.Int64ObservableGauge, e error) metric.Int64ObservableGauge {
		err = errors.Join(err, e)
		return g
	}
	problems := must(meter.Int64ObservableGauge("ordersaga.verify.problems",
		metric.WithDescription("What the last verify pass found wrong, by kind (and read model): unpublished and parked events, version gaps, read models that lag or differ from the fold")))
	stuck := must(meter.Int64ObservableGauge("ordersaga.sagas.stuck",
		metric.WithDescription("Running sagas that do not move on, by why: past their deadline, a compensation or forward step retrying, a workflow task no worker completes")))
	streams := must(meter.Int64ObservableGauge("ordersaga.verify.streams", metric.WithDescription("Streams the last verify pass checked")))
	lastPass := instrument.Must(meter.Float64ObservableGauge("ordersaga.verify.last_pass.timestamp", metric.WithUnit("s"),
		metric.WithDescription("When the last good verify pass ended, in seconds since 1970 (0 before the first)")))
	took := instrument.Must(meter.Float64ObservableGauge("ordersaga.verify.pass.duration", metric.WithUnit("s"),
		metric.WithDescription("How long the last good verify pass took")))
	m.failures = instrument.Must(meter.Int64Counter("ordersaga.verify.failures", metric.WithDescription("Verify passes that failed (database or Temporal unreachable)")))
	m.failures.Add(context.Background(), 0) // the series exists before the first failure
	if err != nil {
		return err
	}
	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		m.mu.Lock()
		p := m.last
		m.mu.Unlock()
		if p.at.IsZero() {
			o.ObserveFloat64(lastPass, 0)
			return nil
		}
		for _, kind := range []string{projections.ProblemUnpublished, projections.ProblemParked, projections.ProblemVersionGap, projections.ProblemSnapshotDiffers} {
			o.ObserveInt64(problems, int64(p.report.Counts[kind]), metric.WithAttributes(attribute.String("kind", kind)))
		}
		for _, kind := range []string{projections.ProblemReadModelLags, projections.ProblemReadModelDiffers} {
			for _, table := range projections.Tables() {
				o.ObserveInt64(problems, int64(p.report.Counts[kind+"/"+table]),
					metric.WithAttributes(attribute.String("kind", kind), attribute.String("read_model", table)))
			}
		}
		if m.cfg.Temporal != nil {
			for _, why := range []string{workflows.StuckPastDeadline, workflows.StuckCompensationRetrying, workflows.StuckForwardStepRetrying, workflows.StuckWorkflowTask} {
				o.ObserveInt64(stuck, int64(p.stuck[why]), metric.WithAttributes(attribute.String("why", why)))
			}
		}
		o.ObserveInt64(streams, int64(p.report.StreamsChecked))
		o.ObserveFloat64(lastPass, float64(p.at.UnixNano())/1e9)
		o.ObserveFloat64(took, p.took.Seconds())
		return nil
	}, problems, stuck, streams, lastPass, took)
	return err
}
