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
	return NewStoreWith(t, sqldb.Config{MaxConns: maxConns})
}

// NewStoreWith is NewStore with the settings of cfg (its URL is the fresh database's).
func NewStoreWith(t testing.TB, cfg sqldb.Config) (*sqldb.DB, *eventstore.Store) {
	t.Helper()
	ctx := context.Background()
	cfg.URL = NewDatabase(t)
	db, err := sqldb.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := eventstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	return db, eventstore.New(db)
}
