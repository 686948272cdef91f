package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/ordersaga/ordersaga"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
)

// menuCommand is `ordersaga menu`: read and change a restaurant's menu, from which every
// order is priced.
func (m *Main) menuCommand() *cobra.Command {
	var cf clientFlags
	var restaurant string

	var item, name, currency string
	var price int64
	set := &cobra.Command{Use: "set", Short: "put an item on a restaurant's menu at a price (add, rename or reprice it)", Args: noArgs,
		Example: "  ordersaga menu set --restaurant r-7 --item calzone --name Calzone --price 1350 --currency EUR"}
	set.Flags().StringVar(&item, "item", "", "item id, as orders name it")
	set.Flags().StringVar(&name, "name", "", "name of the item")
	set.Flags().Int64Var(&price, "price", 0, "price in minor units (cents)")
	set.Flags().StringVar(&currency, "currency", "EUR", "ISO 4217 currency code: the menu's (its first item sets it)")
	m.verb(&cf, set, func(ctx context.Context, c ordersagav1.OrderServiceClient) (proto.Message, error) {
		res, err := c.SetMenuItem(ctx, &ordersagav1.SetMenuItemRequest{RestaurantId: restaurant, Currency: currency,
			Item: &ordersagav1.MenuItem{ItemId: item, Name: name, Price: price}})
		return res.GetMenu(), err
	})

	var removeItem string
	remove := &cobra.Command{Use: "remove", Short: "take an item off a restaurant's menu (orders placed before keep their prices)", Args: noArgs}
	remove.Flags().StringVar(&removeItem, "item", "", "item id")
	m.verb(&cf, remove, func(ctx context.Context, c ordersagav1.OrderServiceClient) (proto.Message, error) {
		res, err := c.RemoveMenuItem(ctx, &ordersagav1.RemoveMenuItemRequest{RestaurantId: restaurant, ItemId: removeItem})
		return res.GetMenu(), err
	})

	show := &cobra.Command{Use: "show", Short: "show a restaurant's menu", Args: noArgs}
	m.verb(&cf, show, func(ctx context.Context, c ordersagav1.OrderServiceClient) (proto.Message, error) {
		res, err := c.GetMenu(ctx, &ordersagav1.GetMenuRequest{RestaurantId: restaurant})
		return res.GetMenu(), err
	})

	cmd := group("menu", "set|remove|show a restaurant's menu through the API", set, remove, show)
	cmd.PersistentFlags().StringVar(&restaurant, "restaurant", "", "restaurant id")
	cf.register(m.flagsOf(cmd.PersistentFlags()))
	return cmd
}

// printMenu prints a menu as a table, prices in major units.
func printMenu(w io.Writer, menu *ordersagav1.Menu) {
	fmt.Fprintf(w, "RESTAURANT %s\tVERSION %d\t\n", menu.RestaurantId, menu.Version)
	fmt.Fprintln(w, "ITEM\tNAME\tPRICE")
	for _, it := range menu.Items {
		fmt.Fprintf(w, "%s\t%s\t%s %s\n", it.ItemId, it.Name, ordersaga.MajorUnits(it.Price, menu.Currency), menu.Currency)
	}
}
