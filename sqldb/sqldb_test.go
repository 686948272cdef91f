package sqldb_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/cockroachdb/cockroach-go/v2/crdb"
	crdbpgx "github.com/cockroachdb/cockroach-go/v2/crdb/crdbpgxv5"
	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/sqldb"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func openDB(t *testing.T) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(context.Background(), sqldb.Config{URL: dbtest.NewDatabase(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// TestOpenDefaultsToSerializable checks that plain statements run at SERIALIZABLE, as
// every statement on CockroachDB does.
func TestOpenDefaultsToSerializable(t *testing.T) {
	db := openDB(t)
	var level string
	if err := db.QueryRow(context.Background(), "SHOW transaction_isolation").Scan(&level); err != nil {
		t.Fatal(err)
	}
	if level != "serializable" {
		t.Errorf("transaction_isolation = %q, want serializable", level)
	}
	if db.CockroachDB {
		t.Errorf("CockroachDB = true on a PostgreSQL server")
	}
}

// writeSkew runs cockroach-go's own conformance test for transaction retries (two
// transactions interleaved into a write skew that one of them must retry).
type writeSkew struct {
	db        *sqldb.DB
	executeTx func(ctx context.Context, fn func(pgx.Tx) error) error
}

func (w writeSkew) Init(ctx context.Context) error {
	_, err := w.db.Exec(ctx, `CREATE TABLE t (acct INT PRIMARY KEY, balance INT);
		INSERT INTO t (acct, balance) VALUES (1, 100), (2, 100)`)
	return err
}

func (w writeSkew) ExecuteTx(ctx context.Context, fn func(tx any) error) error {
	return w.executeTx(ctx, func(tx pgx.Tx) error { return fn(tx) })
}

func (w writeSkew) GetBalances(ctx context.Context, txi any) (int, int, error) {
	var b1, b2 int
	err := txi.(pgx.Tx).QueryRow(ctx,
		`SELECT (SELECT balance FROM t WHERE acct = 1), (SELECT balance FROM t WHERE acct = 2)`).Scan(&b1, &b2)
	return b1, b2, err
}

func (w writeSkew) UpdateBalance(ctx context.Context, txi any, acct, delta int) error {
	_, err := txi.(pgx.Tx).Exec(ctx, `UPDATE t SET balance = balance + $1 WHERE acct = $2`, delta, acct)
	return err
}

func TestInTxPassesCockroachGoRetryConformance(t *testing.T) {
	db := openDB(t)
	if err := crdb.ExecuteTxGenericTest(context.Background(), writeSkew{db: db, executeTx: db.InTx}); err != nil {
		t.Fatal(err)
	}
}

// onCallSkew is the classic write skew whose serialization failure PostgreSQL reports at
// COMMIT: two doctors each see two doctors on call and each takes themselves off.
// Serially, exactly one of them can leave. It returns how many are still on call and the
// attempts each transaction made.
func onCallSkew(t *testing.T, db *sqldb.DB, executeTx func(context.Context, func(pgx.Tx) error) error) (onCall int, attempts [2]int, errs [2]error) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.Exec(ctx, `CREATE TABLE oncall (doctor INT PRIMARY KEY, on_call BOOL NOT NULL);
		INSERT INTO oncall VALUES (1, true), (2, true)`); err != nil {
		t.Fatal(err)
	}
	var read, written sync.WaitGroup
	read.Add(2)
	written.Add(2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			errs[i] = executeTx(ctx, func(tx pgx.Tx) error {
				attempts[i]++
				var n int
				if err := tx.QueryRow(ctx, `SELECT count(*) FROM oncall WHERE on_call`).Scan(&n); err != nil {
					return fmt.Errorf("count: %w", err)
				}
				if attempts[i] == 1 {
					read.Done()
					read.Wait()
				}
				if n >= 2 {
					if _, err := tx.Exec(ctx, `UPDATE oncall SET on_call = false WHERE doctor = $1`, i+1); err != nil {
						return fmt.Errorf("leave: %w", err)
					}
				}
				if attempts[i] == 1 {
					written.Done()
					written.Wait()
				}
				return nil
			})
		})
	}
	wg.Wait()
	if err := db.QueryRow(ctx, `SELECT count(*) FROM oncall WHERE on_call`).Scan(&onCall); err != nil {
		t.Fatal(err)
	}
	return onCall, attempts, errs
}

