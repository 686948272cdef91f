package worker

import (
	"fmt"
	"strconv"

	sdkworker "go.temporal.io/sdk/worker"
)

// Pollers says how many goroutines poll Temporal for each kind of task (workflow tasks,
// activity tasks). The zero value, AutoscaledPollers, lets the SDK scale them between 1
// and 100 by how full the polls come back and the server's word on its backlog; a number
// n keeps at most n of each (the SDK's own default is 2).
//
// Autoscaling is the default because a fixed pair falls behind under load: the two take
// turns between the sticky and the normal queue, so a new saga's first workflow task,
// on the normal queue, finds no poller waiting; Temporal writes it to its database and it
// waits there, 0.76 s on average in the load test (docs/benchmarks.md, eighth round).
type Pollers int

// AutoscaledPollers is Pollers' default: as many as the load needs.
const AutoscaledPollers Pollers = 0

// MinPollers and MaxPollers bound a fixed number of pollers. The SDK needs two workflow
// task pollers at least (they take turns between the sticky and the normal queue); more
// than MaxPollers only adds idle long polls to the server.
const (
	MinPollers Pollers = 2
	MaxPollers Pollers = 100
)

// ParsePollers reads "auto" or a number of pollers from MinPollers to MaxPollers.
func ParsePollers(s string) (Pollers, error) {
	if s == "auto" {
		return AutoscaledPollers, nil
	}
	// A written 0 is refused rather than read as auto: a fixed zero would poll nothing.
	n, err := strconv.Atoi(s)
	if err != nil || Pollers(n) < MinPollers || Pollers(n) > MaxPollers {
		return 0, fmt.Errorf("pollers: want auto or a number from %d to %d, got %q", MinPollers, MaxPollers, s)
	}
	return Pollers(n), nil
}

// Validate refuses a fixed number of pollers outside MinPollers..MaxPollers.
func (p Pollers) Validate() error {
	if p != AutoscaledPollers && (p < MinPollers || p > MaxPollers) {
		return fmt.Errorf("pollers: want auto or a number from %d to %d, got %d", MinPollers, MaxPollers, int(p))
	}
	return nil
}

// String is "auto" or the number.
func (p Pollers) String() string {
	if p == AutoscaledPollers {
		return "auto"
	}
	return strconv.Itoa(int(p))
}

// apply sets the worker's poller behaviour for workflow and activity tasks.
func (p Pollers) apply(o *sdkworker.Options) {
	if p == AutoscaledPollers {
		o.WorkflowTaskPollerBehavior = sdkworker.NewPollerBehaviorAutoscaling(sdkworker.PollerBehaviorAutoscalingOptions{})
		o.ActivityTaskPollerBehavior = sdkworker.NewPollerBehaviorAutoscaling(sdkworker.PollerBehaviorAutoscalingOptions{})
		return
	}
	o.WorkflowTaskPollerBehavior = sdkworker.NewPollerBehaviorSimpleMaximum(sdkworker.PollerBehaviorSimpleMaximumOptions{MaximumNumberOfPollers: int(p)})
	o.ActivityTaskPollerBehavior = sdkworker.NewPollerBehaviorSimpleMaximum(sdkworker.PollerBehaviorSimpleMaximumOptions{MaximumNumberOfPollers: int(p)})
}
