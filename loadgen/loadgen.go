// Package loadgen drives orders through a running ordersaga stack and measures it: orders
// per second, saga latency (start to terminal status in the workflow) and projection lag
// (event recorded to taken in by the read model), with a mix of outcomes; and the same shape of
// workflow without side effects (baseline.BaselineSaga) as a baseline on the same Temporal
// server and worker.
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
	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ordersaga/ordersaga"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/loadgen/baseline"
	"github.com/ordersaga/ordersaga/workflows"
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
	Orders   int                            // default 100
	// Concurrency is the number of orders in flight at most; default 8.
	Concurrency int
	// Rate, when above zero, starts orders at this many per second (open loop) instead of
	// as fast as Concurrency allows; latencies then count from the scheduled start, so
	// falling behind shows in them.
	Rate float64
	// Via is ViaAPI (default) or ViaTemporal.
	Via string
	// DecideAt is DecideAtStart (default) or DecideWhenPaid.
	DecideAt string
	// Baseline also runs baseline.BaselineSaga the same way and reports the ratio.
	Baseline bool
	// Rounds splits the orders into this many rounds that alternate between the saga and
	// the baseline (saga first in the first round, baseline first in the second, ...);
	// default 1. Without Baseline there is one round.
	Rounds int
	// Progress receives a live progress line; nil discards it.
	Progress io.Writer
	// RunID prefixes order ids so that runs never collide; default the start time.
	RunID string
}

// Percentiles of a set of durations, in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
}

// Report is what a run measured.
type Report struct {
	// RunID names the run's sagas and baselines (workflow ids order-load-<run id>-000042 and
	// baseline-<run id>-000042), to find them in Temporal Web.
	RunID        string      `json:"run_id"`
	Orders       int         `json:"orders"`
	Concurrency  int         `json:"concurrency"`
	Rate         float64     `json:"target_rate,omitempty"`
	Rounds       int         `json:"rounds"`
	Via          string      `json:"via"`
	DecideAt     string      `json:"decide_at"`
	Seconds      float64     `json:"seconds"`
	OrdersPerSec float64     `json:"orders_per_second"`
	SagaLatency  Percentiles `json:"saga_latency"`
	// ProjectionLag runs from an order's last event being recorded to the read model
	// taking it in (orders_view.projected_at), both by the database's clock.
	ProjectionLag Percentiles    `json:"projection_lag"`
	Statuses      map[string]int `json:"statuses"`
	Failures      int            `json:"failures"`
	// RefusedDecisions counts decisions and cancellations the saga refused (it holds early
	// decisions, so this should stay 0); each was sent again a moment later.
	RefusedDecisions int64 `json:"refused_decisions"`
	// Baseline figures, when asked for.
	BaselinePerSec  float64      `json:"baseline_orders_per_second,omitempty"`
	BaselineLatency *Percentiles `json:"baseline_latency,omitempty"`
	Ratio           float64      `json:"ratio_to_baseline,omitempty"`
}

// outcome is what the load asks of order i: most are approved; one in ten is declined
// (its customer cannot pay), rejected by the restaurant, or cancelled.
func outcome(i int) string {
	switch i % 10 {
	case 0:
		return ordersaga.StatusRejected + "/" + ordersaga.ReasonPaymentDeclined
	case 1:
		return ordersaga.StatusRejected + "/" + ordersaga.ReasonRestaurantRejected
	case 2:
		return ordersaga.StatusCancelled
	}
	return ordersaga.StatusApproved
}

