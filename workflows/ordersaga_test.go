package workflows_test

import (
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities"
	"github.com/ordersaga/ordersaga/internal/metrictest"
	"github.com/ordersaga/ordersaga/worker"
	"github.com/ordersaga/ordersaga/workflows"
)

func order() ordersaga.OrderInput {
	return ordersaga.OrderInput{OrderID: "o-1", CustomerID: "c-1", RestaurantID: "r-1", Currency: "EUR",
		Items: []ordersaga.Item{{ID: "pizza", Name: "Margherita", UnitPrice: 1150, Quantity: 2}, {ID: "tiramisu", Name: "Tiramisu", UnitPrice: 650, Quantity: 1}}}
}

// fixture is a test workflow environment whose activities are mocks that record calls.
type fixture struct {
	env     *testsuite.TestWorkflowEnvironment
	acts    *activities.Activities
	metrics *metrictest.Reader // what the saga counts, through the worker's metrics handler
	mu      sync.Mutex
	calls   []string
}

func newFixture(t *testing.T) *fixture {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	metrics := metrictest.New(t)
	suite.SetMetricsHandler(worker.MetricsHandler(metrics.Provider, slog.New(slog.DiscardHandler)))
	f := &fixture{env: suite.NewTestWorkflowEnvironment(), acts: &activities.Activities{}, metrics: metrics}
	f.env.RegisterWorkflowWithOptions(workflows.OrderSaga, workflow.RegisterOptions{Name: workflows.WorkflowName})
	f.env.RegisterActivity(f.acts)
	f.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.WorkflowID(order().OrderID)})
	t.Cleanup(func() { f.env.AssertExpectations(t) })
	return f
}

func (f *fixture) record(name string) func(mock.Arguments) {
	return func(mock.Arguments) {
		f.mu.Lock()
		f.calls = append(f.calls, name)
		f.mu.Unlock()
	}
}

// forward mocks the forward steps to succeed, each once.
func (f *fixture) forward(steps ...string) {
	for _, step := range steps {
		switch step {
		case "CreateOrder":
			f.env.OnActivity(f.acts.CreateOrder, mock.Anything, mock.Anything).Return(activities.StepResult{Version: 1}, nil).Once().Run(f.record(step))
		case "DebitPayment":
			f.env.OnActivity(f.acts.DebitPayment, mock.Anything, mock.Anything).Return(activities.StepResult{Version: 2}, nil).Once().Run(f.record(step))
		case "ApproveOrder":
			f.env.OnActivity(f.acts.ApproveOrder, mock.Anything, mock.Anything).Return(activities.StepResult{Version: 3}, nil).Once().Run(f.record(step))
		}
	}
}

// compensations mocks refund and reject/cancel to succeed once, checking the reason.
func (f *fixture) compensations(t *testing.T, close string, wantReason string) {
	f.env.OnActivity(f.acts.RefundPayment, mock.Anything, mock.Anything).Return(activities.RefundResult{Refunded: true}, nil).Once().Run(f.record("RefundPayment"))
	check := func(args mock.Arguments) {
		in := args.Get(1).(activities.CloseInput)
		if in.Reason != wantReason {
			t.Errorf("%s reason = %q, want %q", close, in.Reason, wantReason)
		}
		f.record(close)(args)
	}
	switch close {
	case "RejectOrder":
		f.env.OnActivity(f.acts.RejectOrder, mock.Anything, mock.Anything).Return(activities.StepResult{Version: 4}, nil).Once().Run(check)
	case "CancelOrder":
		f.env.OnActivity(f.acts.CancelOrder, mock.Anything, mock.Anything).Return(activities.StepResult{Version: 4}, nil).Once().Run(check)
	}
}

func (f *fixture) decide(after time.Duration, d workflows.Decision) {
	f.env.RegisterDelayedCallback(func() { f.env.SignalWorkflow(workflows.SignalDecision, d) }, after)
}

