package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/workflows"
)

// awaitStuck asks the client for stuck sagas until orderID's is among them, and returns it.
func (s *stack) awaitStuck(t *testing.T, orderID string, opts workflows.StuckOptions) workflows.StuckSaga {
	t.Helper()
	c := workflows.Client{Temporal: s.Temporal}
	deadline := time.Now().Add(30 * time.Second)
	for {
		stuck, _, err := c.Stuck(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, saga := range stuck {
			if saga.OrderID == orderID {
				return saga
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s never showed as stuck (stuck: %+v)", orderID, stuck)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestARetryingCompensationShowsAsStuckUntilItSucceeds makes the refund of a rejected order
// fail (a trigger refuses the account's refund): the saga shows as stuck, retrying the
// compensation, with its attempt and last failure; once refunds work again the saga ends
// rejected with the money back, refunded once.
func TestARetryingCompensationShowsAsStuckUntilItSucceeds(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	in := newOrder("stuck-" + uuid.NewString()[:8])
	s.fund(t, in.CustomerID, 5000)
	run := s.start(t, in)
	s.awaitStatus(t, run, ordersaga.StatusAwaitingDecision)
	if _, err := s.DB.Exec(ctx, `CREATE FUNCTION refuse_refunds() RETURNS trigger AS $$
		BEGIN RAISE EXCEPTION 'refunds refused by the test'; END $$ LANGUAGE plpgsql`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.Exec(ctx, `CREATE TRIGGER refuse_refunds BEFORE INSERT ON events FOR EACH ROW
		WHEN (NEW.event_type = 'account-refunded') EXECUTE FUNCTION refuse_refunds()`); err != nil {
		t.Fatal(err)
	}
	if err := s.Temporal.SignalWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.SignalDecision, workflows.Decision{Approved: false, Reason: "closed"}); err != nil {
		t.Fatal(err)
	}
	saga := s.awaitStuck(t, in.OrderID, workflows.StuckOptions{Attempts: 2, Grace: time.Second})
	if saga.Why != workflows.StuckCompensationRetrying || saga.Activity != "RefundPayment" || saga.Attempt <= 2 || saga.LastFailure == "" ||
		saga.Status != ordersaga.StatusCompensating {
		t.Errorf("stuck saga = %+v, want RefundPayment retrying (compensation) past attempt 2, with its last failure, while compensating", saga)
	}
	if _, err := s.DB.Exec(ctx, `DROP TRIGGER refuse_refunds ON events`); err != nil {
		t.Fatal(err)
	}
	if r := s.result(t, run); r.Status != ordersaga.StatusRejected {
		t.Errorf("result = %+v, want rejected", r)
	}
	account := ordersaga.MustParseStream("customer-" + in.CustomerID)
	if got := s.countEvents(t, account); got[ordersaga.EventAccountDebited] != 1 || got[ordersaga.EventAccountRefunded] != 1 {
		t.Errorf("the account has %d debits and %d refunds, want one of each", got[ordersaga.EventAccountDebited], got[ordersaga.EventAccountRefunded])
	}
}

// TestASagaNoWorkerRunsShowsAsStuck starts a saga on a task queue that no worker polls:
// its workflow task waits, and past the grace period the saga shows as stuck.
func TestASagaNoWorkerRunsShowsAsStuck(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	in := newOrder("orphan-" + uuid.NewString()[:8])
	opts := workflows.StartOptions(in.OrderID)
	opts.TaskQueue = "nobody-polls-" + in.OrderID
	run, err := s.Temporal.ExecuteWorkflow(ctx, opts, workflows.WorkflowName, in)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Temporal.TerminateWorkflow(context.Background(), run.GetID(), run.GetRunID(), "test over")
	})
	saga := s.awaitStuck(t, in.OrderID, workflows.StuckOptions{Grace: time.Second})
	if saga.Why != workflows.StuckWorkflowTask || saga.RunID != run.GetRunID() {
		t.Errorf("stuck saga = %+v, want its workflow task waiting", saga)
	}
}
