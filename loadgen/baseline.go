package loadgen

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/loadgen/baseline"
	"github.com/ordersaga/ordersaga/workflows"
)

// baselineFor is the BaselineSaga that mirrors order i's saga, and the order it stands
// for with its amount: as many activities (the approved path runs create, debit,
// approve; the others create, debit, refund, close), with the summaries the saga gives
// them, a decision unless the payment is declined, and the OrderStatus upserts the saga
// makes on that path when events come in the expected order (see mirroredStatuses).
func baselineFor(cfg Config, i int) (baseline.Input, ordersaga.OrderInput, int64) {
	want := WantedOutcome(i)
	order := ordersaga.OrderInput{OrderID: fmt.Sprintf("baseline-%s-%06d", cfg.RunID, i), CustomerID: "load-" + cfg.RunID + "-baseline",
		RestaurantID: restaurant, Currency: "EUR", Items: []ordersaga.Item{dish}}
	amount, _ := order.Amount() // one dish: no overflow
	in := baseline.Input{OrderID: order.OrderID, Statuses: mirroredStatuses(cfg.DecideAt, want), CustomerID: order.CustomerID}
	steps := []string{workflows.StepSummary(order, amount, "create-order"), workflows.StepSummary(order, amount, "debit-payment")}
	switch want {
	case approved:
		in.Summaries = append(steps, workflows.StepSummary(order, amount, "approve-order"))
	default:
		in.NoDecision = want == declined
		in.Summaries = append(steps, workflows.StepSummary(order, amount, "refund-payment"),
			workflows.CloseSummary(order.OrderID, want.Reason, want == cancelled))
	}
	in.Activities = len(in.Summaries)
	return in, order, amount
}

// mirroredStatuses are the statuses an API-started saga upserts on the way to outcome
// want (it starts with pending, which the starter sets): awaiting_decision when it waits
// for a decision (a decision sent at the start is held, so it does not wait; one sent once
// the payment shows usually finds it waiting, but may beat it there), compensating before
// undoing its steps, and the final status.
func mirroredStatuses(decideAt string, want Outcome) []string {
	const (
		awaiting     = ordersaga.StatusAwaitingDecision
		compensating = ordersaga.StatusCompensating
	)
	waits := decideAt == DecideWhenPaid
	switch want {
	case approved:
		if waits {
			return []string{awaiting, approved.Status}
		}
		return []string{approved.Status}
	case rejected:
		if waits {
			return []string{awaiting, compensating, rejected.Status}
		}
		return []string{compensating, rejected.Status}
	case declined:
		return []string{compensating, declined.Status}
	}
	// Cancelled once paid, while it waits for the restaurant.
	return []string{awaiting, compensating, cancelled.Status}
}

// runBaseline runs order i's BaselineSaga: start, decide (like the orders, at once), wait.
func runBaseline(ctx context.Context, cfg Config, i int, start time.Time) (time.Duration, error) {
	in, order, amount := baselineFor(cfg, i)
	opts := workflows.StartOptions(in.OrderID)
	opts.ID = in.OrderID
	// Started with the attributes and the summary and details the API gives a saga.
	opts.StaticSummary, opts.StaticDetails = workflows.Summary(order, amount), workflows.StaticDetails(order, amount)
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