// Run drives the load and returns the figures.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.API == nil || cfg.Temporal == nil {
		return Report{}, errors.New("loadgen: API and Temporal are required")
	}
	if cfg.Orders <= 0 {
		cfg.Orders = 100
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.RunID == "" {
		cfg.RunID = time.Now().UTC().Format("20060102-150405")
	}
	cfg.Via = cmp.Or(cfg.Via, ViaAPI)
	cfg.DecideAt = cmp.Or(cfg.DecideAt, DecideAtStart)
	sagas, err := newDriver(cfg)
	if err != nil {
		return Report{}, err
	}
	if cfg.DecideAt != DecideAtStart && cfg.DecideAt != DecideWhenPaid {
		return Report{}, fmt.Errorf("loadgen: decide at %q: want %q or %q", cfg.DecideAt, DecideAtStart, DecideWhenPaid)
	}
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
		if err != nil {
			r.Failures++
			return err
		}
		latencies = append(latencies, latency)
		if lag >= 0 {
			lags = append(lags, lag)
		}
		r.Statuses[final]++
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
	}
	phases := []*phase{{name: "orders", job: runSaga}}
	if cfg.Baseline {
		phases = append(phases, &phase{name: "baseline", job: runBaselineSaga})
	}
	// Rounds alternate which runs first, so that whatever drifts during the run (caches
	// warming, tables growing) weighs on both alike.
	rounds := 1
	if cfg.Baseline {
		rounds = min(max(cfg.Rounds, 1), cfg.Orders)
	}
	r.Rounds = rounds
	for round := range rounds {
		from, to := round*cfg.Orders/rounds, (round+1)*cfg.Orders/rounds
		order := slices.Clone(phases)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, ph := range order {
			elapsed, err := drive(ctx, cfg, ph.name, from, to, ph.job)
			ph.elapsed += elapsed
			if err != nil {
				return r, err
			}
		}
	}
	r.Seconds = phases[0].elapsed.Seconds()
	r.RefusedDecisions = refused.Load()
	r.OrdersPerSec = float64(cfg.Orders) / r.Seconds
	r.SagaLatency, r.ProjectionLag = percentiles(latencies), percentiles(lags)
	if !cfg.Baseline {
		return r, nil
	}
	r.BaselinePerSec = float64(cfg.Orders) / phases[1].elapsed.Seconds()
	p := percentiles(baseline)
	r.BaselineLatency = &p
	r.Ratio = r.OrdersPerSec / r.BaselinePerSec
	return r, nil
}

// fund credits each worker's customer with plenty, and the poor customer with one cent.
func fund(ctx context.Context, cfg Config) error {
	for w := range cfg.Concurrency {
		if _, err := cfg.API.CreditAccount(ctx, &ordersagav1.CreditAccountRequest{CustomerId: customer(cfg, w),
			Amount: int64(cfg.Orders) * 10_000, Currency: "EUR", Reference: "load"}); err != nil {
			return fmt.Errorf("fund: %w", err)
		}
	}
	_, err := cfg.API.CreditAccount(ctx, &ordersagav1.CreditAccountRequest{CustomerId: poor(cfg), Amount: 1, Currency: "EUR", Reference: "load"})
	return err
}

func customer(cfg Config, worker int) string { return fmt.Sprintf("load-%s-c%d", cfg.RunID, worker) }
func poor(cfg Config) string                 { return "load-" + cfg.RunID + "-poor" }

// drive runs job for orders from..to-1 on Concurrency workers with a live progress line.
// Each job gets the time it was due to start: now, or with a Rate its place in the
// schedule.
func drive(ctx context.Context, cfg Config, what string, from, to int, job func(ctx context.Context, worker, i int, start time.Time) error) (time.Duration, error) {
	var next, done atomic.Int64
	next.Store(int64(from))
	n := to - from
	start := time.Now()
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
				d := done.Load()
				fmt.Fprintf(cfg.Progress, "%s %d-%d: %d/%d done, %.1f/s\n", what, from, to-1, d, n, float64(d)/time.Since(start).Seconds())
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, cfg.Concurrency)
	for w := range cfg.Concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= to || ctx.Err() != nil {
					return
				}
				due := time.Now()
				if cfg.Rate > 0 {
					due = start.Add(time.Duration(float64(i-from) / cfg.Rate * float64(time.Second)))
					select {
					case <-ctx.Done():
						return
					case <-time.After(time.Until(due)):
					}
				}
				if err := job(ctx, w, i, due); err != nil {
					select {
					case errs <- fmt.Errorf("%s %d: %w", what, i, err):
					default:
					}
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	close(stop)
	elapsed := time.Since(start)
	fmt.Fprintf(cfg.Progress, "%s %d-%d: %d/%d done in %s\n", what, from, to-1, done.Load(), n, elapsed.Round(time.Millisecond))
	select {
	case err := <-errs:
		return elapsed, err
	default:
		return elapsed, ctx.Err()
	}
}

