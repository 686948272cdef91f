package api_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"google.golang.org/grpc/codes"

	"github.com/ordersaga/ordersaga/auth"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/internal/stacktest"
)

// TestPricesComeFromTheMenuNotTheClient places orders over the API as a customer: a
// one-cent pizza and an item that is not on the menu are INVALID_ARGUMENT naming the item,
// and start no saga; an order without prices is priced from the menu at the version the
// response names, and keeps that price after the restaurant reprices the item.
func TestPricesComeFromTheMenuNotTheClient(t *testing.T) {
	s, addr := serveStack(t)
	ctx := context.Background()
	operator := ordersagav1.NewOrderServiceClient(connect(t, addr, s.Tokens.As(t, stacktest.Operator)))
	customer := ordersagav1.NewOrderServiceClient(connect(t, addr, s.Tokens.As(t, auth.Principal{Role: auth.Customer, ID: "c-menu"})))
	restaurant := ordersagav1.NewOrderServiceClient(connect(t, addr, s.Tokens.As(t, auth.Principal{Role: auth.Restaurant, ID: "r-1"})))
	if _, err := operator.CreditAccount(ctx, &ordersagav1.CreditAccountRequest{CustomerId: "c-menu", Amount: 100000, Currency: "EUR", Reference: "menu"}); err != nil {
		t.Fatal(err)
	}

	cheap := placeRequest("cheap", "c-menu", 1)
	cheap.Items[0].UnitPrice = 1
	_, err := customer.PlaceOrder(ctx, cheap)
	wantStatus(t, err, codes.InvalidArgument, "items[0].unit_price")
	offMenu := placeRequest("off-menu", "c-menu", 1)
	offMenu.Items = append(offMenu.Items, &ordersagav1.Item{Id: "truffle", Quantity: 1})
	_, err = customer.PlaceOrder(ctx, offMenu)
	wantStatus(t, err, codes.InvalidArgument, "items[1].id")
	elsewhere := placeRequest("elsewhere", "c-menu", 1)
	elsewhere.RestaurantId = "r-without-menu"
	_, err = customer.PlaceOrder(ctx, elsewhere)
	wantStatus(t, err, codes.InvalidArgument, "restaurant_id")
	for _, id := range []string{"cheap", "off-menu", "elsewhere"} {
		var notFound *serviceerror.NotFound
		if _, err := s.Temporal.DescribeWorkflowExecution(ctx, "order-"+id, ""); !errors.As(err, &notFound) {
			t.Errorf("order %s, refused, has a saga: %v", id, err)
		}
	}

	unpriced := &ordersagav1.PlaceOrderRequest{OrderId: "unpriced", CustomerId: "c-menu", RestaurantId: "r-1", Currency: "EUR",
		Items: []*ordersagav1.Item{{Id: "margherita", Quantity: 2}}}
	placed, err := customer.PlaceOrder(ctx, unpriced)
	if err != nil {
		t.Fatal(err)
	}
	menu, err := customer.GetMenu(ctx, &ordersagav1.GetMenuRequest{RestaurantId: "r-1"})
	if err != nil {
		t.Fatal(err)
	}
	if placed.GetMenuVersion() != menu.GetMenu().GetVersion() {
		t.Errorf("placed at menu version %d, the menu is at %d", placed.GetMenuVersion(), menu.GetMenu().GetVersion())
	}
	// The restaurant reprices the margherita while the order is under way.
	if _, err := restaurant.SetMenuItem(ctx, &ordersagav1.SetMenuItemRequest{RestaurantId: "r-1", Currency: "EUR",
		Item: &ordersagav1.MenuItem{ItemId: "margherita", Name: "Margherita", Price: 5000}}); err != nil {
		t.Fatal(err)
	}
	got, err := awaitOrder(t, operator, "unpriced", 2)
	if err != nil {
		t.Fatal(err)
	}
	if o := got.GetOrder(); o.GetAmount() != 2300 || o.GetItems()[0].GetUnitPrice() != 1150 || o.GetItems()[0].GetName() != "Margherita" {
		t.Errorf("order = %v, want 2 margheritas at the 11.50 of menu version %d", o, placed.GetMenuVersion())
	}
	// Placing it again, the same order, is still the same order.
	again, err := customer.PlaceOrder(ctx, unpriced)
	if err != nil || !again.GetAlreadyPlaced() {
		t.Errorf("placing the same order after the menu changed: %v, %v; want already placed", again, err)
	}
}

