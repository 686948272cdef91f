package main

import (
	"errors"

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
