package baseline_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/ordersaga/ordersaga/loadgen/baseline"
	"github.com/ordersaga/ordersaga/workflows"
)

// runBaseline runs BaselineSaga with in, sending the decision after a minute when decide
// is set, and returns how many activities ran.
func runBaseline(t *testing.T, in baseline.Input, decide bool) int {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	baseline.Register(env)
	activities := 0
	env.OnActivity(baseline.NoopActivity, mock.Anything, mock.Anything).Return(nil).Run(func(mock.Arguments) { activities++ })
	if decide {
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.UpdateDecision, "d", &testsuite.TestUpdateCallback{
				OnReject: func(err error) { t.Errorf("decision refused: %v", err) }, OnAccept: func() {}, OnComplete: func(any, error) {},
			}, workflows.Decision{Approved: true})
		}, time.Minute)
	}
	env.ExecuteWorkflow(baseline.Name, in)
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("baseline %+v did not complete: %v", in, env.GetWorkflowError())
	}
	return activities
}

func TestBaselineMirrorsEachPathsActivities(t *testing.T) {
	for _, c := range []struct {
		in     baseline.Input
		decide bool
		want   int
	}{
		{baseline.Input{OrderID: "approved"}, true, 3},
		{baseline.Input{OrderID: "rejected", Activities: 4}, true, 4},
		{baseline.Input{OrderID: "declined", Activities: 4, NoDecision: true}, false, 4},
	} {
		if got := runBaseline(t, c.in, c.decide); got != c.want {
			t.Errorf("baseline %+v ran %d activities, want %d", c.in, got, c.want)
		}
	}
}

// TestBaselinePublishesTheMirroredStatuses checks that the baseline upserts each status it
// is given, in order, with the customer, as the saga it mirrors does.
func TestBaselinePublishesTheMirroredStatuses(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	baseline.Register(env)
	env.OnActivity(baseline.NoopActivity, mock.Anything, mock.Anything).Return(nil)
	var published []string
	env.OnUpsertTypedSearchAttributes(mock.Anything).Return(nil).Run(func(args mock.Arguments) {
		attrs := args.Get(0).(temporal.SearchAttributes)
		status, _ := attrs.GetKeyword(workflows.OrderStatusAttribute)
		customer, _ := attrs.GetKeyword(workflows.CustomerIDAttribute)
		published = append(published, status+"/"+customer)
	})
	env.ExecuteWorkflow(baseline.Name, baseline.Input{OrderID: "declined", Activities: 4, NoDecision: true,
		Statuses: []string{"compensating", "rejected"}, CustomerID: "c-1"})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("baseline did not complete: %v", env.GetWorkflowError())
	}
	if want := "[compensating/c-1 rejected/c-1]"; fmt.Sprint(published) != want {
		t.Errorf("published %v, want %s", published, want)
	}
}

// TestBaselineHoldsAnEarlyDecisionUntilItsDecisionPoint checks that a decision sent at the
// start, as the load sends it, completes at the decision point, after the first two
// activities, as the saga completes a decision it holds.
func TestBaselineHoldsAnEarlyDecisionUntilItsDecisionPoint(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	baseline.Register(env)
	activities, completedAfter := 0, -1
	env.OnActivity(baseline.NoopActivity, mock.Anything, mock.Anything).Return(nil).Run(func(mock.Arguments) { activities++ })
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateDecision, "d", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("decision refused: %v", err) }, OnAccept: func() {},
			OnComplete: func(_ any, err error) {
				if err != nil {
					t.Errorf("decision failed: %v", err)
				}
				completedAfter = activities
			},
		}, workflows.Decision{Approved: true})
	}, 0)
	env.ExecuteWorkflow(baseline.Name, baseline.Input{OrderID: "approved"})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("baseline did not complete: %v", env.GetWorkflowError())
	}
	if completedAfter != 2 {
		t.Errorf("the decision completed after %d activities, want 2 (at the decision point)", completedAfter)
	}
}
