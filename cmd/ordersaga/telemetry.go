package main

import (
	"context"
	"time"

	"github.com/ordersaga/ordersaga/telemetry"
)

// metricsFlag is where a long-running role serves its Prometheus metrics.
type metricsFlag struct{ addr string }

func (p *metricsFlag) register(f envFlags) {
	f.String(&p.addr, "metrics-addr", "ORDERSAGA_METRICS_ADDR", "",
		"serve Prometheus metrics on http://<this address>/metrics, e.g. :9464 (traces go where the OTEL_* variables say)")
}

// startTelemetry makes the telemetry of the role service: metrics when an address is
// given, traces when the OTEL_* variables ask for them. Close flushes and stops it.
func (m *Main) startTelemetry(ctx context.Context, service string, metrics metricsFlag) (*telemetry.Telemetry, error) {
	tel, err := telemetry.New(ctx, telemetry.Config{Service: "ordersaga-" + service, MetricsAddr: metrics.addr, TracesFromEnv: true,
		Getenv: m.Getenv})
	if err != nil {
		return nil, err
	}
	m.onClose(func() error {
		stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return tel.Shutdown(stopCtx)
	})
	m.tel = tel
	return tel, nil
}
