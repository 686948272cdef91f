package loadgen

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ordersaga/ordersaga"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/payments"
	"github.com/ordersaga/ordersaga/workflows"
)

// fund credits each worker's customer with plenty (100.00 per order of the run, in
// credits no larger than one may be), and the poor customer with one cent.
func fund(ctx context.Context, cfg Config) error {
	for w := range cfg.Concurrency {
		for part, left := 0, int64(cfg.Orders)*10_000; left > 0; part++ {
			amount := min(left, payments.MaxCredit)
			if _, err := cfg.API.CreditAccount(ctx, &ordersagav1.CreditAccountRequest{CustomerId: customer(cfg, w),
				Amount: amount, Currency: "EUR", Reference: fmt.Sprintf("load-%d", part)}); err != nil {
				return fmt.Errorf("fund: %w", err)
			}
			left -= amount
		}
	}
	_, err := cfg.API.CreditAccount(ctx, &ordersagav1.CreditAccountRequest{CustomerId: poor(cfg), Amount: 1, Currency: "EUR", Reference: "load"})
	if err != nil {
		return err
	}
	// The orders' dish, on the menu of the restaurant the simulator leaves alone (setting
	// it again changes nothing).
	_, err = cfg.API.SetMenuItem(ctx, &ordersagav1.SetMenuItemRequest{RestaurantId: restaurant, Currency: "EUR",
		Item: &ordersagav1.MenuItem{ItemId: dish.ID, Name: dish.Name, Price: dish.UnitPrice}})
	if err != nil {
		return fmt.Errorf("put the load test's dish on the menu of %s: %w", restaurant, err)
	}
	return nil
}

// restaurant is where the load test orders: the one the restaurant simulator leaves
// alone, so that the load test decides every order itself.
const restaurant = "manual"

// dish is what every order of the load test is for (one of it).
var dish = ordersaga.Item{ID: "load-test-dish", Name: "Load test dish", UnitPrice: 1150, Quantity: 1}

func customer(cfg Config, worker int) string { return fmt.Sprintf("load-%s-c%d", cfg.RunID, worker) }
func poor(cfg Config) string                 { return "load-" + cfg.RunID + "-poor" }

// runOrder places order i, steers it to its outcome, and measures it from start. lag is
// negative when the order's read model could not say (no order was created).
func runOrder(ctx context.Context, cfg Config, sagas driver, worker, i int, start time.Time, refused *atomic.Int64) (latency, lag time.Duration, final Outcome, err error) {
	id := OrderID(cfg.RunID, i)
	want := WantedOutcome(i)
	cust := customer(cfg, worker)
	if want == declined {
		cust = poor(cfg)
	}
	in := ordersaga.OrderInput{OrderID: id, CustomerID: cust, RestaurantID: restaurant, Currency: "EUR", Items: []ordersaga.Item{dish}}
	runID, err := sagas.place(ctx, in)
	if err != nil {
		return 0, 0, Outcome{}, err
	}
	if err := steer(ctx, cfg, sagas, id, want, refused); err != nil {
		return 0, 0, Outcome{}, err
	}
	var res workflows.Result
	// With the run id, as the baseline waits for its runs: without it the client would
	// first ask the server which run is current.
	if err := cfg.Temporal.GetWorkflow(ctx, workflows.WorkflowID(id), runID).Get(ctx, &res); err != nil {
		return 0, 0, Outcome{}, err
	}
	latency = time.Since(start)
	final = Outcome{Status: res.Status, Reason: res.Reason}
	lag, err = projectionLag(ctx, cfg, res)
	return latency, lag, final, err
}

// OrderID is the id of order i of run runID.
func OrderID(runID string, i int) string { return fmt.Sprintf("load-%s-%06d", runID, i) }

// maxPaidPollInterval caps the interval at which steer looks for an order's payment.
const maxPaidPollInterval = 200 * time.Millisecond

// steer sends the order what its outcome needs: the restaurant's decision (at once, or
// when the read model shows the payment), or a cancellation once it is paid, so that the
// refund runs. It polls the read model, not Temporal: a query costs the worker a workflow
// task, and hammering them would slow the very sagas being measured.
func steer(ctx context.Context, cfg Config, sagas driver, id string, want Outcome, refused *atomic.Int64) error {
	var send func() error
	switch want {
	case declined:
		return nil // declined by payment: nothing to decide
	case cancelled:
		send = func() error { return sagas.cancel(ctx, id) }
	case approved:
		send = func() error { return sagas.decide(ctx, id, workflows.Decision{Approved: true}) }
	default:
		send = func() error { return sagas.decide(ctx, id, workflows.Decision{Approved: false, Reason: "load test"}) }
	}
	if cfg.DecideAt == DecideAtStart && want != cancelled {
		if err := send(); !refusedDecision(err) {
			return err
		}
		refused.Add(1)
	}
	wait := 20 * time.Millisecond
	for {
		o, err := cfg.API.GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: id})
		switch {
		case err != nil && status.Code(err) != codes.NotFound:
			return err
		case err == nil && o.Order.Status != ordersaga.StatusCreated:
			if o.Order.Status != ordersaga.StatusPaid {
				return nil // it ended another way; the result says how
			}
			if err := send(); !refusedDecision(err) {
				return err
			}
			refused.Add(1)
			wait = min(2*wait, 500*time.Millisecond) // refused: a moment more
		default:
			// Not paid yet: look again a little later each time, so that the generator's
			// own reads do not weigh on the figures (about five reads per order).
			wait = min(wait*3/2, maxPaidPollInterval)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// projectionLag is how long the read model took to take in the order's last event: the
// projector stamps each row when it writes it, by the database's clock that also stamps
// events, so the figure does not depend on when the generator looks. It is negative when
// there is nothing to measure.
func projectionLag(ctx context.Context, cfg Config, res workflows.Result) (time.Duration, error) {
	if res.OrderVersion == 0 {
		return -1, nil // cancelled before the order was created: nothing to project
	}
	for {
		o, err := cfg.API.GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: res.OrderID, MinVersion: res.OrderVersion})
		switch {
		case err == nil && o.Order.ProjectedAt == nil:
			return -1, nil // a row written before the read model stamped them
		case err == nil:
			return max(o.Order.ProjectedAt.AsTime().Sub(o.Order.UpdatedAt.AsTime()), 0), nil
		case status.Code(err) != codes.Unavailable || ctx.Err() != nil:
			return 0, err
		}
	}
}
