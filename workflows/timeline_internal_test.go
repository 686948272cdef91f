package workflows

import (
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	updatepb "go.temporal.io/api/update/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestAHistoryReadsAsTheSagasSteps feeds the history reader the events of a saga that
// retried its debit, waited on its deadline, took a refused update and a signal, was asked
// to cancel and failed: each becomes the step an operator reads, with the activity's
// attempt, the failure it retried after, its duration from its scheduling, the timer's, the
// summaries, and details cut at a character's boundary.
func TestAHistoryReadsAsTheSagasSteps(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	at := func(ms int) *timestamppb.Timestamp {
		return timestamppb.New(t0.Add(time.Duration(ms) * time.Millisecond))
	}
	payload := func(s string) *commonpb.Payload {
		p, err := converter.GetDefaultDataConverter().ToPayload(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	long := strings.Repeat("é", 200) // 400 bytes, over the 300 a detail keeps
	events := []*historypb.HistoryEvent{
		{EventId: 1, EventTime: at(0), EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
			UserMetadata: &sdkpb.UserMetadata{Summary: payload("order 41 · c-1 at r-7 · 23.00 EUR")}},
		{EventId: 5, EventTime: at(10), EventType: enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, UserMetadata: &sdkpb.UserMetadata{Summary: payload("debit 23.00 EUR from c-1")},
			Attributes: &historypb.HistoryEvent_ActivityTaskScheduledEventAttributes{ActivityTaskScheduledEventAttributes: &historypb.ActivityTaskScheduledEventAttributes{
				ActivityType: &commonpb.ActivityType{Name: "DebitPayment"}}}},
		{EventId: 6, EventTime: at(1500), EventType: enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED,
			Attributes: &historypb.HistoryEvent_ActivityTaskStartedEventAttributes{ActivityTaskStartedEventAttributes: &historypb.ActivityTaskStartedEventAttributes{
				ScheduledEventId: 5, Attempt: 2, LastFailure: &failurepb.Failure{Message: "database down",
					FailureInfo: &failurepb.Failure_ApplicationFailureInfo{ApplicationFailureInfo: &failurepb.ApplicationFailureInfo{Type: "Unavailable"}}}}}},
		{EventId: 7, EventTime: at(1530), EventType: enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
			Attributes: &historypb.HistoryEvent_ActivityTaskCompletedEventAttributes{ActivityTaskCompletedEventAttributes: &historypb.ActivityTaskCompletedEventAttributes{
				ScheduledEventId: 5}}},
		{EventId: 8, EventTime: at(1540), EventType: enumspb.EVENT_TYPE_TIMER_STARTED, UserMetadata: &sdkpb.UserMetadata{Summary: payload("restaurant r-7 decides within 5m0s")},
			Attributes: &historypb.HistoryEvent_TimerStartedEventAttributes{TimerStartedEventAttributes: &historypb.TimerStartedEventAttributes{
				StartToFireTimeout: durationpb.New(5 * time.Minute)}}},
		{EventId: 9, EventTime: at(1600), EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
			Attributes: &historypb.HistoryEvent_WorkflowExecutionUpdateCompletedEventAttributes{WorkflowExecutionUpdateCompletedEventAttributes: &historypb.WorkflowExecutionUpdateCompletedEventAttributes{
				Outcome: &updatepb.Outcome{Value: &updatepb.Outcome_Failure{Failure: &failurepb.Failure{Message: long}}}}}},
		{EventId: 10, EventTime: at(1700), EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
			Attributes: &historypb.HistoryEvent_WorkflowExecutionSignaledEventAttributes{WorkflowExecutionSignaledEventAttributes: &historypb.WorkflowExecutionSignaledEventAttributes{
				SignalName: SignalDecision, Input: &commonpb.Payloads{Payloads: []*commonpb.Payload{{Data: []byte(`{"approved":false}`)}}}}}},
		{EventId: 11, EventTime: at(301540), EventType: enumspb.EVENT_TYPE_TIMER_FIRED,
			Attributes: &historypb.HistoryEvent_TimerFiredEventAttributes{TimerFiredEventAttributes: &historypb.TimerFiredEventAttributes{StartedEventId: 8}}},
		{EventId: 12, EventTime: at(301600), EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
			Attributes: &historypb.HistoryEvent_WorkflowExecutionCancelRequestedEventAttributes{WorkflowExecutionCancelRequestedEventAttributes: &historypb.WorkflowExecutionCancelRequestedEventAttributes{
				Identity: "temporal-cli"}}},
		{EventId: 13, EventTime: at(301700), EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
			Attributes: &historypb.HistoryEvent_WorkflowExecutionFailedEventAttributes{WorkflowExecutionFailedEventAttributes: &historypb.WorkflowExecutionFailedEventAttributes{
				Failure: &failurepb.Failure{Message: "no"}}}},
	}
	h := historyReader{activities: map[int64]scheduledActivity{}, timers: map[int64]time.Time{}}
	for _, e := range events {
		h.read(e)
	}
	want := []Step{
		{At: t0, What: "saga started", Detail: "order 41 · c-1 at r-7 · 23.00 EUR"},
		{At: t0.Add(10 * time.Millisecond), What: "activity DebitPayment scheduled", Detail: "debit 23.00 EUR from c-1"},
		{At: t0.Add(1500 * time.Millisecond), What: "activity DebitPayment started", Detail: "retried after: database down (Unavailable)", Attempt: 2},
		{At: t0.Add(1530 * time.Millisecond), What: "activity DebitPayment completed", Detail: "debit 23.00 EUR from c-1", Duration: 1520 * time.Millisecond, Attempt: 2},
		{At: t0.Add(1540 * time.Millisecond), What: "timer started", Detail: "restaurant r-7 decides within 5m0s (fires after 5m0s)"},
		{At: t0.Add(1600 * time.Millisecond), What: "update completed", Detail: "refused: " + strings.Repeat("é", 145) + "…"},
		{At: t0.Add(1700 * time.Millisecond), What: "signal decision received", Detail: `{"approved":false}`},
		{At: t0.Add(301540 * time.Millisecond), What: "timer fired", Duration: 5 * time.Minute},
		{At: t0.Add(301600 * time.Millisecond), What: "cancellation requested", Detail: "temporal-cli"},
		{At: t0.Add(301700 * time.Millisecond), What: "saga failed", Detail: "no"},
	}
	if len(h.steps) != len(want) {
		t.Fatalf("%d steps, want %d: %+v", len(h.steps), len(want), h.steps)
	}
	for i, got := range h.steps {
		if got != want[i] {
			t.Errorf("step %d = %+v\n want %+v", i, got, want[i])
		}
	}
}

// TestStepDetailsAreCutOnlyPastTheLimit: a detail of exactly maxDetail bytes is kept
// whole, one byte longer is cut to maxDetail and marked; a first attempt has no "retried
// after"; an upsert without a status adds no step.
func TestStepDetailsAreCutOnlyPastTheLimit(t *testing.T) {
	at := timestamppb.New(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC))
	h := historyReader{activities: map[int64]scheduledActivity{}, timers: map[int64]time.Time{}}
	exact, over := strings.Repeat("a", maxDetail), strings.Repeat("b", maxDetail+1)
	for _, reason := range []string{exact, over} {
		h.read(&historypb.HistoryEvent{EventTime: at, EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
			Attributes: &historypb.HistoryEvent_WorkflowExecutionTerminatedEventAttributes{WorkflowExecutionTerminatedEventAttributes: &historypb.WorkflowExecutionTerminatedEventAttributes{
				Reason: reason}}})
	}
	h.read(&historypb.HistoryEvent{EventId: 5, EventTime: at, EventType: enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
		Attributes: &historypb.HistoryEvent_ActivityTaskScheduledEventAttributes{ActivityTaskScheduledEventAttributes: &historypb.ActivityTaskScheduledEventAttributes{
			ActivityType: &commonpb.ActivityType{Name: "CreateOrder"}}}})
	h.read(&historypb.HistoryEvent{EventId: 6, EventTime: at, EventType: enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED,
		Attributes: &historypb.HistoryEvent_ActivityTaskStartedEventAttributes{ActivityTaskStartedEventAttributes: &historypb.ActivityTaskStartedEventAttributes{
			ScheduledEventId: 5, Attempt: 1}}})
	h.read(&historypb.HistoryEvent{EventId: 7, EventTime: at, EventType: enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
		Attributes: &historypb.HistoryEvent_UpsertWorkflowSearchAttributesEventAttributes{UpsertWorkflowSearchAttributesEventAttributes: &historypb.UpsertWorkflowSearchAttributesEventAttributes{
			SearchAttributes: &commonpb.SearchAttributes{}}}})
	if len(h.steps) != 4 {
		t.Fatalf("%d steps, want 4 (two ends, a schedule, a start): %+v", len(h.steps), h.steps)
	}
	if h.steps[0].Detail != exact {
		t.Errorf("a detail of exactly %d bytes became %d bytes", maxDetail, len(h.steps[0].Detail))
	}
	if want := over[:maxDetail] + "…"; h.steps[1].Detail != want {
		t.Errorf("a detail of %d bytes became %q, want it cut to %d and marked", maxDetail+1, h.steps[1].Detail, maxDetail)
	}
	if h.steps[3].Detail != "" || h.steps[3].Attempt != 1 {
		t.Errorf("a first attempt's start = %+v, want attempt 1 and no detail", h.steps[3])
	}
}
