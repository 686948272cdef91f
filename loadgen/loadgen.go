// Package loadgen drives orders through a running ordersaga stack and measures it: orders
// per second, saga latency (start to terminal status in the workflow) and projection lag
// (event recorded to taken in by the read model), with a mix of outcomes; and the same shape of
// workflow without side effects (baseline.BaselineSaga) as a baseline on the same Temporal
// server and worker.
//
// Run (this file) alternates the rounds; schedule.go starts the orders on time, steer.go
// places each order and steers it to its outcome (outcome.go), baseline.go mirrors each
// order with a baseline run, and report.go holds the figures.
package loadgen

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/internal/proccpu"
)

// Ways in: Config.Via.
const (
	// ViaAPI places, decides and cancels orders through the gRPC API, as a client would.
	ViaAPI = "api"
	// ViaTemporal starts, updates and cancels the sagas straight through Temporal, as the
	// temporal CLI or another service would; the read model is still read through the API.
	ViaTemporal = "temporal"
)

// When the restaurant answers: Config.DecideAt.
const (
	// DecideAtStart sends the decision right after the order is placed, as the baseline
	// does; the saga holds it until it reaches the decision point.
	DecideAtStart = "start"
	// DecideWhenPaid sends it once the read model shows the payment, as a restaurant that
	// reacts to the bus would; the saga usually awaits it by then (with its deadline timer
	// running), and the generator polls the read model for every order.
	DecideWhenPaid = "paid"
)

// Config says what load to drive.
type Config struct {
	API      ordersagav1.OrderServiceClient // required: accounts and the read model
	Temporal client.Client                  // required: results, the baseline, ViaTemporal
	// Orders is how many orders to place; at least 1.
	Orders int
	// Concurrency is the number of orders in flight at most; default 8 (256 with a Rate).
	Concurrency int
	// Rate, when above zero, starts orders at this many per second (open loop) instead of
	// as fast as Concurrency allows; latencies then count from the scheduled start, so
	// falling behind shows in them.
	Rate float64
	// Via is ViaAPI (default) or ViaTemporal.
	Via string
	// DecideAt is DecideAtStart (default) or DecideWhenPaid.
	DecideAt string
	// Baseline also runs baseline.BaselineSaga the same way and reports the ratio; the
	// worker must run it (system.WorkerConfig.Baseline).
	Baseline bool
	// Rounds splits the orders into this many rounds that alternate between the saga and
	// the baseline (saga first in the first round, baseline first in the second, ...);
	// default 4. Without Baseline there is one round.
	Rounds int
	// Progress receives a live progress line; nil discards it.
	Progress io.Writer
	// RunID prefixes order ids so that runs never collide; default the start time.
	RunID string
	// OnOrder, when set, is told of every order as it ends (or fails), from the drivers'
	// goroutines, one call at a time: for figures over time (ordersaga chaos).
	OnOrder func(OrderResult)
	// CPU, when set, is sampled before and after every round of the saga and of the
	// baseline, and the report gives each side's CPU per order by group (proccpu.Meter:
	// the processes of a stack on this machine).
	CPU CPUSampler
}

// CPUSampler reports the CPU time groups of processes have used so far.
type CPUSampler interface {
	Sample() (map[string]time.Duration, error)
}

// OrderResult is one order of a run.
type OrderResult struct {
	// Index is the order's place in the run; ID its order id.
	Index int
	ID    string
	// Start is when it was due to start; Latency how long it took from then to its end.
	Start   time.Time
	Latency time.Duration
	// Want is the outcome the load asked for; Final the one it had (zero if Err).
	Want, Final Outcome
	// Lag is how long the read model took to take in its last event; negative if unknown.
	Lag time.Duration
	// Err says why the generator could not see it through.
	Err error
}

