package eventstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/sqldb"
)

// noted appends n events, one at a time, over 3 streams named after prefix, and returns
// their positions.
func noted(t *testing.T, f fixture, prefix string, n int) []int64 {
	t.Helper()
	var positions []int64
	for i := range n {
		res := mustAppend(t, f.store, fmt.Sprintf("%s-%d", prefix, i%3), ordersaga.AnyVersion, event("order-noted", `{}`))
		positions = append(positions, res.Events[0].Position)
	}
	return positions
}

// fill appends perStream events to each of streams new streams named after prefix, a
// stream per append.
func fill(t *testing.T, f fixture, prefix string, streams, perStream int) {
	t.Helper()
	for i := range streams {
		batch := make([]ordersaga.EventData, perStream)
		for j := range batch {
			batch[j] = event("order-noted", `{}`)
		}
		mustAppend(t, f.store, fmt.Sprintf("%s-%d", prefix, i), ordersaga.NoStream, batch...)
	}
}

// positionsOf returns the positions of events.
func positionsOf(events []ordersaga.RecordedEvent) []int64 {
	p := make([]int64, len(events))
	for i, e := range events {
		p[i] = e.Position
	}
	return p
}

// TestRelaysClaimDisjointBatchesAndTakeOverExpiredOnes: of 10 events in the outbox, relay a
// claims the first 4 and b the next 4 (not a's); a claims its own 4 again (a retry after a
// failed publish), b's lease runs out and a takes those too; released events are anyone's
// at once; nothing younger than the grace period is claimed; bad arguments are refused
// naming the field, and the limits themselves (an owner of 200 bytes, a lease of 0) taken.
func TestRelaysClaimDisjointBatchesAndTakeOverExpiredOnes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	positions := noted(t, f, "order-claim", 10)
	claim := func(owner string, lease time.Duration, limit int) []int64 {
		t.Helper()
		events, err := f.store.Claim(ctx, owner, 0, lease, limit)
		if err != nil {
			t.Fatal(err)
		}
		return positionsOf(events)
	}
	if fresh, err := f.store.Claim(ctx, "a", time.Hour, time.Minute, 100); err != nil || len(fresh) != 0 {
		t.Errorf("with a one-hour grace period: %d events, %v; want none", len(fresh), err)
	}
	if got := claim("a", time.Minute, 4); !slices.Equal(got, positions[:4]) {
		t.Errorf("a claims %v, want the first 4 %v", got, positions[:4])
	}
	if got := claim("b", 300*time.Millisecond, 4); !slices.Equal(got, positions[4:8]) {
		t.Errorf("b claims %v, want the next 4 %v", got, positions[4:8])
	}
	if got := claim("a", time.Minute, 4); !slices.Equal(got, positions[:4]) {
		t.Errorf("a claims again %v, want its own 4 %v", got, positions[:4])
	}
	if got := claim("c", time.Minute, 100); !slices.Equal(got, positions[8:]) {
		t.Errorf("c claims %v, want the 2 nobody holds %v", got, positions[8:])
	}
	time.Sleep(400 * time.Millisecond) // b's lease runs out
	if got := claim("a", time.Minute, 100); !slices.Equal(got, positions[:8]) {
		t.Errorf("after b's lease ran out a claims %v, want its own and b's %v", got, positions[:8])
	}
	if err := f.store.Release(ctx, "c", positions[8:]); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Release(ctx, "c", positions[:2]); err != nil { // a's: left alone
		t.Fatal(err)
	}
	// The limits themselves are accepted: an owner of MaxOwnerLength bytes, a lease of 0
	// (a claim anyone may take at once).
	longest := strings.Repeat("o", eventstore.MaxOwnerLength)
	if got, err := f.store.Claim(ctx, longest, 0, 0, 100); err != nil || len(got) != 2 {
		t.Errorf("a claim by an owner of %d bytes with no lease: %d events, %v; want the 2 c released", len(longest), len(got), err)
	}
	if got := claim("d", time.Minute, 100); !slices.Equal(got, positions[8:]) {
		t.Errorf("after c released its 2, d claims %v, want them %v", got, positions[8:])
	}
	if err := f.store.MarkPublished(ctx, positions[:8]); err != nil {
		t.Fatal(err)
	}
	if got := claim("a", time.Minute, 100); len(got) != 0 {
		t.Errorf("a claims %v after marking its events, want none", got)
	}

	for _, tc := range []struct {
		owner            string
		olderThan, lease time.Duration
		limit            int
		field            string
	}{
		{"", 0, time.Second, 10, "owner"},
		{strings.Repeat("x", eventstore.MaxOwnerLength+1), 0, time.Second, 10, "owner"},
		{"relay\x00a", 0, time.Second, 10, "owner"},
		{"relay\xff", 0, time.Second, 10, "owner"},
		{"a", -time.Second, time.Second, 10, "older_than"},
		{"a", 0, -time.Second, 10, "lease"},
		{"a", 0, time.Second, 0, "limit"},
		{"a", 0, time.Second, eventstore.MaxReadLimit + 1, "limit"},
	} {
		_, err := f.store.Claim(ctx, tc.owner, tc.olderThan, tc.lease, tc.limit)
		if ordersaga.ErrorCode(err) != ordersaga.EINVALID || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("Claim(%.10q, %s, %s, %d) = %v, want invalid naming %s", tc.owner, tc.olderThan, tc.lease, tc.limit, err, tc.field)
		}
	}
	if err := f.store.Release(ctx, "", positions); ordersaga.ErrorCode(err) != ordersaga.EINVALID {
		t.Errorf("Release without an owner: %v, want invalid", err)
	}
}