// runOrder places order i, steers it to its outcome, and measures it from start. lag is
// negative when the order's read model could not say (no order was created).
func runOrder(ctx context.Context, cfg Config, sagas driver, worker, i int, start time.Time, refused *atomic.Int64) (latency, lag time.Duration, final string, err error) {
	id := fmt.Sprintf("load-%s-%06d", cfg.RunID, i)
	want := outcome(i)
	cust := customer(cfg, worker)
	if want == ordersaga.StatusRejected+"/"+ordersaga.ReasonPaymentDeclined {
		cust = poor(cfg)
	}
	in := ordersaga.OrderInput{OrderID: id, CustomerID: cust, RestaurantID: "manual", Currency: "EUR",
		Items: []ordersaga.Item{{ID: "margherita", Name: "Margherita", UnitPrice: 1150, Quantity: 1}}}
	runID, err := sagas.place(ctx, in)
	if err != nil {
		return 0, 0, "", err
	}
	if err := steer(ctx, cfg, sagas, id, want, refused); err != nil {
		return 0, 0, "", err
	}
	var res workflows.Result
	// With the run id, as the baseline waits for its runs: without it the client would
	// first ask the server which run is current.
	if err := cfg.Temporal.GetWorkflow(ctx, workflows.WorkflowID(id), runID).Get(ctx, &res); err != nil {
		return 0, 0, "", err
	}
	latency = time.Since(start)
	final = res.Status
	if res.Reason != "" {
		final += "/" + res.Reason
	}
	lag, err = projectionLag(ctx, cfg, res)
	return latency, lag, final, err
}

// maxPaidPollInterval caps the interval at which steer looks for an order's payment.
const maxPaidPollInterval = 200 * time.Millisecond

// steer sends the order what its outcome needs: the restaurant's decision (at once, or
// when the read model shows the payment), or a cancellation once it is paid, so that the
// refund runs. It polls the read model, not Temporal: a query costs the worker a workflow
// task, and hammering them would slow the very sagas being measured.
func steer(ctx context.Context, cfg Config, sagas driver, id, want string, refused *atomic.Int64) error {
	var send func() error
	switch want {
	case ordersaga.StatusRejected + "/" + ordersaga.ReasonPaymentDeclined:
		return nil // declined by payment: nothing to decide
	case ordersaga.StatusCancelled:
		send = func() error { return sagas.cancel(ctx, id) }
	case ordersaga.StatusApproved:
		send = func() error { return sagas.decide(ctx, id, workflows.Decision{Approved: true}) }
	default:
		send = func() error { return sagas.decide(ctx, id, workflows.Decision{Approved: false, Reason: "load test"}) }
	}
	if cfg.DecideAt == DecideAtStart && want != ordersaga.StatusCancelled {
		if err := send(); !refusedDecision(err) {
			return err
		}
		refused.Add(1)
	}
	wait := 20 * time.Millisecond
	for {
		o, err := cfg.API.GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: id})
		switch {
		case err != nil && status.Code(err) != codes.NotFound:
			return err
		case err == nil && o.Order.Status != ordersaga.StatusCreated:
			if o.Order.Status != ordersaga.StatusPaid {
				return nil // it ended another way; the result says how
			}
			if err := send(); !refusedDecision(err) {
				return err
			}
			refused.Add(1)
			wait = min(2*wait, 500*time.Millisecond) // refused: a moment more
		default:
			// Not paid yet: look again a little later each time, so that the generator's
			// own reads do not weigh on the figures (about five reads per order).
			wait = min(wait*3/2, maxPaidPollInterval)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// projectionLag is how long the read model took to take in the order's last event: the
// projector stamps each row when it writes it, by the database's clock that also stamps
// events, so the figure does not depend on when the generator looks. It is negative when
// there is nothing to measure.
func projectionLag(ctx context.Context, cfg Config, res workflows.Result) (time.Duration, error) {
	if res.OrderVersion == 0 {
		return -1, nil // cancelled before the order was created: nothing to project
	}
	for {
		o, err := cfg.API.GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: res.OrderID, MinVersion: res.OrderVersion})
		switch {
		case err == nil && o.Order.ProjectedAt == nil:
			return -1, nil // a row written before the read model stamped them
		case err == nil:
			return max(o.Order.ProjectedAt.AsTime().Sub(o.Order.UpdatedAt.AsTime()), 0), nil
		case status.Code(err) != codes.Unavailable || ctx.Err() != nil:
			return 0, err
		}
	}
}

