package restaurant_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/internal/stacktest"
	"github.com/ordersaga/ordersaga/internal/system"
	"github.com/ordersaga/ordersaga/workflows"
)

// BenchmarkABurstOfPaidOrdersIsDecided places 500 orders at once (each of its own
// customer) at a restaurant whose simulator waits 5 s before approving, and reports how
// long until every saga has ended, for the simulator deciding 64 orders at once (as it
// did) and DefaultRestaurantConcurrency. Run it with -benchtime=1x:
//
//	go test ./restaurant -run '^$' -bench ABurst -benchtime=1x
func BenchmarkABurstOfPaidOrdersIsDecided(b *testing.B) {
	for _, concurrency := range []int{64, system.DefaultRestaurantConcurrency} {
		b.Run(fmt.Sprintf("concurrency=%d", concurrency), func(b *testing.B) {
			s := stacktest.Start(b)
			ctx := context.Background()
			runSimulator(b, s, system.RestaurantConfig{Delay: 5 * time.Second, Concurrency: concurrency})
			sagas := workflows.Client{Temporal: s.Temporal}
			const orders = 500
			for n := range b.N {
				b.StopTimer()
				for i := range orders {
					if _, err := s.Accounts.Credit(ctx, fmt.Sprintf("burst-%d", i), 1150, "EUR", fmt.Sprint("funding-", n)); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				start := time.Now()
				ids := make([]string, orders)
				var wg sync.WaitGroup
				for i := range ids {
					ids[i] = uuid.NewString()[:12]
					wg.Go(func() {
						in := ordersaga.OrderInput{OrderID: ids[i], CustomerID: fmt.Sprintf("burst-%d", i), RestaurantID: "r-1", Currency: "EUR",
							DecisionTimeout: "5m", Items: []ordersaga.Item{{ID: "margherita", Quantity: 1}}}
						if _, err := sagas.Place(ctx, in); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
				for _, id := range ids {
					var r workflows.Result
					if err := s.Temporal.GetWorkflow(ctx, workflows.WorkflowID(id), "").Get(ctx, &r); err != nil || r.Status != ordersaga.StatusApproved {
						b.Fatalf("saga of %s: %+v, %v; want approved", id, r, err)
					}
				}
				b.ReportMetric(time.Since(start).Seconds(), "s/500-orders")
			}
		})
	}
}
