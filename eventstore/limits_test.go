package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventstore"
)

// TestAppendsTakeExactlyTheMostAllowed: an append of MaxEventsPerAppend events lands,
// versioned 1..n and all queued; one of MaxStreamsPerAppend streams lands whole; one more
// of either is refused, writing nothing.
func TestAppendsTakeExactlyTheMostAllowed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	events := func(n int) []ordersaga.EventData {
		out := make([]ordersaga.EventData, n)
		for i := range out {
			out[i] = event("order-created", fmt.Sprintf(`{"n":%d}`, i))
		}
		return out
	}
	res, err := f.store.Append(ctx, ordersaga.MustParseStream("order-most"), ordersaga.NoStream, events(ordersaga.MaxEventsPerAppend))
	if err != nil || len(res.Events) != ordersaga.MaxEventsPerAppend || res.Events[ordersaga.MaxEventsPerAppend-1].Version != ordersaga.MaxEventsPerAppend {
		t.Fatalf("append of %d events: %d appended, %v", ordersaga.MaxEventsPerAppend, len(res.Events), err)
	}
	_, err = f.store.Append(ctx, ordersaga.MustParseStream("order-too-many"), ordersaga.NoStream, events(ordersaga.MaxEventsPerAppend+1))
	wantCode(t, err, ordersaga.EINVALID)

	appends := func(n int) []ordersaga.StreamAppend {
		out := make([]ordersaga.StreamAppend, n)
		for i := range out {
			out[i] = ordersaga.StreamAppend{Stream: ordersaga.MustParseStream(fmt.Sprintf("order-s%d-%d", n, i)), Expected: ordersaga.NoStream,
				Events: events(1)}
		}
		return out
	}
	results, err := f.store.AppendStreams(ctx, appends(eventstore.MaxStreamsPerAppend))
	if err != nil || len(results) != eventstore.MaxStreamsPerAppend {
		t.Fatalf("append to %d streams: %d results, %v", eventstore.MaxStreamsPerAppend, len(results), err)
	}
	_, err = f.store.AppendStreams(ctx, appends(eventstore.MaxStreamsPerAppend+1))
	wantCode(t, err, ordersaga.EINVALID)
	if events, outbox := f.counts(t); events != ordersaga.MaxEventsPerAppend+eventstore.MaxStreamsPerAppend || outbox != events {
		t.Errorf("%d events and %d in the outbox, want %d of each", events, outbox, ordersaga.MaxEventsPerAppend+eventstore.MaxStreamsPerAppend)
	}
}

