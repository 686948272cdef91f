package restaurant_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/ordersaga/ordersaga"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/internal/stacktest"
	"github.com/ordersaga/ordersaga/internal/system"
	"github.com/ordersaga/ordersaga/workflows"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

func TestSimulatorDecidesByItsRule(t *testing.T) {
	s := stacktest.Start(t)
	ctx := context.Background()
	sagas := workflows.Client{Temporal: s.Temporal}
	runSimulator(t, s, system.RestaurantConfig{Delay: 100 * time.Millisecond, Unavailable: []string{system.SoldOutItem}})
	customer := "c-" + uuid.NewString()[:8]
	if _, err := s.Accounts.Credit(ctx, customer, 100000, "EUR", "funding"); err != nil {
		t.Fatal(err)
	}
	place := func(restaurantID, item string) string {
		in := ordersaga.OrderInput{OrderID: uuid.NewString()[:12], CustomerID: customer, RestaurantID: restaurantID, Currency: "EUR",
			Items: []ordersaga.Item{{ID: item, Quantity: 1}}} // priced from the demo menu
		if _, err := sagas.Place(ctx, in); err != nil {
			t.Fatal(err)
		}
		return in.OrderID
	}
	approved, rejected, manual := place("r-1", "margherita"), place("r-1", system.SoldOutItem), place("manual", "margherita")
	result := func(orderID string) workflows.Result {
		var r workflows.Result
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := s.Temporal.GetWorkflow(ctx, workflows.WorkflowID(orderID), "").Get(ctx, &r); err != nil {
			t.Fatalf("saga of %s: %v", orderID, err)
		}
		return r
	}
	if r := result(approved); r.Status != ordersaga.StatusApproved {
		t.Errorf("order with available items: %+v, want approved", r)
	}
	if r := result(rejected); r.Status != ordersaga.StatusRejected || r.Reason != ordersaga.ReasonRestaurantRejected {
		t.Errorf("order with an unavailable item: %+v, want rejected by the restaurant", r)
	}
	time.Sleep(time.Second)
	v, err := s.Temporal.QueryWorkflow(ctx, workflows.WorkflowID(manual), "", workflows.QueryStatus)
	var st workflows.State
	if err != nil || v.Get(&st) != nil || st.Status != ordersaga.StatusAwaitingDecision {
		t.Errorf("order of the manual restaurant: %+v, %v; want still awaiting a decision", st, err)
	}
}

// TestSimulatorDecidesOrdersConcurrently pays 40 orders at once, each with 6 s for the
// restaurant to decide, at a kitchen delay of 1 s: every one is approved. Decided one after
// another, the orders after the sixth would miss their deadline and be rejected.
func TestSimulatorDecidesOrdersConcurrently(t *testing.T) {
	s := stacktest.Start(t)
	ctx := context.Background()
	runSimulator(t, s, system.RestaurantConfig{Delay: time.Second})
	customer := "c-" + uuid.NewString()[:8]
	if _, err := s.Accounts.Credit(ctx, customer, 1_000_000, "EUR", "funding"); err != nil {
		t.Fatal(err)
	}
	sagas := workflows.Client{Temporal: s.Temporal}
	orders := make([]string, 40)
	for i := range orders {
		in := ordersaga.OrderInput{OrderID: uuid.NewString()[:12], CustomerID: customer, RestaurantID: "r-1", Currency: "EUR", DecisionTimeout: "6s",
			Items: []ordersaga.Item{{ID: "margherita", Quantity: 1}}}
		if _, err := sagas.Place(ctx, in); err != nil {
			t.Fatal(err)
		}
		orders[i] = in.OrderID
	}
	statuses := map[string]int{}
	for _, id := range orders {
		var r workflows.Result
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		if err := s.Temporal.GetWorkflow(ctx, workflows.WorkflowID(id), "").Get(ctx, &r); err != nil {
			t.Fatalf("saga of %s: %v", id, err)
		}
		cancel()
		statuses[r.Status+"/"+r.Reason]++
	}
	if statuses[ordersaga.StatusApproved+"/"] != len(orders) {
		t.Errorf("outcomes %v, want all %d approved", statuses, len(orders))
	}
}

// runSimulator runs the API and the restaurant simulator with rule cfg on s until t ends;
// the simulator calls the API with an operator's token, as it runs in dev.
func runSimulator(t testing.TB, s *stacktest.Stack, cfg system.RestaurantConfig) {
	t.Helper()
	a, err := system.NewAPI(system.APIConfig{DB: s.DB, Temporal: s.Temporal, Tokens: s.Tokens.Verifier, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(a.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()), s.Tokens.As(t, stacktest.Operator))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	cfg.Bus, cfg.API = s.Bus, ordersagav1.NewOrderServiceClient(conn)
	sim, err := system.NewRestaurant(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stacktest.Run(t, a, sim)
}
