package worker_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/workflows"
)

// TestTheClientPlacesOnceDecidesAndAnswersForTheSaga drives a saga through
// workflows.Client, as the API does, against the real server: a bad order or order id is
// EINVALID and starts nothing; the same order placed twice is one saga; its id with other
// content is EEXISTS; the status and the decision reach the saga; an order that never was
// is ENOTFOUND.
func TestTheClientPlacesOnceDecidesAndAnswersForTheSaga(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	c := workflows.Client{Temporal: s.Temporal}
	in := newOrder("client-" + uuid.NewString()[:8])
	s.fund(t, in.CustomerID, 5000)

	bad := in
	bad.CustomerID = ""
	if _, err := c.Place(ctx, bad); ordersaga.ErrorCode(err) != ordersaga.EINVALID {
		t.Errorf("placing an order without a customer: %v, want EINVALID", err)
	}
	if _, err := s.Temporal.DescribeWorkflowExecution(ctx, workflows.WorkflowID(in.OrderID), ""); err == nil {
		t.Fatal("the refused order has a saga")
	}
	for name, call := range map[string]func() error{
		"status": func() error { _, err := c.Status(ctx, "no such id!"); return err },
		"decide": func() error { _, err := c.Decide(ctx, "no such id!", workflows.Decision{Approved: true}); return err },
		"cancel": func() error { return c.Cancel(ctx, "no such id!") },
	} {
		if err := call(); ordersaga.ErrorCode(err) != ordersaga.EINVALID {
			t.Errorf("%s with a malformed order id: %v, want EINVALID", name, err)
		}
	}

	first, err := c.Place(ctx, in)
	if err != nil || first.WorkflowID != workflows.WorkflowID(in.OrderID) || first.RunID == "" || first.AlreadyPlaced {
		t.Fatalf("Place = %+v, %v; want a new saga %s", first, err, workflows.WorkflowID(in.OrderID))
	}
	again, err := c.Place(ctx, in)
	if err != nil || again.RunID != first.RunID || !again.AlreadyPlaced {
		t.Errorf("placing it again = %+v, %v; want run %s, already placed", again, err, first.RunID)
	}
	other := in
	other.Items = []ordersaga.Item{{ID: "margherita", Name: "Margherita", UnitPrice: 1150, Quantity: 3}}
	if _, err := c.Place(ctx, other); ordersaga.ErrorCode(err) != ordersaga.EEXISTS {
		t.Errorf("its id with other content: %v, want EEXISTS", err)
	}

	run := s.Temporal.GetWorkflow(ctx, first.WorkflowID, first.RunID)
	s.awaitStatus(t, run, ordersaga.StatusAwaitingDecision)
	if st, err := c.Status(ctx, in.OrderID); err != nil || st.OrderID != in.OrderID || st.Status != ordersaga.StatusAwaitingDecision {
		t.Errorf("Status = %+v, %v; want order %s awaiting its decision", st, err, in.OrderID)
	}
	if res, err := c.Decide(ctx, in.OrderID, workflows.Decision{Approved: true}); err != nil || !res.Accepted {
		t.Errorf("Decide = %+v, %v; want accepted", res, err)
	}
	if r := s.result(t, run); r.Status != ordersaga.StatusApproved {
		t.Errorf("result = %+v, want approved", r)
	}
	s.assertStream(t, ordersaga.MustParseStream("order-"+in.OrderID), ordersaga.EventOrderCreated, ordersaga.EventPaymentDebited, ordersaga.EventOrderApproved)

	if _, err := c.Status(ctx, "never-"+in.OrderID); ordersaga.ErrorCode(err) != ordersaga.ENOTFOUND {
		t.Errorf("the status of an order that never was: %v, want ENOTFOUND", err)
	}
}
