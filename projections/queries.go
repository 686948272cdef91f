package projections

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/sqldb"
)

// ReadModels answers queries from the read models: what the API reads.
type ReadModels struct {
	db *sqldb.DB
}

// NewReadModels returns the queries on db's read models; the tables must be migrated.
func NewReadModels(db *sqldb.DB) *ReadModels { return &ReadModels{db: db} }

// row loads the row of stream id in rm, at version 0 if there is none.
func (r *ReadModels) row(ctx context.Context, rm *readModel, id string) (model, error) {
	rows, err := r.rows(ctx, rm, []string{id})
	if err != nil {
		return nil, err
	}
	return rows[0], nil
}

// rows reads the rows of streams ids of rm, in the order of ids, in one statement.
func (r *ReadModels) rows(ctx context.Context, rm *readModel, ids []string) ([]model, error) {
	var rows []model
	err := r.db.InStatement(ctx, func(q sqldb.Querier) (err error) {
		rows, err = rm.load(ctx, q, ids)
		return err
	})
	if err != nil {
		return nil, readError(err)
	}
	return rows, nil
}

// Order returns the read model of an order.
//
// Errors: ENOTFOUND, EUNAVAILABLE, EINTERNAL.
func (r *ReadModels) Order(ctx context.Context, orderID string) (ordersaga.OrderView, error) {
	m, err := r.row(ctx, &ordersModel, orderID)
	if err != nil {
		return ordersaga.OrderView{}, err
	}
	o := m.(*orderRow).OrderView
	if o.Version == 0 {
		return ordersaga.OrderView{}, ordersaga.Errorf(ordersaga.ENOTFOUND, "order %s not found", orderID)
	}
	return o, nil
}

// OrderMarks returns the marks of an order's row in version order (none for an order the
// read model does not hold, or whose row was rebuilt since).
//
// Errors: EUNAVAILABLE, EINTERNAL.
func (r *ReadModels) OrderMarks(ctx context.Context, orderID string) ([]ordersaga.OrderMark, error) {
	var raw []byte
	err := r.db.QueryRow(ctx, `SELECT marks FROM orders_view WHERE order_id = $1`, orderID).Scan(&raw)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, readError(err)
	}
	var marks []struct {
		Version     int64      `json:"v"`
		PublishedAt *time.Time `json:"p"`
		ProjectedAt time.Time  `json:"r"`
	}
	if err := json.Unmarshal(raw, &marks); err != nil {
		return nil, &ordersaga.Error{Code: ordersaga.EINTERNAL, Message: "internal error", Err: fmt.Errorf("order %s: marks: %w", orderID, err)}
	}
	out := make([]ordersaga.OrderMark, len(marks))
	for i, m := range marks {
		out[i] = ordersaga.OrderMark{Version: m.Version, ProjectedAt: m.ProjectedAt}
		if m.PublishedAt != nil {
			out[i].PublishedAt = *m.PublishedAt
		}
	}
	slices.SortStableFunc(out, func(a, b ordersaga.OrderMark) int { return cmp.Compare(a.Version, b.Version) })
	return out, nil
}

// Balance returns the read model of a customer's balance.
//
// Errors: ENOTFOUND, EUNAVAILABLE, EINTERNAL.
func (r *ReadModels) Balance(ctx context.Context, customerID string) (ordersaga.BalanceView, error) {
	m, err := r.row(ctx, &balancesModel, customerID)
	if err != nil {
		return ordersaga.BalanceView{}, err
	}
	b := m.(*balanceRow).BalanceView
	if b.Version == 0 {
		return ordersaga.BalanceView{}, ordersaga.Errorf(ordersaga.ENOTFOUND, "no account for customer %s", customerID)
	}
	return b, nil
}

// ListOrders returns up to limit orders matching f whose ids sort after afterOrderID, in
// order id order.
//
// Errors: EUNAVAILABLE, EINTERNAL.
func (r *ReadModels) ListOrders(ctx context.Context, f ordersaga.OrderFilter, afterOrderID string, limit int) ([]ordersaga.OrderView, error) {
	var orders []ordersaga.OrderView
	sql, args := listOrdersSQL(f, afterOrderID, limit)
	err := r.db.InStatement(ctx, func(q sqldb.Querier) error {
		rows, err := q.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		orders, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (ordersaga.OrderView, error) {
			var o ordersaga.OrderView
			err := scanOrder(row, &o)
			return o, err
		})
		return err
	})
	if err != nil {
		return nil, readError(err)
	}
	return orders, nil
}

// listOrdersSQL is ListOrders' statement and its arguments. It names only the filters set,
// so that the planner sees "customer_id = $1" and walks that column's index in order id
// order; a filter written "($1 = ” OR customer_id = $1)" leaves it no index to use, and a
// page of one customer's orders would read the whole table.
func listOrdersSQL(f ordersaga.OrderFilter, afterOrderID string, limit int) (string, []any) {
	var where strings.Builder
	args := []any{afterOrderID}
	where.WriteString("order_id > $1")
	for _, filter := range []struct{ column, value string }{{"customer_id", f.CustomerID}, {"restaurant_id", f.RestaurantID}, {"status", f.Status}} {
		if filter.value == "" {
			continue
		}
		args = append(args, filter.value)
		fmt.Fprintf(&where, " AND %s = $%d", filter.column, len(args))
	}
	args = append(args, limit)
	return fmt.Sprintf("SELECT %s FROM orders_view WHERE %s ORDER BY order_id LIMIT $%d", orderColumns, where.String(), len(args)), args
}

// readError turns a failed read into an application error: context errors pass through,
// a database that cannot be reached (or too much contention) is EUNAVAILABLE, anything
// else is a bug or a corrupt row, EINTERNAL, which retrying does not cure.
func readError(err error) error {
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return err
	case sqldb.Unreachable(err) || sqldb.SQLState(err) == "40001":
		return &ordersaga.Error{Code: ordersaga.EUNAVAILABLE, Message: "the read models are unavailable", Err: err}
	}
	return &ordersaga.Error{Code: ordersaga.EINTERNAL, Message: "internal error", Err: err}
}
