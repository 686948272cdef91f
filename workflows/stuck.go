package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/ordersaga/ordersaga"
)

// Why a saga is stuck (StuckSaga.Why).
const (
	// StuckPastDeadline: the saga still waits for its restaurant after the deadline (its
	// timer should have ended the wait).
	StuckPastDeadline = "past_deadline"
	// StuckCompensationRetrying: a compensation keeps failing (it retries until it succeeds).
	StuckCompensationRetrying = "compensation_retrying"
	// StuckForwardStepRetrying: a forward step keeps failing (it gives up after 10 attempts).
	StuckForwardStepRetrying = "forward_step_retrying"
	// StuckWorkflowTask: no worker completes the saga's workflow task: it keeps failing (a
	// bug, a non-deterministic change) or no worker polls the task queue.
	StuckWorkflowTask = "workflow_task"
)

// compensationActivities are the activities that undo a step.
var compensationActivities = []string{"RefundPayment", "RejectOrder", "CancelOrder"}

// StuckOptions say what counts as stuck.
type StuckOptions struct {
	// Attempts: an activity in a later attempt than this is stuck; default 3.
	Attempts int32
	// Grace: a deadline passed, or a workflow task scheduled, longer ago than this is
	// stuck; default one minute.
	Grace time.Duration
	// Limit bounds how many running sagas one call examines (in the order visibility lists
	// them: the newest first); default 1000.
	Limit int
}

// Validate refuses negative settings (zero takes the default), naming the field.
func (o StuckOptions) Validate() error {
	switch {
	case o.Attempts < 0:
		return ordersaga.Invalidf("attempts", "must not be negative, got %d", o.Attempts)
	case o.Grace < 0:
		return ordersaga.Invalidf("grace", "must not be negative, got %s", o.Grace)
	case o.Limit < 0:
		return ordersaga.Invalidf("limit", "must not be negative, got %d", o.Limit)
	}
	return nil
}

func (o StuckOptions) withDefaults() StuckOptions {
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.Grace <= 0 {
		o.Grace = time.Minute
	}
	if o.Limit <= 0 {
		o.Limit = 1000
	}
	return o
}

// StuckSaga is a running saga that does not move on, and why.
type StuckSaga struct {
	OrderID, WorkflowID, RunID string
	// Why is one of the Stuck* constants.
	Why string
	// Status is the saga's OrderStatus search attribute.
	Status string
	// Activity, Attempt and LastFailure describe the retrying activity (or the failing
	// workflow task's attempt and cause).
	Activity    string
	Attempt     int32
	LastFailure string
	// Since is when the saga started; Deadline when its restaurant's time ran out (past
	// the deadline only).
	Since, Deadline time.Time
}

// Stuck examines the running sagas (at most opts.Limit) and returns those stuck: waiting past
// their deadline, retrying a compensation or a forward step more than opts.Attempts times
// (with the last failure), or whose workflow task no worker completes. It reads Temporal's
// visibility, each saga's pending activities and, for a saga awaiting its restaurant, its
// status query. Errors: EINVALID (opts), EUNAVAILABLE, EINTERNAL.
func (c Client) Stuck(ctx context.Context, opts StuckOptions) (stuck []StuckSaga, examined int, err error) {
	if err := opts.Validate(); err != nil {
		return nil, 0, err
	}
	opts = opts.withDefaults()
	var token []byte
	for examined < opts.Limit {
		page, err := c.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query:    fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", WorkflowName),
			PageSize: int32(min(opts.Limit-examined, 1000)), NextPageToken: token})
		if err != nil {
			return stuck, examined, temporalError("list running sagas", err)
		}
		for _, e := range page.GetExecutions() {
			examined++
			status := keyword(e.GetSearchAttributes().GetIndexedFields()[OrderStatusAttribute.GetName()].GetData())
			saga := StuckSaga{OrderID: strings.TrimPrefix(e.GetExecution().GetWorkflowId(), "order-"), WorkflowID: e.GetExecution().GetWorkflowId(),
				RunID: e.GetExecution().GetRunId(), Status: status, Since: e.GetStartTime().AsTime()}
			why, err := c.whyStuck(ctx, &saga, opts)
			if err != nil {
				return stuck, examined, err
			}
			if why != "" {
				saga.Why = why
				stuck = append(stuck, saga)
			}
		}
		if token = page.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	return stuck, examined, nil
}

// whyStuck says why saga is stuck, or "" when it is not, filling in what it found.
func (c Client) whyStuck(ctx context.Context, saga *StuckSaga, opts StuckOptions) (string, error) {
	desc, err := c.Temporal.DescribeWorkflowExecution(ctx, saga.WorkflowID, saga.RunID)
	var gone *serviceerror.NotFound
	switch {
	case errors.As(err, &gone):
		return "", nil // deleted meanwhile
	case err != nil:
		return "", temporalError("describe saga "+saga.WorkflowID, err)
	}
	if task := desc.GetPendingWorkflowTask(); task != nil &&
		(task.GetAttempt() > 1 || time.Since(task.GetScheduledTime().AsTime()) > opts.Grace) {
		saga.Attempt = task.GetAttempt()
		return StuckWorkflowTask, nil
	}
	for _, a := range desc.GetPendingActivities() {
		if a.GetAttempt() <= opts.Attempts {
			continue
		}
		saga.Activity, saga.Attempt = a.GetActivityType().GetName(), a.GetAttempt()
		saga.LastFailure = a.GetLastFailure().GetMessage()
		if slices.Contains(compensationActivities, saga.Activity) {
			return StuckCompensationRetrying, nil
		}
		return StuckForwardStepRetrying, nil
	}
	if saga.Status != ordersaga.StatusAwaitingDecision || desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return "", nil
	}
	v, err := c.Temporal.QueryWorkflow(ctx, saga.WorkflowID, saga.RunID, QueryStatus)
	var st State
	if err == nil {
		err = v.Get(&st)
	}
	if err != nil {
		return "", nil // a saga that cannot answer has a workflow task pending: seen above, next time
	}
	if st.DecisionDeadline != nil && st.Status == ordersaga.StatusAwaitingDecision && time.Since(*st.DecisionDeadline) > opts.Grace {
		saga.Deadline = *st.DecisionDeadline
		return StuckPastDeadline, nil
	}
	return "", nil
}

// keyword decodes a Keyword search attribute's payload data (a JSON string); "" if unset.
func keyword(data []byte) string {
	var s string
	_ = json.Unmarshal(data, &s)
	return s
}
