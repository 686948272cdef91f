// Package telemetry sets up what a process tells about itself: metrics, served on
// /metrics in the Prometheus text format, and OpenTelemetry traces, exported as the
// standard OTEL_* environment variables say (or to a file, or to a test's exporter).
//
// The rest of ordersaga is instrumented through OpenTelemetry's own interfaces: each
// package takes a metric.MeterProvider and a trace.TracerProvider (nil means none), as
// OpenTelemetry's instrumentation libraries do, and this package is the one place that
// makes real ones. The ecosystem's instrumentation feeds the same providers: the Temporal
// SDK's metrics and its tracing interceptor, gRPC's (otelgrpc), pgx's (otelpgx).
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	otelprometheus "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/ordersaga/ordersaga/internal/instrument"
)

// Config says what a process exports.
type Config struct {
	// Service names the process in traces (service.name) unless OTEL_SERVICE_NAME does,
	// for example "ordersaga-worker". Required.
	Service string
	// Metrics turns on metrics; MetricsAddr, when set, is where Run serves /metrics.
	// Metrics without an address are collected for Gather (tests, `ordersaga load`).
	Metrics     bool
	MetricsAddr string
	// Traces turns on the exporter the OTEL_* variables name (OTEL_TRACES_EXPORTER,
	// default otlp, then OTEL_EXPORTER_OTLP_*). TracesFromEnv says to turn it on when those
	// variables ask for traces (an exporter other than "none", or an OTLP endpoint).
	Traces, TracesFromEnv bool
	// TraceFile, when set, also writes every span to this file, one JSON object a span.
	TraceFile string
	// SpanExporter, when set, also receives every span as it ends (tests).
	SpanExporter sdktrace.SpanExporter
	// Getenv reads the environment; default os.Getenv.
	Getenv func(string) string
	Logger *slog.Logger
}

// Telemetry is a process's meter and tracer providers and what exports them.
type Telemetry struct {
	// Meters and Tracers are handed to every instrumented component. Without metrics or
	// traces they are nil, which every instrumented package takes as "none" (and then
	// instruments nothing, at no cost).
	Meters  metric.MeterProvider
	Tracers trace.TracerProvider

	registry *prometheus.Registry
	addr     string
	logger   *slog.Logger
	closers  []func(context.Context) error
}

// Off is telemetry that exports nothing.
func Off() *Telemetry {
	return &Telemetry{logger: slog.New(slog.DiscardHandler)}
}

// secondsBuckets are the histogram bounds of every duration in seconds (the OpenTelemetry
// default suits milliseconds): a millisecond to a minute.
var secondsBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// New builds the providers cfg asks for. Shutdown flushes and stops them.
func New(ctx context.Context, cfg Config) (*Telemetry, error) {
	if cfg.Service == "" {
		return nil, errors.New("telemetry: Service is required")
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	t := Off()
	if cfg.Logger != nil {
		t.logger = cfg.Logger
	}
	// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, read after it, override the name.
	res, err := resource.New(ctx, resource.WithAttributes(semconv.ServiceName(cfg.Service)), resource.WithFromEnv(),
		resource.WithTelemetrySDK(), resource.WithProcessPID())
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	if cfg.Metrics || cfg.MetricsAddr != "" {
		if err := t.startMetrics(res, cfg.MetricsAddr); err != nil {
			return nil, err
		}
	}
	if err := t.startTraces(ctx, res, cfg); err != nil {
		t.Shutdown(ctx)
		return nil, err
	}
	return t, nil
}

// startMetrics makes the meter provider and the Prometheus registry it writes to, with the
// Go runtime's and the process's own collectors beside it.
func (t *Telemetry) startMetrics(res *resource.Resource, addr string) error {
	t.registry = prometheus.NewRegistry()
	t.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exporter, err := otelprometheus.New(otelprometheus.WithRegisterer(t.registry), otelprometheus.WithoutScopeInfo())
	if err != nil {
		return fmt.Errorf("telemetry: prometheus exporter: %w", err)
	}
	seconds := sdkmetric.NewView(sdkmetric.Instrument{Unit: "s", Kind: sdkmetric.InstrumentKindHistogram},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: secondsBuckets}})
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(exporter), sdkmetric.WithView(seconds))
	t.Meters, t.addr = mp, addr
	t.closers = append(t.closers, mp.Shutdown)
	return nil
}

