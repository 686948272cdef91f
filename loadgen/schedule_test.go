package loadgen

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestDriveRunsEachOrderOfItsRangeOnceWithinTheConcurrency(t *testing.T) {
	cfg := Config{Orders: 100, Concurrency: 4, Progress: io.Discard}
	var (
		mu             sync.Mutex
		seen           = map[int]int{}
		inFlight, most atomic.Int64
		badWorker      bool
	)
	_, err := drive(context.Background(), cfg, "test", 30, 70, func(_ context.Context, worker, i int, _ time.Time) error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		mu.Lock()
		seen[i]++
		if worker < 0 || worker >= cfg.Concurrency {
			badWorker = true
		}
		mu.Unlock()
		time.Sleep(time.Millisecond)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 40 || badWorker {
		t.Errorf("ran %d distinct orders (worker ids in range: %v), want the 40 of 30..69", len(seen), !badWorker)
	}
	for i := 30; i < 70; i++ {
		if seen[i] != 1 {
			t.Errorf("order %d ran %d times, want once", i, seen[i])
		}
	}
	if most.Load() > int64(cfg.Concurrency) {
		t.Errorf("%d orders in flight at once, want at most %d", most.Load(), cfg.Concurrency)
	}
}

func TestDriveSchedulesOrdersAtTheRate(t *testing.T) {
	cfg := Config{Orders: 10, Concurrency: 10, Rate: 100, Progress: io.Discard}
	var mu sync.Mutex
	due := map[int]time.Time{}
	start := time.Now()
	if _, err := drive(context.Background(), cfg, "test", 0, 10, func(_ context.Context, _, i int, at time.Time) error {
		mu.Lock()
		due[i] = at
		mu.Unlock()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Order i is due i/rate after the start: 10 ms apart, whatever the machine's speed.
	for i := 1; i < 10; i++ {
		if gap := due[i].Sub(due[i-1]); gap != 10*time.Millisecond {
			t.Errorf("orders %d and %d are due %s apart, want 10ms", i-1, i, gap)
		}
	}
	if due[0].Before(start) {
		t.Errorf("the first order is due before the run started")
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	p := percentiles(ds)
	if p.P50 != 50 || p.P95 != 95 || p.P99 != 99 {
		t.Errorf("percentiles of 1..100 ms = %+v, want 50, 95, 99", p)
	}
	if (percentiles(nil) != Percentiles{}) {
		t.Error("percentiles of nothing should be zero")
	}
}