func TestInTxRetriesCommitTimeSerializationFailure(t *testing.T) {
	db := openDB(t)
	onCall, attempts, errs := onCallSkew(t, db, db.InTx)
	for i, err := range errs {
		if err != nil {
			t.Errorf("transaction %d: %v", i+1, err)
		}
	}
	if onCall != 1 {
		t.Errorf("doctors on call = %d, want 1 (the serializable outcome)", onCall)
	}
	if attempts[0]+attempts[1] != 3 {
		t.Errorf("attempts = %v, want one transaction retried exactly once", attempts)
	}
}

// TestPlainCrdbpgxIsUnsafeOnPostgres documents why InTx does not call crdbpgx.ExecuteTx on
// PostgreSQL: the CockroachDB savepoint protocol swallows a commit-time serialization
// failure there and reports success for a transaction that rolled back. If an upgrade of
// cockroach-go makes this test fail, InTx's PostgreSQL adapter may be retired.
func TestPlainCrdbpgxIsUnsafeOnPostgres(t *testing.T) {
	db := openDB(t)
	plain := func(ctx context.Context, fn func(pgx.Tx) error) error {
		return crdbpgx.ExecuteTx(ctx, db.PoolForTest(), pgx.TxOptions{IsoLevel: pgx.Serializable}, fn)
	}
	onCall, attempts, errs := onCallSkew(t, db, plain)
	if errs[0] != nil || errs[1] != nil || attempts != [2]int{1, 1} || onCall != 1 {
		t.Logf("errors %v, attempts %v, on call %d", errs, attempts, onCall)
	}
	if errs[0] == nil && errs[1] == nil && attempts == [2]int{1, 1} && onCall == 1 {
		// Both reported success with one attempt each, yet only one update survived:
		// the other commit failed silently.
		return
	}
	t.Errorf("crdbpgx.ExecuteTx on PostgreSQL no longer loses the commit-time failure: errors %v, attempts %v, on call %d", errs, attempts, onCall)
}

