package worker

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"

	"github.com/ordersaga/ordersaga/internal/metrictest"
)

// countingMetrics counts what is built through the real OpenTelemetry handler it wraps.
type countingMetrics struct {
	client.MetricsHandler
	built *atomic.Int64
}

func (c countingMetrics) WithTags(tags map[string]string) client.MetricsHandler {
	c.built.Add(1)
	return countingMetrics{c.MetricsHandler.WithTags(tags), c.built}
}

func (c countingMetrics) Counter(name string) client.MetricsCounter {
	c.built.Add(1)
	return c.MetricsHandler.Counter(name)
}

func (c countingMetrics) Timer(name string) client.MetricsTimer {
	c.built.Add(1)
	return c.MetricsHandler.Timer(name)
}

func (c countingMetrics) Gauge(name string) client.MetricsGauge {
	c.built.Add(1)
	return c.MetricsHandler.Gauge(name)
}

func TestTheCachedHandlerRecordsWhatTheOpenTelemetryHandlerRecords(t *testing.T) {
	r := metrictest.New(t)
	h := MetricsHandler(r.Provider, slog.New(slog.DiscardHandler)).WithTags(map[string]string{"namespace": "default"})
	for range 2 {
		h.WithTags(map[string]string{"operation": "Poll", "task_queue": "orders"}).Counter("temporal_request").Inc(2)
		h.WithTags(map[string]string{"task_queue": "orders", "operation": "Poll"}).Counter("temporal_request").Inc(3)
		h.WithTags(map[string]string{"operation": "Respond", "task_queue": "orders"}).Counter("temporal_request").Inc(1)
		h.WithTags(map[string]string{"operation": "Poll"}).WithTags(map[string]string{"task_queue": "orders"}).Timer("temporal_request_latency").Record(time.Millisecond)
		h.WithTags(map[string]string{"poller_type": "workflow_task"}).Gauge("temporal_num_pollers").Update(5)
	}
	for _, tc := range []struct {
		name  string
		attrs []string
		want  float64
	}{
		{"temporal_request", []string{"namespace", "default", "operation", "Poll", "task_queue", "orders"}, 10},
		{"temporal_request", []string{"namespace", "default", "operation", "Respond", "task_queue", "orders"}, 2},
		{"temporal_request_latency", []string{"namespace", "default", "operation", "Poll", "task_queue", "orders"}, 2},
		{"temporal_num_pollers", []string{"namespace", "default", "poller_type", "workflow_task"}, 5},
	} {
		if got, ok := r.Value(t, tc.name, tc.attrs...); !ok || got != tc.want {
			t.Errorf("%s %v = %v (found: %v); want %v", tc.name, tc.attrs, got, ok, tc.want)
		}
	}
}

func TestTheCachedHandlerBuildsEachHandlerAndInstrumentOnce(t *testing.T) {
	r := metrictest.New(t)
	built := new(atomic.Int64)
	h := newCachedMetrics(countingMetrics{temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter: r.Provider.Meter("test")}), built}, maxCachedHandlers)
	for range 100 {
		poll := h.WithTags(map[string]string{"operation": "Poll", "task_queue": "orders"})
		if again := h.WithTags(map[string]string{"task_queue": "orders", "operation": "Poll"}); again != poll {
			t.Fatal("the same tags in another order gave another handler")
		}
		if other := h.WithTags(map[string]string{"operation": "Respond", "task_queue": "orders"}); other == poll {
			t.Fatal("other tags gave the same handler")
		}
		if h.WithTags(nil) != h {
			t.Fatal("no tags gave another handler")
		}
		poll.Counter("temporal_request").Inc(1)
		poll.Timer("temporal_request_latency").Record(time.Millisecond)
		poll.Gauge("temporal_num_pollers").Update(1)
	}
	// Two tagged handlers and three instruments, whatever the number of calls.
	if got := built.Load(); got != 5 {
		t.Errorf("built %d handlers and instruments for 100 rounds; want 5", got)
	}
	if got, _ := r.Value(t, "temporal_request", "operation", "Poll", "task_queue", "orders"); got != 100 {
		t.Errorf("temporal_request = %v; want 100", got)
	}
}

