package api_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/api"
	"github.com/ordersaga/ordersaga/auth"
	"github.com/ordersaga/ordersaga/eventstore"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/menus"
	"github.com/ordersaga/ordersaga/payments"
	"github.com/ordersaga/ordersaga/projections"
	"github.com/ordersaga/ordersaga/sqldb"
)

// countingStore counts the store reads the API makes: of events, and of streams' versions.
type countingStore struct {
	api.EventStore
	reads, versions atomic.Int64
}

func (c *countingStore) ReadStream(ctx context.Context, stream ordersaga.Stream, from int64, limit int) ([]ordersaga.RecordedEvent, error) {
	c.reads.Add(1)
	return c.EventStore.ReadStream(ctx, stream, from, limit)
}

func (c *countingStore) StreamVersion(ctx context.Context, stream ordersaga.Stream) (int64, error) {
	c.versions.Add(1)
	return c.EventStore.StreamVersion(ctx, stream)
}

// serveCountingStoreReads serves the API on an empty database, counting the reads of its
// event store, and returns the database too.
func serveCountingStoreReads(t *testing.T) (as func(auth.Principal) *grpc.ClientConn, store *countingStore, db *sqldb.DB) {
	url := dbtest.NewDatabase(t)
	as = serveFor(t, url, func(cfg *api.Config) {
		var err error
		db, err = sqldb.Open(context.Background(), sqldb.Config{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		events := eventstore.New(db)
		store = &countingStore{EventStore: events}
		cfg.Store, cfg.Sagas, cfg.ReadModels = store, noSagas{}, projections.NewReadModels(db)
		cfg.Accounts, cfg.Menus = payments.Accounts{Store: events}, menus.Menus{Store: events}
	})
	return as, store, db
}

// Who an order belongs to is read from its first event once: later calls about it read
// nothing, and still refuse those it does not belong to. An order not there yet is not
// remembered as missing.
func TestAnOrdersPartiesAreReadOnce(t *testing.T) {
	ctx := context.Background()
	as, store, _ := serveCountingStoreReads(t)
	alice := auth.Principal{Role: auth.Customer, ID: "alice"}
	aliceClient := ordersagav1.NewOrderServiceClient(as(alice))
	bobClient := ordersagav1.NewOrderServiceClient(as(bob))
	// A version the store has not got: the parties are read, then the store's version.
	beyond := func(c ordersagav1.OrderServiceClient, order string) codes.Code {
		_, err := c.GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: order, MinVersion: 99})
		return status.Code(err)
	}
	if got := beyond(aliceClient, "later"); got != codes.PermissionDenied {
		t.Fatalf("an order not there yet: %v, want PermissionDenied", got)
	}
	created, _ := json.Marshal(ordersaga.OrderCreated{OrderID: "later", CustomerID: alice.ID, RestaurantID: "r-7", Currency: "EUR",
		Items: []ordersaga.Item{{ID: "pizza", Name: "Pizza", UnitPrice: 1000, Quantity: 1}}, Amount: 1000})
	stream, _ := ordersaga.OrderStream("later")
	if _, err := store.Append(ctx, stream, ordersaga.NoStream, []ordersaga.EventData{{ID: uuid.New(), Type: ordersaga.EventOrderCreated, Data: created}}); err != nil {
		t.Fatal(err)
	}
	before := store.reads.Load()
	for range 3 {
		if got := beyond(aliceClient, "later"); got != codes.FailedPrecondition {
			t.Fatalf("alice's own order: %v, want FailedPrecondition (version 99 not written)", got)
		}
		if got := beyond(bobClient, "later"); got != codes.PermissionDenied {
			t.Fatalf("bob asks about alice's order: %v, want PermissionDenied", got)
		}
	}
	if reads := store.reads.Load() - before; reads != 1 {
		t.Errorf("six calls about one order read the store %d times, want once", reads)
	}
}

// A GetOrder with a min_version the read model has reached already is answered from the
// read model alone, to the order's parties, and refused to others; one it has not reached
// asks the store whether that version exists.
func TestAnOrderTheReadModelHasReachedIsReadWithoutTheStore(t *testing.T) {
	ctx := context.Background()
	as, store, db := serveCountingStoreReads(t)
	if err := projections.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	projector := projections.New(db, eventstore.New(db), nil)
	created, _ := json.Marshal(ordersaga.OrderCreated{OrderID: "seen", CustomerID: "alice", RestaurantID: "r-7", Currency: "EUR",
		Items: []ordersaga.Item{{ID: "pizza", Name: "Pizza", UnitPrice: 1000, Quantity: 1}}, Amount: 1000})
	stream, _ := ordersaga.OrderStream("seen")
	if _, err := store.EventStore.Append(ctx, stream, ordersaga.NoStream, []ordersaga.EventData{{ID: uuid.New(), Type: ordersaga.EventOrderCreated, Data: created}}); err != nil {
		t.Fatal(err)
	}
	stored, err := store.EventStore.ReadStream(ctx, stream, 1, 1)
	if err != nil || len(stored) != 1 {
		t.Fatalf("the order's event: %v, %v", stored, err)
	}
	if err := projector.Apply(ctx, stored[0]); err != nil {
		t.Fatal(err)
	}
	get := func(who auth.Principal, minVersion int64) codes.Code {
		_, err := ordersagav1.NewOrderServiceClient(as(who)).GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: "seen", MinVersion: minVersion})
		return status.Code(err)
	}
	for _, c := range []struct {
		who        auth.Principal
		minVersion int64
		want       codes.Code
		// What it reads from the store: the order's first event for its parties, and the
		// stream's version.
		reads, versions int64
	}{
		{auth.Principal{Role: auth.Customer, ID: "alice"}, 1, codes.OK, 0, 0},
		{auth.Principal{Role: auth.Restaurant, ID: "r-7"}, 1, codes.OK, 0, 0},
		{bob, 1, codes.PermissionDenied, 0, 0},
		{auth.Principal{Role: auth.Restaurant, ID: "r-8"}, 1, codes.PermissionDenied, 0, 0},
		// Beyond the read model: the parties (read once, then kept) and the store's version.
		{auth.Principal{Role: auth.Customer, ID: "alice"}, 2, codes.FailedPrecondition, 1, 1},
		{auth.Principal{Role: auth.Customer, ID: "alice"}, 2, codes.FailedPrecondition, 0, 1},
		{bob, 2, codes.PermissionDenied, 0, 0},
	} {
		reads, versions := store.reads.Load(), store.versions.Load()
		if got := get(c.who, c.minVersion); got != c.want {
			t.Errorf("%s asks for version %d: %v, want %v", c.who.ID, c.minVersion, got, c.want)
		}
		reads, versions = store.reads.Load()-reads, store.versions.Load()-versions
		if reads != c.reads || versions != c.versions {
			t.Errorf("%s asks for version %d: %d event reads and %d version reads of the store, want %d and %d",
				c.who.ID, c.minVersion, reads, versions, c.reads, c.versions)
		}
	}
}
