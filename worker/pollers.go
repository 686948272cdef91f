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
	if err != nil || n == 0 {
		return 0, outOfRange(strconv.Quote(s))
	}
	if err := Pollers(n).Validate(); err != nil {
		return 0, err
	}
	return Pollers(n), nil
}

// Validate refuses a fixed number of pollers outside MinPollers..MaxPollers.
func (p Pollers) Validate() error {
	if p != AutoscaledPollers && (p < MinPollers || p > MaxPollers) {
		return outOfRange(strconv.Itoa(int(p)))
	}
	return nil
}

// outOfRange says what a number of pollers may be, and what it got.
func outOfRange(got string) error {
	return fmt.Errorf("pollers: want auto or a number from %d to %d, got %s", MinPollers, MaxPollers, got)
}

// String is "auto" or the number.
func (p Pollers) String() string {
	if p == AutoscaledPollers {
		return "auto"
	}
	return strconv.Itoa(int(p))
}

// behaviour is the SDK's poller behaviour for one kind of task.
func (p Pollers) behaviour() sdkworker.PollerBehavior {
	if p == AutoscaledPollers {
		return sdkworker.NewPollerBehaviorAutoscaling(sdkworker.PollerBehaviorAutoscalingOptions{})
	}
	return sdkworker.NewPollerBehaviorSimpleMaximum(sdkworker.PollerBehaviorSimpleMaximumOptions{MaximumNumberOfPollers: int(p)})
}
