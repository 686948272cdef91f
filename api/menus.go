package api

import (
	"context"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/auth"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
)

// Menus is what OrderService reads and changes restaurants' menus with (menus.Menus).
type Menus interface {
	// Get: EINVALID, EUNAVAILABLE.
	Get(ctx context.Context, restaurantID string) (ordersaga.Menu, error)
	// SetItem: EINVALID, EUNAVAILABLE.
	SetItem(ctx context.Context, restaurantID string, item ordersaga.MenuItem) (ordersaga.Menu, error)
	// RemoveItem: EINVALID, ENOTFOUND, EUNAVAILABLE.
	RemoveItem(ctx context.Context, restaurantID, itemID string) (ordersaga.Menu, error)
}

// price checks the order against the restaurant's menu as it is now and returns it with
// the menu's version, at which the saga will price it, and the amount the menu gives it
// (which Temporal Web shows): an item not on the menu, or a
// price that is not the menu's, is EINVALID naming the item before any saga starts. The
// items stay as the client sent them, so that placing the same order again after the menu
// changed is still the same order.
func (s *orderServer) price(ctx context.Context, in ordersaga.OrderInput) (ordersaga.OrderInput, int64, error) {
	if err := in.Validate(); err != nil {
		return in, 0, err
	}
	menu, err := s.menus.Get(ctx, in.RestaurantID)
	if err != nil {
		return in, 0, err
	}
	priced, err := menu.Price(in)
	if err != nil {
		return in, 0, err
	}
	amount, err := priced.Amount()
	if err != nil {
		return in, 0, err
	}
	in.MenuVersion = menu.Version
	return in, amount, nil
}

func (s *orderServer) SetMenuItem(ctx context.Context, req *ordersagav1.SetMenuItemRequest) (*ordersagav1.SetMenuItemResponse, error) {
	if err := mayChangeMenu(ctx, req.GetRestaurantId()); err != nil {
		return nil, err
	}
	it := req.GetItem()
	menu, err := s.menus.SetItem(ctx, req.GetRestaurantId(), ordersaga.MenuItem{ID: it.GetItemId(), Name: it.GetName(), Price: it.GetPrice(), Currency: req.GetCurrency()})
	if err != nil {
		return nil, err // naming the field of item (item_id, name, price) or currency
	}
	return &ordersagav1.SetMenuItemResponse{Menu: menuToProto(menu)}, nil
}

func (s *orderServer) RemoveMenuItem(ctx context.Context, req *ordersagav1.RemoveMenuItemRequest) (*ordersagav1.RemoveMenuItemResponse, error) {
	if err := mayChangeMenu(ctx, req.GetRestaurantId()); err != nil {
		return nil, err
	}
	if err := ordersaga.ValidateID("item_id", req.GetItemId()); err != nil {
		return nil, err
	}
	menu, err := s.menus.RemoveItem(ctx, req.GetRestaurantId(), req.GetItemId())
	if err != nil {
		return nil, err
	}
	return &ordersagav1.RemoveMenuItemResponse{Menu: menuToProto(menu)}, nil
}

func (s *orderServer) GetMenu(ctx context.Context, req *ordersagav1.GetMenuRequest) (*ordersagav1.GetMenuResponse, error) {
	if _, err := auth.FromContext(ctx); err != nil {
		return nil, err
	}
	menu, err := s.menus.Get(ctx, req.GetRestaurantId())
	if err != nil {
		return nil, err
	}
	if menu.Version == 0 {
		return nil, ordersaga.Errorf(ordersaga.ENOTFOUND, "restaurant %s has no menu", req.GetRestaurantId())
	}
	return &ordersagav1.GetMenuResponse{Menu: menuToProto(menu)}, nil
}

// mayChangeMenu returns nil when the caller may change the restaurant's menu.
func mayChangeMenu(ctx context.Context, restaurantID string) error {
	p, err := auth.FromContext(ctx)
	if err != nil {
		return err
	}
	if !auth.MaySetMenu(p, restaurantID) {
		return auth.Denied("the menu of restaurant %s", restaurantID)
	}
	return nil
}

func menuToProto(m ordersaga.Menu) *ordersagav1.Menu {
	out := &ordersagav1.Menu{RestaurantId: m.RestaurantID, Currency: m.Currency, Version: m.Version}
	for _, it := range m.Items() {
		out.Items = append(out.Items, &ordersagav1.MenuItem{ItemId: it.ID, Name: it.Name, Price: it.Price})
	}
	return out
}
