package dbtest

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga/sqldb"
)

// Plan runs explain (an EXPLAIN statement) on q and returns PostgreSQL's plan, a line per
// node, for tests that check which indexes a statement walks.
func Plan(ctx context.Context, q sqldb.Querier, explain string, args ...any) (string, error) {
	rows, err := q.Query(ctx, explain, args...)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return strings.Join(lines, "\n"), err
}
