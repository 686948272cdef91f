package projections

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/sqldb"
)

// TestListOrdersWalksTheIndexOfItsFilter asks PostgreSQL how it would run ListOrders'
// statement, prepared and planned for any value, by customer, by restaurant, by status and by two of them, with sequential
// scans priced out of reach as on a table of millions of rows: each walks the index of a
// column it filters on (an index condition, not a filter over every row); without a filter
// it walks the primary key.
func TestListOrdersWalksTheIndexOfItsFilter(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, sqldb.Config{URL: dbtest.NewDatabase(t), MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := eventstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		filter  ordersaga.OrderFilter
		indexes []string // any of them
	}{
		{ordersaga.OrderFilter{CustomerID: "c-1"}, []string{"orders_view_customer_idx"}},
		{ordersaga.OrderFilter{RestaurantID: "r-7"}, []string{"orders_view_restaurant_idx"}},
		{ordersaga.OrderFilter{Status: ordersaga.StatusApproved}, []string{"orders_view_status_idx"}},
		{ordersaga.OrderFilter{CustomerID: "c-1", Status: ordersaga.StatusApproved}, []string{"orders_view_customer_idx", "orders_view_status_idx"}},
		{ordersaga.OrderFilter{}, []string{"orders_view_pkey"}},
	} {
		t.Run(fmt.Sprintf("%+v", tc.filter), func(t *testing.T) {
			sql, args := listOrdersSQL(tc.filter, "", 50)
			var text string
			err := db.InTx(ctx, func(tx pgx.Tx) error {
				// The plan for any value, as a prepared statement run often gets (pgx
				// prepares every statement), not one for the values at hand.
				for _, stmt := range []string{"SET LOCAL enable_seqscan = off", "SET LOCAL plan_cache_mode = force_generic_plan",
					"DEALLOCATE ALL", "PREPARE list_orders AS " + sql} {
					if _, err := tx.Exec(ctx, stmt); err != nil {
						return err
					}
				}
				literals := make([]string, len(args))
				for i, a := range args {
					literals[i] = fmt.Sprint(a)
					if text, ok := a.(string); ok {
						literals[i] = "'" + strings.ReplaceAll(text, "'", "''") + "'"
					}
				}
				text, err = dbtest.Plan(ctx, tx, "EXPLAIN EXECUTE list_orders("+strings.Join(literals, ", ")+")")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(tc.indexes, func(index string) bool { return strings.Contains(text, index) }) || !strings.Contains(text, "Index Cond") {
				t.Errorf("plan of %s:\n%s\nwant an index condition on one of %s", sql, text, tc.indexes)
			}
		})
	}
}
