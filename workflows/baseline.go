package workflows

import (
	"context"

	"go.temporal.io/sdk/workflow"
)

// BaselineName is the workflow type of the load test's baseline: OrderSaga's shape (two
// activities, a decision update, a third activity) with activities that do nothing, on the
// same task queue, worker and retry options. Its throughput is what Temporal alone allows;
// `ordersaga load --baseline` reports OrderSaga's as a ratio of it.
const BaselineName = "BaselineSaga"

// NoopActivity does nothing; the baseline runs it where OrderSaga runs its activities.
func NoopActivity(context.Context, string) error { return nil }

// BaselineSaga mirrors OrderSaga's happy path without side effects.
func BaselineSaga(ctx workflow.Context, orderID string) (Result, error) {
	var decided bool
	if err := workflow.SetUpdateHandler(ctx, UpdateDecision, func(ctx workflow.Context, d Decision) (DecisionResult, error) {
		decided = true
		return DecisionResult{Accepted: true, Status: "awaiting_decision"}, nil
	}); err != nil {
		return Result{}, err
	}
	ctx = workflow.WithActivityOptions(ctx, forwardOptions)
	for _, step := range []string{"create-order", "debit-payment"} {
		if err := workflow.ExecuteActivity(ctx, NoopActivity, step).Get(ctx, nil); err != nil {
			return Result{}, err
		}
	}
	if err := workflow.Await(ctx, func() bool { return decided }); err != nil {
		return Result{}, err
	}
	if err := workflow.ExecuteActivity(ctx, NoopActivity, "approve-order").Get(ctx, nil); err != nil {
		return Result{}, err
	}
	return Result{OrderID: orderID, Status: "approved"}, nil
}