// counted is the saga's counter name with the tags attrs (key, value pairs), 0 when it
// never counted.
func (f *fixture) counted(t *testing.T, name string, attrs ...string) float64 {
	t.Helper()
	n, _ := f.metrics.Value(t, name, attrs...)
	return n
}

// wantEnded checks that the saga counted one start and one end, with outcome and reason.
func (f *fixture) wantEnded(t *testing.T, outcome, reason string) {
	t.Helper()
	if started, ended := f.counted(t, "ordersaga_sagas_started"), f.counted(t, "ordersaga_sagas_ended", "outcome", outcome, "reason", reason); started != 1 || ended != 1 {
		t.Errorf("sagas started %v, ended %s/%q %v; want 1 and 1", started, outcome, reason, ended)
	}
}

// wantCompensations checks how many times each compensation was counted as run.
func (f *fixture) wantCompensations(t *testing.T, refunds, closes float64) {
	t.Helper()
	r, c := f.counted(t, "ordersaga_compensations_run", "compensation", "refund-payment"), f.counted(t, "ordersaga_compensations_run", "compensation", "close-order")
	if r != refunds || c != closes {
		t.Errorf("compensations run: refund-payment %v, close-order %v; want %v and %v", r, c, refunds, closes)
	}
}

// status queries the running saga's state.
func (f *fixture) status(t *testing.T) workflows.State {
	t.Helper()
	var st workflows.State
	v, err := f.env.QueryWorkflow(workflows.QueryStatus)
	if err == nil {
		err = v.Get(&st)
	}
	if err != nil {
		t.Error(err)
	}
	return st
}

func (f *fixture) result(t *testing.T) workflows.Result {
	t.Helper()
	if !f.env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := f.env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow failed: %v", err)
	}
	var r workflows.Result
	if err := f.env.GetWorkflowResult(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) wantCalls(t *testing.T, want ...string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.Join(f.calls, ",") != strings.Join(want, ",") {
		t.Errorf("activities ran as %v, want %v", f.calls, want)
	}
}

func TestHappyPath(t *testing.T) {
	f := newFixture(t)
	f.forward("CreateOrder", "DebitPayment", "ApproveOrder")
	f.decide(time.Minute, workflows.Decision{Approved: true})
	f.env.ExecuteWorkflow(workflows.WorkflowName, order())
	r := f.result(t)
	if r.Status != ordersaga.StatusApproved || r.Reason != "" || r.Amount != 2950 || len(r.Compensated) != 0 {
		t.Errorf("result = %+v, want approved, amount 2950, nothing compensated", r)
	}
	f.wantCalls(t, "CreateOrder", "DebitPayment", "ApproveOrder")
	f.wantEnded(t, ordersaga.StatusApproved, "")
	f.wantCompensations(t, 0, 0)
}

// TestPaymentDeclinedCompensates: a debit refused for want of funds or in another
// currency declines the order (payment_declined, not failed) and compensates it.
func TestPaymentDeclinedCompensates(t *testing.T) {
	for _, refusal := range []string{activities.ErrInsufficientFunds, activities.ErrCurrencyMismatch} {
		t.Run(refusal, func(t *testing.T) {
			f := newFixture(t)
			f.forward("CreateOrder")
			f.env.OnActivity(f.acts.DebitPayment, mock.Anything, mock.Anything).Return(activities.StepResult{},
				temporal.NewNonRetryableApplicationError("customer c-1 cannot pay", refusal, nil)).Once().Run(f.record("DebitPayment"))
			f.compensations(t, "RejectOrder", ordersaga.ReasonPaymentDeclined)
			f.env.ExecuteWorkflow(workflows.WorkflowName, order())
			r := f.result(t)
			if r.Status != ordersaga.StatusRejected || r.Reason != ordersaga.ReasonPaymentDeclined {
				t.Errorf("result = %+v, want rejected for payment_declined", r)
			}
			f.wantCalls(t, "CreateOrder", "DebitPayment", "RefundPayment", "RejectOrder")
		})
	}
}

