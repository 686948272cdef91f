package system

import (
	"context"
	"fmt"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/menus"
)

// DemoMenu is the menu dev gives the restaurants of the README's tour (and the tests
// theirs): a few dishes in EUR, caviar that no tour customer can afford, and the item the
// restaurant simulator rejects orders for.
var DemoMenu = []ordersaga.MenuItem{
	{ID: "margherita", Name: "Margherita", Price: 1150, Currency: "EUR"},
	{ID: "marinara", Name: "Marinara", Price: 900, Currency: "EUR"},
	{ID: "tiramisu", Name: "Tiramisu", Price: 650, Currency: "EUR"},
	{ID: "caviar", Name: "Caviar", Price: 900000, Currency: "EUR"},
	{ID: SoldOutItem, Name: "Sold-out special", Price: 1000, Currency: "EUR"},
}

// SoldOutItem is the item on DemoMenu that the restaurant simulator rejects orders for by
// default.
const SoldOutItem = "sold-out"

// DemoRestaurants are the restaurants dev gives DemoMenu by default: those of the tour,
// and "manual", whose orders the simulator leaves to a person (and the load test steers).
var DemoRestaurants = []string{"r-1", "r-7", "r-8", "manual"}

// SeedMenus gives each restaurant that has no menu yet the items of DemoMenu; a menu that
// exists, as its restaurant left it, is not touched.
func SeedMenus(ctx context.Context, store menus.Store, restaurants []string) error {
	m := menus.Menus{Store: store}
	for _, r := range restaurants {
		menu, err := m.Get(ctx, r)
		if err != nil {
			return fmt.Errorf("the menu of %s: %w", r, err)
		}
		if menu.Version > 0 {
			continue
		}
		for _, it := range DemoMenu {
			if _, err := m.SetItem(ctx, r, it); err != nil {
				return fmt.Errorf("setting %s on the menu of %s: %w", it.ID, r, err)
			}
		}
	}
	return nil
}
