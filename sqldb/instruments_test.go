package sqldb_test

import (
	"context"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/internal/metrictest"
	"github.com/ordersaga/ordersaga/sqldb"
)

// What Open is given to measure and trace with is what it uses: a span per statement,
// named by the statement's first 60 bytes (cut at a rune boundary, an ellipsis when cut),
// and the pool's statistics; given nothing, it measures and traces nothing, and still
// hands out (no-op) providers.
func TestOpenInstrumentsWithWhatItIsGiven(t *testing.T) {
	ctx := context.Background()
	url := dbtest.NewDatabase(t)
	spans := tracetest.NewInMemoryExporter()
	tracers := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tracers.Shutdown(ctx) })

	comment := func(n int) string { return "SELECT 1 -- " + strings.Repeat("x", n-len("SELECT 1 -- ")) }
	names := map[string]string{ // statement: its span's name
		"SELECT  1":                "SELECT 1",
		comment(60):                comment(60), // exactly the limit: whole
		comment(61):                comment(60) + "…",
		comment(59) + "éé -- tail": comment(59) + "…", // é straddles byte 60: cut before it
	}
	for _, tc := range []struct {
		name          string
		spans, meters bool
	}{{"neither", false, false}, {"traces only", true, false}, {"metrics only", false, true}, {"both", true, true}} {
		spans.Reset()
		metrics := metrictest.New(t)
		cfg := sqldb.Config{URL: url}
		if tc.spans {
			cfg.Tracers = tracers
		}
		if tc.meters {
			cfg.Meters = metrics.Provider
		}
		db, err := sqldb.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if db.Meters() == nil || db.Tracers() == nil {
			t.Errorf("%s: Meters() %v, Tracers() %v; want providers (no-op ones for none)", tc.name, db.Meters(), db.Tracers())
		}
		if tc.meters && db.Meters() != cfg.Meters {
			t.Errorf("%s: Meters() is not the provider given", tc.name)
		}
		if tc.spans && db.Tracers() != cfg.Tracers {
			t.Errorf("%s: Tracers() is not the provider given", tc.name)
		}
		traced := map[string]bool{}
		// Statements are traced within a caller's span, as an RPC's or an activity's.
		parent, span := tracers.Tracer("test").Start(ctx, "caller")
		for sql := range names {
			if _, err := db.Exec(parent, sql); err != nil {
				t.Fatalf("%q: %v", sql, err)
			}
		}
		span.End()
		for _, s := range spans.GetSpans() {
			traced[s.Name] = true
		}
		for sql, name := range names {
			if traced[name] != tc.spans {
				t.Errorf("%s: a span named %q for %q: %v, want %v (spans: %v)", tc.name, name, sql, traced[name], tc.spans, traced)
			}
		}
		for _, name := range []string{"pgxpool.acquires", "db.client.operation.duration"} { // the pool's, the statements'
			if tc.meters != metrics.Has(t, name) {
				t.Errorf("%s: %s measured: %v, want %v", tc.name, name, !tc.meters, tc.meters)
			}
		}
		db.Close()
	}
}
