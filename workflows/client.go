package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga"
)

// Client drives order sagas from outside Temporal (the gRPC API, the restaurant). Its
// errors are application errors: EINVALID, ENOTFOUND, EPRECONDITION, EUNAVAILABLE.
type Client struct {
	Temporal client.Client
	// Metrics, when set, counts the decisions refused because the saga had ended (those
	// the saga refuses itself it counts itself): the worker's handler (worker.MetricsHandler).
	Metrics client.MetricsHandler
}

// Placed identifies an order's saga.
type Placed struct {
	WorkflowID, RunID string
	// AlreadyPlaced is true when the order had a saga already.
	AlreadyPlaced bool
}

// Place validates the order and starts its saga; placing the same order again returns its
// saga (AlreadyPlaced), placing its id again with other content is EEXISTS. The saga's
// summary in Temporal Web shows the total of in's own prices.
func (c Client) Place(ctx context.Context, in ordersaga.OrderInput) (Placed, error) {
	amount, _ := in.Amount() // Validate refuses an overflow
	return c.PlaceShowing(ctx, in, amount)
}

// PlaceShowing is Place for a caller that priced the order from the menu (the API) and
// knows its amount, which the saga's summary in Temporal Web then shows.
func (c Client) PlaceShowing(ctx context.Context, in ordersaga.OrderInput, amount int64) (Placed, error) {
	if err := in.Validate(); err != nil {
		return Placed{}, err
	}
	opts := StartOptions(in.OrderID)
	opts.StaticSummary, opts.StaticDetails = Summary(in, amount), StaticDetails(in, amount)
	opts.TypedSearchAttributes = temporal.NewSearchAttributes(
		OrderStatusAttribute.ValueSet(ordersaga.StatusPending), CustomerIDAttribute.ValueSet(in.CustomerID))
	// Report a repeat as such instead of handing back the existing run silently.
	opts.WorkflowIDConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL
	opts.WorkflowExecutionErrorWhenAlreadyStarted = true
	run, err := c.Temporal.ExecuteWorkflow(ctx, opts, WorkflowName, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case err == nil:
		return Placed{WorkflowID: run.GetID(), RunID: run.GetRunID()}, nil
	case errors.As(err, &started):
		placed, err := c.startInput(ctx, opts.ID, started.RunId)
		if err != nil {
			return Placed{}, err
		}
		if !placed.Same(in) {
			return Placed{}, ordersaga.Errorf(ordersaga.EEXISTS, "order %s was placed already, with other content: give a new order another order_id", in.OrderID)
		}
		return Placed{WorkflowID: opts.ID, RunID: started.RunId, AlreadyPlaced: true}, nil
	}
	return Placed{}, temporalError("place order "+in.OrderID, err)
}

// startInput is the order a saga run was started with: the input of its history's first
// event, whoever started it.
func (c Client) startInput(ctx context.Context, workflowID, runID string) (ordersaga.OrderInput, error) {
	history := c.Temporal.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var in ordersaga.OrderInput
	if !history.HasNext() {
		return in, ordersaga.Errorf(ordersaga.EINTERNAL, "saga %s has no history", workflowID)
	}
	first, err := history.Next()
	if err != nil {
		return in, temporalError("read the saga "+workflowID, err)
	}
	started := first.GetWorkflowExecutionStartedEventAttributes()
	if started == nil {
		return in, ordersaga.Errorf(ordersaga.EINTERNAL, "saga %s: its history starts with %s", workflowID, first.GetEventType())
	}
	if err := converter.GetDefaultDataConverter().FromPayloads(started.GetInput(), &in); err != nil {
		return in, &ordersaga.Error{Code: ordersaga.EINTERNAL, Message: "saga " + workflowID + " has an input that is not an order", Err: err}
	}
	return in, nil
}

