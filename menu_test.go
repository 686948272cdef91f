package ordersaga_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
)

// menuEvents builds a restaurant stream from payloads, versions 1..n.
func menuEvents(payloads ...any) []ordersaga.RecordedEvent {
	var events []ordersaga.RecordedEvent
	for i, p := range payloads {
		typ := ordersaga.EventMenuItemSet
		if _, removed := p.(ordersaga.MenuItemRemoved); removed {
			typ = ordersaga.EventMenuItemRemoved
		}
		data, _ := json.Marshal(p)
		events = append(events, ordersaga.RecordedEvent{ID: uuid.New(), Version: int64(i + 1), Type: typ, Data: data})
	}
	return events
}

func set(id string, price int64, currency string) ordersaga.MenuItemSet {
	return ordersaga.MenuItemSet{RestaurantID: "r-1", MenuItem: ordersaga.MenuItem{ID: id, Name: "Dish " + id, Price: price, Currency: currency}}
}

func TestAMenuFoldsItsItemsAndRefusesWhatCannotBeTrue(t *testing.T) {
	m, err := ordersaga.FoldMenu("r-1", menuEvents(set("pizza", 1150, "EUR"), set("wine", 900, "EUR"), set("pizza", 1200, "EUR"),
		ordersaga.MenuItemRemoved{RestaurantID: "r-1", ItemID: "wine"}))
	if err != nil {
		t.Fatal(err)
	}
	if it, ok := m.Item("pizza"); !ok || it.Price != 1200 || m.Version != 4 || m.Currency != "EUR" || len(m.Items()) != 1 {
		t.Errorf("menu = %+v (pizza %+v), want pizza at 1200 only, version 4", m, it)
	}
	for name, events := range map[string][]ordersaga.RecordedEvent{
		"a free item":          menuEvents(set("pizza", 0, "EUR")),
		"a negative price":     menuEvents(set("pizza", -5, "EUR")),
		"a price past the cap": menuEvents(set("pizza", ordersaga.MaxUnitPrice+1, "EUR")),
		"a second currency":    menuEvents(set("pizza", 1150, "EUR"), set("wine", 900, "USD")),
		"no currency":          menuEvents(set("pizza", 1150, "")),
	} {
		if _, err := ordersaga.FoldMenu("r-1", events); err == nil {
			t.Errorf("%s folded", name)
		}
	}
}

func TestAnOrderIsPricedFromTheMenuAndRecordsItsVersion(t *testing.T) {
	m, err := ordersaga.FoldMenu("r-1", menuEvents(set("pizza", 1150, "EUR"), set("wine", 900, "EUR")))
	if err != nil {
		t.Fatal(err)
	}
	order := func(items ...ordersaga.Item) ordersaga.OrderInput {
		return ordersaga.OrderInput{OrderID: "o-1", CustomerID: "c-1", RestaurantID: "r-1", Currency: "EUR", Items: items}
	}
	priced, err := m.Price(order(ordersaga.Item{ID: "pizza", Quantity: 2}, ordersaga.Item{ID: "wine", UnitPrice: 900, Name: "my wine", Quantity: 1}))
	if err != nil {
		t.Fatal(err)
	}
	if amount, _ := priced.Amount(); amount != 3200 || priced.MenuVersion != 2 || priced.Items[1].Name != "Dish wine" {
		t.Errorf("priced = %+v (amount %d), want 3200 at menu version 2 with the menu's names", priced, amount)
	}
	for _, c := range []struct {
		name  string
		order ordersaga.OrderInput
		field string
	}{
		{"a one-cent pizza", order(ordersaga.Item{ID: "pizza", UnitPrice: 1, Quantity: 1}), "items[0].unit_price"},
		{"an item not on the menu", order(ordersaga.Item{ID: "pizza", Quantity: 1}, ordersaga.Item{ID: "caviar", Quantity: 1}), "items[1].id"},
		{"another currency", ordersaga.OrderInput{RestaurantID: "r-1", Currency: "USD", Items: []ordersaga.Item{{ID: "pizza", Quantity: 1}}}, "currency"},
	} {
		var e *ordersaga.Error
		if _, err := m.Price(c.order); !errors.As(err, &e) || e.Code != ordersaga.EINVALID || e.Field != c.field {
			t.Errorf("%s: %v, want invalid naming %s", c.name, err, c.field)
		}
	}
	if _, err := (ordersaga.Menu{RestaurantID: "r-9"}).Price(order(ordersaga.Item{ID: "pizza", Quantity: 1})); ordersaga.ErrorCode(err) != ordersaga.EINVALID {
		t.Errorf("an order at a restaurant without a menu: %v, want invalid", err)
	}
}
