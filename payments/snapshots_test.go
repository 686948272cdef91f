package payments_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/payments"
)

// readCounter is a store that counts the events its stream reads return and the
// snapshots saved through it.
type readCounter struct {
	payments.Store
	mu          sync.Mutex
	read, saved int
}

func (c *readCounter) SaveSnapshot(ctx context.Context, stream ordersaga.Stream, version int64, state []byte) error {
	c.mu.Lock()
	c.saved++
	c.mu.Unlock()
	return c.Store.SaveSnapshot(ctx, stream, version, state)
}

func (c *readCounter) ReadStream(ctx context.Context, stream ordersaga.Stream, from int64, limit int) ([]ordersaga.RecordedEvent, error) {
	events, err := c.Store.ReadStream(ctx, stream, from, limit)
	c.mu.Lock()
	c.read += len(events)
	c.mu.Unlock()
	return events, err
}

// foldWhole folds the customer's account from its first event, with no snapshot.
func foldWhole(t *testing.T, store payments.Store, customer string) ordersaga.Account {
	t.Helper()
	events, err := ordersaga.ReadWholeStream(context.Background(), store, ordersaga.MustParseStream("customer-"+customer))
	if err != nil {
		t.Fatal(err)
	}
	account, err := ordersaga.FoldAccount(customer, events)
	if err != nil {
		t.Fatal(err)
	}
	return account
}

