package eventstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ordersaga/ordersaga"
)

// debitAndRecord is the saga's pair: a debit of the account, and the order's record of it.
func debitAndRecord(account ordersaga.ExpectedVersion, order ordersaga.ExpectedVersion, n int) []ordersaga.StreamAppend {
	return []ordersaga.StreamAppend{
		{Stream: ordersaga.MustParseStream("customer-c1"), Expected: account, Events: []ordersaga.EventData{event("account-debited", fmt.Sprintf(`{"n": %d}`, n))}},
		{Stream: ordersaga.MustParseStream("order-o1"), Expected: order, Events: []ordersaga.EventData{event("order-payment-debited", fmt.Sprintf(`{"n": %d}`, n))}},
	}
}

// TestAnAppendToTwoStreamsLandsWholeOrNotAtAll appends to an account and an order at
// once: both land, versioned and queued in the outbox; with one stream's expectation
// stale, neither does; the same append again is a duplicate that writes nothing.
func TestAnAppendToTwoStreamsLandsWholeOrNotAtAll(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	mustAppend(t, f.store, "customer-c1", ordersaga.NoStream, event("account-credited", `{}`))
	mustAppend(t, f.store, "order-o1", ordersaga.NoStream, event("order-created", `{}`))

	pair := debitAndRecord(1, ordersaga.AnyVersion, 1)
	res, err := f.store.AppendStreams(ctx, pair)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].LastVersion() != 2 || res[1].LastVersion() != 2 || res[0].Duplicate {
		t.Errorf("results = %+v, want version 2 of each stream", res)
	}
	if events, outbox := f.counts(t); events != 4 || outbox != 4 {
		t.Errorf("%d events, %d in the outbox; want 4 and 4", events, outbox)
	}
	again, err := f.store.AppendStreams(ctx, pair)
	if err != nil || !again[0].Duplicate || !again[1].Duplicate || again[0].Events[0].Position != res[0].Events[0].Position {
		t.Errorf("the same append again = %+v, %v; want a duplicate with the first positions", again, err)
	}
	// The account moved on: a debit checked at version 1 must not land, nor its record.
	_, err = f.store.AppendStreams(ctx, debitAndRecord(1, ordersaga.AnyVersion, 2))
	wantCode(t, err, ordersaga.ECONFLICT)
	_, err = f.store.AppendStreams(ctx, debitAndRecord(2, 5, 3))
	wantCode(t, err, ordersaga.ECONFLICT)
	if events, outbox := f.counts(t); events != 4 || outbox != 4 {
		t.Errorf("after the refused appends: %d events, %d in the outbox; want still 4 and 4", events, outbox)
	}
	// Half of an earlier append given again is refused: a retry must be the same append.
	_, err = f.store.AppendStreams(ctx, append(pair[:1:1], debitAndRecord(ordersaga.AnyVersion, ordersaga.AnyVersion, 4)[1]))
	wantCode(t, err, ordersaga.ECONFLICT)
}

// TestRacingTwoStreamAppendsNeverSplit races debits of one account at the version each
// read, each with its order's record: exactly one debit lands per account version, every
// landed debit has its record and no refused one has, and versions stay gap-free.
func TestRacingTwoStreamAppendsNeverSplit(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	mustAppend(t, f.store, "customer-c1", ordersaga.NoStream, event("account-credited", `{}`))
	const writers = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	landed := 0
	for w := range writers {
		wg.Go(func() {
			for try := 0; try < 50; try++ {
				v, err := f.store.StreamVersion(ctx, ordersaga.MustParseStream("customer-c1"))
				if err != nil {
					t.Error(err)
					return
				}
				appends := []ordersaga.StreamAppend{
					{Stream: ordersaga.MustParseStream("customer-c1"), Expected: ordersaga.ExpectedVersion(v), Events: []ordersaga.EventData{event("account-debited", fmt.Sprintf(`{"w": %d}`, w))}},
					{Stream: ordersaga.MustParseStream(fmt.Sprintf("order-w%d", w)), Expected: ordersaga.NoStream, Events: []ordersaga.EventData{event("order-payment-debited", fmt.Sprintf(`{"w": %d}`, w))}},
				}
				_, err = f.store.AppendStreams(ctx, appends)
				if err == nil {
					mu.Lock()
					landed++
					mu.Unlock()
					return
				}
				if code := ordersaga.ErrorCode(err); code != ordersaga.ECONFLICT && code != ordersaga.EUNAVAILABLE {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	account, err := f.store.ReadStream(ctx, ordersaga.MustParseStream("customer-c1"), 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range account {
		if e.Version != int64(i+1) {
			t.Fatalf("account event %d has version %d: not gap-free", i, e.Version)
		}
	}
	if len(account) != 1+landed {
		t.Errorf("account has %d events, want the credit and %d debits", len(account), landed)
	}
	for w := range writers {
		v, err := f.store.StreamVersion(ctx, ordersaga.MustParseStream(fmt.Sprintf("order-w%d", w)))
		if err != nil || v != 1 {
			t.Errorf("order of writer %d at version %d (%v); every writer landed in the end, so want 1", w, v, err)
		}
	}
	if events, outbox := f.counts(t); landed != writers || events != 1+2*writers || outbox != events {
		t.Errorf("%d landed, %d events, %d in the outbox; want %d, %d, all of them", landed, events, outbox, writers, 1+2*writers)
	}
}

func TestAnAppendToStreamsRefusesWhatAppendRefuses(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	one := debitAndRecord(ordersaga.AnyVersion, ordersaga.AnyVersion, 1)
	for name, appends := range map[string][]ordersaga.StreamAppend{
		"no stream":            nil,
		"a stream named twice": {one[0], {Stream: one[0].Stream, Expected: ordersaga.AnyVersion, Events: []ordersaga.EventData{event("x", `{}`)}}},
		"an event id twice":    {one[0], {Stream: one[1].Stream, Expected: ordersaga.AnyVersion, Events: one[0].Events}},
		"no events":            {one[0], {Stream: one[1].Stream, Expected: ordersaga.AnyVersion}},
		"a bad version":        {one[0], {Stream: one[1].Stream, Expected: -2, Events: one[1].Events}},
	} {
		_, err := f.store.AppendStreams(ctx, appends)
		if ordersaga.ErrorCode(err) != ordersaga.EINVALID {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	if events, _ := f.counts(t); events != 0 {
		t.Errorf("refused appends wrote %d events", events)
	}
}

// TestALongReasonIsParkedWhole cuts a reason past its limit inside a multi-byte
// character: the park still lands (half a character is text PostgreSQL refuses).
func TestALongReasonIsParkedWhole(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	res := mustAppend(t, f.store, "order-p1", ordersaga.NoStream, event("order-created", `{}`))
	if err := f.store.Park(ctx, res.Events[0].Position, "x"+strings.Repeat("é", 600)); err != nil {
		t.Fatal(err)
	}
	parked, err := f.store.Parked(ctx, 10)
	if err != nil || len(parked) != 1 {
		t.Fatalf("parked = %v, %v; want the one event", parked, err)
	}
}
