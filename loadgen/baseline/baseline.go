// Package baseline is the load test's yardstick: BaselineSaga has OrderSaga's shape in
// Temporal (two activities, the restaurant's decision, the remaining activities, the same
// search-attribute upserts and the same summaries for Temporal Web) with activities that
// do nothing, on the same task queue, worker and retry options. Its throughput is what
// Temporal alone allows; `ordersaga load --baseline` reports OrderSaga's as a ratio of it.
// Workers register it only when the load test asks for it (Register). Deterministic code
// only, like the workflows package.
package baseline

import (
	"context"

	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/workflows"
)

// Name is the workflow type of the baseline.
const Name = "BaselineSaga"

// Register puts the baseline's workflow and its no-op activity on w.
func Register(w sdkworker.Registry) {
	w.RegisterWorkflowWithOptions(BaselineSaga, workflow.RegisterOptions{Name: Name})
	w.RegisterActivity(NoopActivity)
}

// Input says how many activities the baseline runs, whether it waits for a
// decision and which statuses it publishes, so that each baseline run mirrors one saga of
// the load's mix: an approved order runs three activities (create, debit, approve); a
// declined, rejected or cancelled one four (create, debit, refund, close), and a declined
// one gets no decision.
type Input struct {
	OrderID string `json:"order_id"`
	// Activities, at least 2; default 3.
	Activities int `json:"activities,omitempty"`
	// NoDecision skips waiting for the decision update.
	NoDecision bool `json:"no_decision,omitempty"`
	// Statuses are the OrderStatus search attribute values the mirrored saga upserts
	// after its start, in order: all but the last are upserted at the decision point, the
	// last at the end, each with CustomerID, as the saga's are. None: no upserts.
	Statuses []string `json:"statuses,omitempty"`
	// CustomerID is the CustomerId search attribute that goes with each upsert.
	CustomerID string `json:"customer_id,omitempty"`
	// Summaries are the activities' summaries for Temporal Web, in order, as the mirrored
	// saga gives its steps (workflows.StepSummary, workflows.CloseSummary). None: no
	// summaries.
	Summaries []string `json:"summaries,omitempty"`
}

// NoopActivity does nothing; the baseline runs it where OrderSaga runs its activities.
func NoopActivity(context.Context, string) error { return nil }

// BaselineSaga mirrors one of OrderSaga's paths without side effects.
func BaselineSaga(ctx workflow.Context, in Input) (workflows.Result, error) {
	// The saga holds a decision that comes before its decision point and completes the
	// update there (the load sends decisions at once); so does the baseline.
	var decided, atDecisionPoint bool
	if err := workflow.SetUpdateHandler(ctx, workflows.UpdateDecision, func(ctx workflow.Context, d workflows.Decision) (workflows.DecisionResult, error) {
		decided = true
		if err := workflow.Await(ctx, func() bool { return atDecisionPoint }); err != nil {
			return workflows.DecisionResult{}, err
		}
		return workflows.DecisionResult{Accepted: true, Status: ordersaga.StatusAwaitingDecision}, nil
	}); err != nil {
		return workflows.Result{}, err
	}
	activities := max(in.Activities, 2)
	if in.Activities == 0 {
		activities = 3
	}
	ctx = workflow.WithActivityOptions(ctx, workflows.ForwardActivityOptions())
	for step := range activities {
		if step == 2 { // the decision point
			atDecisionPoint = true
			if !in.NoDecision {
				if err := workflow.Await(ctx, func() bool { return decided }); err != nil {
					return workflows.Result{}, err
				}
			}
			for _, status := range in.Statuses[:max(len(in.Statuses)-1, 0)] {
				workflows.UpsertStatus(ctx, status, in.CustomerID)
			}
		}
		actx := ctx
		if step < len(in.Summaries) {
			opts := workflow.GetActivityOptions(ctx)
			opts.Summary = in.Summaries[step]
			actx = workflow.WithActivityOptions(ctx, opts)
		}
		if err := workflow.ExecuteActivity(actx, NoopActivity, in.OrderID).Get(ctx, nil); err != nil {
			return workflows.Result{}, err
		}
	}
	if len(in.Statuses) > 0 {
		workflows.UpsertStatus(ctx, in.Statuses[len(in.Statuses)-1], in.CustomerID)
	}
	return workflows.Result{OrderID: in.OrderID, Status: "done"}, nil
}
