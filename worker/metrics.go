package worker

import (
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
)

// MetricsHandler is the Temporal SDK's metrics handler on meters: what the worker's SDK
// records, and what the saga and workflows.Client count, all in one scope. A metric that
// cannot be recorded is logged.
//
// It is the SDK's OpenTelemetry handler behind a cache (cachedMetrics): the SDK asks for
// a handler with its tags, and for the instrument, on every request and task, and the
// OpenTelemetry handler builds both anew each time.
func MetricsHandler(meters metric.MeterProvider, logger *slog.Logger) client.MetricsHandler {
	return newCachedMetrics(temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter: meters.Meter("go.temporal.io/sdk"), UseMonotonicCounters: true,
		OnError: func(err error) { logger.Warn("a Temporal metric was not recorded", "err", err) }}),
		maxCachedHandlers)
}

// maxCachedHandlers bounds how many tagged handlers one MetricsHandler remembers. The
// SDK's tags (namespace, task queue, workflow and activity type, operation, poller type,
// failure reason) and the saga's own take a few hundred combinations in all; past the
// bound, handlers are built as the OpenTelemetry handler builds them, so a tag with
// unbounded values costs time, not memory.
const maxCachedHandlers = 4096

// cachedMetrics is a client.MetricsHandler that builds each tagged handler and each
// instrument once. The SDK calls WithTags and then Counter, Timer or Gauge for every
// request it sends and every task it runs; the OpenTelemetry handler answers each call
// by copying, sorting and hashing its attributes into a new set and looking the
// instrument up in its meter, which was 6–9 % of dev's CPU under load (docs/benchmarks.md,
// ninth round). Recording itself is the OpenTelemetry handler's, unchanged.
type cachedMetrics struct {
	base   client.MetricsHandler
	cached *atomic.Int64 // handlers remembered in this tree, shared with every child
	limit  int64

	children sync.Map // tagKey → *cachedMetrics
	counters sync.Map // name → client.MetricsCounter
	gauges   sync.Map // name → client.MetricsGauge
	timers   sync.Map // name → client.MetricsTimer
}

var _ client.MetricsHandler = (*cachedMetrics)(nil)

// newCachedMetrics wraps base, remembering at most limit tagged handlers.
func newCachedMetrics(base client.MetricsHandler, limit int64) *cachedMetrics {
	return &cachedMetrics{base: base, cached: new(atomic.Int64), limit: limit}
}

// WithTags returns the handler with tags added, the same one for the same tags.
func (m *cachedMetrics) WithTags(tags map[string]string) client.MetricsHandler {
	if len(tags) == 0 {
		return m
	}
	key := tagKey(tags)
	if child, ok := m.children.Load(key); ok {
		return child.(*cachedMetrics)
	}
	child := &cachedMetrics{base: m.base.WithTags(tags), cached: m.cached, limit: m.limit}
	if m.cached.Add(1) > m.limit {
		m.cached.Add(-1)
		return child // not remembered: its own children are built afresh too
	}
	if earlier, loaded := m.children.LoadOrStore(key, child); loaded {
		m.cached.Add(-1)
		return earlier.(*cachedMetrics)
	}
	return child
}

// Counter returns the counter called name, built once.
func (m *cachedMetrics) Counter(name string) client.MetricsCounter {
	return cachedInstrument(&m.counters, name, m.base.Counter)
}

// Gauge returns the gauge called name, built once.
func (m *cachedMetrics) Gauge(name string) client.MetricsGauge {
	return cachedInstrument(&m.gauges, name, m.base.Gauge)
}

// Timer returns the timer called name, built once.
func (m *cachedMetrics) Timer(name string) client.MetricsTimer {
	return cachedInstrument(&m.timers, name, m.base.Timer)
}

// Unwrap returns the handler the cache wraps, so that temporalotel.ExtractMetricsHandler
// finds the OpenTelemetry handler and its attributes.
func (m *cachedMetrics) Unwrap() client.MetricsHandler { return m.base }

// cachedInstrument returns the instrument called name from cache, building it with build the
// first time. The OpenTelemetry handler's instruments are safe for concurrent use.
func cachedInstrument[I any](cache *sync.Map, name string, build func(string) I) I {
	if i, ok := cache.Load(name); ok {
		return i.(I)
	}
	i, _ := cache.LoadOrStore(name, build(name))
	return i.(I)
}

// tagKey is the cache key of a set of tags: the same for the same keys and values in
// any order, and, each key and value written after its length, different for any other.
func tagKey(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, s := range [2]string{k, tags[k]} {
			b.WriteString(strconv.Itoa(len(s)))
			b.WriteByte(':')
			b.WriteString(s)
		}
	}
	return b.String()
}
