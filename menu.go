package ordersaga

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Event types of a restaurant's menu (stream "restaurant-<restaurant id>").
const (
	EventMenuItemSet     = "menu-item-set"
	EventMenuItemRemoved = "menu-item-removed"
)

// Limits of a menu.
const (
	// MaxMenuItems is the most items a menu may hold at once.
	MaxMenuItems = 1000
	// MaxUnitPrice is the highest price an item may have, in minor units (1,000,000.00
	// of a currency with cents): with MaxQuantity and MaxItems, no order total can pass
	// 64 bits.
	MaxUnitPrice = 100_000_000
)

// MenuItem is one dish on a menu, priced in minor units of the menu's currency.
type MenuItem struct {
	ID       string `json:"item_id"`
	Name     string `json:"name"`
	Price    int64  `json:"price"`
	Currency string `json:"currency"`
}

// MenuItemSet is the payload of EventMenuItemSet: the item is on the menu at this price
// from now on (added, renamed or repriced).
type MenuItemSet struct {
	RestaurantID string `json:"restaurant_id"`
	MenuItem
}

// MenuItemRemoved is the payload of EventMenuItemRemoved.
type MenuItemRemoved struct {
	RestaurantID string `json:"restaurant_id"`
	ItemID       string `json:"item_id"`
}

// RestaurantStream is the event stream of a restaurant's menu; an invalid restaurant id is
// an EINVALID error naming "restaurant_id".
func RestaurantStream(restaurantID string) (Stream, error) {
	if err := ValidateID("restaurant_id", restaurantID); err != nil {
		return Stream{}, err
	}
	return Stream{typ: StreamTypeRestaurant, id: restaurantID}, nil
}

// Validate returns an EINVALID error naming the first field of the item that is wrong.
func (it MenuItem) Validate() error {
	if err := validateItemID("item_id", it.ID); err != nil {
		return err
	}
	if strings.TrimSpace(it.Name) == "" {
		return Invalidf("name", "required")
	}
	if err := validateItemName("name", it.Name); err != nil {
		return err
	}
	if it.Price <= 0 || it.Price > MaxUnitPrice {
		return Invalidf("price", "must be between 1 and %d minor units (cents), got %d", MaxUnitPrice, it.Price)
	}
	return ValidateCurrency("currency", it.Currency)
}

// validateItemID and validateItemName check an item's id and name wherever they come from
// (a menu, an order).
func validateItemID(field, id string) error {
	if id == "" {
		return Invalidf(field, "required")
	}
	if !idPattern.MatchString(id) {
		return Invalidf(field, "%q: use 1 to 100 letters, digits, '_', '.', ':', '@' or '-'", id)
	}
	return nil
}

func validateItemName(field, name string) error {
	switch {
	case !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl):
		return Invalidf(field, "must be UTF-8 text without control characters")
	case utf8.RuneCountInString(name) > MaxItemName:
		return Invalidf(field, "%d characters; the limit is %d", utf8.RuneCountInString(name), MaxItemName)
	}
	return nil
}

// Menu is a restaurant's menu, folded from its stream.
type Menu struct {
	RestaurantID string
	// Currency is set by the first item; every item must use it.
	Currency string
	// Version is the stream version the fold reached: orders priced from this menu record it.
	Version int64
	items   map[string]MenuItem
}

// Item returns the item with this id, if it is on the menu.
func (m Menu) Item(id string) (MenuItem, bool) {
	it, ok := m.items[id]
	return it, ok
}

// Items returns the menu's items, by id.
func (m Menu) Items() []MenuItem {
	out := make([]MenuItem, 0, len(m.items))
	for _, it := range m.items {
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b MenuItem) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// FoldMenu folds the events of a restaurant stream, in version order, into its Menu. An
// event that cannot be true (a price that is not positive, a currency other than the
// menu's, more than MaxMenuItems items) is an error: the menu then prices nothing.
func FoldMenu(restaurantID string, events []RecordedEvent) (Menu, error) {
	m := Menu{RestaurantID: restaurantID, items: map[string]MenuItem{}}
	for _, e := range events {
		if e.Version != m.Version+1 {
			return Menu{}, fmt.Errorf("menu of %s: event %s has version %d, want %d", restaurantID, e.ID, e.Version, m.Version+1)
		}
		if err := m.apply(e); err != nil {
			return Menu{}, fmt.Errorf("menu of %s version %d: %w", restaurantID, e.Version, err)
		}
		m.Version = e.Version
	}
	return m, nil
}

func (m *Menu) apply(e RecordedEvent) error {
	switch e.Type {
	case EventMenuItemSet:
		var set MenuItemSet
		if err := json.Unmarshal(e.Data, &set); err != nil {
			return err
		}
		if err := m.MaySet(set.MenuItem); err != nil {
			return fmt.Errorf("%s: %s", e.Type, ErrorMessage(err))
		}
		m.Currency = set.Currency
		m.items[set.ID] = set.MenuItem
	case EventMenuItemRemoved:
		var removed MenuItemRemoved
		if err := json.Unmarshal(e.Data, &removed); err != nil {
			return err
		}
		delete(m.items, removed.ItemID)
	}
	return nil
}

// MaySet returns an EINVALID error naming the field unless it can be set on the menu
// (valid, in the menu's currency, within MaxMenuItems).
func (m Menu) MaySet(it MenuItem) error {
	if err := it.Validate(); err != nil {
		return err
	}
	if m.Currency != "" && it.Currency != m.Currency {
		return Invalidf("currency", "the menu of %s is priced in %s", m.RestaurantID, m.Currency)
	}
	if _, ok := m.items[it.ID]; !ok && len(m.items) >= MaxMenuItems {
		return Invalidf("item_id", "the menu of %s has %d items; the limit is %d", m.RestaurantID, len(m.items), MaxMenuItems)
	}
	return nil
}

// Price returns the order priced from the menu: every item's unit price and name are the
// menu's, the menu's version is recorded in MenuVersion. A client may send unit prices
// (and names); a price that differs from the menu's is EINVALID naming that item's
// unit_price. An item that is not on the menu is EINVALID naming its id; a currency other
// than the menu's names currency.
func (m Menu) Price(in OrderInput) (OrderInput, error) {
	if m.Version == 0 || len(m.items) == 0 {
		return in, Invalidf("restaurant_id", "restaurant %s has no menu: nothing can be ordered there yet", in.RestaurantID)
	}
	if in.Currency != m.Currency {
		return in, Invalidf("currency", "restaurant %s prices in %s, not %s", in.RestaurantID, m.Currency, in.Currency)
	}
	priced := in
	priced.Items = make([]Item, len(in.Items))
	priced.MenuVersion = m.Version
	for i, it := range in.Items {
		field := fmt.Sprintf("items[%d]", i)
		on, ok := m.items[it.ID]
		if !ok {
			return in, Invalidf(field+".id", "%q is not on the menu of restaurant %s", it.ID, in.RestaurantID)
		}
		if it.UnitPrice != 0 && it.UnitPrice != on.Price {
			return in, Invalidf(field+".unit_price", "%s for %q differs from the menu's price, %s",
				FormatMoney(it.UnitPrice, m.Currency), it.ID, FormatMoney(on.Price, m.Currency))
		}
		priced.Items[i] = Item{ID: it.ID, Name: on.Name, UnitPrice: on.Price, Quantity: it.Quantity}
	}
	return priced, nil
}