func TestRestaurantRejects(t *testing.T) {
	f := newFixture(t)
	f.forward("CreateOrder", "DebitPayment")
	f.compensations(t, "RejectOrder", ordersaga.ReasonRestaurantRejected)
	f.decide(time.Minute, workflows.Decision{Approved: false, Reason: "out of basil"})
	f.env.ExecuteWorkflow(workflows.WorkflowName, order())
	r := f.result(t)
	if r.Status != ordersaga.StatusRejected || r.Reason != ordersaga.ReasonRestaurantRejected ||
		strings.Join(r.Compensated, ",") != "refund-payment,close-order" {
		t.Errorf("result = %+v, want rejected for restaurant_rejected after refund-payment, close-order", r)
	}
	f.wantCalls(t, "CreateOrder", "DebitPayment", "RefundPayment", "RejectOrder")
	// No step failed; the status still says why the saga compensated.
	if st := f.status(t); !strings.Contains(st.LastError, "out of basil") {
		t.Errorf("last error = %q, want the restaurant's reason", st.LastError)
	}
	f.wantEnded(t, ordersaga.StatusRejected, ordersaga.ReasonRestaurantRejected)
	f.wantCompensations(t, 1, 1)
}

func TestRestaurantTimeout(t *testing.T) {
	for _, tt := range []struct {
		name    string
		timeout string
		wait    time.Duration
	}{{"default deadline", "", ordersaga.DefaultDecisionTimeout}, {"deadline from the input", "90s", 90 * time.Second}} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.forward("CreateOrder", "DebitPayment")
			f.compensations(t, "RejectOrder", ordersaga.ReasonRestaurantTimeout)
			// A decision just after the deadline is too late.
			f.decide(tt.wait+time.Second, workflows.Decision{Approved: true})
			in := order()
			in.DecisionTimeout = tt.timeout
			start := f.env.Now()
			f.env.ExecuteWorkflow(workflows.WorkflowName, in)
			r := f.result(t)
			if r.Status != ordersaga.StatusRejected || r.Reason != ordersaga.ReasonRestaurantTimeout {
				t.Errorf("result = %+v, want rejected for restaurant_timeout", r)
			}
			if elapsed := f.env.Now().Sub(start); elapsed < tt.wait || elapsed > tt.wait+time.Second {
				t.Errorf("the saga timed out after %s of workflow time, want %s", elapsed, tt.wait)
			}
			f.wantCalls(t, "CreateOrder", "DebitPayment", "RefundPayment", "RejectOrder")
		})
	}
}

func TestCancellationWhileAwaitingTheDecision(t *testing.T) {
	f := newFixture(t)
	f.forward("CreateOrder", "DebitPayment")
	f.compensations(t, "CancelOrder", ordersaga.ReasonCancelled)
	f.env.RegisterDelayedCallback(f.env.CancelWorkflow, time.Minute)
	f.env.ExecuteWorkflow(workflows.WorkflowName, order())
	r := f.result(t)
	if r.Status != ordersaga.StatusCancelled || r.Reason != ordersaga.ReasonCancelled {
		t.Errorf("result = %+v, want cancelled", r)
	}
	f.wantCalls(t, "CreateOrder", "DebitPayment", "RefundPayment", "CancelOrder")
}

