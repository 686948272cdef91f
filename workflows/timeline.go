package workflows

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"

	"github.com/ordersaga/ordersaga"
)

// Step is one moment of a saga's Temporal history, as an order's timeline shows it.
type Step struct {
	At time.Time
	// What happened, in a few words: "activity DebitPayment completed".
	What string
	// Detail adds the activity's or timer's summary, a failure, a decision.
	Detail string
	// Duration of what ended here: an activity from its scheduling, a timer.
	Duration time.Duration
	// Attempt of an activity, 1 the first time.
	Attempt int32
}

// maxDetail bounds a step's detail (a failure's message, a decision's input).
const maxDetail = 300

// History returns the steps of the order's saga from its Temporal history: the start, each
// activity scheduled, started (with its attempt and the failure that made it retry) and
// ended (with its duration), the deadline timer, the decision (update or signal),
// cancellation, the statuses it published, and the end. Errors: EINVALID, ENOTFOUND (no
// saga for the order), EUNAVAILABLE, EINTERNAL.
func (c Client) History(ctx context.Context, orderID string) ([]Step, error) {
	if err := ordersaga.ValidateID("order_id", orderID); err != nil {
		return nil, err
	}
	iter := c.Temporal.GetWorkflowHistory(ctx, WorkflowID(orderID), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := historyReader{activities: map[int64]scheduledActivity{}, timers: map[int64]time.Time{}}
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			return nil, temporalError("read the saga of order "+orderID, err)
		}
		h.read(e)
	}
	return h.steps, nil
}

// scheduledActivity is what the history said of an activity when it was scheduled.
type scheduledActivity struct {
	name, summary string
	at            time.Time
	attempt       int32
}

// historyReader turns history events into steps, remembering what later events refer to.
type historyReader struct {
	steps      []Step
	activities map[int64]scheduledActivity // by scheduled event id
	timers     map[int64]time.Time         // started, by started event id
}

func (h *historyReader) add(e *historypb.HistoryEvent, s Step) {
	s.At = e.GetEventTime().AsTime()
	if len(s.Detail) > maxDetail {
		cut := maxDetail
		for cut > 0 && !utf8.RuneStart(s.Detail[cut]) {
			cut-- // not in the middle of a character
		}
		s.Detail = s.Detail[:cut] + "…"
	}
	h.steps = append(h.steps, s)
}

