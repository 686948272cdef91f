package system

import (
	"slices"
	"testing"

	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga/activities"
	"github.com/ordersaga/ordersaga/loadgen/baseline"
	"github.com/ordersaga/ordersaga/workflows"
)

// registry records the workflow types registered on it.
type registry struct {
	sdkworker.Registry // the rest is not called
	workflows          []string
}

func (r *registry) RegisterWorkflowWithOptions(_ any, opts workflow.RegisterOptions) {
	r.workflows = append(r.workflows, opts.Name)
}

func (r *registry) RegisterActivity(any) {}

// TestOnlyAWorkerAskedForTheBaselineRunsIt checks that a production worker registers the
// saga alone, and one built for the load test (dev, `worker --with-baseline`) the baseline too.
func TestOnlyAWorkerAskedForTheBaselineRunsIt(t *testing.T) {
	for _, c := range []struct {
		baseline bool
		want     []string
	}{
		{false, []string{workflows.WorkflowName}},
		{true, []string{workflows.WorkflowName, baseline.Name}},
	} {
		w := &Worker{cfg: WorkerConfig{Baseline: c.baseline}, acts: &activities.Activities{}}
		var r registry
		w.register(&r)
		if !slices.Equal(r.workflows, c.want) {
			t.Errorf("a worker with Baseline %v registers %v, want %v", c.baseline, r.workflows, c.want)
		}
	}
}
