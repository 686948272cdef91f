package projections

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/internal/dbtest"
)

// A page of events that overlaps what another member applied meanwhile (the catch-up read
// versions 2 and 3; the row reached 2 before its transaction) marks only the versions it
// takes in: each version has one mark.
func TestAnOverlappingPageMarksOnlyWhatItApplies(t *testing.T) {
	ctx := context.Background()
	db, store := dbtest.NewStore(t, 4)
	if err := Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	stream := ordersaga.MustParseStream("order-o1")
	var events []ordersaga.RecordedEvent
	for _, e := range []struct {
		typ     string
		payload any
	}{
		{ordersaga.EventOrderCreated, ordersaga.OrderCreated{OrderID: "o1", CustomerID: "c-o", RestaurantID: "r-1", Currency: "EUR", Amount: 500,
			Items: []ordersaga.Item{{ID: "pizza", Name: "Pizza", UnitPrice: 500, Quantity: 1}}}},
		{ordersaga.EventPaymentDebited, ordersaga.PaymentDebited{OrderID: "o1", CustomerID: "c-o", Amount: 500, Currency: "EUR"}},
		{ordersaga.EventOrderApproved, ordersaga.OrderApproved{OrderID: "o1", RestaurantID: "r-1"}},
	} {
		data, _ := json.Marshal(e.payload)
		ed := ordersaga.EventData{ID: uuid.New(), Type: e.typ, Data: data}
		res, err := store.Append(ctx, stream, ordersaga.AnyVersion, []ordersaga.EventData{ed})
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, res.Recorded(stream, []ordersaga.EventData{ed})...)
	}
	p := New(db, eventstore.New(db), nil)
	for _, e := range events[:2] {
		if err := p.Apply(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if before, err := p.applyAll(ctx, stream, modelFor(stream), events[1:], nil); err != nil || before != 2 {
		t.Fatalf("applyAll: row at %d before, %v; want 2", before, err)
	}
	marks, err := NewReadModels(db).OrderMarks(ctx, "o1")
	if err != nil {
		t.Fatal(err)
	}
	var versions []int64
	for _, m := range marks {
		versions = append(versions, m.Version)
	}
	if len(versions) != 3 || versions[0] != 1 || versions[1] != 2 || versions[2] != 3 {
		t.Errorf("marks of versions %v, want 1, 2, 3 once each", versions)
	}
}
