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

// maxStuckPage is the largest page Stuck asks Temporal's visibility for.
const maxStuckPage = 1000

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
	// PageSize is how many sagas one request to Temporal's visibility lists, at most
	// maxStuckPage; default maxStuckPage.
	PageSize int
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
	case o.PageSize < 0 || o.PageSize > maxStuckPage:
		return ordersaga.Invalidf("page_size", "must be between 0 and %d, got %d", maxStuckPage, o.PageSize)
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
	if o.PageSize <= 0 {
		o.PageSize = maxStuckPage
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
// their deadline, whose workflow task no worker completes, or retrying a compensation or a
// forward step more than opts.Attempts times (with the last failure). It reads Temporal's
// visibility, each saga's pending work and, for a saga awaiting its restaurant, its
// history's deadline timer; no worker needs to run. Errors: EINVALID (opts), EUNAVAILABLE,
// EINTERNAL.
func (c Client) Stuck(ctx context.Context, opts StuckOptions) (stuck []StuckSaga, examined int, err error) {
	if err := opts.Validate(); err != nil {
		return nil, 0, err
	}
	opts = opts.withDefaults()
	var token []byte
	for examined < opts.Limit {
		page, err := c.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query:    fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", WorkflowName),
			PageSize: int32(min(opts.Limit-examined, opts.PageSize)), NextPageToken: token})
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

// whyStuck says why saga is stuck, or "" when it is not, filling in what it found. A saga
// still awaiting its restaurant past the deadline is reported as such even when the cause
// is a workflow task no worker completes (the timer fired, and nothing took it): that is
// what the operator sees from outside.
func (c Client) whyStuck(ctx context.Context, saga *StuckSaga, opts StuckOptions) (string, error) {
	desc, err := c.Temporal.DescribeWorkflowExecution(ctx, saga.WorkflowID, saga.RunID)
	var gone *serviceerror.NotFound
	switch {
	case errors.As(err, &gone):
		return "", nil // deleted meanwhile
	case err != nil:
		return "", temporalError("describe saga "+saga.WorkflowID, err)
	}
	if desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return "", nil // ended since visibility listed it
	}
	task := desc.GetPendingWorkflowTask() // its getters answer 0 when there is none
	// A saga younger than the shortest deadline and the grace cannot be past its deadline:
	// its history is not read (most of the sagas awaiting a decision, under steady load).
	if saga.Status == ordersaga.StatusAwaitingDecision && time.Since(saga.Since) > ordersaga.MinDecisionTimeout+opts.Grace {
		deadline, ok, err := c.decisionDeadline(ctx, saga.WorkflowID, saga.RunID)
		if err != nil {
			return "", err
		}
		if ok && time.Since(deadline) > opts.Grace {
			saga.Deadline, saga.Attempt = deadline, task.GetAttempt()
			return StuckPastDeadline, nil
		}
	}
	if task != nil && (task.GetAttempt() > 1 || time.Since(task.GetScheduledTime().AsTime()) > opts.Grace) {
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
	return "", nil
}

// decisionDeadline reads from the saga's history when its last timer (the restaurant's
// deadline: the only timer the saga starts) fires or fired: its start plus its length.
// Unlike the saga's status query, the history answers when no worker runs the saga.
func (c Client) decisionDeadline(ctx context.Context, workflowID, runID string) (deadline time.Time, ok bool, err error) {
	iter := c.Temporal.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			return time.Time{}, false, temporalError("read the history of saga "+workflowID, err)
		}
		if timer := e.GetTimerStartedEventAttributes(); timer != nil {
			deadline, ok = e.GetEventTime().AsTime().Add(timer.GetStartToFireTimeout().AsDuration()), true
		}
	}
	return deadline, ok, nil
}

// keyword decodes a Keyword search attribute's payload data (a JSON string); "" if unset.
func keyword(data []byte) string {
	var s string
	_ = json.Unmarshal(data, &s)
	return s
}
