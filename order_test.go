package ordersaga_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga"
)

// TestSameComparesEveryField changes each field of an order in turn (found by reflection,
// so that a field added later is covered too): each change makes it another order, except
// the menu version, which says when it was priced, not what was ordered.
func TestSameComparesEveryField(t *testing.T) {
	o := ordersaga.OrderInput{OrderID: "o-1", CustomerID: "c-1", RestaurantID: "r-1", Currency: "EUR", DecisionTimeout: "1m",
		Items: []ordersaga.Item{{ID: "m", Name: "Margherita", UnitPrice: 1000, Quantity: 2}}}
	if !o.Same(o) {
		t.Fatal("an order is not the same as itself")
	}
	for i := range reflect.TypeFor[ordersaga.OrderInput]().NumField() {
		other := o
		other.Items = []ordersaga.Item{o.Items[0]}
		field := reflect.ValueOf(&other).Elem().Field(i)
		switch field.Kind() {
		case reflect.String:
			field.SetString(field.String() + "x")
		case reflect.Slice:
			other.Items[0].Quantity++
		case reflect.Int64:
			field.SetInt(field.Int() + 1)
			if reflect.TypeFor[ordersaga.OrderInput]().Field(i).Name != "MenuVersion" {
				break
			}
			if !o.Same(other) {
				t.Errorf("an order priced at another menu version is not the same")
			}
			continue
		default:
			t.Fatalf("field %s: add a case for its kind", reflect.TypeFor[ordersaga.OrderInput]().Field(i).Name)
		}
		if o.Same(other) {
			t.Errorf("an order with another %s is the same", reflect.TypeFor[ordersaga.OrderInput]().Field(i).Name)
		}
	}
}

func TestDecisionTimeoutsOutsideOneSecondToAWeekAreRefused(t *testing.T) {
	for timeout, ok := range map[string]bool{"": true, "1s": true, "90s": true, "168h": true,
		"999ms": false, "1ns": false, "0s": false, "-5m": false, "168h1s": false, "soon": false} {
		_, err := ordersaga.OrderInput{DecisionTimeout: timeout}.Timeout()
		if (err == nil) != ok || (err != nil && ordersaga.ErrorCode(err) != ordersaga.EINVALID) {
			t.Errorf("decision timeout %q: %v, want accepted = %v", timeout, err, ok)
		}
	}
}

func TestItemsWithOddIdsOrNamesAreRefusedNamingTheField(t *testing.T) {
	long := strings.Repeat("é", ordersaga.MaxItemName+1)
	for _, c := range []struct {
		id, name, field string
	}{
		{"pizza slice", "Pizza", "items[0].id"},
		{strings.Repeat("p", 101), "Pizza", "items[0].id"},
		{"pizza", "Pizza\x00", "items[0].name"},
		{"pizza", "Pizza\nmargherita", "items[0].name"},
		{"pizza", "Pizza\xff", "items[0].name"},
		{"pizza", long, "items[0].name"},
	} {
		o := ordersaga.OrderInput{OrderID: "o-1", CustomerID: "c-1", RestaurantID: "r-1", Currency: "EUR",
			Items: []ordersaga.Item{{ID: c.id, Name: c.name, UnitPrice: 100, Quantity: 1}}}
		var e *ordersaga.Error
		if err := o.Validate(); !errors.As(err, &e) || e.Code != ordersaga.EINVALID || e.Field != c.field {
			t.Errorf("item %q %q: %v, want invalid naming %s", c.id, c.name, err, c.field)
		}
	}
	ok := ordersaga.OrderInput{OrderID: "o-1", CustomerID: "c-1", RestaurantID: "r-1", Currency: "EUR",
		Items: []ordersaga.Item{{ID: "tiramisu", Name: strings.Repeat("é", ordersaga.MaxItemName), UnitPrice: 100, Quantity: 1}}}
	if err := ok.Validate(); err != nil {
		t.Errorf("an item with a long but allowed name: %v", err)
	}
}

// TestTheLargestValidOrderStaysWellUnderTemporalsPayloadLimits builds an order at every
// limit (most items, longest ids, longest names in four-byte characters): its JSON, the
// saga's input, stays under 256 KiB, far below Temporal's 2 MB blob limit and under its
// 512 KiB warning.
func TestTheLargestValidOrderStaysWellUnderTemporalsPayloadLimits(t *testing.T) {
	id := strings.Repeat("i", 100)
	o := ordersaga.OrderInput{OrderID: id, CustomerID: id, RestaurantID: id, Currency: "EUR", DecisionTimeout: "168h"}
	for range ordersaga.MaxItems {
		o.Items = append(o.Items, ordersaga.Item{ID: id, Name: strings.Repeat("𝄞", ordersaga.MaxItemName), UnitPrice: 1, Quantity: ordersaga.MaxQuantity})
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	encoded, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(encoded) > 256<<10 {
		t.Errorf("the largest valid order encodes to %d bytes, want at most 256 KiB", len(encoded))
	}
}
