package worker

import (
	"fmt"
	"testing"
)

func TestParsePollers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Pollers
		ok   bool
	}{
		{"auto", AutoscaledPollers, true},
		{"2", 2, true},
		{"100", 100, true},
		{"0", 0, false}, // a fixed zero would poll nothing: "auto" says what it means
		{"1", 0, false}, // the SDK panics on one workflow task poller
		{"-4", 0, false},
		{"101", 0, false},
		{"99999999999999999999", 0, false},
		{"", 0, false},
		{"Auto", 0, false},
		{"3 ", 0, false},
	} {
		got, err := ParsePollers(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParsePollers(%q) = %v, %v; want %v (ok: %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestPollersReadBackAsWritten(t *testing.T) {
	for _, s := range []string{"auto", "2", "17", "100"} {
		p, err := ParsePollers(s)
		if err != nil {
			t.Fatal(err)
		}
		if p.String() != s {
			t.Errorf("ParsePollers(%q) then String() = %q", s, p.String())
		}
	}
}

// The SDK's behaviours are unexported types; their names say which one the worker got.
func TestTheWorkerPollsWithTheBehaviourAsked(t *testing.T) {
	for _, tc := range []struct {
		pollers Pollers
		want    string
	}{
		{AutoscaledPollers, "*internal.pollerBehaviorAutoscaling"},
		{5, "*internal.pollerBehaviorSimpleMaximum"},
	} {
		o := options(tc.pollers)
		for kind, b := range map[string]any{"workflow": o.WorkflowTaskPollerBehavior, "activity": o.ActivityTaskPollerBehavior} {
			if got := fmt.Sprintf("%T", b); got != tc.want {
				t.Errorf("pollers %s: %s task pollers behave as %s, want %s", tc.pollers, kind, got, tc.want)
			}
		}
		if tc.pollers != AutoscaledPollers && fmt.Sprint(o.WorkflowTaskPollerBehavior) != fmt.Sprintf("&{%d}", tc.pollers) {
			t.Errorf("pollers %s: workflow task pollers %v", tc.pollers, o.WorkflowTaskPollerBehavior)
		}
	}
}
