package sqldb_test

import (
	"context"
	"strings"
	"testing"
)

func TestTopStatementsCountsWhatRanSinceTheReset(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	if err := db.ResetStatementStats(ctx); err != nil {
		t.Fatal(err) // pglocal preloads pg_stat_statements
	}
	if _, err := db.Exec(ctx, "CREATE TABLE stmt_probe (n INT8)"); err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		if _, err := db.Exec(ctx, "INSERT INTO stmt_probe (n) VALUES ($1)", i); err != nil {
			t.Fatal(err)
		}
	}
	top, err := db.TopStatements(ctx, 50)
	if err != nil {
		t.Fatal(err)
	}
	var calls, rows int64
	for _, s := range top {
		if strings.HasPrefix(s.Query, "INSERT INTO stmt_probe") {
			calls, rows = s.Calls, s.Rows
		}
	}
	if calls != 7 || rows != 7 {
		t.Errorf("INSERT INTO stmt_probe: %d calls, %d rows; want 7 and 7 (statements: %+v)", calls, rows, top)
	}
	if err := db.ResetStatementStats(ctx); err != nil {
		t.Fatal(err)
	}
	if top, _ := db.TopStatements(ctx, 50); len(top) > 2 { // the reset itself may show
		t.Errorf("after a reset: %+v", top)
	}
}
