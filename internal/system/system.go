// Package system is ordersaga's one composition root: it builds each role — the saga
// worker (with its outbox marker and relay), the projector group, the gRPC API, the outbox
// relay and the restaurant simulator — from explicit dependencies, each with Run(ctx).
// cmd/ordersaga maps flags and environment variables to these configurations and runs
// the roles alone or, in `ordersaga dev`, all together; the tests build the roles the same
// way, so they exercise what production runs.
package system

import (
	"context"
	"log/slog"

	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/projections"
	"github.com/ordersaga/ordersaga/sqldb"
	"github.com/ordersaga/ordersaga/telemetry"
)

// Migrate creates or upgrades every component's schema (the event store, the read
// models). Only `ordersaga migrate`, dev and the long-running roles call it.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	for _, migrate := range []func(context.Context, *sqldb.DB) error{eventstore.Migrate, projections.Migrate} {
		if err := migrate(ctx, db); err != nil {
			return err
		}
	}
	return nil
}

// CheckSchema returns an error wrapping sqldb.ErrSchemaBehind, saying which schema is
// behind and what version it needs, unless every component's schema is up to date. It
// changes nothing: the read-only tools (verify, rebuild, load) call it instead of Migrate.
func CheckSchema(ctx context.Context, db *sqldb.DB) error {
	for _, check := range []func(context.Context, *sqldb.DB) error{eventstore.CheckSchema, projections.CheckSchema} {
		if err := check(ctx, db); err != nil {
			return err
		}
	}
	return nil
}

// orOff returns t, or telemetry that exports nothing when t is nil.
func orOff(t *telemetry.Telemetry) *telemetry.Telemetry {
	if t == nil {
		return telemetry.Off()
	}
	return t
}

// orDiscard returns logger, or one that discards everything when it is nil.
func orDiscard(logger *slog.Logger) *slog.Logger {
	if logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return logger
}
