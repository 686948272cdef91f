// Package worker connects to Temporal and runs the order saga's worker: the OrderSaga
// workflow and its activities on task queue "orders".
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v5"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga/activities"
	"github.com/ordersaga/ordersaga/workflows"
)

// Config says how to reach Temporal.
type Config struct {
	// Client are the SDK's client options: address, namespace, TLS, API key, headers
	// (envconfig loads them from the TEMPORAL_* variables and the temporal CLI's profile
	// file). An empty HostPort means 127.0.0.1:7233, an empty Namespace "default"; Logger
	// and ConnectionOptions.GrpcCompression are set from the fields below.
	Client client.Options
	// Gzip compresses the requests to Temporal (the SDK's default). It saves bandwidth over
	// slow links (Temporal Cloud across regions) and costs CPU at both ends; on a local
	// network it only costs (docs/benchmarks.md).
	Gzip bool
	// Logger receives the worker's and the SDK's log lines; nil discards them.
	Logger *slog.Logger
	// Meters, when set, receive the SDK's metrics (requests, workflow and activity task
	// latencies, schedule-to-start, slots) and the saga's own, through the SDK's
	// OpenTelemetry metrics handler.
	Meters metric.MeterProvider
	// Tracers, when set, trace every start, signal, update, workflow and activity through
	// the SDK's OpenTelemetry interceptor, which carries the trace in Temporal's headers;
	// made replay-safe here (tracing.go): a replayed workflow exports no span twice.
	Tracers trace.TracerProvider
}

func (c Config) withDefaults() Config {
	if c.Client.HostPort == "" {
		c.Client.HostPort = "127.0.0.1:7233"
	}
	if c.Client.Namespace == "" {
		c.Client.Namespace = "default"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Client.Logger = log.NewStructuredLogger(c.Logger)
	c.Client.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	if c.Gzip {
		c.Client.ConnectionOptions.GrpcCompression = &client.GrpcCompressionGzip{}
	}
	return c
}

// instrument adds the metrics handler and the tracing interceptor cfg asks for.
func (c Config) instrument() (Config, error) {
	if c.Meters != nil {
		c.Client.MetricsHandler = MetricsHandler(c.Meters, c.Logger)
	}
	if c.Tracers != nil {
		tracing, err := tracingInterceptors(c.Tracers)
		if err != nil {
			return c, fmt.Errorf("temporal tracing: %w", err)
		}
		c.Client.Interceptors = append(c.Client.Interceptors, tracing...)
	}
	return c, nil
}

// Dial connects to Temporal, waiting (with a log line every few attempts, backing off up
// to 5 seconds between them) until the frontend answers or ctx ends, so that a worker
// started before its server neither fails at once nor polls nothing in silence.
func Dial(ctx context.Context, cfg Config) (client.Client, error) {
	cfg, err := cfg.withDefaults().instrument()
	if err != nil {
		return nil, err
	}
	addr, namespace := cfg.Client.HostPort, cfg.Client.Namespace
	attempt := 0
	var last error
	c, err := backoff.Retry(ctx, func() (client.Client, error) {
		attempt++
		dialCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		c, err := client.DialContext(dialCtx, cfg.Client)
		last = err
		return c, err
	}, backoff.WithBackOff(dialBackOff()), backoff.WithMaxElapsedTime(0), backoff.WithNotify(func(err error, _ time.Duration) {
		if attempt == 1 || attempt%10 == 0 {
			cfg.Logger.Warn("waiting for Temporal", "addr", addr, "namespace", namespace, "attempt", attempt, "err", err)
		}
	}))
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s: %w (last error: %v)", addr, err, last)
	}
	if attempt > 1 {
		cfg.Logger.Info("connected to Temporal", "addr", addr, "namespace", namespace)
	}
	return c, nil
}

// dialBackOff waits half a second after the first failed dial, doubling up to 5 seconds.
func dialBackOff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.Multiplier, b.MaxInterval = 500*time.Millisecond, 2, 5*time.Second
	return b
}

// Register puts the saga's workflow and activities on w.
func Register(w sdkworker.Registry, acts *activities.Activities) {
	w.RegisterWorkflowWithOptions(workflows.OrderSaga, workflow.RegisterOptions{Name: workflows.WorkflowName})
	w.RegisterActivity(acts)
}

// Run polls task queue "orders" with pollers for what register puts on the worker
// (Register, for the saga) until ctx ends, then stops gracefully (activities in flight get
// WorkerStopTimeout to finish).
func Run(ctx context.Context, c client.Client, logger *slog.Logger, pollers Pollers, register func(sdkworker.Registry)) error {
	if err := pollers.Validate(); err != nil {
		return err
	}
	w := sdkworker.New(c, workflows.TaskQueue, options(pollers))
	register(w)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start the Temporal worker: %w", err)
	}
	if logger != nil {
		logger.Info("worker polling", "task_queue", workflows.TaskQueue, "pollers", pollers.String())
	}
	<-ctx.Done()
	w.Stop()
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil
	}
	return ctx.Err()
}

// options are the SDK worker's options: pollers, and WorkerStopTimeout for the activities
// in flight when the worker stops.
func options(pollers Pollers) sdkworker.Options {
	return sdkworker.Options{WorkerStopTimeout: 10 * time.Second,
		WorkflowTaskPollerBehavior: pollers.behaviour(), ActivityTaskPollerBehavior: pollers.behaviour()}
}
