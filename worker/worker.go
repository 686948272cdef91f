// Package worker connects to Temporal and runs the order saga's worker: the OrderSaga
// workflow and its activities on task queue "orders".
package worker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga/activities"
	"github.com/ordersaga/ordersaga/workflows"
)

// Config says where Temporal is.
type Config struct {
	// HostPort of the Temporal frontend; default 127.0.0.1:7233.
	HostPort string
	// Namespace; default "default".
	Namespace string
	// TLS, when set, secures the connection (Temporal Cloud, mTLS clusters).
	TLS *tls.Config
	// Gzip compresses the requests to Temporal (the SDK's default). It saves bandwidth over
	// slow links (Temporal Cloud across regions) and costs CPU at both ends, which on a
	// local network is all it does: the load test measured it (docs/benchmarks.md).
	Gzip bool
	// Logger receives the worker's and the SDK's log lines; nil discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.HostPort == "" {
		c.HostPort = "127.0.0.1:7233"
	}
	if c.Namespace == "" {
		c.Namespace = "default"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Dial connects to Temporal, waiting (with a log line every few attempts) until the
// frontend answers or ctx ends, so that a worker started before its server neither fails
// at once nor polls nothing in silence.
func Dial(ctx context.Context, cfg Config) (client.Client, error) {
	cfg = cfg.withDefaults()
	opts := client.Options{
		HostPort: cfg.HostPort, Namespace: cfg.Namespace, Logger: log.NewStructuredLogger(cfg.Logger),
		ConnectionOptions: client.ConnectionOptions{TLS: cfg.TLS, GrpcCompression: &client.GrpcCompressionNone{}},
	}
	if cfg.Gzip {
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionGzip{}
	}
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		dialCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := client.DialContext(dialCtx, opts)
		cancel()
		if err == nil {
			if attempt > 1 {
				cfg.Logger.Info("connected to Temporal", "addr", cfg.HostPort, "namespace", cfg.Namespace)
			}
			return c, nil
		}
		if attempt == 1 || attempt%10 == 0 {
			cfg.Logger.Warn("waiting for Temporal", "addr", cfg.HostPort, "namespace", cfg.Namespace, "attempt", attempt, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to Temporal at %s: %w (last error: %v)", cfg.HostPort, ctx.Err(), err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// Register puts the saga's workflow and activities on w, and the load test's baseline.
func Register(w sdkworker.Registry, acts *activities.Activities) {
	w.RegisterWorkflowWithOptions(workflows.OrderSaga, workflow.RegisterOptions{Name: workflows.WorkflowName})
	w.RegisterActivity(acts)
	w.RegisterWorkflowWithOptions(workflows.BaselineSaga, workflow.RegisterOptions{Name: workflows.BaselineName})
	w.RegisterActivity(workflows.NoopActivity)
}

// Run polls task queue "orders" until ctx ends, then stops gracefully (activities in
// flight get WorkerStopTimeout to finish).
func Run(ctx context.Context, c client.Client, acts *activities.Activities, logger *slog.Logger) error {
	w := sdkworker.New(c, workflows.TaskQueue, sdkworker.Options{WorkerStopTimeout: 10 * time.Second})
	Register(w, acts)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start the Temporal worker: %w", err)
	}
	if logger != nil {
		logger.Info("worker polling", "task_queue", workflows.TaskQueue)
	}
	<-ctx.Done()
	w.Stop()
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil
	}
	return ctx.Err()
}
