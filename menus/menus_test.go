package menus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/menus"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func newMenus(t testing.TB) (menus.Menus, *eventstore.Store) {
	t.Helper()
	_, store := dbtest.NewStore(t, 0)
	return menus.Menus{Store: store}, store
}

func item(id string, price int64, currency string) ordersaga.MenuItem {
	return ordersaga.MenuItem{ID: id, Name: "Dish " + id, Price: price, Currency: currency}
}

func TestSettingAnItemAgainChangesNothingAndOldVersionsStayReadable(t *testing.T) {
	m, store := newMenus(t)
	ctx := context.Background()
	for range 3 {
		if _, err := m.SetItem(ctx, "r-1", item("pizza", 1150, "EUR")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.SetItem(ctx, "r-1", item("pizza", 1200, "EUR")); err != nil {
		t.Fatal(err)
	}
	now, err := m.RemoveItem(ctx, "r-1", "pizza")
	if err != nil {
		t.Fatal(err)
	}
	events, _ := store.ReadStream(ctx, ordersaga.MustParseStream("restaurant-r-1"), 1, 100)
	if len(events) != 3 || now.Version != 3 || len(now.Items()) != 0 {
		t.Errorf("%d events, menu %+v; want 3 (set, reprice, remove) and an empty menu at version 3", len(events), now)
	}
	first, err := m.At(ctx, "r-1", 1)
	if it, ok := first.Item("pizza"); err != nil || !ok || it.Price != 1150 {
		t.Errorf("menu at version 1: pizza %+v, %v; want it at 1150", it, err)
	}
	if _, err := m.At(ctx, "r-1", 4); ordersaga.ErrorCode(err) != ordersaga.EINVALID {
		t.Errorf("a version the menu has not reached: %v, want invalid", err)
	}
	if _, err := m.RemoveItem(ctx, "r-1", "pizza"); ordersaga.ErrorCode(err) != ordersaga.ENOTFOUND {
		t.Errorf("removing an item that is not on the menu: %v, want not found", err)
	}
	if _, err := m.SetItem(ctx, "r-1", item("wine", 900, "USD")); ordersaga.ErrorCode(err) != ordersaga.EINVALID {
		t.Errorf("an item in another currency than the menu's first: %v, want invalid", err)
	}
}

// TestConcurrentFirstItemsInTwoCurrenciesLeaveAMenuThatFolds sets the first items of a
// menu from many writers at once, half in EUR and half in USD: each change is appended at
// the version it checked, so one currency wins, the others are refused, and the menu folds.
func TestConcurrentFirstItemsInTwoCurrenciesLeaveAMenuThatFolds(t *testing.T) {
	m, _ := newMenus(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := 0
	for i := range 20 {
		currency := []string{"EUR", "USD"}[i%2]
		wg.Go(func() {
			_, err := m.SetItem(ctx, "r-1", item(fmt.Sprintf("dish-%d", i), 100+int64(i), currency))
			if err != nil {
				if ordersaga.ErrorCode(err) != ordersaga.EINVALID {
					t.Errorf("set %d: %v", i, err)
				}
				mu.Lock()
				refused++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	menu, err := m.Get(ctx, "r-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(menu.Items()) != 10 || refused != 10 {
		t.Errorf("menu has %d items in %s, %d sets refused; want 10 and 10", len(menu.Items()), menu.Currency, refused)
	}
}

// TestAMenuChangeThatKeepsLosingRacesGivesUpAfterItsLimit: a change whose menu another
// writer changes before each of its appends tries 51 times, then says EUNAVAILABLE with
// how often; one that loses 50 races lands on the 51st try.
func TestAMenuChangeThatKeepsLosingRacesGivesUpAfterItsLimit(t *testing.T) {
	_, store := dbtest.NewStore(t, 0)
	ctx := context.Background()
	anotherItem := func(ordersaga.Stream) ordersaga.EventData {
		data, _ := json.Marshal(ordersaga.MenuItemSet{RestaurantID: "r-1", MenuItem: item("special-"+uuid.NewString()[:8], 100, "EUR")})
		return ordersaga.EventData{ID: uuid.New(), Type: ordersaga.EventMenuItemSet, Data: data}
	}
	losing := &dbtest.Contended{Store: store, N: 1000, Other: anotherItem}
	_, err := menus.Menus{Store: losing}.SetItem(ctx, "r-1", item("pizza", 1150, "EUR"))
	if ordersaga.ErrorCode(err) != ordersaga.EUNAVAILABLE || !strings.Contains(err.Error(), "changed 51 times") || losing.Appends != 51 {
		t.Errorf("a change that always loses: %v after %d appends; want EUNAVAILABLE after 51, saying so", err, losing.Appends)
	}
	lucky := &dbtest.Contended{Store: store, N: 50, Other: anotherItem}
	menu, err := menus.Menus{Store: lucky}.SetItem(ctx, "r-2", item("pizza", 1150, "EUR"))
	if _, ok := menu.Item("pizza"); err != nil || !ok || lucky.Appends != 51 {
		t.Errorf("a change that wins its 51st try: %v after %d appends; want pizza on the menu", err, lucky.Appends)
	}
}

// readCounter counts the stream reads that reach the store.
type readCounter struct {
	menus.Store
	reads int
}

func (c *readCounter) ReadStream(ctx context.Context, stream ordersaga.Stream, from int64, limit int) ([]ordersaga.RecordedEvent, error) {
	c.reads++
	return c.Store.ReadStream(ctx, stream, from, limit)
}

// TestPinnedMenusAreFoldedOnce: with Pinned, a menu at a version is read from the store
// once, and is the same menu as a fold without it; the current menu is read every time
// (it changes), and a version the menu has not reached is refused each time, and
// answered once the menu reaches it.
func TestPinnedMenusAreFoldedOnce(t *testing.T) {
	plain, store := newMenus(t)
	ctx := context.Background()
	counter := &readCounter{Store: store}
	pinned := menus.Menus{Store: counter, Pinned: menus.NewPinned(0)}
	for _, price := range []int64{1000, 1200} {
		if _, err := plain.SetItem(ctx, "r-1", item("pizza", price, "EUR")); err != nil {
			t.Fatal(err)
		}
	}
	reads := func(what string, want int, read func()) {
		t.Helper()
		before := counter.reads
		read()
		if got := counter.reads - before; got != want {
			t.Errorf("%s: %d reads of the store, want %d", what, got, want)
		}
	}
	for i, want := range []int{1, 0, 0} {
		reads(fmt.Sprintf("the menu at version 1, time %d", i+1), want, func() {
			got, err := pinned.At(ctx, "r-1", 1)
			fresh, _ := plain.At(ctx, "r-1", 1)
			if err != nil || got.Version != 1 || fmt.Sprint(got.Items()) != fmt.Sprint(fresh.Items()) {
				t.Errorf("menu at version 1: %+v, %v; want %+v", got.Items(), err, fresh.Items())
			}
		})
	}
	for range 2 {
		reads("the current menu", 1, func() {
			if got, err := pinned.Get(ctx, "r-1"); err != nil || got.Version != 2 {
				t.Errorf("current menu at version %d, %v; want 2", got.Version, err)
			}
		})
		reads("a version not reached", 1, func() {
			if _, err := pinned.At(ctx, "r-1", 3); ordersaga.ErrorCode(err) != ordersaga.EINVALID {
				t.Errorf("a version the menu has not reached: %v, want invalid", err)
			}
		})
	}
	if _, err := plain.SetItem(ctx, "r-1", item("pizza", 1300, "EUR")); err != nil {
		t.Fatal(err)
	}
	if got, err := pinned.At(ctx, "r-1", 3); err != nil || got.Version != 3 {
		t.Errorf("the menu at version 3 once there: version %d, %v", got.Version, err)
	}
	if got, _ := pinned.At(ctx, "r-2", 1); got.RestaurantID == "r-1" {
		t.Error("another restaurant's menu at the same version came from r-1's")
	}
}
