package workflows

import (
	"testing"
	"time"

	"github.com/ordersaga/ordersaga"
)

// TestCurrentDetailsSayWhereTheSagaIs pins the current details Temporal Web shows at each
// kind of step: a step running, the wait for the restaurant with its deadline, a decision
// held for the decision point, and an end with its reason and what was undone.
func TestCurrentDetailsSayWhereTheSagaIs(t *testing.T) {
	in := ordersaga.OrderInput{OrderID: "41", CustomerID: "c-1", RestaurantID: "r-7", Currency: "EUR"}
	deadline := time.Date(2026, 12, 2, 12, 5, 0, 0, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		name     string
		state    State
		deadline time.Time
		want     string
	}{
		{"created, debiting", State{Status: ordersaga.StatusCreated, Amount: 2300, CompletedSteps: []string{"create-order"}, PendingStep: "debit-payment"}, time.Time{},
			"**created** · 23.00 EUR  \nRunning debit-payment  \nDone: create-order  \n"},
		{"awaiting the restaurant", State{Status: ordersaga.StatusAwaitingDecision, Amount: 2300, CompletedSteps: []string{"create-order", "debit-payment"}}, deadline,
			"**awaiting_decision** · 23.00 EUR  \nWaiting for restaurant r-7 to approve or reject, until 2026-12-02T11:05:00Z  \nDone: create-order, debit-payment  \n"},
		{"awaiting, before the deadline is known", State{Status: ordersaga.StatusAwaitingDecision, Amount: 2300, PendingStep: "await-decision"}, time.Time{},
			"**awaiting_decision** · 23.00 EUR  \nRunning await-decision  \n"},
		{"paid, a decision held", State{Status: ordersaga.StatusPaid, Amount: 2300, PendingStep: "mark-awaiting", DecisionHeld: true}, time.Time{},
			"**paid** · 23.00 EUR  \nRunning mark-awaiting  \nA decision arrived early; it is taken at the decision point  \n"},
		{"rejected and undone", State{Status: ordersaga.StatusRejected, Reason: ordersaga.ReasonRestaurantRejected, Amount: 2300,
			CompletedSteps: []string{"create-order", "debit-payment"}, Compensated: []string{"refund-payment", "close-order"}}, deadline,
			"**rejected** · 23.00 EUR · reason restaurant_rejected  \nDone: create-order, debit-payment  \nUndone: refund-payment, close-order  \n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := saga{in: in, state: tc.state, deadline: tc.deadline}
			if got := s.currentDetails(); got != tc.want {
				t.Errorf("currentDetails =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

// TestEveryStepHasItsSummary pins the one line each activity shows, with the amount as the
// menu priced it.
func TestEveryStepHasItsSummary(t *testing.T) {
	s := saga{in: ordersaga.OrderInput{OrderID: "41", CustomerID: "c-1", RestaurantID: "r-7", Currency: "EUR",
		Items: []ordersaga.Item{{ID: "a", Quantity: 1}, {ID: "b", Quantity: 2}}}, state: State{Amount: 2300}}
	for step, want := range map[string]string{
		"create-order":   "create order 41 for c-1 at r-7 (2 items)",
		"debit-payment":  "debit 23.00 EUR from c-1",
		"approve-order":  "approve order 41 at r-7",
		"refund-payment": "refund 23.00 EUR to c-1",
		"mark-awaiting":  "mark-awaiting 41",
	} {
		if got := s.stepSummary(step); got != want {
			t.Errorf("stepSummary(%q) = %q, want %q", step, got, want)
		}
	}
}