func TestTheCachedHandlerStopsRememberingAtItsLimit(t *testing.T) {
	r := metrictest.New(t)
	built := new(atomic.Int64)
	h := newCachedMetrics(countingMetrics{temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter: r.Provider.Meter("test")}), built}, 2)
	for i := range 4 {
		for range 3 {
			h.WithTags(map[string]string{"workflow_id": fmt.Sprint(i)}).Counter("c").Inc(1)
		}
	}
	// The first two tag sets are remembered (a handler and a counter each, built once);
	// the other two are built on every call, and recorded all the same.
	if got, want := built.Load(), int64(2*2+2*3*2); got != want {
		t.Errorf("built %d; want %d", got, want)
	}
	for i := range 4 {
		if got, _ := r.Value(t, "c", "workflow_id", fmt.Sprint(i)); got != 3 {
			t.Errorf("c{workflow_id=%d} = %v; want 3", i, got)
		}
	}
	if got := h.cached.Load(); got != 2 {
		t.Errorf("%d handlers remembered; want 2", got)
	}
}

func TestTagKeysDifferForDifferentTags(t *testing.T) {
	sets := []map[string]string{
		{},
		{"a": ""},
		{"a": "b"},
		{"ab": ""},
		{"a": "b", "c": ""},
		{"a": "b\x00c"},
		{"a": "1:b"},
		{"a\x00b": ""},
		{"a": "b", "c": "d"},
		{"a": "b:1:c1:d"},
	}
	seen := map[string]int{}
	for i, tags := range sets {
		k := tagKey(tags)
		if j, dup := seen[k]; dup {
			t.Errorf("tags %q and %q have the same key %q", sets[j], tags, k)
		}
		seen[k] = i
	}
	if tagKey(map[string]string{"x": "1", "y": "2", "z": "3"}) != tagKey(map[string]string{"z": "3", "x": "1", "y": "2"}) {
		t.Error("the key depends on the order of the tags")
	}
}

func TestTheCachedHandlerCountsEveryCallUnderConcurrency(t *testing.T) {
	r := metrictest.New(t)
	h := MetricsHandler(r.Provider, slog.New(slog.DiscardHandler))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 500 {
				h.WithTags(map[string]string{"operation": fmt.Sprint(i % 5), "worker_type": "WorkflowWorker"}).Counter("temporal_request").Inc(1)
			}
		})
	}
	wg.Wait()
	for op := range 5 {
		if got, _ := r.Value(t, "temporal_request", "operation", fmt.Sprint(op), "worker_type", "WorkflowWorker"); got != 800 {
			t.Errorf("temporal_request{operation=%d} = %v; want 800", op, got)
		}
	}
}

// BenchmarkMetricsHandler compares, side by side, what the SDK does for each request it
// sends (a handler with the operation's tags, then a counter and a timer) through the
// OpenTelemetry handler alone and through the cached one.
func BenchmarkMetricsHandler(b *testing.B) {
	operations := []string{"PollWorkflowTaskQueue", "RespondWorkflowTaskCompleted", "PollActivityTaskQueue", "RespondActivityTaskCompleted"}
	for _, tc := range []struct {
		name string
		wrap func(client.MetricsHandler) client.MetricsHandler
	}{
		{"opentelemetry", func(h client.MetricsHandler) client.MetricsHandler { return h }},
		{"cached", func(h client.MetricsHandler) client.MetricsHandler { return newCachedMetrics(h, maxCachedHandlers) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := metrictest.New(b)
			h := tc.wrap(temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{Meter: r.Provider.Meter("bench"), UseMonotonicCounters: true})).
				WithTags(map[string]string{"namespace": "default", "task_queue": "orders", "worker_type": "WorkflowWorker"})
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				op := h.WithTags(map[string]string{"operation": operations[i%len(operations)]})
				op.Counter("temporal_request").Inc(1)
				op.Timer("temporal_request_latency").Record(time.Millisecond)
				i++
			}
		})
	}
}

func TestTheOpenTelemetryHandlerCanBeFoundBehindTheCache(t *testing.T) {
	r := metrictest.New(t)
	h := MetricsHandler(r.Provider, slog.New(slog.DiscardHandler)).WithTags(map[string]string{"namespace": "default"})
	otel := temporalotel.ExtractMetricsHandler(h.WithTags(map[string]string{"task_queue": "orders"}))
	if otel == nil {
		t.Fatal("ExtractMetricsHandler found no OpenTelemetry handler")
	}
	attrs := otel.GetAttributes()
	for k, want := range map[string]string{"namespace": "default", "task_queue": "orders"} {
		if v, ok := attrs.Value(attribute.Key(k)); !ok || v.AsString() != want {
			t.Errorf("attribute %s = %v (found: %v); want %s", k, v.AsString(), ok, want)
		}
	}
}