func TestACompensationThatFailsTwiceIsRetried(t *testing.T) {
	f := newFixture(t)
	f.forward("CreateOrder", "DebitPayment")
	f.env.OnActivity(f.acts.RefundPayment, mock.Anything, mock.Anything).
		Return(activities.RefundResult{}, errors.New("database unavailable")).Twice().Run(f.record("RefundPayment"))
	f.env.OnActivity(f.acts.RefundPayment, mock.Anything, mock.Anything).
		Return(activities.RefundResult{Refunded: true}, nil).Once().Run(f.record("RefundPayment"))
	f.env.OnActivity(f.acts.RejectOrder, mock.Anything, mock.Anything).Return(activities.StepResult{Version: 4}, nil).Once().Run(f.record("RejectOrder"))
	f.decide(time.Minute, workflows.Decision{Approved: false})
	f.env.ExecuteWorkflow(workflows.WorkflowName, order())
	r := f.result(t)
	if r.Status != ordersaga.StatusRejected || strings.Join(r.Compensated, ",") != "refund-payment,close-order" {
		t.Errorf("result = %+v, want rejected after refund-payment, close-order", r)
	}
	f.wantCalls(t, "CreateOrder", "DebitPayment", "RefundPayment", "RefundPayment", "RefundPayment", "RejectOrder")
	f.wantCompensations(t, 1, 1) // run once, after three attempts
}

// TestADuplicateDecisionIsIgnored: a second decision, sent while the approval runs, is
// ignored, and counted as such.
func TestADuplicateDecisionIsIgnored(t *testing.T) {
	f := newFixture(t)
	f.forward("CreateOrder", "DebitPayment")
	f.env.OnActivity(f.acts.ApproveOrder, mock.Anything, mock.Anything).Return(activities.StepResult{Version: 3}, nil).After(time.Minute).Once().Run(f.record("ApproveOrder"))
	f.decide(time.Minute, workflows.Decision{Approved: true})
	f.decide(time.Minute+time.Second, workflows.Decision{Approved: false, Reason: "changed our mind"})
	f.env.ExecuteWorkflow(workflows.WorkflowName, order())
	if r := f.result(t); r.Status != ordersaga.StatusApproved {
		t.Errorf("result = %+v, want approved (the first decision counts)", r)
	}
	f.wantCalls(t, "CreateOrder", "DebitPayment", "ApproveOrder")
	if n := f.counted(t, "ordersaga_decisions_refused", "why", "signal_ignored"); n != 1 {
		t.Errorf("decisions refused as ignored signals: %v, want the second one", n)
	}
}

func TestDecisionUpdate(t *testing.T) {
	f := newFixture(t)
	f.forward("CreateOrder", "DebitPayment")
	f.env.OnActivity(f.acts.ApproveOrder, mock.Anything, mock.Anything).Return(activities.StepResult{Version: 3}, nil).After(time.Minute).Once().Run(f.record("ApproveOrder"))
	// Sent as the saga starts, the decision is held and taken at the decision point; one
	// sent while the approval runs is refused.
	first := f.update(0, "first", workflows.Decision{Approved: true})
	later := f.update(30*time.Second, "later", workflows.Decision{Approved: false})
	f.env.ExecuteWorkflow(workflows.WorkflowName, order())
	if r := f.result(t); r.Status != ordersaga.StatusApproved {
		t.Errorf("result = %+v, want approved", r)
	}
	if first.rejected != nil || first.failed != nil || !first.result.Accepted {
		t.Errorf("the first decision update: %+v; want accepted", first)
	}
	if later.rejected == nil || !strings.Contains(later.rejected.Error(), "not awaiting a decision") {
		t.Errorf("a decision update after one was taken: %+v, want a refusal", later)
	}
	if n := f.counted(t, "ordersaga_decisions_refused", "why", "not_awaiting_decision"); n != 1 {
		t.Errorf("decision updates refused: %v, want the later one", n)
	}
}

// update sends a decision update after the given workflow time and records its fate.
type updateOutcome struct {
	rejected, failed error
	accepted         bool
	result           workflows.DecisionResult
}

func (f *fixture) update(after time.Duration, id string, d workflows.Decision) *updateOutcome {
	o := &updateOutcome{}
	f.env.RegisterDelayedCallback(func() {
		f.env.UpdateWorkflow(workflows.UpdateDecision, id, &testsuite.TestUpdateCallback{
			OnReject: func(err error) { o.rejected = err },
			OnAccept: func() { o.accepted = true },
			OnComplete: func(r any, err error) {
				o.failed = err
				if err == nil {
					o.result = r.(workflows.DecisionResult)
				}
			},
		}, d)
	}, after)
	return o
}

