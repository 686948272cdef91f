package system

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ordersaga/ordersaga/pglocal"
	"github.com/ordersaga/ordersaga/sqldb"
)

// TestDevPostgresStartsWhereThePostgresUserCannotEnter starts dev's PostgreSQL from a data
// directory inside a directory only its owner may enter, as `go run ./cmd/ordersaga dev`
// from a checkout in root's home does: it starts, answers at the data directory's path,
// and keeps its data across a restart.
func TestDevPostgresStartsWhereThePostgresUserCannotEnter(t *testing.T) {
	private := t.TempDir()
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(private, ".ordersaga")
	if err := os.MkdirAll(dataDir, 0o711); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pglocal.Remove(filepath.Join(dataDir, "postgres")) })
	ctx := context.Background()
	for i, sql := range []string{`CREATE TABLE kept (n INT8)`, `INSERT INTO kept VALUES (1)`} {
		cluster, url, err := startDevPostgres(ctx, dataDir)
		if err != nil {
			t.Fatalf("start %d: %v", i+1, err)
		}
		db, err := sqldb.Open(ctx, sqldb.Config{URL: url})
		if err == nil {
			_, err = db.Exec(ctx, sql)
			db.Close()
		}
		if stopErr := cluster.Stop(); stopErr != nil {
			t.Errorf("stop %d: %v", i+1, stopErr)
		}
		if err != nil {
			t.Fatalf("start %d, %s at %s: %v", i+1, sql, url, err)
		}
	}
}
