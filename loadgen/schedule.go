package loadgen

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// drive runs job for orders from..to-1 on Concurrency workers with a live progress line.
// Each job gets the time it was due to start: now, or with a Rate its place in the
// schedule.
func drive(ctx context.Context, cfg Config, what string, from, to int, job func(ctx context.Context, worker, i int, start time.Time) error) (time.Duration, error) {
	var next, done atomic.Int64
	next.Store(int64(from))
	n := to - from
	start := time.Now()
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
				d := done.Load()
				fmt.Fprintf(cfg.Progress, "%s %d-%d: %d/%d done, %.1f/s\n", what, from, to-1, d, n, float64(d)/time.Since(start).Seconds())
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, cfg.Concurrency)
	for w := range cfg.Concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= to || ctx.Err() != nil {
					return
				}
				due := time.Now()
				if cfg.Rate > 0 {
					due = start.Add(time.Duration(float64(i-from) / cfg.Rate * float64(time.Second)))
					select {
					case <-ctx.Done():
						return
					case <-time.After(time.Until(due)):
					}
				}
				if err := job(ctx, w, i, due); err != nil {
					select {
					case errs <- fmt.Errorf("%s %d: %w", what, i, err):
					default:
					}
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	close(stop)
	elapsed := time.Since(start)
	fmt.Fprintf(cfg.Progress, "%s %d-%d: %d/%d done in %s\n", what, from, to-1, done.Load(), n, elapsed.Round(time.Millisecond))
	select {
	case err := <-errs:
		return elapsed, err
	default:
		return elapsed, ctx.Err()
	}
}
