// Package metrictest reads what instrumented code measured, for tests: a MeterProvider
// backed by an OpenTelemetry manual reader, and the value of a counter or gauge by name
// and attributes.
package metrictest

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Reader collects the metrics of its Provider on demand.
type Reader struct {
	reader   *sdkmetric.ManualReader
	Provider *sdkmetric.MeterProvider
}

// New returns a Reader whose Provider is shut down when the test ends.
func New(t testing.TB) *Reader {
	r := sdkmetric.NewManualReader()
	p := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return &Reader{reader: r, Provider: p}
}

// Value returns the value of the counter, up-down counter or gauge called name whose data
// point has exactly the attributes attrs (key, value pairs of strings), and whether there
// is one. Histograms report their count.
func (r *Reader) Value(t testing.TB, name string, attrs ...string) (float64, bool) {
	t.Helper()
	if len(attrs)%2 != 0 {
		t.Fatalf("metrictest: attributes come in key, value pairs: %q", attrs)
	}
	var kvs []attribute.KeyValue
	for i := 0; i < len(attrs); i += 2 {
		kvs = append(kvs, attribute.String(attrs[i], attrs[i+1]))
	}
	want := attribute.NewSet(kvs...)
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("metrictest: collect: %v", err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				return find(d.DataPoints, want)
			case metricdata.Sum[float64]:
				return find(d.DataPoints, want)
			case metricdata.Gauge[int64]:
				return find(d.DataPoints, want)
			case metricdata.Gauge[float64]:
				return find(d.DataPoints, want)
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					if p.Attributes.Equals(&want) {
						return float64(p.Count), true
					}
				}
				return 0, false
			default:
				t.Fatalf("metrictest: %s is a %T, which Value does not read", name, m.Data)
			}
		}
	}
	return 0, false
}

// Must is Value that fails the test when there is no such data point.
func (r *Reader) Must(t testing.TB, name string, attrs ...string) float64 {
	t.Helper()
	v, ok := r.Value(t, name, attrs...)
	if !ok {
		t.Fatalf("no data point %s%q", name, attrs)
	}
	return v
}

func find[N int64 | float64](points []metricdata.DataPoint[N], want attribute.Set) (float64, bool) {
	for _, p := range points {
		if p.Attributes.Equals(&want) {
			return float64(p.Value), true
		}
	}
	return 0, false
}

// Has says whether the provider has collected an instrument called name, whatever its
// data points' attributes.
func (r *Reader) Has(t testing.TB, name string) bool {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("metrictest: collect: %v", err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return true
			}
		}
	}
	return false
}
