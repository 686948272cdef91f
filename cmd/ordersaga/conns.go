package main

import (
	"context"
	"errors"
	"log/slog"

	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/sqldb"
)

// conns are the connections a role opens. Roles embed them and close them with close.
type conns struct {
	pool           *sqldb.DB
	conn           eventbus.Bus
	temporalClient client.Client
}

// open connects to what the role uses: the database always (migrating it), the bus and
// Temporal when their flags are given.
func (c *conns) open(ctx context.Context, logger *slog.Logger, db *databaseFlags, bus *busFlags, tf *temporalFlags) error {
	var err error
	if c.pool, err = db.open(ctx, db.url); err != nil {
		return err
	}
	if bus != nil {
		if c.conn, err = bus.open(ctx, logger); err != nil {
			return err
		}
	}
	if tf != nil {
		if c.temporalClient, err = tf.dial(ctx, logger); err != nil {
			return err
		}
	}
	return nil
}

// close closes whatever was opened, the Temporal client and the bus before the database.
func (c *conns) close() error {
	var errs []error
	if c.temporalClient != nil {
		c.temporalClient.Close()
	}
	if c.conn != nil {
		errs = append(errs, c.conn.Close())
	}
	if c.pool != nil {
		c.pool.Close()
	}
	return errors.Join(errs...)
}