// baselineFor is the BaselineSaga that mirrors order i's saga: as many activities (the
// approved path runs create, debit, approve; the others create, debit, refund, close), a
// decision unless the payment is declined, and the OrderStatus upserts the saga makes on
// that path when events come in the expected order (see mirroredStatuses).
func baselineFor(cfg Config, i int) baseline.Input {
	want := outcome(i)
	in := baseline.Input{OrderID: fmt.Sprintf("baseline-%s-%06d", cfg.RunID, i), Activities: 4,
		Statuses: mirroredStatuses(cfg.DecideAt, want), CustomerID: "load-" + cfg.RunID + "-baseline"}
	switch want {
	case ordersaga.StatusApproved:
		in.Activities = 3
	case ordersaga.StatusRejected + "/" + ordersaga.ReasonPaymentDeclined:
		in.NoDecision = true
	}
	return in
}

// mirroredStatuses are the statuses an API-started saga upserts on the way to outcome
// want (it starts with pending, which the starter sets): awaiting_decision when it waits
// for a decision (a decision sent at the start is held, so it does not wait; one sent once
// the payment shows usually finds it waiting, but may beat it there), compensating before
// undoing its steps, and the final status.
func mirroredStatuses(decideAt, want string) []string {
	const (
		awaiting     = ordersaga.StatusAwaitingDecision
		compensating = ordersaga.StatusCompensating
		rejected     = ordersaga.StatusRejected
	)
	waits := decideAt == DecideWhenPaid
	switch want {
	case ordersaga.StatusApproved:
		if waits {
			return []string{awaiting, ordersaga.StatusApproved}
		}
		return []string{ordersaga.StatusApproved}
	case rejected + "/" + ordersaga.ReasonRestaurantRejected:
		if waits {
			return []string{awaiting, compensating, rejected}
		}
		return []string{compensating, rejected}
	case rejected + "/" + ordersaga.ReasonPaymentDeclined:
		return []string{compensating, rejected}
	}
	// Cancelled once paid, while it waits for the restaurant.
	return []string{awaiting, compensating, ordersaga.StatusCancelled}
}

// runBaseline runs order i's BaselineSaga: start, decide (like the orders, at once), wait.
func runBaseline(ctx context.Context, cfg Config, i int, start time.Time) (time.Duration, error) {
	in := baselineFor(cfg, i)
	opts := workflows.StartOptions(in.OrderID)
	opts.ID = in.OrderID
	// Started with the attributes the API gives a saga.
	opts.TypedSearchAttributes = temporal.NewSearchAttributes(workflows.OrderStatusAttribute.ValueSet(ordersaga.StatusPending),
		workflows.CustomerIDAttribute.ValueSet(in.CustomerID))
	run, err := cfg.Temporal.ExecuteWorkflow(ctx, opts, baseline.Name, in)
	if err != nil {
		return 0, err
	}
	if !in.NoDecision {
		h, err := cfg.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: in.OrderID, RunID: run.GetRunID(),
			UpdateName: workflows.UpdateDecision, Args: []any{workflows.Decision{Approved: true}}, WaitForStage: client.WorkflowUpdateStageCompleted})
		var accepted workflows.DecisionResult
		if err == nil {
			err = h.Get(ctx, &accepted)
		}
		if err != nil {
			return 0, err
		}
	}
	var res workflows.Result
	if err := run.Get(ctx, &res); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func percentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		i := int(q * float64(len(ds)-1))
		return float64(ds[i].Microseconds()) / 1000
	}
	return Percentiles{P50: at(0.50), P95: at(0.95), P99: at(0.99)}
}
