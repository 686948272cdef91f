package sqldb

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Statement is one normalised statement's figures since the last ResetStatementStats.
type Statement struct {
	Query   string  // normalised text, constants replaced by $n
	Calls   int64   // times executed
	TotalMs float64 // execution time, all calls
	MeanMs  float64 // execution time per call
	Rows    int64   // rows returned or affected, all calls
}

// ResetStatementStats starts PostgreSQL's statement statistics afresh (pg_stat_statements),
// creating the extension if it is missing. It needs the library preloaded
// (shared_preload_libraries, as pglocal does) and a superuser; elsewhere, CockroachDB
// included, it returns an error saying so, and callers go on without the figures.
func (db *DB) ResetStatementStats(ctx context.Context) error {
	if db.CockroachDB {
		return fmt.Errorf("statement statistics: pg_stat_statements is PostgreSQL's; on CockroachDB see the DB Console's SQL Activity page")
	}
	if _, err := db.pool.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		return fmt.Errorf("statement statistics: %w", err)
	}
	if _, err := db.pool.Exec(ctx, "SELECT pg_stat_statements_reset()"); err != nil {
		return fmt.Errorf("statement statistics (is pg_stat_statements in shared_preload_libraries?): %w", err)
	}
	return nil
}

// TopStatements returns the n statements of this database that took the most execution
// time since ResetStatementStats, most first.
func (db *DB) TopStatements(ctx context.Context, n int) ([]Statement, error) {
	var top []Statement
	err := db.InStatement(ctx, func(q Querier) error {
		rows, err := q.Query(ctx, `
		SELECT query, calls, total_exec_time, mean_exec_time, rows
		FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		ORDER BY total_exec_time DESC
		LIMIT $1`, n)
		if err == nil {
			top, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Statement])
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("statement statistics: %w", err)
	}
	return top, nil
}