// TestOnlyTheRestaurantOrAnOperatorChangesItsMenu: another restaurant and a customer are
// refused, anyone may read it, and a bad item is INVALID_ARGUMENT naming its field.
func TestOnlyTheRestaurantOrAnOperatorChangesItsMenu(t *testing.T) {
	s, addr := serveStack(t)
	ctx := context.Background()
	as := func(p auth.Principal) ordersagav1.OrderServiceClient {
		return ordersagav1.NewOrderServiceClient(connect(t, addr, s.Tokens.As(t, p)))
	}
	set := &ordersagav1.SetMenuItemRequest{RestaurantId: "r-1", Currency: "EUR", Item: &ordersagav1.MenuItem{ItemId: "lasagne", Name: "Lasagne", Price: 1400}}
	for _, p := range []auth.Principal{{Role: auth.Restaurant, ID: "r-2"}, {Role: auth.Customer, ID: "r-1"}} {
		_, err := as(p).SetMenuItem(ctx, set)
		wantStatus(t, err, codes.PermissionDenied, "")
		_, err = as(p).RemoveMenuItem(ctx, &ordersagav1.RemoveMenuItemRequest{RestaurantId: "r-1", ItemId: "margherita"})
		wantStatus(t, err, codes.PermissionDenied, "")
	}
	for _, p := range []auth.Principal{{Role: auth.Restaurant, ID: "r-1"}, stacktest.Operator} {
		if _, err := as(p).SetMenuItem(ctx, set); err != nil {
			t.Fatalf("%s setting an item: %v", p, err)
		}
	}
	owner := as(auth.Principal{Role: auth.Restaurant, ID: "r-1"})
	for field, item := range map[string]*ordersagav1.MenuItem{
		"price":   {ItemId: "lasagne", Name: "Lasagne", Price: -1},
		"item_id": {ItemId: "las agne", Name: "Lasagne", Price: 1400},
		"name":    {ItemId: "lasagne", Name: "Lasagne\x00", Price: 1400},
	} {
		_, err := owner.SetMenuItem(ctx, &ordersagav1.SetMenuItemRequest{RestaurantId: "r-1", Currency: "EUR", Item: item})
		wantStatus(t, err, codes.InvalidArgument, field)
	}
	_, err := owner.SetMenuItem(ctx, &ordersagav1.SetMenuItemRequest{RestaurantId: "r-1", Currency: "USD", Item: set.Item})
	wantStatus(t, err, codes.InvalidArgument, "currency")
	if _, err := owner.RemoveMenuItem(ctx, &ordersagav1.RemoveMenuItemRequest{RestaurantId: "r-1", ItemId: "lasagne"}); err != nil {
		t.Fatal(err)
	}
	_, err = owner.RemoveMenuItem(ctx, &ordersagav1.RemoveMenuItemRequest{RestaurantId: "r-1", ItemId: "lasagne"})
	wantStatus(t, err, codes.NotFound, "")
	menu, err := as(auth.Principal{Role: auth.Customer, ID: "c-1"}).GetMenu(ctx, &ordersagav1.GetMenuRequest{RestaurantId: "r-1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range menu.GetMenu().GetItems() {
		if it.GetItemId() == "lasagne" {
			t.Errorf("the removed lasagne is still on the menu: %v", menu.GetMenu())
		}
	}
	_, err = as(stacktest.Operator).GetMenu(ctx, &ordersagav1.GetMenuRequest{RestaurantId: "r-nowhere"})
	wantStatus(t, err, codes.NotFound, "")
}

// awaitOrder reads the order once its saga has written version of its stream (GetOrder
// refuses a version the store has not got, and a saga takes a moment to start).
func awaitOrder(t *testing.T, c ordersagav1.OrderServiceClient, orderID string, version int64) (*ordersagav1.GetOrderResponse, error) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		res, err := c.GetOrder(context.Background(), &ordersagav1.GetOrderRequest{OrderId: orderID, MinVersion: version})
		if err == nil || time.Now().After(deadline) {
			return res, err
		}
	}
}
