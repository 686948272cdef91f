package dbtest

import (
	"context"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
)

// Store is the part of the event store that writers fold and append with (and look up
// what they appended, and keep snapshots of long streams).
type Store interface {
	Append(ctx context.Context, stream ordersaga.Stream, expected ordersaga.ExpectedVersion, events []ordersaga.EventData) (ordersaga.AppendResult, error)
	ReadStream(ctx context.Context, stream ordersaga.Stream, fromVersion int64, limit int) ([]ordersaga.RecordedEvent, error)
	EventVersion(ctx context.Context, stream ordersaga.Stream, id uuid.UUID) (int64, bool, error)
	Snapshot(ctx context.Context, stream ordersaga.Stream) (int64, []byte, error)
	SaveSnapshot(ctx context.Context, stream ordersaga.Stream, version int64, state []byte) error
}

// Contended is a real store under contention: before each of its first N appends, another
// writer appends Other(stream) to the same stream, so that an append at the version its
// writer folded loses the race. Appends counts the appends it was asked for.
type Contended struct {
	Store
	N       int
	Other   func(stream ordersaga.Stream) ordersaga.EventData
	Appends int
}

// Append appends events after another writer's event while N lasts.
func (c *Contended) Append(ctx context.Context, stream ordersaga.Stream, expected ordersaga.ExpectedVersion, events []ordersaga.EventData) (ordersaga.AppendResult, error) {
	c.Appends++
	if c.Appends <= c.N {
		if _, err := c.Store.Append(ctx, stream, ordersaga.AnyVersion, []ordersaga.EventData{c.Other(stream)}); err != nil {
			return ordersaga.AppendResult{}, err
		}
	}
	return c.Store.Append(ctx, stream, expected, events)
}
