package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/sqldb"
)

// The orders read model: table orders_view, one row per order stream (ordersaga.OrderView).
// Adding a column touches this file, a migration, and the API's proto and its conversion.
var ordersModel = readModel{
	streamType: ordersaga.StreamTypeOrder,
	table:      "orders_view",
	key:        "order_id",
	eventTypes: slices.Sorted(maps.Keys(orderChanges)),
	load:       loadOrders,
	next:       nextOrder,
	mark:       markOrder,
	fold: func(id string, events []ordersaga.RecordedEvent) model {
		o := FoldOrder(events)
		o.OrderID = id
		return &orderRow{o}
	},
}

// orderChange is what one event does to an order's row besides advancing its version:
// applyOrder makes the change to a row in memory, nextOrder to the row in the table.
type orderChange struct {
	created *ordersaga.OrderCreated // order-created: sets every field
	status  *string                 // nil: unchanged
	reason  *string                 // nil: unchanged
}

// orderChanges decode, for each event type the orders read model consumes, the change it
// makes; the projector subscribes to exactly these types.
var orderChanges = map[string]func(ordersaga.RecordedEvent) (orderChange, error){
	ordersaga.EventOrderCreated: func(e ordersaga.RecordedEvent) (orderChange, error) {
		var c ordersaga.OrderCreated
		if err := decodePayload(e, &c); err != nil {
			return orderChange{}, err
		}
		if c.OrderID == "" || c.CustomerID == "" || c.Currency == "" {
			return orderChange{}, malformed{fmt.Errorf("%s %s lacks order, customer or currency", e.Type, e.ID)}
		}
		return orderChange{created: &c, status: ptr(ordersaga.StatusCreated)}, nil
	},
	ordersaga.EventPaymentDebited:  statusChange(ordersaga.StatusPaid),
	ordersaga.EventOrderApproved:   statusChange(ordersaga.StatusApproved),
	ordersaga.EventPaymentRefunded: statusChange(ordersaga.StatusRefunded),
	ordersaga.EventOrderRejected:   closingChange(ordersaga.StatusRejected),
	ordersaga.EventOrderCancelled:  closingChange(ordersaga.StatusCancelled),
}

func ptr(s string) *string { return &s }

// statusChange is the change of an event that only sets the order's status.
func statusChange(status string) func(ordersaga.RecordedEvent) (orderChange, error) {
	return func(ordersaga.RecordedEvent) (orderChange, error) { return orderChange{status: ptr(status)}, nil }
}

// closingChange is the change of an event that ends the order with a reason.
func closingChange(status string) func(ordersaga.RecordedEvent) (orderChange, error) {
	return func(e ordersaga.RecordedEvent) (orderChange, error) {
		var r ordersaga.OrderRejected // order-cancelled carries the same reason field
		if err := decodePayload(e, &r); err != nil {
			return orderChange{}, err
		}
		return orderChange{status: ptr(status), reason: &r.Reason}, nil
	}
}

// orderChangeOf decodes the change an order event makes; other types change nothing.
func orderChangeOf(e ordersaga.RecordedEvent) (orderChange, error) {
	if decode, ok := orderChanges[e.Type]; ok {
		return decode(e)
	}
	return orderChange{}, nil
}

// applyOrder applies the event at o.Version+1 of an order stream. Unknown event types only
// advance the version.
func applyOrder(o *ordersaga.OrderView, e ordersaga.RecordedEvent) error {
	if err := checkNext(o.Version, e); err != nil {
		return err
	}
	o.Version = e.Version
	o.UpdatedAt = e.RecordedAt
	if e.Version == 1 && e.Type != ordersaga.EventOrderCreated {
		return malformed{fmt.Errorf("order stream %s starts with %s", e.StreamID, e.Type)}
	}
	c, err := orderChangeOf(e)
	if err != nil {
		return err
	}
	if c.created != nil {
		// The order is the stream's: a payload naming another is not believed.
		if stream, err := ordersaga.ParseStream(e.StreamID); err != nil || stream.ID() != c.created.OrderID {
			return malformed{fmt.Errorf("%s %s names order %q but is on stream %s", e.Type, e.ID, c.created.OrderID, e.StreamID)}
		}
		o.OrderID, o.CustomerID, o.RestaurantID = c.created.OrderID, c.created.CustomerID, c.created.RestaurantID
		o.Items, o.Amount, o.Currency, o.CreatedAt = c.created.Items, c.created.Amount, c.created.Currency, e.RecordedAt
	}
	if c.status != nil {
		o.Status = *c.status
	}
	if c.reason != nil {
		o.Reason = *c.reason
	}
	return nil
}

// FoldOrder folds an order stream from its first event, as verify and rebuild do;
// malformed events are skipped as the projector skips them.
func FoldOrder(events []ordersaga.RecordedEvent) ordersaga.OrderView {
	var o ordersaga.OrderView
	for _, e := range events {
		_ = applyOrder(&o, e)
	}
	return o
}

// orderRow adapts ordersaga.OrderView to model.
type orderRow struct{ ordersaga.OrderView }

func (r *orderRow) version() int64                        { return r.Version }
func (r *orderRow) apply(e ordersaga.RecordedEvent) error { return applyOrder(&r.OrderView, e) }

func (r *orderRow) differences(want model) string {
	w := want.(*orderRow)
	var d differ
	d.field("status", r.Status, w.Status)
	d.field("reason", r.Reason, w.Reason)
	d.field("version", r.Version, w.Version)
	d.field("amount", r.Amount, w.Amount)
	d.field("currency", r.Currency, w.Currency)
	d.field("customer", r.CustomerID, w.CustomerID)
	d.field("restaurant", r.RestaurantID, w.RestaurantID)
	d.field("items", r.Items, w.Items)
	return d.String()
}

