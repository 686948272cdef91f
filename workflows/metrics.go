package workflows

import (
	"go.temporal.io/sdk/workflow"
)

// The saga's own metrics, through the worker's Temporal metrics handler, which drops what
// a replay would count twice: sagas started, sagas ended by outcome (the final status) and
// reason, compensations run, and decisions refused (those for a saga that has ended are
// counted by Client, which Temporal answers). Names are Prometheus-style; the exporter adds
// _total to counters.
const (
	metricSagasStarted      = "ordersaga_sagas_started"
	metricSagasEnded        = "ordersaga_sagas_ended"
	metricCompensationsRun  = "ordersaga_compensations_run"
	metricDecisionsRefused  = "ordersaga_decisions_refused"
	refusedNotAwaiting      = "not_awaiting_decision"
	refusedIgnoredSignal    = "signal_ignored"
	refusedOrderEndedBefore = "order_ended_before_decision_point"
	refusedSagaEnded        = "saga_ended"
)

func countStarted(ctx workflow.Context) {
	workflow.GetMetricsHandler(ctx).Counter(metricSagasStarted).Inc(1)
}

func countEnded(ctx workflow.Context, outcome, reason string) {
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"outcome": outcome, "reason": reason}).Counter(metricSagasEnded).Inc(1)
}

func countCompensation(ctx workflow.Context, compensation string) {
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"compensation": compensation}).Counter(metricCompensationsRun).Inc(1)
}

func countRefusedDecision(ctx workflow.Context, why string) {
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"why": why}).Counter(metricDecisionsRefused).Inc(1)
}