// TestInStatementRetriesASerializationFailure runs two single statements that overlap
// (each sleeps between its read and its write) into a write skew: each counts the other's
// rows and inserts its own. PostgreSQL aborts one with 40001 at commit; InStatement must
// run it again in a transaction, so that both rows end up written and the outcome is a
// serial one (one of them saw the other's row), with the retry counted.
func TestInStatementRetriesASerializationFailure(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	if _, err := db.Exec(ctx, `CREATE TABLE skew (k TEXT PRIMARY KEY, seen INT8 NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, pair := range [][2]string{{"x", "y"}, {"y", "x"}} {
		wg.Go(func() {
			errs[i] = db.InStatement(ctx, func(q sqldb.Querier) error {
				rows, err := q.Query(ctx, `WITH pause AS MATERIALIZED (SELECT pg_sleep(0.3))
					INSERT INTO skew (k, seen) SELECT $1, (SELECT count(*) FROM skew WHERE k = $2) FROM pause`, pair[0], pair[1])
				if err != nil {
					return fmt.Errorf("insert %s: %w", pair[0], err)
				}
				rows.Close()
				if err := rows.Err(); err != nil {
					return fmt.Errorf("insert %s: %w", pair[0], err)
				}
				return nil
			})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var rows, seen int
	if err := db.QueryRow(ctx, `SELECT count(*), sum(seen) FROM skew`).Scan(&rows, &seen); err != nil {
		t.Fatal(err)
	}
	if rows != 2 || seen != 1 {
		t.Errorf("%d rows that saw %d others; want 2 rows, one of which saw the other (a serial order)", rows, seen)
	}
	if db.Retries() == 0 {
		t.Errorf("no retry counted: the statements did not collide, so the test proved nothing")
	}
}

// TestInStatementReturnsOtherErrorsAsTheyAre checks that only serialization failures are
// retried: a constraint violation comes back from the one attempt on the pool.
func TestInStatementReturnsOtherErrorsAsTheyAre(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	if _, err := db.Exec(ctx, `CREATE TABLE once (k TEXT PRIMARY KEY); INSERT INTO once VALUES ('a')`); err != nil {
		t.Fatal(err)
	}
	var calls []string
	err := db.InStatement(ctx, func(q sqldb.Querier) error {
		calls = append(calls, fmt.Sprintf("%T", q))
		rows, err := q.Query(ctx, `INSERT INTO once VALUES ('a')`)
		if err == nil {
			rows.Close()
			err = rows.Err()
		}
		return err
	})
	if sqldb.SQLState(err) != "23505" || len(calls) != 1 || calls[0] != "*pgxpool.Pool" {
		t.Errorf("InStatement = %v after calls %v; want the unique violation from one attempt on the pool", err, calls)
	}
}

// TestMigrateSplitsStatementsNotCommentsAndCheckMigratedSaysWhatIsMissing applies a
// migration whose comment ends in a semicolon, and checks that CheckMigrated refuses the
// schema before it and accepts it after, changing nothing itself.
func TestMigrateSplitsStatementsNotCommentsAndCheckMigratedSaysWhatIsMissing(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	fsys := fstest.MapFS{
		"m/0001_first.sql":  {Data: []byte("-- a table;\nCREATE TABLE IF NOT EXISTS a (k INT8 PRIMARY KEY);\n-- and another one;\nCREATE TABLE IF NOT EXISTS b (k INT8 PRIMARY KEY);\n")},
		"m/0002_second.sql": {Data: []byte("ALTER TABLE a ADD COLUMN IF NOT EXISTS v INT8;\n")},
	}
	err := db.CheckMigrated(ctx, "probe", fsys, "m")
	if !errors.Is(err, sqldb.ErrSchemaBehind) || !strings.Contains(err.Error(), "version 0") || !strings.Contains(err.Error(), "needs version 2") {
		t.Errorf("CheckMigrated on an empty database: %v, want ErrSchemaBehind at version 0 of 2", err)
	}
	var tables int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&tables); err != nil || tables != 0 {
		t.Errorf("CheckMigrated left %d tables (%v), want none", tables, err)
	}
	if err := db.Migrate(ctx, "probe", fsys, "m"); err != nil {
		t.Fatal(err)
	}
	if err := db.CheckMigrated(ctx, "probe", fsys, "m"); err != nil {
		t.Errorf("CheckMigrated after Migrate: %v", err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO a (k, v) VALUES (1, 2); INSERT INTO b (k) VALUES (1)`); err != nil {
		t.Errorf("the migrated tables: %v", err)
	}
}

// TestRedactHidesPasswords checks both forms of connection string.
func TestRedactHidesPasswords(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"postgresql://app:s3cret@db:26257/ordersaga?sslmode=verify-full", "postgresql://app:xxxxx@db:26257/ordersaga?sslmode=verify-full"},
		{"host=db user=app password=s3cret dbname=ordersaga", "host=db user=app password=xxxxx dbname=ordersaga"},
		{"host=db password = 'a b\\'c' dbname=x", "host=db password = xxxxx dbname=x"},
		{"host=/tmp/pg user=postgres dbname=postgres sslmode=disable", "host=/tmp/pg user=postgres dbname=postgres sslmode=disable"},
	} {
		if got := sqldb.Redact(c.in); got != c.want || strings.Contains(got, "s3cret") {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
