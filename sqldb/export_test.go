package sqldb

import "github.com/jackc/pgx/v5/pgxpool"

// PoolForTest exposes the pool to the tests that show what plain crdbpgx does with it.
func (db *DB) PoolForTest() *pgxpool.Pool { return db.pool }
