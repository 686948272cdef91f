package system

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/projections"
	"github.com/ordersaga/ordersaga/sqldb"
	"github.com/ordersaga/ordersaga/telemetry"
	"github.com/ordersaga/ordersaga/workflows"
)

// TestTheMonitorExportsWhatVerifyFinds runs monitor passes over a consistent store, then
// over one whose balance row was tampered with and one of whose events never left the
// outbox: the gauges say so, by kind and read model, and the pass's time is exported.
func TestTheMonitorExportsWhatVerifyFinds(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, sqldb.Config{URL: dbtest.NewDatabase(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	tel, err := telemetry.New(ctx, telemetry.Config{Service: "monitor-test", Metrics: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewMonitor(MonitorConfig{DB: db, Telemetry: tel, Stuck: workflows.StuckOptions{Attempts: -1}}); err == nil || !strings.Contains(err.Error(), "attempts") {
		t.Errorf("a monitor whose stuck sagas retry -1 times: %v, want a refusal naming attempts", err)
	}
	m, err := NewMonitor(MonitorConfig{DB: db, Telemetry: tel})
	if err != nil {
		t.Fatal(err)
	}
	gauges := func() string {
		var b strings.Builder
		if err := tel.Gather(&b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if g := gauges(); !strings.Contains(g, "ordersaga_verify_last_pass_timestamp_seconds 0") || strings.Contains(g, "ordersaga_verify_problems{") {
		t.Errorf("before the first pass the gauges say:\n%s", grep(g, "ordersaga_verify"))
	}

	store := eventstore.New(db)
	stream := ordersaga.MustParseStream("customer-m")
	credit := func() ordersaga.RecordedEvent {
		e := ordersaga.EventData{ID: uuid.New(), Type: ordersaga.EventAccountCredited, Data: []byte(`{"customer_id":"m","amount":5,"currency":"EUR"}`)}
		res, err := store.Append(ctx, stream, ordersaga.AnyVersion, []ordersaga.EventData{e})
		if err != nil {
			t.Fatal(err)
		}
		return res.Recorded(stream, []ordersaga.EventData{e})[0]
	}
	first := credit()
	if err := store.MarkPublished(ctx, []int64{first.Position}); err != nil {
		t.Fatal(err)
	}
	if err := projections.New(db, store, nil).Apply(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := m.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	clean := gauges()
	for _, want := range []string{`ordersaga_verify_problems{kind="read_model_differs",read_model="customer_balances"} 0`,
		`ordersaga_verify_problems{kind="unpublished"} 0`, "ordersaga_verify_streams 1"} {
		if !strings.Contains(clean, want) {
			t.Errorf("after a clean pass the gauges lack %s:\n%s", want, grep(clean, "ordersaga_verify"))
		}
	}

	if _, err := db.Exec(ctx, `UPDATE customer_balances SET balance = balance + 100`); err != nil {
		t.Fatal(err)
	}
	credit()        // never published, nor projected
	m.cfg.Grace = 1 // the event is older than that at once
	if err := m.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	found := gauges()
	for _, want := range []string{`ordersaga_verify_problems{kind="read_model_lags",read_model="customer_balances"} 1`,
		`ordersaga_verify_problems{kind="read_model_differs",read_model="customer_balances"} 1`,
		`ordersaga_verify_problems{kind="unpublished"} 1`, `ordersaga_verify_problems{kind="version_gap"} 0`} {
		if !strings.Contains(found, want) {
			t.Errorf("after the tampered pass the gauges lack %s:\n%s", want, grep(found, "ordersaga_verify"))
		}
	}
}

// grep keeps the lines of s that contain word.
func grep(s, word string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, word) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