// slowDebit makes the debit take a minute of workflow time, so that decisions can arrive
// while the saga waits for it (status created).
func (f *fixture) slowDebit(err error) {
	res := activities.StepResult{Version: 2}
	if err != nil {
		res = activities.StepResult{}
	}
	f.env.OnActivity(f.acts.DebitPayment, mock.Anything, mock.Anything).Return(res, err).After(time.Minute).Once().Run(f.record("DebitPayment"))
}

func TestADecisionDuringThePaymentIsHeldUntilTheDecisionPoint(t *testing.T) {
	f := newFixture(t)
	f.forward("CreateOrder", "ApproveOrder")
	f.slowDebit(nil)
	var atDecision, whilePaying workflows.State
	f.env.RegisterDelayedCallback(func() { atDecision = f.status(t) }, 30*time.Second)
	f.env.RegisterDelayedCallback(func() { whilePaying = f.status(t) }, 35*time.Second)
	held := f.update(30*time.Second, "held", workflows.Decision{Approved: true})
	second := f.update(40*time.Second, "second", workflows.Decision{Approved: false, Reason: "too late"})
	timers := 0
	f.env.SetOnTimerScheduledListener(func(string, time.Duration) { timers++ })
	f.env.ExecuteWorkflow(workflows.WorkflowName, order())
	if timers != 0 {
		t.Errorf("%d timers started, want none: with a decision in hand there is no deadline to wait for", timers)
	}
	if r := f.result(t); r.Status != ordersaga.StatusApproved {
		t.Errorf("result = %+v, want approved", r)
	}
	if atDecision.Status != ordersaga.StatusCreated {
		t.Fatalf("the decision was sent in status %q, want created (debit in flight)", atDecision.Status)
	}
	if !whilePaying.DecisionHeld {
		t.Error("the status query did not say a decision was held while the payment ran")
	}
	if held.rejected != nil || !held.accepted || held.failed != nil || !held.result.Accepted || held.result.Status != ordersaga.StatusAwaitingDecision {
		t.Errorf("decision sent during the payment: %+v, want accepted and taken at the decision point", held)
	}
	if second.rejected == nil || !strings.Contains(second.rejected.Error(), "not awaiting a decision") {
		t.Errorf("a second decision while one is held: %+v, want a refusal", second)
	}
	f.wantCalls(t, "CreateOrder", "DebitPayment", "ApproveOrder")
}

func TestAHeldDecisionFailsWhenThePaymentIsDeclined(t *testing.T) {
	f := newFixture(t)
	f.forward("CreateOrder")
	f.slowDebit(temporal.NewNonRetryableApplicationError("customer c-1 has 100 EUR", activities.ErrInsufficientFunds, nil))
	f.compensations(t, "RejectOrder", ordersaga.ReasonPaymentDeclined)
	held := f.update(30*time.Second, "held", workflows.Decision{Approved: true})
	f.env.ExecuteWorkflow(workflows.WorkflowName, order())
	if r := f.result(t); r.Status != ordersaga.StatusRejected || r.Reason != ordersaga.ReasonPaymentDeclined {
		t.Errorf("result = %+v, want rejected for payment_declined", r)
	}
	var appErr *temporal.ApplicationError
	if !held.accepted || !errors.As(held.failed, &appErr) || appErr.Type() != workflows.ErrNotAwaitingDecision {
		t.Errorf("decision held while the payment was declined: %+v, want accepted then failed with %s", held, workflows.ErrNotAwaitingDecision)
	}
	f.wantCalls(t, "CreateOrder", "DebitPayment", "RefundPayment", "RejectOrder")
	if n := f.counted(t, "ordersaga_decisions_refused", "why", "order_ended_before_decision_point"); n != 1 {
		t.Errorf("held decisions refused: %v, want 1", n)
	}
	f.wantEnded(t, ordersaga.StatusRejected, ordersaga.ReasonPaymentDeclined)
}

