package worker_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities"
)

// The saga's activity options can only be pinned against the real server: the SDK's test
// environment rewrites an unlimited retry policy to a bounded one and settles a cancelled
// activity at once whatever WaitForCancellation says.

// errReleased ends the transaction that holds a stream's next version, rolling it back.
var errReleased = errors.New("released")

// holdNextVersion inserts, in a transaction it keeps open, the next event of stream, so
// that any append to the stream waits on it; release rolls the insert back and lets them
// through (it may be called more than once). It returns once the row is held.
func (s *stack) holdNextVersion(t *testing.T, stream ordersaga.Stream) (release func()) {
	t.Helper()
	ctx := context.Background()
	events, err := ordersaga.ReadWholeStream(ctx, s.Store, stream)
	if err != nil {
		t.Fatal(err)
	}
	held, released, done := make(chan error, 1), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- s.DB.InTx(ctx, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO events (stream_id, version, event_id, stream_type, event_type, data, metadata)
				VALUES ($1, $2, $3, $4, 'held-by-a-test', '{}', '{}')`,
				stream.String(), len(events)+1, uuid.New(), stream.Type())
			held <- err
			if err != nil {
				return err
			}
			<-released
			return errReleased
		})
	}()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	return sync.OnceFunc(func() {
		close(released)
		if err := <-done; !errors.Is(err, errReleased) {
			t.Errorf("the held transaction ended with %v", err)
		}
	})
}

// awaitRunningActivity waits until the run's pending activity of type name has started.
func (s *stack) awaitRunningActivity(t *testing.T, run client.WorkflowRun, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		d, err := s.Temporal.DescribeWorkflowExecution(context.Background(), run.GetID(), run.GetRunID())
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range d.GetPendingActivities() {
			if a.GetActivityType().GetName() == name && a.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("activity %s of saga %s never started", name, run.GetID())
}

// awaitEvent waits until the run's history holds an event of type typ and returns the history.
func (s *stack) awaitEvent(t *testing.T, run client.WorkflowRun, typ enumspb.EventType) []*historypb.HistoryEvent {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		history := s.history(t, run)
		if slices.ContainsFunc(history, func(e *historypb.HistoryEvent) bool { return e.GetEventType() == typ }) {
			return history
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("saga %s never recorded %s", run.GetID(), typ)
	return nil
}

// scheduled returns the activity type and event id of every activity the history schedules.
func scheduled(history []*historypb.HistoryEvent) map[int64]*historypb.ActivityTaskScheduledEventAttributes {
	out := map[int64]*historypb.ActivityTaskScheduledEventAttributes{}
	for _, e := range history {
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			out[e.GetEventId()] = a
		}
	}
	return out
}

// countEvents counts the events of each type in stream.
func (s *stack) countEvents(t *testing.T, stream ordersaga.Stream) map[string]int {
	t.Helper()
	events, err := ordersaga.ReadWholeStream(context.Background(), s.Store, stream)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, e := range events {
		counts[e.Type]++
	}
	return counts
}

// TestACancelledSagaWaitsForItsRunningDebitBeforeRefunding cancels a saga while its debit
// is being written (held back by a row the test keeps uncommitted). The saga must not
// compensate until the debit has finished: a refund run beside it finds nothing to refund,
// and the debit then lands with nobody to give the money back (WaitForCancellation).
// Then the debit is taken once and refunded once, and the balance is whole again.
func TestACancelledSagaWaitsForItsRunningDebitBeforeRefunding(t *testing.T) {
	s := newStack(t)
	in := newOrder("wait-" + uuid.NewString()[:8])
	s.fund(t, in.CustomerID, 5000)
	account := ordersaga.MustParseStream("customer-" + in.CustomerID)
	release := s.holdNextVersion(t, account)
	defer release() // also when the test fails before releasing it
	run := s.start(t, in)
	s.awaitRunningActivity(t, run, "DebitPayment")
	if err := s.Temporal.CancelWorkflow(context.Background(), run.GetID(), run.GetRunID()); err != nil {
		t.Fatal(err)
	}
	// The workflow task that took the cancellation asked the debit to stop; whatever else
	// it did is in the same batch of events.
	history := s.awaitEvent(t, run, enumspb.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED)
	for id, a := range scheduled(history) {
		if a.GetActivityType().GetName() != "CreateOrder" && a.GetActivityType().GetName() != "DebitPayment" {
			t.Fatalf("event %d schedules %s while the debit is still running", id, a.GetActivityType().GetName())
		}
	}
	release()

	if r := s.result(t, run); r.Status != ordersaga.StatusCancelled {
		t.Errorf("result = %+v, want cancelled", r)
	}
	if got := s.countEvents(t, account); got[ordersaga.EventAccountDebited] != 1 || got[ordersaga.EventAccountRefunded] != 1 {
		t.Errorf("the account has %d debits and %d refunds, want one of each", got[ordersaga.EventAccountDebited], got[ordersaga.EventAccountRefunded])
	}
	if a, _ := s.Accounts.Get(context.Background(), in.CustomerID); a.Balance != 5000 {
		t.Errorf("balance after the cancelled order = %d, want 5000", a.Balance)
	}
	s.assertStream(t, ordersaga.MustParseStream("order-"+in.OrderID), ordersaga.EventOrderCreated, ordersaga.EventPaymentDebited,
		ordersaga.EventPaymentRefunded, ordersaga.EventOrderCancelled)

	// The refund was scheduled only after the debit had completed.
	history = s.history(t, run)
	debitDone := slices.IndexFunc(history, func(e *historypb.HistoryEvent) bool {
		return e.GetEventType() == enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED &&
			scheduled(history)[e.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()].GetActivityType().GetName() == "DebitPayment"
	})
	refund := slices.IndexFunc(history, func(e *historypb.HistoryEvent) bool {
		return e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == "RefundPayment"
	})
	if debitDone < 0 || refund < debitDone {
		t.Errorf("the debit completed at history index %d and the refund was scheduled at %d, want the refund after", debitDone, refund)
	}
	assertRetryPolicies(t, history)
	assertSummaries(t, history, in, "23.00 EUR")
}

// assertRetryPolicies checks every activity the history schedules against the retry
// policy the server recorded for it: forward steps give up after 10 attempts and not at
// all on the failures that retrying cannot mend; compensations and the approval retry
// until they succeed (maximum attempts 0, which the server reads as unlimited).
func assertRetryPolicies(t *testing.T, history []*historypb.HistoryEvent) {
	t.Helper()
	forward := map[string]bool{"CreateOrder": true, "DebitPayment": true}
	untilDone := map[string]bool{"RefundPayment": true, "CancelOrder": true, "RejectOrder": true, "ApproveOrder": true}
	nonRetryable := []string{activities.ErrInsufficientFunds, activities.ErrCurrencyMismatch, activities.ErrInvalidInput,
		activities.ErrOrderConflict, activities.ErrAlreadyStarted}
	for id, a := range scheduled(history) {
		name, policy := a.GetActivityType().GetName(), a.GetRetryPolicy()
		switch {
		case forward[name]:
			if policy.GetMaximumAttempts() != 10 {
				t.Errorf("event %d: %s may be tried %d times, want 10", id, name, policy.GetMaximumAttempts())
			}
			if policy.GetInitialInterval().AsDuration() != time.Second || policy.GetBackoffCoefficient() != 2 ||
				policy.GetMaximumInterval().AsDuration() != 30*time.Second {
				t.Errorf("event %d: %s retries after %s, times %g, up to %s; want 1s, 2, 30s (ten tries in about three minutes)", id, name,
					policy.GetInitialInterval().AsDuration(), policy.GetBackoffCoefficient(), policy.GetMaximumInterval().AsDuration())
			}
			for _, typ := range nonRetryable {
				if !slices.Contains(policy.GetNonRetryableErrorTypes(), typ) {
					t.Errorf("event %d: %s retries %s, which retrying cannot mend", id, name, typ)
				}
			}
		case untilDone[name]:
			if policy.GetMaximumAttempts() != 0 || len(policy.GetNonRetryableErrorTypes()) != 0 {
				t.Errorf("event %d: %s gives up (maximum attempts %d, non-retryable %v); it must retry until it succeeds",
					id, name, policy.GetMaximumAttempts(), policy.GetNonRetryableErrorTypes())
			}
			if policy.GetInitialInterval().AsDuration() != time.Second || policy.GetMaximumInterval().AsDuration() != time.Minute {
				t.Errorf("event %d: %s retries after %s, up to %s; want 1s, up to a minute", id, name,
					policy.GetInitialInterval().AsDuration(), policy.GetMaximumInterval().AsDuration())
			}
		default:
			t.Errorf("event %d schedules %s, which this test does not know", id, name)
		}
		if timeout := a.GetStartToCloseTimeout().AsDuration(); timeout <= 0 || timeout > time.Minute {
			t.Errorf("event %d: %s has a start-to-close timeout of %s", id, name, timeout)
		}
	}
}