// Decide hands the restaurant's decision to the saga and waits until it is accepted.
func (c Client) Decide(ctx context.Context, orderID string, d Decision) (DecisionResult, error) {
	if err := ordersaga.ValidateID("order_id", orderID); err != nil {
		return DecisionResult{}, err
	}
	handle, err := c.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: WorkflowID(orderID), UpdateName: UpdateDecision, Args: []any{d},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var res DecisionResult
	if err == nil {
		err = handle.Get(ctx, &res)
	}
	err = temporalError("decide order "+orderID, err)
	var notFound *serviceerror.NotFound
	if c.Metrics != nil && ordersaga.ErrorCode(err) == ordersaga.EPRECONDITION && errors.As(err, &notFound) {
		c.Metrics.WithTags(map[string]string{"why": refusedSagaEnded}).Counter(metricDecisionsRefused).Inc(1)
	}
	return res, err
}

// Cancel asks the order's saga to cancel.
func (c Client) Cancel(ctx context.Context, orderID string) error {
	if err := ordersaga.ValidateID("order_id", orderID); err != nil {
		return err
	}
	return temporalError("cancel order "+orderID, c.Temporal.CancelWorkflow(ctx, WorkflowID(orderID), ""))
}

// temporalError maps Temporal's errors to application errors: context errors pass
// through; a request Temporal refuses as invalid or too large is EINVALID; a refused
// decision and a saga that has ended are EPRECONDITION; a saga that does not exist is
// ENOTFOUND; a server that cannot be reached or is overloaded is EUNAVAILABLE; anything
// else is EINTERNAL (retrying it would not help).
func temporalError(op string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var (
		notFound    *serviceerror.NotFound
		appErr      *temporal.ApplicationError
		unavailable *serviceerror.Unavailable
		exhausted   *serviceerror.ResourceExhausted
		deadline    *serviceerror.DeadlineExceeded
		invalid     *serviceerror.InvalidArgument
	)
	switch {
	case errors.As(err, &invalid):
		// Temporal's own limits (a payload over its blob size limit, say): the same
		// request fails again, so it is the caller's to change.
		return &ordersaga.Error{Code: ordersaga.EINVALID, Message: "Temporal refused the request: " + invalid.Message, Err: err}
	case errors.As(err, &exhausted) && strings.Contains(exhausted.Message, "larger than max"):
		return &ordersaga.Error{Code: ordersaga.EINVALID, Message: "the request is larger than Temporal takes", Err: err}
	case errors.As(err, &appErr) && appErr.Type() == ErrNotAwaitingDecision:
		return &ordersaga.Error{Code: ordersaga.EPRECONDITION, Message: appErr.Message(), Err: err}
	case errors.As(err, &notFound) && sagaEnded(notFound):
		return &ordersaga.Error{Code: ordersaga.EPRECONDITION, Message: "the order's saga has already ended", Err: err}
	case errors.As(err, &notFound):
		return &ordersaga.Error{Code: ordersaga.ENOTFOUND, Message: "no such order (or its saga has been deleted)", Err: err}
	case errors.As(err, &unavailable), errors.As(err, &exhausted), errors.As(err, &deadline):
		return &ordersaga.Error{Code: ordersaga.EUNAVAILABLE, Message: "Temporal is unavailable", Err: fmt.Errorf("%s: %w", op, err)}
	}
	return &ordersaga.Error{Code: ordersaga.EINTERNAL, Message: "internal error", Err: fmt.Errorf("%s: %w", op, err)}
}

// sagaEnded reports whether Temporal's NotFound says that the workflow has closed, or is
// closing under an update that waited. The SDK has one type for these and for a workflow
// that does not exist, so this matches the server's words (ErrWorkflowCompleted and
// update.AbortedByWorkflowClosingErr in go.temporal.io/server); worker's
// TestTheClientSaysWhetherASagaEndedOrNeverWas pins the first against the real dev server.
func sagaEnded(notFound *serviceerror.NotFound) bool {
	return strings.Contains(notFound.Message, "workflow execution already completed") ||
		strings.Contains(notFound.Message, "workflow update was aborted by closing workflow")
}

// Status queries the saga's live state.
func (c Client) Status(ctx context.Context, orderID string) (State, error) {
	if err := ordersaga.ValidateID("order_id", orderID); err != nil {
		return State{}, err
	}
	v, err := c.Temporal.QueryWorkflow(ctx, WorkflowID(orderID), "", QueryStatus)
	var st State
	if err == nil {
		err = v.Get(&st)
	}
	return st, temporalError("query order "+orderID, err)
}