func TestAHeldDecisionFailsWhenTheSagaIsCancelled(t *testing.T) {
	f := newFixture(t)
	f.forward("CreateOrder")
	f.slowDebit(nil)
	f.compensations(t, "CancelOrder", ordersaga.ReasonCancelled)
	held := f.update(30*time.Second, "held", workflows.Decision{Approved: true})
	f.env.RegisterDelayedCallback(f.env.CancelWorkflow, 40*time.Second)
	f.env.ExecuteWorkflow(workflows.WorkflowName, order())
	if r := f.result(t); r.Status != ordersaga.StatusCancelled {
		t.Errorf("result = %+v, want cancelled", r)
	}
	var appErr *temporal.ApplicationError
	if !held.accepted || !errors.As(held.failed, &appErr) || appErr.Type() != workflows.ErrNotAwaitingDecision {
		t.Errorf("decision held while the saga was cancelled: %+v, want accepted then failed with %s", held, workflows.ErrNotAwaitingDecision)
	}
}

func TestADecisionSignalDuringThePaymentIsHeld(t *testing.T) {
	f := newFixture(t)
	f.forward("CreateOrder")
	f.slowDebit(nil)
	f.compensations(t, "RejectOrder", ordersaga.ReasonRestaurantRejected)
	f.decide(30*time.Second, workflows.Decision{Approved: false, Reason: "out of dough"})
	f.decide(40*time.Second, workflows.Decision{Approved: true}) // a second one is ignored
	f.env.ExecuteWorkflow(workflows.WorkflowName, order())
	if r := f.result(t); r.Status != ordersaga.StatusRejected || r.Reason != ordersaga.ReasonRestaurantRejected {
		t.Errorf("result = %+v, want rejected by the restaurant (the held signal)", r)
	}
	f.wantCalls(t, "CreateOrder", "DebitPayment", "RefundPayment", "RejectOrder")
}

func TestInvalidInputFailsAtOnceAndWritesNothing(t *testing.T) {
	f := newFixture(t)
	in := order()
	in.Items[1].Quantity = 0
	f.env.ExecuteWorkflow(workflows.WorkflowName, in)
	err := f.env.GetWorkflowError()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != workflows.ErrInvalidOrder || appErr.NonRetryable() == false ||
		!strings.Contains(appErr.Error(), "items[1].quantity") {
		t.Errorf("error = %v, want a non-retryable InvalidOrder naming items[1].quantity", err)
	}
	f.wantCalls(t)
}

func TestStatusQuery(t *testing.T) {
	f := newFixture(t)
	f.forward("CreateOrder", "DebitPayment", "ApproveOrder")
	var during workflows.State
	f.env.RegisterDelayedCallback(func() {
		during = f.status(t)
		f.env.SignalWorkflow(workflows.SignalDecision, workflows.Decision{Approved: true})
	}, time.Minute)
	f.env.ExecuteWorkflow(workflows.WorkflowName, order())
	f.result(t)
	if during.Status != ordersaga.StatusAwaitingDecision || during.PendingStep != "restaurant-decision" ||
		strings.Join(during.CompletedSteps, ",") != "create-order,debit-payment" || during.OrderVersion != 2 || during.Amount != 2950 {
		t.Errorf("status while awaiting the decision = %+v", during)
	}
}

