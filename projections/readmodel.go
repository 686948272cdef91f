package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/sqldb"
)

// model is one read model's row of one stream, in memory.
type model interface {
	// version is the stream version the row reflects; 0 for a stream it has not seen.
	version() int64
	// apply applies the event that follows version(); a malformed error means "dead-letter
	// it and move past it".
	apply(e ordersaga.RecordedEvent) error
	// upsert is the statement, and its arguments, that upserts the row into the read
	// model's table, or the table with suffix appended (a rebuild's "_next").
	upsert(suffix string) (sql string, args []any)
	// differences names the fields in which the row differs from want (a row of the same
	// read model), "" when none does.
	differences(want model) string
}

// readModel describes one read model: the streams it follows, its table, the event types
// it consumes, and how to load, fold and shortcut its rows.
type readModel struct {
	streamType string
	table, key string
	// eventTypes are the event types that change the model's rows.
	eventTypes []string
	// load reads the rows of streams ids in one statement, in the order of ids; a stream
	// without a row loads at version 0.
	load func(ctx context.Context, q sqldb.Querier, ids []string) ([]model, error)
	// next writes event e to the row of stream id in one statement if e is the row's next
	// version, and reports whether it did. false, for any reason (applied already, a gap,
	// a malformed event), sends the event down the transaction path, which knows what to do.
	// published is when the bus published e (nil: unknown), for the model's marks.
	next func(ctx context.Context, q sqldb.Querier, id string, e ordersaga.RecordedEvent, published *time.Time) (bool, error)
	// mark records, for a model that keeps marks (nil for one that does not), that the
	// row of id reflects versions, published when published says (nil: read from the
	// store), in tx; the transaction path calls it after saving the row.
	mark func(ctx context.Context, tx pgx.Tx, id string, versions []int64, published []*time.Time) error
	// fold folds a whole stream into a row, as rebuild and verify do.
	fold func(id string, events []ordersaga.RecordedEvent) model
	// snapshotDifferences, for streams that keep snapshots (nil for others), says how a
	// snapshot differs from the fold of the stream's events up to its version ("" if not).
	snapshotDifferences func(id string, snapshot ordersaga.Snapshot, events []ordersaga.RecordedEvent) string
}

// loadOne reads the row of stream id.
func (rm *readModel) loadOne(ctx context.Context, q sqldb.Querier, id string) (model, error) {
	rows, err := rm.load(ctx, q, []string{id})
	if err != nil {
		return nil, err
	}
	return rows[0], nil
}

// loadRows reads the rows of ids from table, whose key column is key, selecting columns,
// scans them with scan and returns them in the order of ids; an id without a row gets
// empty(id).
func loadRows[R model](ctx context.Context, q sqldb.Querier, columns, table, key string, ids []string, scan pgx.RowToFunc[R], keyOf func(R) string, empty func(id string) R) ([]model, error) {
	query, arg := `SELECT `+columns+` FROM `+table+` WHERE `+key+` = ANY($1::TEXT[])`, any(ids)
	if len(ids) == 1 {
		// One row, the API's usual read, by a statement of its own: PostgreSQL keeps a
		// generic plan for it, while it plans "= ANY($1)" anew on every call, not knowing
		// how many ids the array holds — planning that took five times as long as the
		// lookup (docs/benchmarks.md).
		query, arg = `SELECT `+columns+` FROM `+table+` WHERE `+key+` = $1`, ids[0]
	}
	rows, err := q.Query(ctx, query, arg)
	if err != nil {
		return nil, err
	}
	found, err := pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]R, len(found))
	for _, r := range found {
		byID[keyOf(r)] = r
	}
	out := make([]model, len(ids))
	for i, id := range ids {
		r, ok := byID[id]
		if !ok {
			r = empty(id)
		}
		out[i] = r
	}
	return out, nil
}

// readModels are the read models, in the order rebuild folds them.
var readModels = []*readModel{&balancesModel, &ordersModel}

// Types are the event types the read models consume: what a projector subscribes to.
func Types() []string {
	var types []string
	for _, m := range readModels {
		types = append(types, m.eventTypes...)
	}
	slices.Sort(types)
	return slices.Compact(types)
}

// Tables are the read models' tables, which name them in metrics and reports.
func Tables() []string {
	tables := make([]string, len(readModels))
	for i, m := range readModels {
		tables[i] = m.table
	}
	return tables
}

// modelFor returns the read model of a stream, or nil for streams no model reads.
func modelFor(stream ordersaga.Stream) *readModel {
	for _, m := range readModels {
		if m.streamType == stream.Type() {
			return m
		}
	}
	return nil
}

// malformed marks an event that cannot be applied: it is dead-lettered, and the stream
// moves past it so its later events still apply.
type malformed struct{ err error }

func (m malformed) Error() string { return "malformed event: " + m.err.Error() }

// decodePayload decodes e's data into v; a payload that does not decode is malformed.
func decodePayload(e ordersaga.RecordedEvent, v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return malformed{fmt.Errorf("%s %s: %w", e.Type, e.ID, err)}
	}
	return nil
}

// checkNext returns an error unless e is the version after current of its stream.
func checkNext(current int64, e ordersaga.RecordedEvent) error {
	if e.Version != current+1 {
		return fmt.Errorf("stream %s: version %d applied after %d", e.StreamID, e.Version, current)
	}
	return nil
}

// storeHolds is the condition, for a read model's one-statement write, that the store
// holds event e exactly as it was delivered: e's fields are the statement's arguments $n
// to $n+5 (storeArgs). An envelope forged on the bus then writes nothing, and costs no
// extra round trip when it is genuine.
func storeHolds(n int) string {
	return fmt.Sprintf(`EXISTS (SELECT 1 FROM events WHERE stream_id = $%d AND version = $%d AND event_id = $%d
		AND event_type = $%d AND data = $%d::jsonb AND recorded_at = $%d)`, n, n+1, n+2, n+3, n+4, n+5)
}

// storeArgs are the arguments of storeHolds.
func storeArgs(e ordersaga.RecordedEvent) []any {
	return []any{e.StreamID, e.Version, e.ID, e.Type, string(e.Data), e.RecordedAt}
}

// writesOneRow runs a statement that writes at most one row and reports whether it did.
func writesOneRow(ctx context.Context, q sqldb.Querier, sql string, args ...any) (bool, error) {
	tag, err := q.Exec(ctx, sql, args...)
	return err == nil && tag.RowsAffected() == 1, err
}

// differ collects the fields in which two rows differ.
type differ []string

// field notes name when got and want print differently.
func (d *differ) field(name string, got, want any) {
	if g, w := fmt.Sprint(got), fmt.Sprint(want); g != w {
		*d = append(*d, fmt.Sprintf("%s %s (store: %s)", name, g, w))
	}
}

func (d differ) String() string { return strings.Join(d, "; ") }