func (h *historyReader) read(e *historypb.HistoryEvent) {
	summary := text(e.GetUserMetadata().GetSummary())
	switch e.GetEventType() {
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
		h.add(e, Step{What: "saga started", Detail: summary})
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
		a := e.GetActivityTaskScheduledEventAttributes()
		h.activities[e.GetEventId()] = scheduledActivity{name: a.GetActivityType().GetName(), summary: summary, at: e.GetEventTime().AsTime()}
		h.add(e, Step{What: "activity " + a.GetActivityType().GetName() + " scheduled", Detail: summary})
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
		a := e.GetActivityTaskStartedEventAttributes()
		act := h.activities[a.GetScheduledEventId()]
		act.attempt = a.GetAttempt()
		h.activities[a.GetScheduledEventId()] = act
		s := Step{What: "activity " + act.name + " started", Attempt: a.GetAttempt()}
		if a.GetAttempt() > 1 {
			s.Detail = "retried after: " + failureText(a.GetLastFailure())
		}
		h.add(e, s)
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
		h.activityEnded(e, e.GetActivityTaskCompletedEventAttributes().GetScheduledEventId(), "completed", "")
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
		a := e.GetActivityTaskFailedEventAttributes()
		h.activityEnded(e, a.GetScheduledEventId(), "failed", failureText(a.GetFailure()))
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
		a := e.GetActivityTaskTimedOutEventAttributes()
		h.activityEnded(e, a.GetScheduledEventId(), "timed out", failureText(a.GetFailure()))
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
		h.activityEnded(e, e.GetActivityTaskCanceledEventAttributes().GetScheduledEventId(), "cancelled", "")
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED:
		act := h.activities[e.GetActivityTaskCancelRequestedEventAttributes().GetScheduledEventId()]
		h.add(e, Step{What: "activity " + act.name + " asked to cancel"})
	case enumspb.EVENT_TYPE_TIMER_STARTED:
		a := e.GetTimerStartedEventAttributes()
		h.timers[e.GetEventId()] = e.GetEventTime().AsTime()
		h.add(e, Step{What: "timer started", Detail: strings.TrimSpace(summary + " (fires after " + a.GetStartToFireTimeout().AsDuration().String() + ")")})
	case enumspb.EVENT_TYPE_TIMER_FIRED:
		started := h.timers[e.GetTimerFiredEventAttributes().GetStartedEventId()]
		h.add(e, Step{What: "timer fired", Duration: e.GetEventTime().AsTime().Sub(started)})
	case enumspb.EVENT_TYPE_TIMER_CANCELED:
		started := h.timers[e.GetTimerCanceledEventAttributes().GetStartedEventId()]
		h.add(e, Step{What: "timer cancelled", Duration: e.GetEventTime().AsTime().Sub(started)})
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
		a := e.GetWorkflowExecutionSignaledEventAttributes()
		h.add(e, Step{What: "signal " + a.GetSignalName() + " received", Detail: payloadsText(a.GetInput())})
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
		a := e.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest()
		h.add(e, Step{What: "update " + a.GetInput().GetName() + " accepted", Detail: payloadsText(a.GetInput().GetArgs())})
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
		o := e.GetWorkflowExecutionUpdateCompletedEventAttributes().GetOutcome()
		detail := payloadsText(o.GetSuccess())
		if o.GetFailure() != nil {
			detail = "refused: " + failureText(o.GetFailure())
		}
		h.add(e, Step{What: "update completed", Detail: detail})
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
		a := e.GetWorkflowExecutionCancelRequestedEventAttributes()
		h.add(e, Step{What: "cancellation requested", Detail: strings.TrimSpace(a.GetIdentity() + " " + a.GetCause())})
	case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
		fields := e.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()
		if status := keyword(fields[OrderStatusAttribute.GetName()].GetData()); status != "" {
			h.add(e, Step{What: "status " + status})
		}
	case enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED:
		h.add(e, Step{What: "workflow task failed", Detail: failureText(e.GetWorkflowTaskFailedEventAttributes().GetFailure())})
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
		h.add(e, Step{What: "saga completed", Detail: payloadsText(e.GetWorkflowExecutionCompletedEventAttributes().GetResult())})
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
		h.add(e, Step{What: "saga failed", Detail: failureText(e.GetWorkflowExecutionFailedEventAttributes().GetFailure())})
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
		h.add(e, Step{What: "saga cancelled"})
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
		h.add(e, Step{What: "saga terminated", Detail: e.GetWorkflowExecutionTerminatedEventAttributes().GetReason()})
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
		h.add(e, Step{What: "saga timed out"})
	}
}

// activityEnded adds the end of the activity scheduled at event scheduled.
func (h *historyReader) activityEnded(e *historypb.HistoryEvent, scheduled int64, how, detail string) {
	act := h.activities[scheduled]
	h.add(e, Step{What: "activity " + act.name + " " + how, Detail: strings.TrimSpace(act.summary + " " + detail),
		Duration: e.GetEventTime().AsTime().Sub(act.at), Attempt: act.attempt})
}

// text decodes a payload that holds a string ("" when there is none).
func text(p *commonpb.Payload) string {
	var s string
	if p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &s)
	}
	return s
}

// payloadsText shows payloads as their JSON, joined.
func payloadsText(p *commonpb.Payloads) string {
	var parts []string
	for _, one := range p.GetPayloads() {
		parts = append(parts, string(one.GetData()))
	}
	return strings.Join(parts, " ")
}

// failureText is a failure's message, with its type when it has one.
func failureText(f *failurepb.Failure) string {
	if f == nil {
		return ""
	}
	if t := f.GetApplicationFailureInfo().GetType(); t != "" {
		return fmt.Sprintf("%s (%s)", f.GetMessage(), t)
	}
	return f.GetMessage()
}