func TestASecondSagaForTheSameOrderTouchesNothing(t *testing.T) {
	f := newFixture(t)
	f.env.OnActivity(f.acts.CreateOrder, mock.Anything, mock.Anything).Return(activities.StepResult{},
		temporal.NewNonRetryableApplicationError("created by another run", activities.ErrAlreadyStarted, nil)).After(time.Minute).Once().Run(f.record("CreateOrder"))
	held := f.update(0, "held", workflows.Decision{Approved: true})
	f.env.ExecuteWorkflow(workflows.WorkflowName, order())
	var appErr *temporal.ApplicationError
	if err := f.env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != activities.ErrAlreadyStarted {
		t.Errorf("error = %v, want the saga to fail with AlreadyStarted", err)
	}
	if !held.accepted || !errors.As(held.failed, &appErr) || appErr.Type() != workflows.ErrNotAwaitingDecision {
		t.Errorf("a decision held when the saga gave up: %+v, want accepted then failed with %s", held, workflows.ErrNotAwaitingDecision)
	}
	f.wantCalls(t, "CreateOrder") // no compensation of an order that is not its own
}

// TestASagaUnderAnotherWorkflowIDTouchesNothing starts the saga of order o-1 as workflow
// "order-o-2" (the temporal CLI allows any id): it fails as an invalid order and runs no
// activity, so it cannot act beside o-1's own saga.
func TestASagaUnderAnotherWorkflowIDTouchesNothing(t *testing.T) {
	f := newFixture(t)
	f.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.WorkflowID("o-2")})
	f.env.ExecuteWorkflow(workflows.WorkflowName, order())
	var appErr *temporal.ApplicationError
	if err := f.env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != workflows.ErrInvalidOrder {
		t.Errorf("workflow error = %v, want %s", err, workflows.ErrInvalidOrder)
	}
	f.wantCalls(t)
}

// TestAnApprovalRefusedForGoodIsCompensated: an approval the activity refuses for good
// (invalid, say) leaves the order unapproved, so the saga refunds and closes it rather
// than report an approval that never landed.
func TestAnApprovalRefusedForGoodIsCompensated(t *testing.T) {
	f := newFixture(t)
	f.forward("CreateOrder", "DebitPayment")
	f.env.OnActivity(f.acts.ApproveOrder, mock.Anything, mock.Anything).Return(activities.StepResult{},
		temporal.NewNonRetryableApplicationError("order o-1 cannot be approved", activities.ErrInvalidInput, nil)).Once().Run(f.record("ApproveOrder"))
	f.compensations(t, "RejectOrder", ordersaga.ReasonFailed)
	f.decide(time.Minute, workflows.Decision{Approved: true})
	f.env.ExecuteWorkflow(workflows.WorkflowName, order())
	var r workflows.Result
	if err := f.env.GetWorkflowResult(&r); err == nil && r.Status == ordersaga.StatusApproved {
		t.Errorf("result = %+v: approved although the approval was refused", r)
	}
	f.wantCalls(t, "CreateOrder", "DebitPayment", "ApproveOrder", "RefundPayment", "RejectOrder")
}

// TestACloseRefusedForGoodKeepsTheLastVersionWritten: when closing the order fails for
// good, the saga ends failing, and its status still gives the version of its last write
// (the order's creation), not the empty result of the failed close.
func TestACloseRefusedForGoodKeepsTheLastVersionWritten(t *testing.T) {
	f := newFixture(t)
	f.forward("CreateOrder")
	f.env.OnActivity(f.acts.DebitPayment, mock.Anything, mock.Anything).Return(activities.StepResult{},
		temporal.NewNonRetryableApplicationError("customer c-1 cannot pay", activities.ErrInsufficientFunds, nil)).Once()
	f.env.OnActivity(f.acts.RefundPayment, mock.Anything, mock.Anything).Return(activities.RefundResult{}, nil).Once()
	f.env.OnActivity(f.acts.RejectOrder, mock.Anything, mock.Anything).Return(activities.StepResult{},
		temporal.NewNonRetryableApplicationError("order o-1 cannot be closed", activities.ErrInvalidInput, nil)).Once()
	f.env.ExecuteWorkflow(workflows.WorkflowName, order())
	if f.env.GetWorkflowError() == nil {
		t.Error("the saga succeeded although it could not close the order")
	}
	if st := f.status(t); st.OrderVersion != 1 {
		t.Errorf("order version %d after the failed close, want 1 (the creation)", st.OrderVersion)
	}
}

