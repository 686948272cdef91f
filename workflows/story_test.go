package workflows_test

import (
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/workflows"
)

// TestTheSummaryNamesTheOrderItsPartiesAndItsAmount pins what Temporal Web shows of a saga
// at its start, and that free text (an item's name, which the client or the menu chose and
// the UI would render as Markdown) stays out of it.
func TestTheSummaryNamesTheOrderItsPartiesAndItsAmount(t *testing.T) {
	in := ordersaga.OrderInput{OrderID: "41", CustomerID: "c-1", RestaurantID: "r-7", Currency: "EUR", DecisionTimeout: "90s", MenuVersion: 3,
		Items: []ordersaga.Item{{ID: "margherita", Name: "<img src=x onerror=alert(1)> **bold**", Quantity: 2}, {ID: "tiramisu", UnitPrice: 450, Quantity: 1}}}
	for _, tc := range []struct {
		name        string
		amount      int64
		summary     string
		wantDetails []string
	}{
		{"priced", 2750, "order 41 · c-1 at r-7 · 27.50 EUR", []string{"**Amount** 27.50 EUR", "| margherita | 2 | menu |", "| tiramisu | 1 | 4.50 EUR |",
			"**Decision within** 1m30s", "**Menu version** 3"}},
		{"left to the menu", 0, "order 41 · c-1 at r-7 · priced by the menu (EUR)", []string{"**Amount** priced by the menu (EUR)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := workflows.Summary(in, tc.amount); got != tc.summary {
				t.Errorf("Summary = %q, want %q", got, tc.summary)
			}
			details := workflows.StaticDetails(in, tc.amount)
			for _, want := range append(tc.wantDetails, "**Order** 41", "**Customer** c-1", "**Restaurant** r-7") {
				if !strings.Contains(details, want) {
					t.Errorf("StaticDetails = %q, want it to contain %q", details, want)
				}
			}
			if strings.Contains(details, "img") || strings.Contains(details, "bold") {
				t.Errorf("StaticDetails = %q shows an item's name", details)
			}
		})
	}
}

// TestStaticDetailsLeaveOutWhatTheOrderDoesNotSay: without a menu version the details
// name none, and without a decision timeout they give the default.
func TestStaticDetailsLeaveOutWhatTheOrderDoesNotSay(t *testing.T) {
	in := ordersaga.OrderInput{OrderID: "42", CustomerID: "c-1", RestaurantID: "r-7", Currency: "EUR",
		Items: []ordersaga.Item{{ID: "margherita", Quantity: 1}}}
	details := workflows.StaticDetails(in, 0)
	if strings.Contains(details, "Menu version") || !strings.Contains(details, "**Decision within** 5m0s") {
		t.Errorf("StaticDetails = %q, want no menu version and the default decision timeout", details)
	}
}
