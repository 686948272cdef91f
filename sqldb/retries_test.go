package sqldb_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ordersaga/ordersaga/sqldb"
)

// TestEveryRestartIsCountedOnce: a transaction and a statement that each meet one
// serialization failure run twice and count one retry each; clean runs count none.
func TestEveryRestartIsCountedOnce(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	failOnce := func(calls *int) error {
		if *calls++; *calls == 1 {
			return &pgconn.PgError{Code: "40001", Message: "planted serialization failure"}
		}
		return nil
	}
	if err := db.InTx(ctx, func(pgx.Tx) error { return nil }); err != nil || db.Retries() != 0 {
		t.Fatalf("a clean transaction: %v, %d retries counted", err, db.Retries())
	}
	var txCalls, stmtCalls int
	if err := db.InTx(ctx, func(pgx.Tx) error { return failOnce(&txCalls) }); err != nil || txCalls != 2 || db.Retries() != 1 {
		t.Errorf("a transaction failing once: %v after %d calls, %d retries counted; want success after 2 calls, 1 retry", err, txCalls, db.Retries())
	}
	if err := db.InStatement(ctx, func(sqldb.Querier) error { return nil }); err != nil || db.Retries() != 1 {
		t.Errorf("a clean statement: %v, %d retries counted in all; want still 1", err, db.Retries())
	}
	if err := db.InStatement(ctx, func(sqldb.Querier) error { return failOnce(&stmtCalls) }); err != nil || stmtCalls != 2 || db.Retries() != 2 {
		t.Errorf("a statement failing once: %v after %d calls, %d retries counted in all; want success after 2 calls, 2 retries", err, stmtCalls, db.Retries())
	}
}

// TestMigrateRefusesBadFilesAndDoesNotRetryABrokenStatement: a migration numbered 0, and
// two with one number, are refused before anything runs; a migration that fails for a
// reason other than a race with another migrator is run once, not again and again.
func TestMigrateRefusesBadFilesAndDoesNotRetryABrokenStatement(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	for name, fsys := range map[string]fstest.MapFS{
		"is not named":   {"m/0000_zero.sql": {Data: []byte("CREATE TABLE IF NOT EXISTS zero (k INT8);\n")}},
		"two migrations": {"m/0001_a.sql": {Data: []byte("SELECT 1;\n")}, "m/001_b.sql": {Data: []byte("SELECT 2;\n")}},
	} {
		if err := db.Migrate(ctx, "bad", fsys, "m"); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Migrate = %v, want an error saying %q", err, name)
		}
	}
	broken := fstest.MapFS{"m/0001_broken.sql": {Data: []byte(
		"CREATE TABLE IF NOT EXISTS tries (n INT8);\nINSERT INTO tries VALUES (1);\nSELECT no_such_column FROM tries;\n")}}
	err := db.Migrate(ctx, "broken", broken, "m")
	if sqldb.SQLState(err) != "42703" {
		t.Fatalf("Migrate = %v, want the undefined column", err)
	}
	var tries int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM tries`).Scan(&tries); err != nil || tries != 1 {
		t.Errorf("the broken migration ran %d times (%v), want once", tries, err)
	}
	var tables int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_name = 'zero'`).Scan(&tables); err != nil || tables != 0 {
		t.Errorf("the refused migration created %d tables (%v), want none", tables, err)
	}
}