// TestACancellationDuringTheApprovalComesTooLate cancels the saga while its approval is
// being written: the approval lands, the order is approved, and nothing is refunded.
func TestACancellationDuringTheApprovalComesTooLate(t *testing.T) {
	f := newFixture(t)
	f.forward("CreateOrder", "DebitPayment")
	f.env.OnActivity(f.acts.ApproveOrder, mock.Anything, mock.Anything).Return(activities.StepResult{Version: 3}, nil).
		After(time.Minute).Once().Run(f.record("ApproveOrder"))
	f.decide(time.Minute, workflows.Decision{Approved: true})
	f.env.RegisterDelayedCallback(f.env.CancelWorkflow, 90*time.Second)
	f.env.ExecuteWorkflow(workflows.WorkflowName, order())
	if r := f.result(t); r.Status != ordersaga.StatusApproved || len(r.Compensated) != 0 {
		t.Errorf("result = %+v, want approved, nothing compensated", r)
	}
	f.wantCalls(t, "CreateOrder", "DebitPayment", "ApproveOrder")
}

// TestAnOrderTheMenuRefusesFailsAndCompensatesNothing: create-order refuses an item that
// is not on the menu (nothing written): the saga fails as an invalid order naming it, and
// runs no compensation.
func TestAnOrderTheMenuRefusesFailsAndCompensatesNothing(t *testing.T) {
	f := newFixture(t)
	f.env.OnActivity(f.acts.CreateOrder, mock.Anything, mock.Anything).Return(activities.StepResult{},
		temporal.NewNonRetryableApplicationError(`items[1].id: "caviar" is not on the menu of restaurant r-1`, activities.ErrInvalidInput, nil)).Once().Run(f.record("CreateOrder"))
	f.env.ExecuteWorkflow(workflows.WorkflowName, order())
	var appErr *temporal.ApplicationError
	if err := f.env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != workflows.ErrInvalidOrder || !strings.Contains(appErr.Message(), "caviar") {
		t.Errorf("workflow error = %v, want %s naming the item", err, workflows.ErrInvalidOrder)
	}
	f.wantCalls(t, "CreateOrder")
	f.wantEnded(t, "failed", "") // the reason of a run that fails is its error
	f.wantCompensations(t, 0, 0)
}

// TestThePaymentIsTheAmountTheMenuPriced starts an order without prices (as the temporal
// CLI may): the debit takes the amount create-order priced from the menu, and the result
// reports it.
func TestThePaymentIsTheAmountTheMenuPriced(t *testing.T) {
	f := newFixture(t)
	in := order()
	for i := range in.Items {
		in.Items[i].UnitPrice, in.Items[i].Name = 0, ""
	}
	f.env.OnActivity(f.acts.CreateOrder, mock.Anything, mock.Anything).Return(activities.StepResult{Version: 1, Amount: 2950}, nil).Once().Run(f.record("CreateOrder"))
	f.env.OnActivity(f.acts.DebitPayment, mock.Anything, mock.Anything).Return(activities.StepResult{Version: 2}, nil).Once().Run(func(args mock.Arguments) {
		if p := args.Get(1).(activities.PaymentInput); p.Amount != 2950 {
			t.Errorf("debit of %d, want the 2950 the menu priced", p.Amount)
		}
		f.record("DebitPayment")(args)
	})
	f.forward("ApproveOrder")
	f.decide(time.Second, workflows.Decision{Approved: true})
	f.env.ExecuteWorkflow(workflows.WorkflowName, in)
	if r := f.result(t); r.Status != ordersaga.StatusApproved || r.Amount != 2950 {
		t.Errorf("result = %+v, want approved for 2950", r)
	}
	f.wantCalls(t, "CreateOrder", "DebitPayment", "ApproveOrder")
}
