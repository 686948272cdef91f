package dbtest

import (
	"context"
	"testing"

	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/sqldb"
)

// NewStore connects to a fresh database (NewDatabase) with up to maxConns connections (0:
// sqldb's default), gives it the event store's schema, and closes it when t ends.
func NewStore(t testing.TB, maxConns int32) (*sqldb.DB, *eventstore.Store) {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, sqldb.Config{URL: NewDatabase(t), MaxConns: maxConns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := eventstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	return db, eventstore.New(db)
}
