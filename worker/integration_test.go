package worker_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities"
	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/internal/metrictest"
	"github.com/ordersaga/ordersaga/internal/stacktest"
	"github.com/ordersaga/ordersaga/internal/upgradetest"
	"github.com/ordersaga/ordersaga/worker"
	"github.com/ordersaga/ordersaga/workflows"
)

// EnvRecord, set to 1, makes the integration tests write the histories of the paths they
// run into workflows/testdata, for the replay tests.
const EnvRecord = "ORDERSAGA_RECORD_HISTORIES"

// TestMain starts one Temporal dev server for the package's tests.
func TestMain(m *testing.M) { stacktest.Main(m) }

// stack is the running system plus an observer of everything published on the bus.
type stack struct {
	*stacktest.Stack
	mu   sync.Mutex
	seen map[uuid.UUID]bool // event ids that reached the bus
}

func newStack(t *testing.T) *stack {
	t.Helper()
	base := stacktest.Start(t)
	s := &stack{Stack: base, seen: map[uuid.UUID]bool{}}
	_, err := base.Bus.Subscribe(context.Background(), eventbus.SubscribeOptions{Group: "observer", Types: []string{
		ordersaga.EventOrderCreated, ordersaga.EventPaymentDebited, ordersaga.EventOrderApproved, ordersaga.EventPaymentRefunded,
		ordersaga.EventOrderRejected, ordersaga.EventOrderCancelled, ordersaga.EventAccountDebited, ordersaga.EventAccountRefunded},
		Handler: func(_ context.Context, m eventbus.Message) error {
			s.mu.Lock()
			s.seen[m.Event.ID] = true
			s.mu.Unlock()
			return nil
		},
		DeadLetter: func(context.Context, eventbus.Message, error) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newOrder(customer string) ordersaga.OrderInput {
	return ordersaga.OrderInput{OrderID: uuid.NewString()[:13], CustomerID: customer, RestaurantID: "r-1", Currency: "EUR",
		Items: []ordersaga.Item{{ID: "margherita", Name: "Margherita", UnitPrice: 1150, Quantity: 2}}}
}

func (s *stack) start(t *testing.T, in ordersaga.OrderInput) client.WorkflowRun {
	t.Helper()
	run, err := s.Temporal.ExecuteWorkflow(context.Background(), workflows.StartOptions(in.OrderID), workflows.WorkflowName, in)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// awaitStatus polls the saga's status query until it reports status.
func (s *stack) awaitStatus(t *testing.T, run client.WorkflowRun, status string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := s.Temporal.QueryWorkflow(context.Background(), run.GetID(), run.GetRunID(), workflows.QueryStatus)
		var st workflows.State
		if err == nil && v.Get(&st) == nil && st.Status == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("saga %s never reached status %s (last: %+v, %v)", run.GetID(), status, st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *stack) result(t *testing.T, run client.WorkflowRun) workflows.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var r workflows.Result
	if err := run.Get(ctx, &r); err != nil {
		t.Fatalf("saga %s: %v", run.GetID(), err)
	}
	return r
}

// assertStream checks the event types of a stream and that each of them reached the bus.
func (s *stack) assertStream(t *testing.T, stream ordersaga.Stream, want ...string) {
	t.Helper()
	events, err := s.Store.ReadStream(context.Background(), stream, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		got = append(got, e.Type)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s = %v, want %v", stream, got, want)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, e := range events {
		if e.Type == ordersaga.EventAccountCredited {
			continue // funding is not part of the saga
		}
		for {
			s.mu.Lock()
			ok := s.seen[e.ID]
			s.mu.Unlock()
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s version %d (%s) was never published", stream, e.Version, e.Type)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// historyVersion prefixes the histories recorded by this code: v0 before the fewer
// search-attribute upserts, v1 with them behind a GetVersion marker in every run, v2
// without the marker in runs whose starter set the search attributes, v3 after the
// hostile-input changes (approval past cancellation, workflow id check), before menus, v4
// with orders priced from the menu (create-order reports the amount), v5 with summaries on
// the start, the activities and the deadline timer (what Temporal Web shows).
const historyVersion = "v5"

// streamsVersion prefixes the event streams recorded by this code: v1 is the event shape
// before menus (order-created without a menu version), v2 with it, and the debit and its
// record appended together.
const streamsVersion = "v2"

// record writes the saga's history, as `temporal workflow show --output json` prints it,
// to workflows/testdata, and the order's and customer's streams, as the store holds them,
// to projections/testdata/streams, when EnvRecord is set: the replay and upgrade tests
// prove that what this code wrote stays readable by later code.
func (s *stack) record(t *testing.T, run client.WorkflowRun, in ordersaga.OrderInput, name string) {
	if os.Getenv(EnvRecord) != "1" {
		return
	}
	out, err := exec.Command(stacktest.TemporalBinary(), "workflow", "show", "--address", stacktest.TemporalAddress(),
		"--workflow-id", run.GetID(), "--run-id", run.GetRunID(), "--output", "json").Output()
	if err != nil {
		t.Fatalf("temporal workflow show: %v", err)
	}
	if err := os.WriteFile(filepath.Join("..", "workflows", "testdata", historyVersion+"-"+name+".json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	r := s.result(t, run)
	rec := upgradetest.Recording{Outcome: r.Status, Reason: r.Reason}
	for _, stream := range []ordersaga.Stream{ordersaga.MustParseStream("order-" + in.OrderID), ordersaga.MustParseStream("customer-" + in.CustomerID)} {
		events, err := ordersaga.ReadWholeStream(context.Background(), s.Store, stream)
		if err != nil {
			t.Fatal(err)
		}
		rec.Add(stream, events)
	}
	if err := rec.Write(filepath.Join("..", "projections", "testdata", "streams", streamsVersion+"-"+name+".json")); err != nil {
		t.Fatal(err)
	}
}

func (s *stack) fund(t *testing.T, customer string, amount int64) {
	t.Helper()
	if _, err := s.Accounts.Credit(context.Background(), customer, amount, "EUR", "funding-"+customer); err != nil {
		t.Fatal(err)
	}
}

func (s *stack) decide(t *testing.T, run client.WorkflowRun, d workflows.Decision) {
	t.Helper()
	handle, err := s.Temporal.UpdateWorkflow(context.Background(), client.UpdateWorkflowOptions{
		WorkflowID: run.GetID(), RunID: run.GetRunID(), UpdateName: workflows.UpdateDecision, Args: []any{d},
		WaitForStage: client.WorkflowUpdateStageCompleted})
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.DecisionResult
	if err := handle.Get(context.Background(), &res); err != nil || !res.Accepted {
		t.Fatalf("decision update: %+v, %v", res, err)
	}
}

func TestHappyPath(t *testing.T) {
	s := newStack(t)
	in := newOrder("happy-" + uuid.NewString()[:8])
	s.fund(t, in.CustomerID, 5000)
	run := s.start(t, in)
	s.awaitStatus(t, run, ordersaga.StatusAwaitingDecision)
	s.assertAwaitingDecisionStory(t, run, in, "23.00 EUR")
	s.decide(t, run, workflows.Decision{Approved: true})
	if r := s.result(t, run); r.Status != ordersaga.StatusApproved || r.Amount != 2300 {
		t.Errorf("result = %+v, want approved for 2300", r)
	}
	s.assertStream(t, ordersaga.MustParseStream("order-"+in.OrderID), ordersaga.EventOrderCreated, ordersaga.EventPaymentDebited, ordersaga.EventOrderApproved)
	s.assertStream(t, ordersaga.MustParseStream("customer-"+in.CustomerID), ordersaga.EventAccountCredited, ordersaga.EventAccountDebited)
	if a, _ := s.Accounts.Get(context.Background(), in.CustomerID); a.Balance != 2700 {
		t.Errorf("balance = %d, want 2700", a.Balance)
	}
	assertRetryPolicies(t, s.history(t, run))
	assertSummaries(t, s.history(t, run), in, "23.00 EUR")
	s.record(t, run, in, "happy")

	// Starting the same order again is a no-op that hands back the first saga.
	again, err := s.Temporal.ExecuteWorkflow(context.Background(), workflows.StartOptions(in.OrderID), workflows.WorkflowName, in)
	if err != nil || again.GetRunID() != run.GetRunID() {
		t.Errorf("a second start of order %s: run %v, %v; want the first run %s", in.OrderID, again, err, run.GetRunID())
	}
	s.assertStream(t, ordersaga.MustParseStream("order-"+in.OrderID), ordersaga.EventOrderCreated, ordersaga.EventPaymentDebited, ordersaga.EventOrderApproved)
}

// TestAnOrderPlacedWithItsSearchAttributesNeedsNoVersionMarker places the order as the API
// does, with its search attributes set at the start: the run knows from them that it
// publishes only the final status, so it records no GetVersion marker (and no
// TemporalChangeVersion upsert with it).
func TestAnOrderPlacedWithItsSearchAttributesNeedsNoVersionMarker(t *testing.T) {
	s := newStack(t)
	in := newOrder("placed-" + uuid.NewString()[:8])
	s.fund(t, in.CustomerID, 5000)
	placed, err := workflows.Client{Temporal: s.Temporal}.Place(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	run := s.Temporal.GetWorkflow(context.Background(), placed.WorkflowID, placed.RunID)
	s.decide(t, run, workflows.Decision{Approved: true})
	if r := s.result(t, run); r.Status != ordersaga.StatusApproved {
		t.Errorf("result = %+v, want approved", r)
	}
	s.record(t, run, in, "placed-happy")
	assertStartSummary(t, s.history(t, run), in)
	counts := map[enumspb.EventType]int{}
	for _, e := range s.history(t, run) {
		counts[e.GetEventType()]++
	}
	if n := counts[enumspb.EVENT_TYPE_MARKER_RECORDED]; n != 0 {
		t.Errorf("%d markers recorded, want none", n)
	}
	if n := counts[enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES]; n != 1 {
		t.Errorf("%d search-attribute upserts, want 1 (the final status)", n)
	}
	desc, err := s.Temporal.DescribeWorkflow(context.Background(), run.GetID(), run.GetRunID())
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := desc.TypedSearchAttributes.GetKeyword(workflows.OrderStatusAttribute); status != ordersaga.StatusApproved {
		t.Errorf("OrderStatus search attribute = %q, want %q", status, ordersaga.StatusApproved)
	}
}

// TestADecisionSentAtOnceIsHeld sends the decision right after the start, before the saga
// has created the order or taken the payment: the update is held and completes, accepted,
// when the saga reaches the decision point — with no deadline timer started.
func TestADecisionSentAtOnceIsHeld(t *testing.T) {
	s := newStack(t)
	in := newOrder("held-" + uuid.NewString()[:8])
	s.fund(t, in.CustomerID, 5000)
	run := s.start(t, in)
	s.decide(t, run, workflows.Decision{Approved: true})
	if r := s.result(t, run); r.Status != ordersaga.StatusApproved {
		t.Errorf("result = %+v, want approved", r)
	}
	s.assertStream(t, ordersaga.MustParseStream("order-"+in.OrderID), ordersaga.EventOrderCreated, ordersaga.EventPaymentDebited, ordersaga.EventOrderApproved)
	s.assertNoTimer(t, run)
	s.record(t, run, in, "held-update")
}

// TestADecisionSignalSentAtOnceIsHeld is the same with the fire-and-forget signal.
func TestADecisionSignalSentAtOnceIsHeld(t *testing.T) {
	s := newStack(t)
	in := newOrder("heldsig-" + uuid.NewString()[:8])
	s.fund(t, in.CustomerID, 5000)
	run := s.start(t, in)
	if err := s.Temporal.SignalWorkflow(context.Background(), run.GetID(), run.GetRunID(), workflows.SignalDecision,
		workflows.Decision{Approved: false, Reason: "closing early"}); err != nil {
		t.Fatal(err)
	}
	if r := s.result(t, run); r.Status != ordersaga.StatusRejected || r.Reason != ordersaga.ReasonRestaurantRejected {
		t.Errorf("result = %+v, want rejected by the restaurant", r)
	}
	s.assertStream(t, ordersaga.MustParseStream("order-"+in.OrderID), ordersaga.EventOrderCreated, ordersaga.EventPaymentDebited,
		ordersaga.EventPaymentRefunded, ordersaga.EventOrderRejected)
	s.assertNoTimer(t, run)
	s.record(t, run, in, "held-signal")
}

// history reads the run's whole history.
func (s *stack) history(t *testing.T, run client.WorkflowRun) []*historypb.HistoryEvent {
	t.Helper()
	var events []*historypb.HistoryEvent
	iter := s.Temporal.GetWorkflowHistory(context.Background(), run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	return events
}

// assertNoTimer checks that the run's history has no timer.
func (s *stack) assertNoTimer(t *testing.T, run client.WorkflowRun) {
	t.Helper()
	for _, e := range s.history(t, run) {
		if e.GetEventType() == enumspb.EVENT_TYPE_TIMER_STARTED {
			t.Errorf("event %d starts a timer; with a decision in hand there is no deadline to wait for", e.GetEventId())
		}
	}
}

func TestPaymentDeclined(t *testing.T) {
	s := newStack(t)
	in := newOrder("poor-" + uuid.NewString()[:8])
	s.fund(t, in.CustomerID, 1000)
	run := s.start(t, in)
	r := s.result(t, run)
	if r.Status != ordersaga.StatusRejected || r.Reason != ordersaga.ReasonPaymentDeclined {
		t.Errorf("result = %+v, want rejected for payment_declined", r)
	}
	s.assertStream(t, ordersaga.MustParseStream("order-"+in.OrderID), ordersaga.EventOrderCreated, ordersaga.EventOrderRejected)
	s.assertStream(t, ordersaga.MustParseStream("customer-"+in.CustomerID), ordersaga.EventAccountCredited)
	s.record(t, run, in, "declined")
}

func TestRestaurantRejects(t *testing.T) {
	s := newStack(t)
	in := newOrder("rej-" + uuid.NewString()[:8])
	s.fund(t, in.CustomerID, 5000)
	run := s.start(t, in)
	s.awaitStatus(t, run, ordersaga.StatusAwaitingDecision)
	if err := s.Temporal.SignalWorkflow(context.Background(), run.GetID(), run.GetRunID(), workflows.SignalDecision,
		workflows.Decision{Approved: false, Reason: "out of basil"}); err != nil {
		t.Fatal(err)
	}
	if r := s.result(t, run); r.Status != ordersaga.StatusRejected || r.Reason != ordersaga.ReasonRestaurantRejected {
		t.Errorf("result = %+v, want rejected for restaurant_rejected", r)
	}
	s.assertStream(t, ordersaga.MustParseStream("order-"+in.OrderID), ordersaga.EventOrderCreated, ordersaga.EventPaymentDebited,
		ordersaga.EventPaymentRefunded, ordersaga.EventOrderRejected)
	s.assertStream(t, ordersaga.MustParseStream("customer-"+in.CustomerID), ordersaga.EventAccountCredited, ordersaga.EventAccountDebited, ordersaga.EventAccountRefunded)
	assertRetryPolicies(t, s.history(t, run))
	assertSummaries(t, s.history(t, run), in, "23.00 EUR")
	s.record(t, run, in, "restaurant-rejected")
}

func TestRestaurantTimeout(t *testing.T) {
	s := newStack(t)
	in := newOrder("slow-" + uuid.NewString()[:8])
	in.DecisionTimeout = "2s"
	s.fund(t, in.CustomerID, 5000)
	run := s.start(t, in)
	if r := s.result(t, run); r.Status != ordersaga.StatusRejected || r.Reason != ordersaga.ReasonRestaurantTimeout {
		t.Errorf("result = %+v, want rejected for restaurant_timeout", r)
	}
	s.assertStream(t, ordersaga.MustParseStream("order-"+in.OrderID), ordersaga.EventOrderCreated, ordersaga.EventPaymentDebited,
		ordersaga.EventPaymentRefunded, ordersaga.EventOrderRejected)
	s.record(t, run, in, "restaurant-timeout")
}

func TestCancelledMidSaga(t *testing.T) {
	s := newStack(t)
	in := newOrder("cancel-" + uuid.NewString()[:8])
	s.fund(t, in.CustomerID, 5000)
	run := s.start(t, in)
	s.awaitStatus(t, run, ordersaga.StatusAwaitingDecision)
	if err := s.Temporal.CancelWorkflow(context.Background(), run.GetID(), run.GetRunID()); err != nil {
		t.Fatal(err)
	}
	if r := s.result(t, run); r.Status != ordersaga.StatusCancelled || r.Reason != ordersaga.ReasonCancelled {
		t.Errorf("result = %+v, want cancelled", r)
	}
	s.assertStream(t, ordersaga.MustParseStream("order-"+in.OrderID), ordersaga.EventOrderCreated, ordersaga.EventPaymentDebited,
		ordersaga.EventPaymentRefunded, ordersaga.EventOrderCancelled)
	if a, _ := s.Accounts.Get(context.Background(), in.CustomerID); a.Balance != 5000 {
		t.Errorf("balance after the refund = %d, want 5000", a.Balance)
	}
	s.record(t, run, in, "cancelled")
}

func TestARestartedSagaForAFinishedOrderTouchesNothing(t *testing.T) {
	s := newStack(t)
	in := newOrder("again-" + uuid.NewString()[:8])
	s.fund(t, in.CustomerID, 1000)
	first := s.start(t, in)
	s.result(t, first) // declined
	// The temporal CLI's defaults allow a new run with the same workflow id once the
	// first closed; the saga itself must refuse to touch the order.
	opts := workflows.StartOptions(in.OrderID)
	opts.WorkflowIDReusePolicy = enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
	second, err := s.Temporal.ExecuteWorkflow(context.Background(), opts, workflows.WorkflowName, in)
	if err != nil {
		t.Fatal(err)
	}
	err = second.Get(context.Background(), nil)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != activities.ErrAlreadyStarted {
		t.Errorf("second run: %v, want AlreadyStarted", err)
	}
	s.assertStream(t, ordersaga.MustParseStream("order-"+in.OrderID), ordersaga.EventOrderCreated, ordersaga.EventOrderRejected)
}

// TestTheClientSaysWhetherASagaEndedOrNeverWas asks a saga that has ended, and one that
// never existed, for a decision, against the real server: the first is EPRECONDITION (the
// one place where Temporal's words are matched, workflows.sagaEnded), the second ENOTFOUND,
// as is cancelling it and reading its history. (The server accepts the cancellation of an
// ended saga as a no-op.) Only the first decision is counted as refused for an ended saga;
// the ended saga's history reads from its start to its completion.
func TestTheClientSaysWhetherASagaEndedOrNeverWas(t *testing.T) {
	s := newStack(t)
	in := newOrder("c-" + uuid.NewString()[:8]) // no funds: declined at once
	run := s.start(t, in)
	if r := s.result(t, run); r.Status != ordersaga.StatusRejected {
		t.Fatalf("saga = %+v, want it rejected", r)
	}
	metrics := metrictest.New(t)
	sagas := workflows.Client{Temporal: s.Temporal, Metrics: worker.MetricsHandler(metrics.Provider, slog.New(slog.DiscardHandler))}
	ctx := context.Background()
	if _, err := sagas.Decide(ctx, in.OrderID, workflows.Decision{Approved: true}); ordersaga.ErrorCode(err) != ordersaga.EPRECONDITION {
		t.Errorf("deciding an ended saga: %v, want %s", err, ordersaga.EPRECONDITION)
	}
	if got := metrics.Must(t, "ordersaga_decisions_refused", "why", "saga_ended"); got != 1 {
		t.Errorf("decisions refused because the saga had ended: %v, want 1", got)
	}
	never := "never-" + uuid.NewString()[:8]
	_, decideErr := sagas.Decide(ctx, never, workflows.Decision{Approved: true})
	cancelErr := sagas.Cancel(ctx, never)
	if ordersaga.ErrorCode(decideErr) != ordersaga.ENOTFOUND || ordersaga.ErrorCode(cancelErr) != ordersaga.ENOTFOUND {
		t.Errorf("an order that never was: Decide %v, Cancel %v; want both %s", decideErr, cancelErr, ordersaga.ENOTFOUND)
	}
	if _, err := sagas.History(ctx, never); ordersaga.ErrorCode(err) != ordersaga.ENOTFOUND {
		t.Errorf("the history of an order that never was: %v, want %s", err, ordersaga.ENOTFOUND)
	}
	if steps, err := sagas.History(ctx, in.OrderID); err != nil || len(steps) < 2 || steps[0].What != "saga started" || steps[len(steps)-1].What != "saga completed" {
		t.Errorf("the history of the ended saga: %d steps, %v; want it from its start to its completion: %+v", len(steps), err, steps)
	}
	if got := metrics.Must(t, "ordersaga_decisions_refused", "why", "saga_ended"); got != 1 {
		t.Errorf("decisions refused because the saga had ended: %v, want 1 (the order that never was is not one)", got)
	}
}
