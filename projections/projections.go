// Package projections builds the CQRS read models — orders and customer balances — from
// the events the bus delivers, correctly under duplicates, redelivery, reordering and lost
// messages (DESIGN.md, invariant 4), and answers queries from them.
//
// The package has one job per file:
//
//   - readmodel.go: what a read model is, and the list of them (Types, the event types a
//     projector subscribes to, is derived from it);
//   - orders.go and balances.go: one read model each: its row, its columns, how it loads
//     and saves, and what each event it consumes changes;
//   - projector.go: the Projector, which applies delivered events (in version order,
//     filling gaps from the store, dead-lettering what cannot be applied) and reconciles
//     streams whose last messages never arrived;
//   - queries.go: ReadModels, the queries the API asks;
//   - rebuild.go and verify.go: Rebuild and Verify, which fold the whole store.
package projections

import (
	"context"
	"embed"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate creates or upgrades the read models' tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, "projections", migrations, "migrations")
}

// CheckSchema returns an error wrapping sqldb.ErrSchemaBehind unless the read models'
// tables are fully migrated; it changes nothing.
func CheckSchema(ctx context.Context, db *sqldb.DB) error {
	return db.CheckMigrated(ctx, "projections", migrations, "migrations")
}

// Store is what the projections read from the event store: to fill gaps, reconcile,
// rebuild and verify.
type Store interface {
	// ReadStream, ReadStreams: EINVALID, EUNAVAILABLE, EINTERNAL.
	ordersaga.StreamsReader
	// StreamVersions: EINVALID, EUNAVAILABLE, EINTERNAL.
	StreamVersions(ctx context.Context, streamType, afterStream string, limit int) ([]ordersaga.StreamVersion, error)
	// CountEvents: EUNAVAILABLE, EINTERNAL.
	CountEvents(ctx context.Context, streamType string) (int64, error)
}