// startTraces makes the tracer provider when cfg asks for traces, sampling as
// OTEL_TRACES_SAMPLER says (default: every trace a caller started, and every new one).
func (t *Telemetry) startTraces(ctx context.Context, res *resource.Resource, cfg Config) error {
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if cfg.Traces || (cfg.TracesFromEnv && tracesAskedFor(cfg.Getenv)) {
		exporter, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return fmt.Errorf("telemetry: the exporter OTEL_TRACES_EXPORTER names: %w", err)
		}
		opts = append(opts, sdktrace.WithSpanProcessor(finalOnly{sdktrace.NewBatchSpanProcessor(exporter)}))
	}
	if cfg.TraceFile != "" {
		f, err := os.OpenFile(cfg.TraceFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("telemetry: trace file: %w", err)
		}
		exporter, err := stdouttrace.New(stdouttrace.WithWriter(f))
		if err != nil {
			f.Close()
			return err
		}
		opts = append(opts, sdktrace.WithSpanProcessor(finalOnly{sdktrace.NewBatchSpanProcessor(exporter)}))
		t.closers = append(t.closers, func(context.Context) error { return f.Close() })
	}
	if cfg.SpanExporter != nil {
		opts = append(opts, sdktrace.WithSpanProcessor(finalOnly{sdktrace.NewSimpleSpanProcessor(cfg.SpanExporter)}))
	}
	if len(opts) == 1 {
		return nil // nothing would receive the spans: keep the no-op tracer
	}
	opts = append(opts, sdktrace.WithIDGenerator(instrument.IDGenerator{}))
	tp := sdktrace.NewTracerProvider(opts...)
	t.Tracers = tp
	// Flush the spans before the file they go to closes: closers run last added first.
	t.closers = append(t.closers, tp.Shutdown)
	return nil
}

// tracesAskedFor says whether the OTEL_* variables ask for traces: an exporter other than
// "none", or an OTLP endpoint; OTEL_SDK_DISABLED=true says no.
func tracesAskedFor(getenv func(string) string) bool {
	if disabled, _ := strconv.ParseBool(getenv("OTEL_SDK_DISABLED")); disabled {
		return false
	}
	if exporters := getenv("OTEL_TRACES_EXPORTER"); exporters != "" {
		return strings.TrimSpace(exporters) != "none"
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Handler serves the metrics in the Prometheus text format (404 without metrics).
func (t *Telemetry) Handler() http.Handler {
	if t.registry == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(t.logger.Handler(), slog.LevelWarn)})
}

// Gather writes the metrics in the Prometheus text format, as Handler serves them, for
// tests and reports.
func (t *Telemetry) Gather(w io.Writer) error {
	if t.registry == nil {
		return errors.New("telemetry: metrics are off")
	}
	families, err := t.registry.Gather()
	if err != nil {
		return fmt.Errorf("telemetry: gather metrics: %w", err)
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			return fmt.Errorf("telemetry: encode metrics: %w", err)
		}
	}
	return nil
}

// Listen binds the metrics address, if any, so that a taken port is known at start and
// Addr reports the port a ":0" address got. Run serves on it.
func (t *Telemetry) Listen() (net.Listener, error) {
	if t.addr == "" {
		return nil, nil
	}
	lis, err := net.Listen("tcp", t.addr)
	if err != nil {
		return nil, fmt.Errorf("telemetry: metrics address: %w (choose another with --metrics-addr)", err)
	}
	return lis, nil
}

// Serve serves /metrics on lis until ctx ends; a nil lis serves nothing and returns at once.
func (t *Telemetry) Serve(ctx context.Context, lis net.Listener) error {
	if lis == nil {
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", t.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	t.logger.Info("serving metrics", "addr", "http://"+lis.Addr().String()+"/metrics")
	select {
	case err := <-done:
		return fmt.Errorf("telemetry: metrics server: %w", err)
	case <-ctx.Done():
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(stopCtx)
	<-done
	return nil
}

// Shutdown flushes the spans not yet exported and stops the providers.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for i := len(t.closers) - 1; i >= 0; i-- {
		errs = append(errs, t.closers[i](ctx))
	}
	t.closers = nil
	return errors.Join(errs...)
}

// finalOnly passes on the spans that end, except those a replay started again and did not
// complete (instrument.FinalAttribute false): a workflow's run or an update, exported
// once, when it completes outside a replay.
type finalOnly struct{ sdktrace.SpanProcessor }

func (f finalOnly) OnEnd(s sdktrace.ReadOnlySpan) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == instrument.FinalAttribute && !kv.Value.AsBool() {
			return
		}
	}
	f.SpanProcessor.OnEnd(s)
}
