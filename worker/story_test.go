package worker_test

import (
	"context"
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/workflows"
)

// What Temporal Web shows of a saga, read back from the real server: the summary of every
// activity and timer in the history, and the current details and handler descriptions the
// workflow's metadata query returns.

// summaryOf decodes the summary a history event carries ("" when it has none).
func summaryOf(t *testing.T, e *historypb.HistoryEvent) string {
	t.Helper()
	p := e.GetUserMetadata().GetSummary()
	if p == nil {
		return ""
	}
	var s string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &s); err != nil {
		t.Fatalf("event %d: summary %v: %v", e.GetEventId(), p, err)
	}
	return s
}

// assertSummaries checks that every activity and timer of the history carries a summary,
// and that the money-moving ones say how much moves and whose money it is.
func assertSummaries(t *testing.T, history []*historypb.HistoryEvent, in ordersaga.OrderInput, amount string) {
	t.Helper()
	want := map[string]string{
		"CreateOrder":   "create order " + in.OrderID + " for " + in.CustomerID + " at " + in.RestaurantID,
		"DebitPayment":  "debit " + amount + " from " + in.CustomerID,
		"RefundPayment": "refund " + amount + " to " + in.CustomerID,
		"ApproveOrder":  "approve order " + in.OrderID + " at " + in.RestaurantID,
		"RejectOrder":   "reject order " + in.OrderID + ": ",
		"CancelOrder":   "cancel order " + in.OrderID,
	}
	for _, e := range history {
		summary := summaryOf(t, e)
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			name := e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
			if !strings.HasPrefix(summary, want[name]) || summary == "" {
				t.Errorf("event %d schedules %s with the summary %q, want it to start with %q", e.GetEventId(), name, summary, want[name])
			}
		case enumspb.EVENT_TYPE_TIMER_STARTED:
			if wantTimer := "restaurant " + in.RestaurantID + " decides within "; !strings.HasPrefix(summary, wantTimer) {
				t.Errorf("event %d starts a timer with the summary %q, want it to start with %q", e.GetEventId(), summary, wantTimer)
			}
		}
	}
}

// metadata runs the workflow metadata query that Temporal Web (and `temporal workflow
// metadata`) uses: the current details and the handlers with their descriptions.
func (s *stack) metadata(t *testing.T, run client.WorkflowRun) *sdkpb.WorkflowMetadata {
	t.Helper()
	v, err := s.Temporal.QueryWorkflow(context.Background(), run.GetID(), run.GetRunID(), "__temporal_workflow_metadata")
	if err != nil {
		t.Fatal(err)
	}
	var md sdkpb.WorkflowMetadata
	if err := v.Get(&md); err != nil {
		t.Fatal(err)
	}
	return &md
}

// assertAwaitingDecisionStory checks what a saga that waits for its restaurant shows: its
// status, amount and deadline in the current details, and a description on each handler.
func (s *stack) assertAwaitingDecisionStory(t *testing.T, run client.WorkflowRun, in ordersaga.OrderInput, amount string) {
	t.Helper()
	md := s.metadata(t, run)
	details := md.GetCurrentDetails()
	for _, want := range []string{ordersaga.StatusAwaitingDecision, amount, "Waiting for restaurant " + in.RestaurantID, "until 20",
		"Done: create-order, debit-payment"} {
		if !strings.Contains(details, want) {
			t.Errorf("current details %q do not say %q", details, want)
		}
	}
	described := map[string]string{}
	for _, list := range [][]*sdkpb.WorkflowInteractionDefinition{md.GetDefinition().GetQueryDefinitions(),
		md.GetDefinition().GetSignalDefinitions(), md.GetDefinition().GetUpdateDefinitions()} {
		for _, d := range list {
			described[d.GetName()] = d.GetDescription()
		}
	}
	for _, name := range []string{workflows.QueryStatus, workflows.SignalDecision, workflows.UpdateDecision} {
		if described[name] == "" {
			t.Errorf("handler %s has no description (handlers: %v)", name, described)
		}
	}
}

// assertStartSummary checks the static summary and details a saga was started with.
func assertStartSummary(t *testing.T, history []*historypb.HistoryEvent, in ordersaga.OrderInput) {
	t.Helper()
	if got, want := summaryOf(t, history[0]), workflows.Summary(in, 2300); got != want {
		t.Errorf("the saga's static summary is %q, want %q", got, want)
	}
	var details string
	if p := history[0].GetUserMetadata().GetDetails(); p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &details)
	}
	if !strings.Contains(details, "| "+in.Items[0].ID+" |") {
		t.Errorf("the saga's static details %q do not list the item %s", details, in.Items[0].ID)
	}
}
