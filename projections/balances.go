package projections

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/payments"
	"github.com/ordersaga/ordersaga/sqldb"
)

// The balances read model: table customer_balances, one row per customer account stream
// (ordersaga.BalanceView).
var balancesModel = readModel{
	streamType: ordersaga.StreamTypeCustomer,
	table:      "customer_balances",
	key:        "customer_id",
	eventTypes: slices.Sorted(maps.Keys(balanceChanges)),
	load:       loadBalances,
	next:       nextBalance,
	fold: func(id string, events []ordersaga.RecordedEvent) model {
		return &balanceRow{FoldBalance(id, events)}
	},
	snapshotDifferences: payments.SnapshotDifferences,
}

// balanceChange is what one event does to a customer's balance row besides advancing its
// version: applyBalance makes it in memory, nextBalance in the table.
type balanceChange struct {
	delta    int64  // added to the balance
	currency string // the balance's currency if it has none yet; "" for none
}

// balanceChanges decode, for each event type the balances read model consumes, the change
// it makes; the projector subscribes to exactly these types.
var balanceChanges = map[string]func(ordersaga.RecordedEvent) (balanceChange, error){
	ordersaga.EventAccountCredited: entryChange(+1),
	ordersaga.EventAccountDebited:  entryChange(-1),
	ordersaga.EventAccountRefunded: entryChange(+1),
}

// entryChange is the change of an account entry: its amount, added (sign +1) or taken
// (sign -1).
func entryChange(sign int64) func(ordersaga.RecordedEvent) (balanceChange, error) {
	return func(e ordersaga.RecordedEvent) (balanceChange, error) {
		var entry ordersaga.AccountEntry
		if err := decodePayload(e, &entry); err != nil {
			return balanceChange{}, err
		}
		return balanceChange{delta: sign * entry.Amount, currency: entry.Currency}, nil
	}
}

// balanceChangeOf decodes the change an account event makes; other types change nothing.
func balanceChangeOf(e ordersaga.RecordedEvent) (balanceChange, error) {
	if decode, ok := balanceChanges[e.Type]; ok {
		return decode(e)
	}
	return balanceChange{}, nil
}

// applyBalance applies the event at b.Version+1 of a customer stream.
func applyBalance(b *ordersaga.BalanceView, e ordersaga.RecordedEvent) error {
	if err := checkNext(b.Version, e); err != nil {
		return err
	}
	b.Version = e.Version
	b.UpdatedAt = e.RecordedAt
	c, err := balanceChangeOf(e)
	if err != nil {
		return err
	}
	if b.Currency == "" {
		b.Currency = c.currency
	}
	b.Balance += c.delta
	return nil
}

// FoldBalance folds a customer stream from its first event.
func FoldBalance(customerID string, events []ordersaga.RecordedEvent) ordersaga.BalanceView {
	b := ordersaga.BalanceView{CustomerID: customerID}
	for _, e := range events {
		_ = applyBalance(&b, e)
	}
	return b
}

// balanceRow adapts ordersaga.BalanceView to model.
type balanceRow struct{ ordersaga.BalanceView }

func (r *balanceRow) version() int64                        { return r.Version }
func (r *balanceRow) apply(e ordersaga.RecordedEvent) error { return applyBalance(&r.BalanceView, e) }

func (r *balanceRow) differences(want model) string {
	w := want.(*balanceRow)
	var d differ
	d.field("balance", r.Balance, w.Balance)
	d.field("currency", r.Currency, w.Currency)
	d.field("version", r.Version, w.Version)
	return d.String()
}

// loadBalances reads the rows of customers ids, in the order of ids; a customer without a
// row loads at version 0.
func loadBalances(ctx context.Context, q sqldb.Querier, ids []string) ([]model, error) {
	return loadRows(ctx, q, balanceColumns, "customer_balances", "customer_id", ids,
		func(row pgx.CollectableRow) (*balanceRow, error) {
			r := &balanceRow{}
			return r, row.Scan(&r.CustomerID, &r.Balance, &r.Currency, &r.Version, &r.UpdatedAt)
		},
		func(r *balanceRow) string { return r.CustomerID },
		func(id string) *balanceRow { return &balanceRow{ordersaga.BalanceView{CustomerID: id}} })
}

func (r *balanceRow) upsert(suffix string) (string, []any) {
	return insertBalance(suffix, `DO UPDATE SET balance = excluded.balance, currency = excluded.currency,
			version = excluded.version, updated_at = excluded.updated_at`), r.insertArgs()
}

// balanceColumns are a balance row's columns, in the order of insertArgs.
const balanceColumns = `customer_id, balance, currency, version, updated_at`

// insertBalance is the statement that inserts a balance row into customer_balances+suffix,
// with onConflict after ON CONFLICT (customer_id); its arguments are insertArgs.
func insertBalance(suffix, onConflict string) string {
	return `INSERT INTO customer_balances` + suffix + ` (` + balanceColumns + `)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (customer_id) ` + onConflict
}

func (r *balanceRow) insertArgs() []any {
	return []any{r.CustomerID, r.Balance, r.Currency, r.Version, r.UpdatedAt}
}

// nextBalance writes an account event that is its row's next version in one statement,
// as nextOrder does for orders.
func nextBalance(ctx context.Context, q sqldb.Querier, id string, e ordersaga.RecordedEvent, _ *time.Time) (bool, error) {
	if e.Version == 1 {
		r := &balanceRow{ordersaga.BalanceView{CustomerID: id}}
		if err := r.apply(e); err != nil {
			return false, nil
		}
		return writesOneRow(ctx, q, insertStoredBalance, append(r.insertArgs(), storeArgs(e)...)...)
	}
	c, err := balanceChangeOf(e)
	if err != nil {
		return false, nil
	}
	return writesOneRow(ctx, q, `UPDATE customer_balances SET balance = balance + $2,
		currency = CASE WHEN currency = '' THEN $3 ELSE currency END, version = $4, updated_at = $5
		WHERE customer_id = $1 AND version = $6 AND `+storeHolds(7),
		append([]any{id, c.delta, c.currency, e.Version, e.RecordedAt, e.Version - 1}, storeArgs(e)...)...)
}

// insertStoredBalance inserts a customer's first row (insertArgs, then storeArgs) if the
// store holds the event it comes from and the row does not exist yet.
var insertStoredBalance = `INSERT INTO customer_balances (` + balanceColumns + `)
	SELECT $1::text, $2::int8, $3::text, $4::int8, $5::timestamptz
	WHERE ` + storeHolds(6) + `
	ON CONFLICT (customer_id) DO NOTHING`