// TestConcurrentClaimsNeverShareAnEvent: 8 relays claim batches of 7 from 300 events at
// once, marking what they claimed, until the outbox is empty: every event is claimed by
// exactly one of them.
func TestConcurrentClaimsNeverShareAnEvent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	fill(t, f, "order-concurrent", 30, 10)
	var mu sync.Mutex
	claimedBy := map[int64][]string{}
	var wg sync.WaitGroup
	for r := range 8 {
		owner := fmt.Sprintf("relay-%d", r)
		wg.Go(func() {
			for {
				events, err := f.store.Claim(ctx, owner, 0, time.Minute, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(events) == 0 {
					return
				}
				mu.Lock()
				for _, e := range events {
					claimedBy[e.Position] = append(claimedBy[e.Position], owner)
				}
				mu.Unlock()
				if err := f.store.MarkPublished(ctx, positionsOf(events)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(claimedBy) != 300 {
		t.Errorf("%d events claimed, want 300", len(claimedBy))
	}
	for position, owners := range claimedBy {
		if len(owners) != 1 {
			t.Errorf("event at %d claimed by %v, want one relay", position, owners)
		}
	}
	if _, outbox := f.counts(t); outbox != 0 {
		t.Errorf("%d events left in the outbox, want none", outbox)
	}
}

// TestAClaimReadsAboutABatchHoweverLongTheOutbox fills the outbox with 20,000 events over
// 200 streams, lets PostgreSQL gather its statistics, and asks how it runs Claim: by
// indexes only (the outbox's in position order, the events' by position), with no
// sequential scan, so that a claim's cost does not grow with the backlog (a claim that
// joined the outbox to the events read both tables whole).
func TestAClaimReadsAboutABatchHoweverLongTheOutbox(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	fill(t, f, "order-long", 200, 100)
	if _, err := f.db.Exec(ctx, "ANALYZE events, event_outbox"); err != nil {
		t.Fatal(err)
	}
	var text string
	err := f.db.InStatement(ctx, func(q sqldb.Querier) (err error) {
		text, err = dbtest.Plan(ctx, q, "EXPLAIN "+eventstore.ClaimSQL, "relay-a", int64(30e6), int64(0), 200)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, "Seq Scan") || !strings.Contains(text, "event_outbox_pkey") || !strings.Contains(text, "events_position_key") {
		t.Errorf("Claim's plan:\n%s\nwant index scans of event_outbox_pkey and events_position_key, no sequential scan", text)
	}
}
