// Package menus keeps restaurants' menus as event streams ("restaurant-<id>"): a
// restaurant (or an operator) sets and removes items, and the saga prices every order from
// the menu, so the price of a dish is the restaurant's word, never the client's.
package menus

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/ordersaga/ordersaga"
)

// Store is what menus need from the event store.
type Store interface {
	// Append: EINVALID, ECONFLICT, EUNAVAILABLE, EINTERNAL.
	Append(ctx context.Context, stream ordersaga.Stream, expected ordersaga.ExpectedVersion, events []ordersaga.EventData) (ordersaga.AppendResult, error)
	// ReadStream: EINVALID, EUNAVAILABLE, EINTERNAL.
	ReadStream(ctx context.Context, stream ordersaga.Stream, fromVersion int64, limit int) ([]ordersaga.RecordedEvent, error)
}

// Menus reads and changes menus.
type Menus struct {
	Store Store
	// Pinned, if set, keeps the menus folded at a version (NewPinned), for At to answer
	// again without reading the store. Nil: every fold reads the stream.
	Pinned *Pinned
}

// Pinned keeps menus folded at a version, the most recently used first. A menu at a
// version never changes (a stream's first events are there for good), so what it keeps
// never goes stale. It is safe for concurrent use.
type Pinned struct {
	menus *lru.Cache[pinnedMenu, ordersaga.Menu]
}

// pinnedMenu names a menu at a version.
type pinnedMenu struct {
	restaurantID string
	version      int64
}

// DefaultPinnedMenus is how many menus NewPinned(0) keeps: a menu of a few dozen items
// takes a few kilobytes.
const DefaultPinnedMenus = 1024

// NewPinned returns a Pinned that keeps up to size menus (DefaultPinnedMenus if size is
// not positive).
func NewPinned(size int) *Pinned {
	if size <= 0 {
		size = DefaultPinnedMenus
	}
	menus, _ := lru.New[pinnedMenu, ordersaga.Menu](size) // errs only for size <= 0
	return &Pinned{menus: menus}
}

// Get folds the restaurant's menu as it is now. A restaurant without one has an empty
// menu at version 0.
//
// Errors: EINVALID, EUNAVAILABLE, EINTERNAL.
func (m Menus) Get(ctx context.Context, restaurantID string) (ordersaga.Menu, error) {
	return m.At(ctx, restaurantID, 0)
}

// At folds the restaurant's menu as it was at version (0: as it is now). A version the
// menu has not reached is EINVALID naming menu_version.
//
// Errors: EINVALID, EUNAVAILABLE, EINTERNAL.
func (m Menus) At(ctx context.Context, restaurantID string, version int64) (ordersaga.Menu, error) {
	stream, err := ordersaga.RestaurantStream(restaurantID)
	if err != nil {
		return ordersaga.Menu{}, err
	}
	// Only a menu at a version is kept: the current one (version 0) changes.
	pin := m.Pinned != nil && version > 0
	pinned := pinnedMenu{restaurantID, version}
	if pin {
		if menu, ok := m.Pinned.menus.Get(pinned); ok {
			return menu, nil
		}
	}
	events, err := ordersaga.ReadWholeStream(ctx, m.Store, stream)
	if err != nil {
		return ordersaga.Menu{}, err
	}
	if version > int64(len(events)) {
		return ordersaga.Menu{}, ordersaga.Invalidf("menu_version", "the menu of %s is at version %d; version %d does not exist", restaurantID, len(events), version)
	}
	if version > 0 {
		events = events[:version]
	}
	menu, err := ordersaga.FoldMenu(restaurantID, events)
	if err != nil {
		return ordersaga.Menu{}, &ordersaga.Error{Code: ordersaga.EINTERNAL, Message: "the menu of " + restaurantID + " does not fold", Err: err}
	}
	if pin {
		m.Pinned.menus.Add(pinned, menu)
	}
	return menu, nil
}

// maxMenuRaces is how often a change folds the menu again after another writer appended
// first, before it gives up (EUNAVAILABLE: the caller may retry).
const maxMenuRaces = 50

// SetItem puts the item on the restaurant's menu at its price (adding, renaming or
// repricing it). Setting an item to what the menu already says changes nothing, so
// callers may retry.
//
// Errors: EINVALID (naming the item's field: a bad id, name or price, a currency other
// than the menu's, a full menu), EUNAVAILABLE, EINTERNAL.
func (m Menus) SetItem(ctx context.Context, restaurantID string, item ordersaga.MenuItem) (ordersaga.Menu, error) {
	return m.change(ctx, restaurantID, func(menu ordersaga.Menu) (*ordersaga.EventData, error) {
		if err := menu.MaySet(item); err != nil {
			return nil, err
		}
		if on, ok := menu.Item(item.ID); ok && on == item {
			return nil, nil
		}
		return event(ordersaga.EventMenuItemSet, ordersaga.MenuItemSet{RestaurantID: restaurantID, MenuItem: item}), nil
	})
}

// RemoveItem takes the item off the restaurant's menu: orders placed from now on cannot
// have it. Orders priced before keep their prices.
//
// Errors: EINVALID, ENOTFOUND (the item is not on the menu), EUNAVAILABLE, EINTERNAL.
func (m Menus) RemoveItem(ctx context.Context, restaurantID, itemID string) (ordersaga.Menu, error) {
	return m.change(ctx, restaurantID, func(menu ordersaga.Menu) (*ordersaga.EventData, error) {
		if _, ok := menu.Item(itemID); !ok {
			return nil, ordersaga.Errorf(ordersaga.ENOTFOUND, "%q is not on the menu of %s", itemID, restaurantID)
		}
		return event(ordersaga.EventMenuItemRemoved, ordersaga.MenuItemRemoved{RestaurantID: restaurantID, ItemID: itemID}), nil
	})
}

// change folds the menu, asks decide for the event that changes it (nil: none), and
// appends that at the folded version, so that what decide checked still holds; a lost
// race folds and decides again.
func (m Menus) change(ctx context.Context, restaurantID string, decide func(ordersaga.Menu) (*ordersaga.EventData, error)) (ordersaga.Menu, error) {
	stream, err := ordersaga.RestaurantStream(restaurantID)
	if err != nil {
		return ordersaga.Menu{}, err
	}
	for race := 0; ; race++ {
		menu, err := m.Get(ctx, restaurantID)
		if err != nil {
			return ordersaga.Menu{}, err
		}
		e, err := decide(menu)
		if err != nil || e == nil {
			return menu, err
		}
		_, err = m.Store.Append(ctx, stream, ordersaga.ExpectedVersion(menu.Version), []ordersaga.EventData{*e})
		switch {
		case err == nil:
			return m.Get(ctx, restaurantID)
		case ordersaga.ErrorCode(err) != ordersaga.ECONFLICT:
			return ordersaga.Menu{}, err
		case race >= maxMenuRaces:
			return ordersaga.Menu{}, ordersaga.Errorf(ordersaga.EUNAVAILABLE, "the menu of %s changed %d times while changing it; retry", restaurantID, race+1)
		}
	}
}

func event(typ string, payload any) *ordersaga.EventData {
	data, _ := json.Marshal(payload) // strings and numbers only: it cannot fail
	return &ordersaga.EventData{ID: uuid.New(), Type: typ, Data: data}
}
