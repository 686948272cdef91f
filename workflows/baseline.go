package workflows

import (
	"context"

	"go.temporal.io/sdk/workflow"
)

// BaselineName is the workflow type of the load test's baseline: OrderSaga's shape (two
// activities, the restaurant's decision, the remaining activities) with activities that
// do nothing, on the same task queue, worker and retry options. Its throughput is what
// Temporal alone allows; `ordersaga load --baseline` reports OrderSaga's as a ratio of it.
const BaselineName = "BaselineSaga"

// BaselineInput says how many activities the baseline runs, whether it waits for a
// decision and which statuses it publishes, so that each baseline run mirrors one saga of
// the load's mix: an approved order runs three activities (create, debit, approve); a
// declined, rejected or cancelled one four (create, debit, refund, close), and a declined
// one gets no decision.
type BaselineInput struct {
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
}

// NoopActivity does nothing; the baseline runs it where OrderSaga runs its activities.
func NoopActivity(context.Context, string) error { return nil }

// BaselineSaga mirrors one of OrderSaga's paths without side effects.
func BaselineSaga(ctx workflow.Context, in BaselineInput) (Result, error) {
	var decided bool
	if err := workflow.SetUpdateHandler(ctx, UpdateDecision, func(ctx workflow.Context, d Decision) (DecisionResult, error) {
		decided = true
		return DecisionResult{Accepted: true, Status: "awaiting_decision"}, nil
	}); err != nil {
		return Result{}, err
	}
	activities := max(in.Activities, 2)
	if in.Activities == 0 {
		activities = 3
	}
	ctx = workflow.WithActivityOptions(ctx, forwardOptions)
	for step := range activities {
		if step == 2 { // the decision point
			if !in.NoDecision {
				if err := workflow.Await(ctx, func() bool { return decided }); err != nil {
					return Result{}, err
				}
			}
			for _, status := range in.Statuses[:max(len(in.Statuses)-1, 0)] {
				upsertStatus(ctx, status, in.CustomerID)
			}
		}
		if err := workflow.ExecuteActivity(ctx, NoopActivity, in.OrderID).Get(ctx, nil); err != nil {
			return Result{}, err
		}
	}
	if len(in.Statuses) > 0 {
		upsertStatus(ctx, in.Statuses[len(in.Statuses)-1], in.CustomerID)
	}
	return Result{OrderID: in.OrderID, Status: "done"}, nil
}
