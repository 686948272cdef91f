package loadgen

import (
	"slices"
	"time"
)

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
	ProjectionLag Percentiles `json:"projection_lag"`
	// Statuses counts the orders by Outcome (its String form).
	Statuses map[string]int `json:"statuses"`
	Failures int            `json:"failures"`
	// RefusedDecisions counts decisions and cancellations the saga refused (it holds early
	// decisions, so this should stay 0); each was sent again a moment later.
	RefusedDecisions int64 `json:"refused_decisions"`
	// Baseline figures, when asked for.
	BaselinePerSec  float64      `json:"baseline_orders_per_second,omitempty"`
	BaselineLatency *Percentiles `json:"baseline_latency,omitempty"`
	Ratio           float64      `json:"ratio_to_baseline,omitempty"`
	// CPUPerOrderMs is the CPU each group of processes used per order during the saga's
	// rounds (Config.CPU), BaselineCPUPerOrderMs during the baseline's; nil unmeasured.
	CPUPerOrderMs         map[string]float64 `json:"cpu_ms_per_order,omitempty"`
	BaselineCPUPerOrderMs map[string]float64 `json:"baseline_cpu_ms_per_order,omitempty"`
}

// percentiles returns the nearest-rank percentiles of ds (which it sorts).
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
