package projections_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/projections"
)

// appendOrderEvents appends one event per payload to order id's stream and returns them
// as recorded.
func appendOrderEvents(t *testing.T, f fixture, id string, events ...any) []ordersaga.RecordedEvent {
	t.Helper()
	stream := ordersaga.MustParseStream("order-" + id)
	var out []ordersaga.RecordedEvent
	for i := 0; i < len(events); i += 2 {
		data, _ := json.Marshal(events[i+1])
		e := ordersaga.EventData{ID: uuid.New(), Type: events[i].(string), Data: data}
		res, err := f.store.Append(context.Background(), stream, ordersaga.AnyVersion, []ordersaga.EventData{e})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res.Recorded(stream, []ordersaga.EventData{e})...)
	}
	return out
}

// An order's row keeps a mark per version it took in, once each, with when the bus
// published the event that brought it: for an event applied in its own statement, for one
// the projector dead-lettered, and for one delivered after a gap (the events it read from
// the store to fill the gap have none). A duplicate delivery adds no mark.
func TestAnOrderKeepsAMarkPerVersionWithItsPublishTime(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	events := appendOrderEvents(t, f, "m1",
		ordersaga.EventOrderCreated, ordersaga.OrderCreated{OrderID: "m1", CustomerID: "c-m", RestaurantID: "r-1", Currency: "EUR", Amount: 500,
			Items: []ordersaga.Item{{ID: "pizza", Name: "Pizza", UnitPrice: 500, Quantity: 1}}},
		ordersaga.EventOrderRejected, map[string]any{"order_id": "m1", "reason": 42}, // malformed: dead-lettered, in a transaction
		ordersaga.EventPaymentDebited, ordersaga.PaymentDebited{OrderID: "m1", CustomerID: "c-m", Amount: 500, Currency: "EUR"},
		ordersaga.EventOrderApproved, ordersaga.OrderApproved{OrderID: "m1", RestaurantID: "r-1"})
	published := []time.Time{time.Date(2026, 12, 3, 10, 0, 1, 0, time.UTC), time.Date(2026, 12, 3, 10, 0, 2, 0, time.UTC),
		{}, time.Date(2026, 12, 3, 10, 0, 4, 0, time.UTC)}
	for _, i := range []int{0, 1, 3, 3, 1} { // version 3 is never delivered: a gap; 4 and 2 twice
		if err := f.projector.ApplyDelivered(ctx, events[i], published[i]); err != nil {
			t.Fatalf("v%d: %v", i+1, err)
		}
	}
	marks, err := f.reads.OrderMarks(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if len(marks) != 4 {
		t.Fatalf("%d marks %+v, want one for each of the 4 versions", len(marks), marks)
	}
	for i, m := range marks {
		if m.Version != int64(i+1) || !m.PublishedAt.Equal(published[i]) || m.ProjectedAt.IsZero() {
			t.Errorf("mark %d: version %d published %s projected %s; want version %d published %s", i, m.Version, m.PublishedAt, m.ProjectedAt, i+1, published[i])
		}
	}
	// A gap filled up to the delivered event, not past it, though the store has more.
	more := appendOrderEvents(t, f, "m2",
		ordersaga.EventOrderCreated, ordersaga.OrderCreated{OrderID: "m2", CustomerID: "c-m", RestaurantID: "r-1", Currency: "EUR", Amount: 500,
			Items: []ordersaga.Item{{ID: "pizza", Name: "Pizza", UnitPrice: 500, Quantity: 1}}},
		ordersaga.EventPaymentDebited, ordersaga.PaymentDebited{OrderID: "m2", CustomerID: "c-m", Amount: 500, Currency: "EUR"},
		ordersaga.EventPaymentRefunded, ordersaga.PaymentRefunded{OrderID: "m2", Amount: 500, Currency: "EUR"},
		ordersaga.EventOrderCancelled, ordersaga.OrderCancelled{OrderID: "m2", Reason: ordersaga.ReasonCancelled, By: "customer"})
	for _, i := range []int{0, 2} {
		if err := f.projector.ApplyDelivered(ctx, more[i], published[3]); err != nil {
			t.Fatal(err)
		}
	}
	if marks, err := f.reads.OrderMarks(ctx, "m2"); err != nil || len(marks) != 3 || !marks[2].PublishedAt.Equal(published[3]) ||
		!marks[1].PublishedAt.IsZero() {
		t.Errorf("after a gap filled to version 3 of 4: marks %+v, %v; want 3, only the last published (at %s)", marks, err, published[3])
	}
	if marks, err := f.reads.OrderMarks(ctx, "never-placed"); err != nil || marks != nil {
		t.Errorf("marks of an order the read model does not hold: %v, %v; want none, no error", marks, err)
	}
}

// verify reports a row that lags only past the grace period: a stream whose events are all
// younger has no row yet and is not late, and a row at the store's version is never late.
func TestVerifyReportsNoLagForARowThatIsNotBehind(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	created := ordersaga.OrderCreated{OrderID: "y1", CustomerID: "c-y", RestaurantID: "r-1", Currency: "EUR", Amount: 500,
		Items: []ordersaga.Item{{ID: "pizza", Name: "Pizza", UnitPrice: 500, Quantity: 1}}}
	young := appendOrderEvents(t, f, "y1", ordersaga.EventOrderCreated, created)
	if err := f.store.MarkPublished(ctx, []int64{young[0].Position}); err != nil {
		t.Fatal(err)
	}
	if report, err := projections.Verify(ctx, f.reads, f.store, time.Hour); err != nil || !report.OK() {
		t.Errorf("a young stream without a row yet: %q, %v; want clean", report.Problems, err)
	}
	if err := f.projector.Apply(ctx, young[0]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // the event is older than a grace of 0
	if report, err := projections.Verify(ctx, f.reads, f.store, 0); err != nil || !report.OK() {
		t.Errorf("a row at the store's version, past the grace period: %q, %v; want clean", report.Problems, err)
	}
}