// Validate returns an EINVALID error naming the first figure that cannot describe a load
// ("orders", "concurrency", "rate", "rounds", "via", "decide_at"), or nil. It does not
// look at API and Temporal, so that a command can check its figures before it connects.
func (c Config) Validate() error {
	switch {
	case c.Orders <= 0:
		return ordersaga.Invalidf("orders", "must be at least 1, got %d", c.Orders)
	case c.Concurrency < 0:
		return ordersaga.Invalidf("concurrency", "must not be negative, got %d", c.Concurrency)
	case c.Rate < 0:
		return ordersaga.Invalidf("rate", "must not be negative, got %g", c.Rate)
	case c.Rounds < 0:
		return ordersaga.Invalidf("rounds", "must not be negative, got %d", c.Rounds)
	case c.Via != "" && c.Via != ViaAPI && c.Via != ViaTemporal:
		return ordersaga.Invalidf("via", "must be %s or %s, got %q", ViaAPI, ViaTemporal, c.Via)
	case c.DecideAt != "" && c.DecideAt != DecideAtStart && c.DecideAt != DecideWhenPaid:
		return ordersaga.Invalidf("decide_at", "must be %s or %s, got %q", DecideAtStart, DecideWhenPaid, c.DecideAt)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Concurrency == 0 {
		c.Concurrency = 8
		if c.Rate > 0 {
			c.Concurrency = 256
		}
	}
	if c.Rounds == 0 {
		c.Rounds = 4
	}
	if !c.Baseline {
		c.Rounds = 1
	}
	c.Rounds = min(c.Rounds, c.Orders)
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.RunID == "" {
		c.RunID = time.Now().UTC().Format("20060102-150405")
	}
	c.Via = cmp.Or(c.Via, ViaAPI)
	c.DecideAt = cmp.Or(c.DecideAt, DecideAtStart)
	return c
}

// Run drives the load and returns the figures.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	if cfg.API == nil || cfg.Temporal == nil {
		return Report{}, errors.New("loadgen: API and Temporal are required")
	}
	cfg = cfg.withDefaults()
	sagas := newDriver(cfg)
	r := Report{RunID: cfg.RunID, Orders: cfg.Orders, Concurrency: cfg.Concurrency, Rate: cfg.Rate, Via: cfg.Via, DecideAt: cfg.DecideAt, Statuses: map[string]int{}}
	if err := fund(ctx, cfg); err != nil {
		return r, err
	}
	var refused atomic.Int64
	var (
		mu        sync.Mutex
		latencies []time.Duration
		lags      []time.Duration
	)
	runSaga := func(ctx context.Context, worker, i int, start time.Time) error {
		latency, lag, final, err := runOrder(ctx, cfg, sagas, worker, i, start, &refused)
		mu.Lock()
		defer mu.Unlock()
		if cfg.OnOrder != nil {
			cfg.OnOrder(OrderResult{Index: i, ID: OrderID(cfg.RunID, i), Start: start, Latency: latency, Want: WantedOutcome(i), Final: final, Lag: lag, Err: err})
		}
		if err != nil {
			r.Failures++
			return err
		}
		latencies = append(latencies, latency)
		if lag >= 0 {
			lags = append(lags, lag)
		}
		r.Statuses[final.String()]++
		return nil
	}
	var baseline []time.Duration
	runBaselineSaga := func(ctx context.Context, _, i int, start time.Time) error {
		d, err := runBaseline(ctx, cfg, i, start)
		if err == nil {
			mu.Lock()
			baseline = append(baseline, d)
			mu.Unlock()
		}
		return err
	}
	type phase struct {
		name    string
		job     func(ctx context.Context, worker, i int, start time.Time) error
		elapsed time.Duration
		cpu     map[string]time.Duration
	}
	phases := []*phase{{name: "orders", job: runSaga}}
	if cfg.Baseline {
		phases = append(phases, &phase{name: "baseline", job: runBaselineSaga})
	}
	// Rounds alternate which runs first, so that whatever drifts during the run (caches
	// warming, tables growing) weighs on both alike.
	rounds := cfg.Rounds
	r.Rounds = rounds
	for round := range rounds {
		from, to := round*cfg.Orders/rounds, (round+1)*cfg.Orders/rounds
		order := slices.Clone(phases)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, ph := range order {
			before, err := sampleCPU(cfg.CPU)
			if err != nil {
				return r, err
			}
			elapsed, err := drive(ctx, cfg, ph.name, from, to, ph.job)
			ph.elapsed += elapsed
			if err != nil {
				return r, err
			}
			if ph.cpu, err = addCPU(cfg.CPU, ph.cpu, before); err != nil {
				return r, err
			}
		}
	}
	r.Seconds = phases[0].elapsed.Seconds()
	r.RefusedDecisions = refused.Load()
	r.OrdersPerSec = float64(cfg.Orders) / r.Seconds
	r.SagaLatency, r.ProjectionLag = percentiles(latencies), percentiles(lags)
	r.CPUPerOrderMs = perOrderMs(phases[0].cpu, cfg.Orders)
	if !cfg.Baseline {
		return r, nil
	}
	r.BaselineCPUPerOrderMs = perOrderMs(phases[1].cpu, cfg.Orders)
	r.BaselinePerSec = float64(cfg.Orders) / phases[1].elapsed.Seconds()
	p := percentiles(baseline)
	r.BaselineLatency = &p
	r.Ratio = r.OrdersPerSec / r.BaselinePerSec
	return r, nil
}

// sampleCPU samples cpu, if there is one.
func sampleCPU(cpu CPUSampler) (map[string]time.Duration, error) {
	if cpu == nil {
		return nil, nil
	}
	sample, err := cpu.Sample()
	if err != nil {
		return nil, fmt.Errorf("loadgen: sample CPU: %w", err)
	}
	return sample, nil
}

// addCPU adds to sum what cpu's groups used since before, and returns it.
func addCPU(cpu CPUSampler, sum, before map[string]time.Duration) (map[string]time.Duration, error) {
	after, err := sampleCPU(cpu)
	if err != nil || after == nil {
		return sum, err
	}
	if sum == nil {
		sum = map[string]time.Duration{}
	}
	for name, used := range proccpu.Delta(before, after) {
		sum[name] += used
	}
	return sum, nil
}

// perOrderMs is cpu divided by orders, in milliseconds; nil without figures.
func perOrderMs(cpu map[string]time.Duration, orders int) map[string]float64 {
	if cpu == nil {
		return nil
	}
	out := make(map[string]float64, len(cpu))
	for name, t := range cpu {
		out[name] = float64(t) / float64(time.Millisecond) / float64(orders)
	}
	return out
}
