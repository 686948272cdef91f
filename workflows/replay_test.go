package workflows_test

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/workflows"
)

// TestReplayRecordedHistories replays histories recorded from a real Temporal dev server
// (ORDERSAGA_RECORD_HISTORIES=1 go test ./worker writes the v1-* ones) against the current
// workflow code: a change that is not deterministic with respect to them fails here. The
// v0-* histories were recorded before the fewer-search-attribute-upserts change and must
// keep replaying: runs started before a deployment finish on the code after it. The
// v1-held-* histories take a decision that arrived before the decision point; the v3-*
// ones were recorded before menus changed how an order is priced, the v4-* ones after, the
// v5-* ones with the summaries that Temporal Web shows.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, version := range []string{"v0-", "v1-"} {
		for _, path := range []string{"cancelled", "declined", "happy", "restaurant-rejected", "restaurant-timeout"} {
			want = append(want, version+path)
		}
	}
	// Decisions held until the decision point (recorded after that change).
	want = append(want, "v1-held-signal", "v1-held-update", "v1-placed-happy", "v2-placed-happy")
	// Every path after the hostile-input changes, before menus (v3), with them (v4), and with
	// the summaries Temporal Web shows (v5).
	for _, version := range []string{"v3-", "v4-", "v5-"} {
		for _, path := range []string{"cancelled", "declined", "happy", "held-signal", "held-update", "placed-happy", "restaurant-rejected", "restaurant-timeout"} {
			want = append(want, version+path)
		}
	}
	if len(files) != len(want) {
		t.Fatalf("found histories %v, want one per path: %v", files, want)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			history, err := client.HistoryFromJSON(raw, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// Replay under the saga's own workflow id, as it ran.
			var in ordersaga.OrderInput
			payload := history.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()[0]
			if err := json.Unmarshal(payload.GetData(), &in); err != nil {
				t.Fatalf("%s: input %s: %v", file, payload.GetData(), err)
			}
			replayer := worker.NewWorkflowReplayer()
			replayer.RegisterWorkflowWithOptions(workflows.OrderSaga, workflow.RegisterOptions{Name: workflows.WorkflowName})
			err = replayer.ReplayWorkflowHistoryWithOptions(log.NewStructuredLogger(slog.New(slog.DiscardHandler)), history,
				worker.ReplayWorkflowHistoryOptions{OriginalExecution: workflow.Execution{ID: workflows.WorkflowID(in.OrderID)}})
			if err != nil {
				t.Errorf("replay %s: %v", file, err)
			}
		})
	}
}
