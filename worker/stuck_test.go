package worker_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities"
	"github.com/ordersaga/ordersaga/payments"
	"github.com/ordersaga/ordersaga/worker"
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
	s.wantRefundedOnce(t, run, in, ordersaga.ReasonRestaurantRejected)
}

// wantRefundedOnce waits for the saga's end and fails unless it was rejected for reason,
// with the customer's account debited once and refunded once.
func (s *stack) wantRefundedOnce(t *testing.T, run client.WorkflowRun, in ordersaga.OrderInput, reason string) {
	t.Helper()
	if r := s.result(t, run); r.Status != ordersaga.StatusRejected || r.Reason != reason {
		t.Errorf("result = %+v, want rejected: %s", r, reason)
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
	in, run := s.startOrphan(t)
	saga := s.awaitStuck(t, in.OrderID, workflows.StuckOptions{Grace: time.Second})
	if saga.Why != workflows.StuckWorkflowTask || saga.RunID != run.GetRunID() {
		t.Errorf("stuck saga = %+v, want its workflow task waiting", saga)
	}
}

// startOrphan starts a saga on a task queue that no worker polls (terminated when t ends).
func (s *stack) startOrphan(t *testing.T) (ordersaga.OrderInput, client.WorkflowRun) {
	t.Helper()
	in := newOrder("orphan-" + uuid.NewString()[:8])
	opts := workflows.StartOptions(in.OrderID)
	opts.TaskQueue = "nobody-polls-" + in.OrderID
	run, err := s.Temporal.ExecuteWorkflow(context.Background(), opts, workflows.WorkflowName, in)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Temporal.TerminateWorkflow(context.Background(), run.GetID(), run.GetRunID(), "test over")
	})
	return in, run
}

// startAside starts a saga for in on a task queue of its own, with a worker of its own
// polling it, which the test can stop and start again (stop is also done when t ends).
func (s *stack) startAside(t *testing.T, in ordersaga.OrderInput) (run client.WorkflowRun, startWorker, stopWorker func()) {
	t.Helper()
	queue := "aside-" + in.OrderID
	var w sdkworker.Worker
	startWorker = func() {
		w = sdkworker.New(s.Temporal, queue, sdkworker.Options{})
		worker.Register(w, &activities.Activities{Store: s.Store, Bus: s.Bus, Published: s.Store, Accounts: payments.NewAccountCache(0)})
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
	}
	stopWorker = func() {
		if w != nil {
			w.Stop()
			w = nil
		}
	}
	startWorker()
	t.Cleanup(stopWorker)
	opts := workflows.StartOptions(in.OrderID)
	opts.TaskQueue = queue
	run, err := s.Temporal.ExecuteWorkflow(context.Background(), opts, workflows.WorkflowName, in)
	if err != nil {
		t.Fatal(err)
	}
	return run, startWorker, stopWorker
}

// TestASagaPastItsDeadlineShowsAsStuckWithItsDeadline stops the only worker of a saga
// awaiting its restaurant: once the deadline has passed the saga shows as waiting past
// it, with the deadline its timer had (read from the history, since no worker answers the
// status query). A worker started again ends it rejected for the timeout, refunded once.
func TestASagaPastItsDeadlineShowsAsStuckWithItsDeadline(t *testing.T) {
	s := newStack(t)
	in := newOrder("late-" + uuid.NewString()[:8])
	in.DecisionTimeout = "2s"
	s.fund(t, in.CustomerID, 5000)
	before := time.Now()
	run, startWorker, stopWorker := s.startAside(t, in)
	s.awaitStatus(t, run, ordersaga.StatusAwaitingDecision)
	stopWorker()
	stuck, _, err := workflows.Client{Temporal: s.Temporal}.Stuck(context.Background(), workflows.StuckOptions{Grace: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(stuck, func(saga workflows.StuckSaga) bool { return saga.OrderID == in.OrderID }); i >= 0 && time.Since(before) < 2*time.Second {
		t.Errorf("stuck before its deadline: %+v", stuck[i])
	}
	saga := s.awaitStuck(t, in.OrderID, workflows.StuckOptions{Grace: time.Millisecond})
	if saga.Why != workflows.StuckPastDeadline || saga.Status != ordersaga.StatusAwaitingDecision || saga.Attempt < 1 ||
		saga.Deadline.Before(before.Add(2*time.Second)) || saga.Deadline.After(time.Now()) {
		t.Errorf("stuck saga = %+v, want it past a deadline 2s after its start (%s), its workflow task pending", saga, before.Format(time.RFC3339Nano))
	}
	startWorker()
	s.wantRefundedOnce(t, run, in, ordersaga.ReasonRestaurantTimeout)
}

// TestStuckExaminesAtMostItsLimitPageByPage leaves five sagas with no worker, then asks
// for at most three in pages of two: three sagas are examined, each once, over two pages,
// all stuck; without a limit, all five are found.
func TestStuckExaminesAtMostItsLimitPageByPage(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	ours := map[string]bool{}
	for range 5 {
		in, _ := s.startOrphan(t)
		ours[in.OrderID] = true
	}
	c := workflows.Client{Temporal: s.Temporal}
	for found := 0; found < len(ours); {
		stuck, _, err := c.Stuck(ctx, workflows.StuckOptions{Grace: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		found = 0
		for _, saga := range stuck {
			if ours[saga.OrderID] {
				found++
			}
		}
		time.Sleep(100 * time.Millisecond) // until visibility lists all five
	}
	stuck, examined, err := c.Stuck(ctx, workflows.StuckOptions{Grace: time.Millisecond, Limit: 3, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, saga := range stuck {
		seen[saga.RunID] = true
	}
	if examined != 3 || len(stuck) != 3 || len(seen) != 3 {
		t.Errorf("limit 3 in pages of 2: examined %d, stuck %d (%d distinct), want 3 of each: %+v", examined, len(stuck), len(seen), stuck)
	}
}