// collide makes every insert into stream fail as if another writer had just taken its
// next version (a unique violation), counting the attempts in a sequence, which a failed
// statement does not roll back. It returns a function that reads the count.
func (f fixture) collide(t *testing.T, stream string) (attempts func() int) {
	t.Helper()
	ctx := context.Background()
	if _, err := f.db.Exec(ctx, `CREATE SEQUENCE append_attempts;
		CREATE FUNCTION collide() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.stream_id = '`+stream+`' THEN
				PERFORM nextval('append_attempts');
				RAISE EXCEPTION 'duplicate key value (planted by the test)' USING ERRCODE = 'unique_violation';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER collide BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION collide();`); err != nil {
		t.Fatal(err)
	}
	return func() int {
		t.Helper()
		var n int
		if err := f.db.QueryRow(ctx, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM append_attempts`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// TestAnAppendThatAlwaysLosesTheRaceGivesUpAfter21Tries: an AnyVersion append that loses
// the race for the next version every time tries 21 times, then says ECONFLICT with the
// count, having written nothing; so does an append to several streams; an append with an
// exact expected version does not retry at all (the writer must read the stream again),
// and an append to several streams names the one whose expectation is stale.
func TestAnAppendThatAlwaysLosesTheRaceGivesUpAfter21Tries(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // an endless retry fails here, not by the test's time-out
	defer cancel()
	mustAppend(t, f.store, "order-stale", ordersaga.NoStream, event("order-created", `{}`))
	attempts := f.collide(t, "order-hot")
	hot := ordersaga.MustParseStream("order-hot")

	_, err := f.store.Append(ctx, hot, ordersaga.AnyVersion, []ordersaga.EventData{event("order-created", `{}`)})
	wantCode(t, err, ordersaga.ECONFLICT)
	if n := attempts(); n != 21 || !strings.Contains(err.Error(), "21 times") {
		t.Errorf("Append tried %d times and said %q; want 21 tries, said", n, err)
	}

	_, err = f.store.Append(ctx, hot, ordersaga.NoStream, []ordersaga.EventData{event("order-created", `{}`)})
	wantCode(t, err, ordersaga.ECONFLICT)
	if n := attempts(); n != 22 {
		t.Errorf("an append at an exact version tried %d times after a lost race, want once", n-21)
	}

	_, err = f.store.AppendStreams(ctx, []ordersaga.StreamAppend{
		{Stream: ordersaga.MustParseStream("customer-calm"), Expected: ordersaga.AnyVersion, Events: []ordersaga.EventData{event("account-debited", `{}`)}},
		{Stream: hot, Expected: ordersaga.AnyVersion, Events: []ordersaga.EventData{event("order-payment-debited", `{}`)}},
	})
	wantCode(t, err, ordersaga.ECONFLICT)
	if n := attempts(); n != 22+21 || !strings.Contains(err.Error(), "21 times") {
		t.Errorf("AppendStreams tried %d times and said %q; want 21 tries, said", n-22, err)
	}

	_, err = f.store.AppendStreams(ctx, []ordersaga.StreamAppend{
		{Stream: hot, Expected: ordersaga.AnyVersion, Events: []ordersaga.EventData{event("order-payment-debited", `{}`)}},
		{Stream: ordersaga.MustParseStream("order-stale"), Expected: ordersaga.NoStream, Events: []ordersaga.EventData{event("order-created", `{}`)}},
	})
	wantCode(t, err, ordersaga.ECONFLICT)
	// The stale expectation stops the statement before any row is inserted.
	if n := attempts(); n != 22+21 || !strings.Contains(err.Error(), "stream order-stale: expected version") {
		t.Errorf("AppendStreams with a stale stream inserted %d times and said %q; want none, naming order-stale", n-22-21, err)
	}
	if events, outbox := f.counts(t); events != 1 || outbox != 1 {
		t.Errorf("%d events and %d in the outbox, want only the first append's", events, outbox)
	}
}

// TestAConflictingEventIDIsNamedByItsPlace: an append whose second event reuses a stored
// id with other content is refused naming events[1].id.
func TestAConflictingEventIDIsNamedByItsPlace(t *testing.T) {
	f := newFixture(t)
	stored := event("order-created", `{"n":1}`)
	mustAppend(t, f.store, "order-ids", ordersaga.NoStream, stored)
	reused := stored
	reused.Data = []byte(`{"n":2}`)
	_, err := f.store.Append(context.Background(), ordersaga.MustParseStream("order-ids"), ordersaga.AnyVersion,
		[]ordersaga.EventData{event("order-approved", `{}`), reused})
	wantCode(t, err, ordersaga.ECONFLICT)
	var e *ordersaga.Error
	if !errors.As(err, &e) || e.Field != "events[1].id" || !strings.Contains(e.Message, "events[1].id") {
		t.Errorf("error %v names %q, want events[1].id", err, e.Field)
	}
}

// TestStreamVersionsPagesAndVersionGapsFindsWhatTheSchemaShouldForbid lists the streams
// of a type a page at a time with their versions, and finds streams whose versions are
// not 1..n (planted past Append, which cannot make them).
func TestStreamVersionsPagesAndVersionGapsFindsWhatTheSchemaShouldForbid(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	mustAppend(t, f.store, "order-a", ordersaga.NoStream, event("order-created", `{}`), event("order-approved", `{}`))
	mustAppend(t, f.store, "order-b", ordersaga.NoStream, event("order-created", `{}`))
	mustAppend(t, f.store, "customer-a", ordersaga.NoStream, event("account-credited", `{}`))

	var pages [][]ordersaga.StreamVersion
	for after := ""; ; {
		page, err := f.store.StreamVersions(ctx, "order", after, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		pages = append(pages, page)
		after = page[len(page)-1].Stream.String()
	}
	if len(pages) != 2 || pages[0][0].Stream.String() != "order-a" || pages[0][0].Version != 2 ||
		pages[1][0].Stream.String() != "order-b" || pages[1][0].Version != 1 {
		t.Errorf("pages of order streams = %v, want [order-a v2] then [order-b v1]", pages)
	}
	_, err := f.store.StreamVersions(ctx, "order", "", 0)
	wantCode(t, err, ordersaga.EINVALID)

	if gaps, err := f.store.VersionGaps(ctx, 10); err != nil || len(gaps) != 0 {
		t.Fatalf("gaps in a store written by Append: %v, %v", gaps, err)
	}
	for _, row := range []struct {
		stream  string
		version int
	}{{"order-b", 3}, {"order-late", 2}} { // a hole after version 1; a stream starting at 2
		if _, err := f.db.Exec(ctx, `INSERT INTO events (stream_id, version, event_id, stream_type, event_type, data, metadata)
			VALUES ($1, $2, $3, 'order', 'order-approved', '{}', '{}')`, row.stream, row.version, uuid.New()); err != nil {
			t.Fatal(err)
		}
	}
	if gaps, err := f.store.VersionGaps(ctx, 10); err != nil || strings.Join(gaps, ",") != "order-b,order-late" {
		t.Errorf("gaps = %v, %v; want order-b and order-late", gaps, err)
	}
}

// TestReadLimitsAreInclusive: a read of one event and one of MaxReadLimit are taken, one
// more is refused.
func TestReadLimitsAreInclusive(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	stream := ordersaga.MustParseStream("order-limits")
	mustAppend(t, f.store, stream.String(), ordersaga.NoStream, event("order-created", `{}`), event("order-approved", `{}`))
	for _, limit := range []int{1, eventstore.MaxReadLimit} {
		events, err := f.store.ReadStream(ctx, stream, 1, limit)
		if err != nil || len(events) != min(limit, 2) {
			t.Errorf("ReadStream with limit %d: %d events, %v", limit, len(events), err)
		}
	}
	_, err := f.store.ReadStream(ctx, stream, 1, eventstore.MaxReadLimit+1)
	wantCode(t, err, ordersaga.EINVALID)
}

// TestParkedEventsKeepTheirReasonAndMetadata parks an event with a short reason and one
// of exactly the limit: both are kept whole with the event and its metadata, out of the
// outbox; parking again changes nothing.
func TestParkedEventsKeepTheirReasonAndMetadata(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	e := event("order-created", `{}`)
	e.Metadata = ordersaga.Metadata{CorrelationID: "corr-1", CausationID: "cause-1"}
	first := mustAppend(t, f.store, "order-park", ordersaga.NoStream, e, event("order-approved", `{}`))
	exact := strings.Repeat("r", 1000)
	for i, reason := range []string{"refused", exact} {
		if err := f.store.Park(ctx, first.Events[i].Position, reason); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.store.Park(ctx, first.Events[0].Position, "again"); err != nil {
		t.Fatal(err)
	}
	parked, err := f.store.Parked(ctx, 10)
	if err != nil || len(parked) != 2 {
		t.Fatalf("parked = %v, %v; want two", parked, err)
	}
	if parked[0].Reason != "refused" || parked[1].Reason != exact {
		t.Errorf("reasons %q and %d bytes, want %q and the 1000 given", parked[0].Reason, len(parked[1].Reason), "refused")
	}
	if m := parked[0].Event.Metadata; m.CorrelationID != "corr-1" || m.CausationID != "cause-1" || parked[0].Event.ID != e.ID {
		t.Errorf("parked event %s has metadata %+v, want event %s with corr-1/cause-1", parked[0].Event.ID, m, e.ID)
	}
	if events, outbox := f.counts(t); events != 2 || outbox != 0 {
		t.Errorf("%d events and %d in the outbox after parking both, want 2 and 0", events, outbox)
	}
}