// orderColumns are an order row's columns, in the order scanOrder reads them and insertArgs
// gives them (all but projected_at, which the writing statement stamps).
const orderColumns = `order_id, customer_id, restaurant_id, status, items, amount, currency, reason, version, created_at, updated_at, projected_at`

// loadOrders reads the rows of orders ids, in the order of ids; an order without a row
// loads at version 0.
func loadOrders(ctx context.Context, q sqldb.Querier, ids []string) ([]model, error) {
	return loadRows(ctx, q, orderColumns, "orders_view", "order_id", ids,
		func(row pgx.CollectableRow) (*orderRow, error) {
			r := &orderRow{}
			return r, scanOrder(row, &r.OrderView)
		},
		func(r *orderRow) string { return r.OrderID },
		func(id string) *orderRow { return &orderRow{ordersaga.OrderView{OrderID: id}} })
}

// scanOrder reads a row of orderColumns into o.
func scanOrder(row pgx.Row, o *ordersaga.OrderView) error {
	var items []byte
	var projectedAt *time.Time // NULL in rows written before the column existed
	err := row.Scan(&o.OrderID, &o.CustomerID, &o.RestaurantID, &o.Status, &items, &o.Amount, &o.Currency, &o.Reason,
		&o.Version, &o.CreatedAt, &o.UpdatedAt, &projectedAt)
	if err != nil {
		return err
	}
	if projectedAt != nil {
		o.ProjectedAt = *projectedAt
	}
	return json.Unmarshal(items, &o.Items)
}

func (r *orderRow) upsert(suffix string) (string, []any) {
	return insertOrder(suffix, `DO UPDATE SET customer_id = excluded.customer_id, restaurant_id = excluded.restaurant_id,
			status = excluded.status, items = excluded.items, amount = excluded.amount, currency = excluded.currency,
			reason = excluded.reason, version = excluded.version, created_at = excluded.created_at, updated_at = excluded.updated_at,
			projected_at = excluded.projected_at`), r.insertArgs()
}

// insertOrder is the statement that inserts an order row into orders_view+suffix, with
// onConflict after ON CONFLICT (order_id); its arguments are insertArgs.
func insertOrder(suffix, onConflict string) string {
	return `INSERT INTO orders_view` + suffix + ` (` + orderColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, clock_timestamp())
		ON CONFLICT (order_id) ` + onConflict
}

func (r *orderRow) insertArgs() []any {
	items := []byte("[]")
	if r.Items != nil {
		items, _ = json.Marshal(r.Items) // items decoded from JSON encode again
	}
	return []any{r.OrderID, r.CustomerID, r.RestaurantID, r.Status, string(items), r.Amount, r.Currency, r.Reason, r.Version, r.CreatedAt, r.UpdatedAt}
}

// nextOrder writes an order event that is its row's next version in one statement: the
// first event inserts the row unless it exists; a later one changes the row only if it
// is at the version before. Order-created beyond the first version, and malformed events,
// take the transaction path.
func nextOrder(ctx context.Context, q sqldb.Querier, id string, e ordersaga.RecordedEvent, published *time.Time) (bool, error) {
	if e.Version == 1 {
		r := &orderRow{}
		if err := r.apply(e); err != nil {
			return false, nil
		}
		return writesOneRow(ctx, q, insertStoredOrder, append(append(r.insertArgs(), storeArgs(e)...), published)...)
	}
	c, err := orderChangeOf(e)
	if err != nil || c.created != nil {
		return false, nil
	}
	return writesOneRow(ctx, q, `UPDATE orders_view SET status = coalesce($2, status), reason = coalesce($3, reason),
		version = $4, updated_at = $5, projected_at = clock_timestamp(), marks = marks || `+newMark("$4", "$13")+`
		WHERE order_id = $1 AND version = $6 AND `+storeHolds(7),
		append(append([]any{id, c.status, c.reason, e.Version, e.RecordedAt, e.Version - 1}, storeArgs(e)...), published)...)
}

// newMark is the JSON array of one mark of version (a SQL expression), published at
// published (a parameter that may be NULL), reflected now.
func newMark(version, published string) string {
	return `jsonb_build_array(jsonb_build_object('v', ` + version + `::INT8, 'p', ` + published + `::TIMESTAMPTZ, 'r', clock_timestamp()))`
}

// markOrder appends the marks of versions to the row of order id.
func markOrder(ctx context.Context, tx pgx.Tx, id string, versions []int64, published []*time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE orders_view SET marks = marks || (
			SELECT jsonb_agg(jsonb_build_object('v', m.v, 'p', m.p, 'r', clock_timestamp())) FROM unnest($2::INT8[], $3::TIMESTAMPTZ[]) AS m (v, p))
		WHERE order_id = $1`, id, versions, published)
	if err != nil {
		return fmt.Errorf("mark order %s: %w", id, err)
	}
	return nil
}

// insertStoredOrder inserts an order's first row (insertArgs, then storeArgs) if the store
// holds the event it comes from and the row does not exist yet.
var insertStoredOrder = `INSERT INTO orders_view (` + orderColumns + `, marks)
	SELECT $1::text, $2::text, $3::text, $4::text, $5::jsonb, $6::int8, $7::text, $8::text, $9::int8, $10::timestamptz, $11::timestamptz, clock_timestamp(),
		` + newMark("$9", "$18") + `
	WHERE ` + storeHolds(12) + `
	ON CONFLICT (order_id) DO NOTHING`
