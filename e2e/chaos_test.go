package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/chaos"
)

// TestChaosShortRun runs `ordersaga chaos` as CI's short run: the deployed shape as
// separate processes, a couple of hundred orders at 5 a second, and every fault once
// (kill -9 of a worker, a projector, a relay, the API and the NATS server; a worker paused
// past its activities' timeout; PostgreSQL and Temporal restarted; the bus cut off for
// 10 s). Every fault must be injected and undone, every order must end as asked with
// exactly its events, one debit per paid order and one refund per compensated one,
// balances right, verify clean, no dead letters: the report's checks, with their counts.
func TestChaosShortRun(t *testing.T) {
	if testing.Short() {
		t.Skip("a chaos run takes a couple of minutes")
	}
	s := newSystem(t) // builds the binary
	root, _ := filepath.Abs("..")
	report := filepath.Join(filepath.Dir(s.bin), "chaos.json")
	const orders = 200
	cmd := exec.Command(s.bin, "chaos", "--data-dir", filepath.Join(filepath.Dir(s.bin), "chaos"), "--rate", "5",
		"--orders", strconv.Itoa(orders), "--warmup", "8s", "--every", "4s", "--faults", "all", "--bus-outage", "10s", "--settle", "2m", "--json", report)
	cmd.Dir = root // where the temporal CLI is built and cached
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ordersaga chaos: %v\n%s", err, tail(string(out), 60))
	}
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var r chaos.Report
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	injected := map[string]bool{}
	for _, f := range r.Faults {
		if f.Err != "" {
			t.Errorf("fault %s on %s: %s", f.Fault, f.Target, f.Err)
		}
		injected[f.Fault] = true
	}
	for _, f := range chaos.Faults() {
		if !injected[f] {
			t.Errorf("fault %s was not injected (the run ended first): %v", f, r.Faults)
		}
	}
	if !r.OK || len(r.Checks) < 7 {
		t.Errorf("report not OK or short: %+v", r.Checks)
	}
	for _, c := range r.Checks {
		if !c.OK {
			t.Errorf("%s: %s", c.Name, c.Figure)
		}
		if strings.HasPrefix(c.Name, "every order ended as asked") && !strings.HasPrefix(c.Figure, fmt.Sprintf("%d of %d", orders, orders)) {
			t.Errorf("%s: %s, want all %d", c.Name, c.Figure, orders)
		}
	}
	t.Logf("%s", out)
}
