package api_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"

	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
)

// TestTheTimelineJoinsTheSagaTheStoreTheBusAndTheReadModel follows an approved order and a
// cancelled one on a real stack: the timeline holds, in time order, the saga's start, each
// activity scheduled, started and completed with its duration and attempt, the decision
// update, the deadline timer, the cancellation and the compensations; each event as the
// store recorded it (version, position), when the bus published it and when the read
// model reflected it; and the gap before each entry. (The approval arrives before the
// saga awaits it, so only the cancelled order waits on its deadline timer.)
func TestTheTimelineJoinsTheSagaTheStoreTheBusAndTheReadModel(t *testing.T) {
	c := orderClient(t)
	ctx := context.Background()
	customer := "c-" + uuid.NewString()[:8]
	if _, err := c.CreditAccount(ctx, &ordersagav1.CreditAccountRequest{CustomerId: customer, Amount: 10000, Currency: "EUR", Reference: "t"}); err != nil {
		t.Fatal(err)
	}
	approved := "tl-" + uuid.NewString()[:8]
	if _, err := c.PlaceOrder(ctx, placeRequest(approved, customer, 1)); err != nil {
		t.Fatal(err)
	}
	decide(t, c, approved, true)
	timeline := awaitTimeline(t, c, approved, "read model reflects version 3", "saga completed")
	for _, want := range []string{"saga started", "activity CreateOrder scheduled", "activity CreateOrder started", "activity CreateOrder completed",
		"activity DebitPayment completed", "update decide accepted", "update completed",
		"activity ApproveOrder completed", "saga completed",
		"order-created recorded", "order-payment-debited recorded", "order-approved recorded",
		"order-created published", "order-payment-debited published", "order-approved published",
		"read model reflects version 1", "read model reflects version 2"} {
		if !slices.ContainsFunc(timeline, func(e *ordersagav1.TimelineEntry) bool { return e.GetWhat() == want }) {
			t.Errorf("the timeline of %s has no %q:\n%s", approved, want, describe(timeline))
		}
	}
	for i, e := range timeline {
		switch {
		case i > 0 && e.GetAt().AsTime().Before(timeline[i-1].GetAt().AsTime()):
			t.Errorf("entry %d (%s) is before the one above it", i, e.GetWhat())
		case i > 0 && e.GetSincePrevious().AsDuration() != e.GetAt().AsTime().Sub(timeline[i-1].GetAt().AsTime()):
			t.Errorf("entry %d (%s): gap %s, want the time since the entry above", i, e.GetWhat(), e.GetSincePrevious().AsDuration())
		case e.GetWhat() == "activity DebitPayment completed" && (e.GetDuration().AsDuration() <= 0 || e.GetAttempt() != 1 ||
			!strings.Contains(e.GetDetail(), "debit 10.00 EUR from "+customer)):
			t.Errorf("the debit's end: %v; want its duration, attempt 1 and its summary", e)
		case e.GetWhat() == "order-payment-debited recorded" && (e.GetVersion() != 2 || e.GetPosition() <= 0):
			t.Errorf("the debit's record: %v; want version 2 and its position", e)
		case e.GetWhat() == "saga started" && e.GetDuration() != nil:
			t.Errorf("the saga's start: %v; want no duration (a moment, not a step that took time)", e)
		}
	}

	// A cancelled order shows the cancellation and the compensations, last in first out.
	cancelled := "tl-" + uuid.NewString()[:8]
	req := placeRequest(cancelled, customer, 1)
	req.RestaurantId = "manual"
	req.Items[0].Id, req.Items[0].Name, req.Items[0].UnitPrice = "margherita", "", 0
	if _, err := c.PlaceOrder(ctx, req); err != nil {
		t.Fatal(err)
	}
	awaitTimeline(t, c, cancelled, "timer started") // the restaurant's deadline: the saga waits
	if _, err := c.CancelOrder(ctx, &ordersagav1.CancelOrderRequest{OrderId: cancelled}); err != nil {
		t.Fatal(err)
	}
	timeline = awaitTimeline(t, c, cancelled, "saga completed")
	var order []string
	for _, e := range timeline {
		if e.GetSource() == "saga" {
			order = append(order, e.GetWhat())
		}
	}
	refund, closeOrder := slices.Index(order, "activity RefundPayment completed"), slices.Index(order, "activity CancelOrder completed")
	if !slices.Contains(order, "cancellation requested") || !slices.Contains(order, "timer cancelled") || refund < 0 || closeOrder < refund {
		t.Errorf("the cancelled saga's steps %q lack the cancellation, the deadline timer's end, or the refund before the cancellation's record", order)
	}

	_, err := c.GetOrderTimeline(ctx, &ordersagav1.GetOrderTimelineRequest{OrderId: "never-" + uuid.NewString()[:8]})
	wantStatus(t, err, codes.NotFound, "")
	_, err = c.GetOrderTimeline(ctx, &ordersagav1.GetOrderTimelineRequest{OrderId: "bad id"})
	wantStatus(t, err, codes.InvalidArgument, "order_id")
}

// awaitTimeline reads the order's timeline until it holds entries that say each of whats.
func awaitTimeline(t *testing.T, c ordersagav1.OrderServiceClient, orderID string, whats ...string) []*ordersagav1.TimelineEntry {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := c.GetOrderTimeline(context.Background(), &ordersagav1.GetOrderTimelineRequest{OrderId: orderID})
		holds := func(what string) bool {
			return slices.ContainsFunc(res.GetEntries(), func(e *ordersagav1.TimelineEntry) bool { return e.GetWhat() == what })
		}
		if err == nil && !slices.ContainsFunc(whats, func(what string) bool { return !holds(what) }) {
			return res.GetEntries()
		}
		if time.Now().After(deadline) {
			t.Fatalf("the timeline of %s never said %q: %v\n%s", orderID, whats, err, describe(res.GetEntries()))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func describe(entries []*ordersagav1.TimelineEntry) string {
	var b strings.Builder
	for _, e := range entries {
		b.WriteString(e.GetAt().AsTime().Format(time.RFC3339Nano) + " " + e.GetSource() + " " + e.GetWhat() + " " + e.GetDetail() + "\n")
	}
	return b.String()
}