// TestAFoldWithNothingCachedReadsOnlyPastTheSnapshot appends 400 entries to an account,
// folding it every 7 with snapshots every 50 events: 7 snapshots are saved (at 57, 113,
// ..., 393), a fold with nothing cached then reads fewer than 50 events and equals the
// fold from the first event; the snapshot kept is within 50 events of the end and equals
// the fold of the stream up to its version.
func TestAFoldWithNothingCachedReadsOnlyPastTheSnapshot(t *testing.T) {
	plain := newAccounts(t)
	store := plain.Store
	ctx := context.Background()
	saving := &readCounter{Store: store}
	accounts := payments.Accounts{Store: saving, Cache: payments.NewAccountCache(0), SnapshotEvery: 50}
	if _, err := accounts.Credit(ctx, "c-long", 1_000_000, "EUR", "opening"); err != nil {
		t.Fatal(err)
	}
	for i := range 399 {
		typ := ordersaga.EventAccountDebited
		if i%3 == 2 {
			typ = ordersaga.EventAccountRefunded
		}
		appendEntry(t, store, "c-long", typ, int64(100+i))
		if i%7 == 0 {
			if _, err := accounts.Get(ctx, "c-long"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if saving.saved != 7 {
		t.Errorf("%d snapshots saved, want 7 (one each time a fold got 50 events past the last)", saving.saved)
	}
	counted := &readCounter{Store: store}
	got, err := payments.Accounts{Store: counted, SnapshotEvery: 50}.Get(ctx, "c-long")
	if err != nil {
		t.Fatal(err)
	}
	want := foldWhole(t, store, "c-long")
	if got != want || want.Version != 400 {
		t.Fatalf("fold from the snapshot %+v, from the first event %+v (want version 400)", got, want)
	}
	if counted.read >= 50 {
		t.Errorf("a fold with nothing cached read %d events, want fewer than 50", counted.read)
	}
	version, _, err := store.Snapshot(ctx, ordersaga.MustParseStream("customer-c-long"))
	if err != nil || version <= 350 {
		t.Fatalf("snapshot of version %d (%v), want one within 50 events of 400", version, err)
	}
	checkSnapshot(t, store, "c-long")
}

// checkSnapshot fails unless the customer's snapshot is the fold of their stream up to its
// version.
func checkSnapshot(t *testing.T, store payments.Store, customer string) {
	t.Helper()
	ctx := context.Background()
	stream := ordersaga.MustParseStream("customer-" + customer)
	version, _, err := store.Snapshot(ctx, stream)
	if err != nil || version == 0 {
		t.Fatalf("%s: snapshot of version %d (%v), want one", customer, version, err)
	}
	events, err := ordersaga.ReadWholeStream(ctx, store, stream)
	if err != nil {
		t.Fatal(err)
	}
	prefix, err := ordersaga.FoldAccount(customer, events[:version])
	if err != nil {
		t.Fatal(err)
	}
	// A fold whose newer events are all after version starts from the snapshot alone.
	fromSnapshot, err := payments.Accounts{Store: stoppedAt{store, version}}.Get(ctx, customer)
	if err != nil {
		t.Fatal(err)
	}
	if fromSnapshot != prefix {
		t.Errorf("%s: the snapshot of version %d holds %+v, the stream up to it folds to %+v", customer, version, fromSnapshot, prefix)
	}
}

// stoppedAt is a store whose streams end at version: what a reader saw then.
type stoppedAt struct {
	payments.Store
	version int64
}

func (s stoppedAt) ReadStream(ctx context.Context, stream ordersaga.Stream, from int64, limit int) ([]ordersaga.RecordedEvent, error) {
	events, err := s.Store.ReadStream(ctx, stream, from, limit)
	for i, e := range events {
		if e.Version > s.version {
			return events[:i], err
		}
	}
	return events, err
}

// TestSnapshotsStayTrueUnderConcurrentWriters has six writers, each as its own process
// (no cache shared), credit one account 20 times each and fold it after every credit,
// saving snapshots every 3 events: the account ends at 120 credits of 10, folded alike
// from its snapshot and from its first event, and its snapshot is the fold of the stream
// up to its version.
func TestSnapshotsStayTrueUnderConcurrentWriters(t *testing.T) {
	plain := newAccounts(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			process := payments.Accounts{Store: plain.Store, Cache: payments.NewAccountCache(0), SnapshotEvery: 3}
			for i := range 20 {
				if _, err := process.Credit(ctx, "c-shared", 10, "EUR", fmt.Sprintf("w%d-%d", w, i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := payments.Accounts{Store: plain.Store, SnapshotEvery: 3}.Get(ctx, "c-shared")
	if err != nil {
		t.Fatal(err)
	}
	if want := foldWhole(t, plain.Store, "c-shared"); got != want || got.Balance != 1200 || got.Version != 120 {
		t.Errorf("from the snapshot %+v, from the first event %+v; want 1200 at version 120", got, want)
	}
	checkSnapshot(t, plain.Store, "c-shared")
}

// TestASnapshotThatDoesNotDecodeIsFoldedPast: an account whose snapshot holds something
// else than an account is folded from its first event, rightly.
func TestASnapshotThatDoesNotDecodeIsFoldedPast(t *testing.T) {
	plain := newAccounts(t)
	ctx := context.Background()
	for i := range 3 {
		if _, err := plain.Credit(ctx, "c-odd", 100, "EUR", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := plain.Store.SaveSnapshot(ctx, ordersaga.MustParseStream("customer-c-odd"), 2, []byte(`"not an account"`)); err != nil {
		t.Fatal(err)
	}
	got, err := plain.Get(ctx, "c-odd")
	if err != nil {
		t.Fatal(err)
	}
	if got.Balance != 300 || got.Version != 3 || got.Currency != "EUR" {
		t.Errorf("account %+v, want 300 EUR at version 3", got)
	}
}

// TestASnapshotIsSavedEvery200EventsByDefault: a fold 199 events past the start saves no
// snapshot; one 200 events past it saves one, at 200.
func TestASnapshotIsSavedEvery200EventsByDefault(t *testing.T) {
	plain := newAccounts(t)
	ctx := context.Background()
	stream := ordersaga.MustParseStream("customer-c-default")
	if _, err := plain.Credit(ctx, "c-default", 1_000_000, "EUR", "opening"); err != nil {
		t.Fatal(err)
	}
	for range 198 {
		appendEntry(t, plain.Store, "c-default", ordersaga.EventAccountDebited, 1)
	}
	if _, err := plain.Get(ctx, "c-default"); err != nil {
		t.Fatal(err)
	}
	if v, _, err := plain.Store.Snapshot(ctx, stream); err != nil || v != 0 {
		t.Fatalf("199 events: snapshot at %d (%v), want none", v, err)
	}
	appendEntry(t, plain.Store, "c-default", ordersaga.EventAccountDebited, 1)
	if _, err := plain.Get(ctx, "c-default"); err != nil {
		t.Fatal(err)
	}
	if v, _, err := plain.Store.Snapshot(ctx, stream); err != nil || v != payments.DefaultSnapshotEvery {
		t.Fatalf("200 events: snapshot at %d (%v), want one at %d", v, err, payments.DefaultSnapshotEvery)
	}
}
