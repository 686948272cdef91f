package eventstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/sqldb"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type fixture struct {
	db    *sqldb.DB
	store *eventstore.Store
}

func newFixture(t testing.TB) fixture {
	t.Helper()
	db, store := dbtest.NewStore(t, 40)
	return fixture{db: db, store: store}
}

// counts returns the number of rows in the events and outbox tables.
func (f fixture) counts(t testing.TB) (events, outbox int) {
	t.Helper()
	err := f.db.QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM event_outbox)`).Scan(&events, &outbox)
	if err != nil {
		t.Fatal(err)
	}
	return events, outbox
}

func event(typ string, data string) ordersaga.EventData {
	return ordersaga.EventData{ID: uuid.New(), Type: typ, Data: json.RawMessage(data)}
}

func mustAppend(t testing.TB, s *eventstore.Store, stream string, expected ordersaga.ExpectedVersion, events ...ordersaga.EventData) ordersaga.AppendResult {
	t.Helper()
	res, err := s.Append(context.Background(), ordersaga.MustParseStream(stream), expected, events)
	if err != nil {
		t.Fatalf("append to %s: %v", stream, err)
	}
	return res
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := ordersaga.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func TestAppendThenReadBack(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := []ordersaga.EventData{
		event("order-created", `{"order_id": "o1", "amount": 1250}`),
		event("order-payment-debited", `{"order_id": "o1", "payment_id": "p1"}`),
		event("order-approved", `{"order_id": "o1"}`),
	}
	in[0].Metadata = ordersaga.Metadata{CorrelationID: "saga-o1", CausationID: "cmd-1", TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	res := mustAppend(t, f.store, "order-o1", ordersaga.NoStream, in...)
	if res.Duplicate || len(res.Events) != 3 {
		t.Fatalf("result = %+v, want 3 new events", res)
	}
	for i, a := range res.Events {
		if a.ID != in[i].ID || a.Version != int64(i+1) {
			t.Errorf("event %d: id %s version %d, want id %s version %d", i, a.ID, a.Version, in[i].ID, i+1)
		}
		if i > 0 && a.Position <= res.Events[i-1].Position {
			t.Errorf("positions not increasing within one append: %d then %d", res.Events[i-1].Position, a.Position)
		}
	}
	got, err := f.store.ReadStream(ctx, ordersaga.MustParseStream("order-o1"), 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("read %d events, want 3", len(got))
	}
	for i, e := range got {
		var gotData, wantData any
		_ = json.Unmarshal(e.Data, &gotData)
		_ = json.Unmarshal(in[i].Data, &wantData)
		if e.ID != in[i].ID || e.Type != in[i].Type || e.StreamID != "order-o1" || e.StreamType != "order" ||
			e.Version != int64(i+1) || e.Position != res.Events[i].Position || fmt.Sprint(gotData) != fmt.Sprint(wantData) ||
			e.Metadata != in[i].Metadata || !e.RecordedAt.Equal(res.Events[i].RecordedAt) {
			t.Errorf("event %d read back as %+v, want %+v at %+v", i, e, in[i], res.Events[i])
		}
	}
	if v, err := f.store.StreamVersion(ctx, ordersaga.MustParseStream("order-o1")); err != nil || v != 3 {
		t.Errorf("StreamVersion = %d, %v; want 3", v, err)
	}
	if v, err := f.store.StreamVersion(ctx, ordersaga.MustParseStream("order-none")); err != nil || v != 0 {
		t.Errorf("StreamVersion of a missing stream = %d, %v; want 0", v, err)
	}
}

func TestAppendChecksExpectedVersion(t *testing.T) {
	tests := []struct {
		name     string
		existing int // events already in the stream
		expected ordersaga.ExpectedVersion
		wantErr  string // "" for success, else the substring the conflict must contain
	}{
		{"no stream on a new stream", 0, ordersaga.NoStream, ""},
		{"no stream on an existing stream", 2, ordersaga.NoStream, "actual version 2"},
		{"exact current version", 2, 2, ""},
		{"stale version", 3, 2, "expected version 2, actual version 3"},
		{"version from the future", 1, 5, "expected version 5, actual version 1"},
		{"any on a new stream", 0, ordersaga.AnyVersion, ""},
		{"any on an existing stream", 4, ordersaga.AnyVersion, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			for range tt.existing {
				mustAppend(t, f.store, "order-x", ordersaga.AnyVersion, event("order-noted", `{}`))
			}
			beforeEvents, beforeOutbox := f.counts(t)
			res, err := f.store.Append(context.Background(), ordersaga.MustParseStream("order-x"), tt.expected, []ordersaga.EventData{event("order-noted", `{"n": 1}`)})
			afterEvents, afterOutbox := f.counts(t)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got, want := res.LastVersion(), int64(tt.existing+1); got != want {
					t.Errorf("version = %d, want %d", got, want)
				}
				if afterEvents != beforeEvents+1 || afterOutbox != beforeOutbox+1 {
					t.Errorf("rows: events %d→%d, outbox %d→%d; want one more of each", beforeEvents, afterEvents, beforeOutbox, afterOutbox)
				}
				return
			}
			wantCode(t, err, ordersaga.ECONFLICT)
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not say %q", err, tt.wantErr)
			}
			if afterEvents != beforeEvents || afterOutbox != beforeOutbox {
				t.Errorf("a failed append wrote rows: events %d→%d, outbox %d→%d", beforeEvents, afterEvents, beforeOutbox, afterOutbox)
			}
		})
	}
}

func TestAppendIsIdempotent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	batch := []ordersaga.EventData{event("order-created", `{"a": 1, "b": [1, 2]}`), event("order-approved", `{"c": "x"}`)}
	first := mustAppend(t, f.store, "order-i", ordersaga.NoStream, batch...)
	mustAppend(t, f.store, "order-i", ordersaga.AnyVersion, event("order-noted", `{}`))
	events, outbox := f.counts(t)

	t.Run("same events again with every kind of expectation", func(t *testing.T) {
		// A retried activity sends the same ids; its trace context may differ, and JSON
		// may be formatted differently.
		retry := []ordersaga.EventData{batch[0], batch[1]}
		retry[0].Data = json.RawMessage(`{"b":[1,2],"a":1}`)
		retry[0].Metadata.TraceParent = "00-11111111111111111111111111111111-2222222222222222-01"
		for _, expected := range []ordersaga.ExpectedVersion{ordersaga.NoStream, ordersaga.AnyVersion, 3, 7} {
			again, err := f.store.Append(ctx, ordersaga.MustParseStream("order-i"), expected, retry)
			if err != nil {
				t.Fatalf("retry with expected %d: %v", expected, err)
			}
			if !again.Duplicate || fmt.Sprint(again.Events) != fmt.Sprint(first.Events) {
				t.Errorf("retry with expected %d = %+v, want duplicate of %+v", expected, again, first)
			}
		}
		if e, o := f.counts(t); e != events || o != outbox {
			t.Errorf("retries wrote rows: events %d→%d, outbox %d→%d", events, e, outbox, o)
		}
	})

	conflicts := []struct {
		name   string
		stream string
		events []ordersaga.EventData
	}{
		{"same id, other data", "order-i", []ordersaga.EventData{{ID: batch[0].ID, Type: batch[0].Type, Data: json.RawMessage(`{"a": 2}`)}, batch[1]}},
		{"same id, other type", "order-i", []ordersaga.EventData{batch[0], {ID: batch[1].ID, Type: "order-rejected", Data: batch[1].Data}}},
		{"same ids, other stream", "order-j", batch},
		{"some ids stored, some new", "order-i", []ordersaga.EventData{batch[0], event("order-noted", `{}`)}},
	}
	for _, tt := range conflicts {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.store.Append(ctx, ordersaga.MustParseStream(tt.stream), ordersaga.AnyVersion, tt.events)
			wantCode(t, err, ordersaga.ECONFLICT)
			if e, o := f.counts(t); e != events || o != outbox {
				t.Errorf("conflicting append wrote rows: events %d→%d, outbox %d→%d", events, e, outbox, o)
			}
		})
	}
}

func TestRacingAppendersGetOneWinnerPerVersion(t *testing.T) {
	const writers, perWriter = 32, 5
	f := newFixture(t)
	ctx := context.Background()
	var wins, conflicts atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := 0; i < perWriter; {
				v, err := f.store.StreamVersion(ctx, ordersaga.MustParseStream("order-race"))
				if err != nil {
					errs <- err
					return
				}
				e := event("order-noted", fmt.Sprintf(`{"writer": %d, "n": %d}`, w, i))
				_, err = f.store.Append(ctx, ordersaga.MustParseStream("order-race"), ordersaga.ExpectedVersion(v), []ordersaga.EventData{e})
				switch ordersaga.ErrorCode(err) {
				case "":
					wins.Add(1)
					i++
				case ordersaga.ECONFLICT:
					conflicts.Add(1)
				default:
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d appends won, %d lost a race and retried", wins.Load(), conflicts.Load())
	assertGapFree(t, f, "order-race", writers*perWriter)
	if wins.Load() != writers*perWriter {
		t.Errorf("%d appends reported success, want %d", wins.Load(), writers*perWriter)
	}
}

func TestRacingAnyVersionAppendsAllLand(t *testing.T) {
	const writers, perWriter = 32, 5
	f := newFixture(t)
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				e := event("order-noted", fmt.Sprintf(`{"writer": %d, "n": %d}`, w, i))
				if _, err := f.store.Append(context.Background(), ordersaga.MustParseStream("order-any"), ordersaga.AnyVersion, []ordersaga.EventData{e}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assertGapFree(t, f, "order-any", writers*perWriter)
}

// assertGapFree checks that stream holds versions 1..n exactly once each, every (writer, n)
// payload exactly once, and that every event is in the outbox once.
func assertGapFree(t *testing.T, f fixture, stream string, n int) {
	t.Helper()
	events, err := f.store.ReadStream(context.Background(), ordersaga.MustParseStream(stream), 1, eventstore.MaxReadLimit)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != n {
		t.Fatalf("stream has %d events, want %d", len(events), n)
	}
	payloads := make(map[string]bool, n)
	for i, e := range events {
		if e.Version != int64(i+1) {
			t.Fatalf("event %d has version %d: versions are not 1..%d gap-free", i, e.Version, n)
		}
		if payloads[string(e.Data)] {
			t.Errorf("payload %s stored twice", e.Data)
		}
		payloads[string(e.Data)] = true
	}
	if total, outbox := f.counts(t); total != n || outbox != n {
		t.Errorf("rows: %d events, %d outbox; want %d of each", total, outbox, n)
	}
}

// TestAppendRetriesSerializationFailure makes the database itself fail an append's first
// attempt with SQLSTATE 40001 (a trigger below the store), so that the append takes the
// production path, one statement in InStatement's retry loop, and must be retried.
func TestAppendRetriesSerializationFailure(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.db.Exec(ctx, `CREATE SEQUENCE append_attempts;
		CREATE FUNCTION fail_first_append() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF nextval('append_attempts') = 1 THEN
				RAISE EXCEPTION 'injected serialization failure' USING ERRCODE = '40001';
			END IF;
			RETURN NULL;
		END $$;
		CREATE TRIGGER fail_first_append BEFORE INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION fail_first_append()`); err != nil {
		t.Fatal(err)
	}
	res := mustAppend(t, f.store, "order-s", ordersaga.NoStream, event("order-created", `{"n": 1}`), event("order-approved", `{"n": 2}`))
	var attempts int
	if err := f.db.QueryRow(ctx, `SELECT last_value FROM append_attempts`).Scan(&attempts); err != nil {
		t.Fatal(err)
	}
	if attempts != 2 {
		t.Errorf("the append statement ran %d times, want 2: the failed attempt and its retry", attempts)
	}
	if res.Duplicate || res.LastVersion() != 2 {
		t.Errorf("result = %+v, want versions 1..2", res)
	}
	assertGapFree(t, f, "order-s", 2)
}

func TestAppendRejectsBadInput(t *testing.T) {
	ok := func() ordersaga.EventData { return event("order-created", `{"k": "v"}`) }
	with := func(mod func(*ordersaga.EventData)) []ordersaga.EventData {
		e := ok()
		mod(&e)
		return []ordersaga.EventData{e}
	}
	many := make([]ordersaga.EventData, ordersaga.MaxEventsPerAppend+1)
	for i := range many {
		many[i] = ok()
	}
	big := fmt.Sprintf(`{"blob": %q}`, strings.Repeat("x", ordersaga.MaxEventBytes))
	heavy := make([]ordersaga.EventData, 20)
	for i := range heavy {
		heavy[i] = event("order-noted", fmt.Sprintf(`{"blob": %q}`, strings.Repeat("y", ordersaga.MaxEventBytes-200)))
	}
	dupID := []ordersaga.EventData{ok(), ok()}
	dupID[1].ID = dupID[0].ID
	tests := []struct {
		name      string
		stream    string
		expected  ordersaga.ExpectedVersion
		events    []ordersaga.EventData
		wantField string
	}{
		{"empty stream", "", ordersaga.AnyVersion, []ordersaga.EventData{ok()}, "stream"},
		{"stream without id", "order", ordersaga.AnyVersion, []ordersaga.EventData{ok()}, "stream"},
		{"stream with space", "order-a b", ordersaga.AnyVersion, []ordersaga.EventData{ok()}, "stream"},
		{"stream too long", "order-" + strings.Repeat("a", 300), ordersaga.AnyVersion, []ordersaga.EventData{ok()}, "stream"},
		{"expected version below any", "order-1", -2, []ordersaga.EventData{ok()}, "expected_version"},
		{"no events", "order-1", ordersaga.AnyVersion, nil, "events"},
		{"too many events", "order-1", ordersaga.AnyVersion, many, "events"},
		{"batch too large", "order-1", ordersaga.AnyVersion, heavy, "events"},
		{"nil id", "order-1", ordersaga.AnyVersion, with(func(e *ordersaga.EventData) { e.ID = uuid.Nil }), "events[0].id"},
		{"repeated id", "order-1", ordersaga.AnyVersion, dupID, "events[1].id"},
		{"empty type", "order-1", ordersaga.AnyVersion, with(func(e *ordersaga.EventData) { e.Type = "" }), "events[0].type"},
		{"type with space", "order-1", ordersaga.AnyVersion, with(func(e *ordersaga.EventData) { e.Type = "order created" }), "events[0].type"},
		{"type with wildcard", "order-1", ordersaga.AnyVersion, with(func(e *ordersaga.EventData) { e.Type = "order.*" }), "events[0].type"},
		{"type with empty token", "order-1", ordersaga.AnyVersion, with(func(e *ordersaga.EventData) { e.Type = "order..created" }), "events[0].type"},
		{"no data", "order-1", ordersaga.AnyVersion, with(func(e *ordersaga.EventData) { e.Data = nil }), "events[0].data"},
		{"data is an array", "order-1", ordersaga.AnyVersion, with(func(e *ordersaga.EventData) { e.Data = json.RawMessage(`[1]`) }), "events[0].data"},
		{"data is a string", "order-1", ordersaga.AnyVersion, with(func(e *ordersaga.EventData) { e.Data = json.RawMessage(`"x"`) }), "events[0].data"},
		{"data is malformed", "order-1", ordersaga.AnyVersion, with(func(e *ordersaga.EventData) { e.Data = json.RawMessage(`{"a":`) }), "events[0].data"},
		{"data holds NUL", "order-1", ordersaga.AnyVersion, with(func(e *ordersaga.EventData) { e.Data = json.RawMessage(`{"a":"\u0000"}`) }), "events[0].data"},
		{"event too large", "order-1", ordersaga.AnyVersion, with(func(e *ordersaga.EventData) { e.Data = json.RawMessage(big) }), "events[0]"},
	}
	f := newFixture(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A stream name is checked where a Stream is made; the store refuses the zero one.
			stream, err := ordersaga.ParseStream(tt.stream)
			if err == nil {
				_, err = f.store.Append(context.Background(), stream, tt.expected, tt.events)
			}
			wantCode(t, err, ordersaga.EINVALID)
			var appErr *ordersaga.Error
			if !errors.As(err, &appErr) || appErr.Field != tt.wantField || !strings.HasPrefix(appErr.Message, tt.wantField+": ") {
				t.Errorf("error %v does not name field %q", err, tt.wantField)
			}
		})
	}
	if events, outbox := f.counts(t); events != 0 || outbox != 0 {
		t.Errorf("rejected appends wrote %d events and %d outbox rows", events, outbox)
	}
}

func TestReadStreamPages(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i := range 25 {
		mustAppend(t, f.store, "order-p", ordersaga.AnyVersion, event("order-noted", fmt.Sprintf(`{"i": %d}`, i)))
	}
	mustAppend(t, f.store, "order-other", ordersaga.AnyVersion, event("order-noted", `{}`))
	var versions []int64
	for from := int64(1); ; {
		page, err := f.store.ReadStream(ctx, ordersaga.MustParseStream("order-p"), from, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			versions = append(versions, e.Version)
		}
		if len(page) < 10 {
			break
		}
		from = page[len(page)-1].Version + 1
	}
	if len(versions) != 25 || versions[0] != 1 || versions[24] != 25 {
		t.Errorf("paged versions = %v, want 1..25", versions)
	}
	if _, err := f.store.ReadStream(ctx, ordersaga.MustParseStream("order-p"), 0, 10); ordersaga.ErrorCode(err) != ordersaga.EINVALID {
		t.Errorf("from version 0: error %v, want invalid", err)
	}
	if _, err := f.store.ReadStream(ctx, ordersaga.MustParseStream("order-p"), 1, eventstore.MaxReadLimit+1); ordersaga.ErrorCode(err) != ordersaga.EINVALID {
		t.Errorf("limit over the maximum: error %v, want invalid", err)
	}
	if got, err := f.store.ReadStream(ctx, ordersaga.MustParseStream("order-missing"), 1, 10); err != nil || len(got) != 0 {
		t.Errorf("missing stream read = %v, %v; want empty", got, err)
	}
}

func TestReadAllFiltersByTypeAndPages(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	types := []string{"order-created", "order-approved", "order-rejected"}
	want := map[string]int{}
	for i := range 30 {
		typ := types[i%3]
		want[typ]++
		mustAppend(t, f.store, fmt.Sprintf("order-%d", i%7), ordersaga.AnyVersion, event(typ, `{}`))
	}
	readAll := func(filter []string) []ordersaga.RecordedEvent {
		var all []ordersaga.RecordedEvent
		after := int64(0)
		for {
			page, err := f.store.ReadAll(ctx, ordersaga.ReadAllOptions{After: after, Types: filter, Limit: 4})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page...)
			if len(page) < 4 {
				return all
			}
			after = page[len(page)-1].Position
		}
	}
	all := readAll(nil)
	if len(all) != 30 {
		t.Fatalf("read %d events in pages, want 30", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Position <= all[i-1].Position {
			t.Fatalf("positions out of order: %d then %d", all[i-1].Position, all[i].Position)
		}
	}
	got := readAll([]string{"order-created", "order-rejected"})
	if len(got) != want["order-created"]+want["order-rejected"] {
		t.Errorf("filtered read returned %d events, want %d", len(got), want["order-created"]+want["order-rejected"])
	}
	for _, e := range got {
		if e.Type == "order-approved" {
			t.Errorf("filtered read returned %s", e.Type)
		}
	}
	if _, err := f.store.ReadAll(ctx, ordersaga.ReadAllOptions{Types: []string{"bad type"}, Limit: 1}); ordersaga.ErrorCode(err) != ordersaga.EINVALID {
		t.Errorf("bad type filter: error %v, want invalid", err)
	}
}

func TestOutboxReturnsExactlyTheUnpublished(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	positions := noted(t, f, "order", 10)
	if fresh, err := f.store.Unpublished(ctx, 3600e9, 100); err != nil || len(fresh) != 0 {
		t.Errorf("with a one-hour grace period: %d events, %v; want none", len(fresh), err)
	}
	if err := f.store.MarkPublished(ctx, []int64{positions[1], positions[4], positions[4], positions[9]}); err != nil {
		t.Fatal(err)
	}
	// Marking again (a second relay) is harmless.
	if err := f.store.MarkPublished(ctx, []int64{positions[1]}); err != nil {
		t.Fatal(err)
	}
	var got []int64
	for {
		page, err := f.store.Unpublished(ctx, 0, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			got = append(got, e.Position)
		}
		// Mark this page so the next call returns the following one, as the relay does.
		var marks []int64
		for _, e := range page {
			marks = append(marks, e.Position)
		}
		if err := f.store.MarkPublished(ctx, marks); err != nil {
			t.Fatal(err)
		}
	}
	want := []int64{positions[0], positions[2], positions[3], positions[5], positions[6], positions[7], positions[8]}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("unpublished positions = %v, want %v in position order", got, want)
	}
	if _, outbox := f.counts(t); outbox != 0 {
		t.Errorf("outbox holds %d rows after everything was marked", outbox)
	}
}

func TestMigrateIsIdempotentUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, sqldb.Config{URL: dbtest.NewDatabase(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = eventstore.Migrate(ctx, db) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
	}
	if err := eventstore.Migrate(ctx, db); err != nil {
		t.Errorf("migrating an up-to-date schema: %v", err)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE component = 'eventstore'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if n != len(files) {
		t.Errorf("schema_migrations has %d eventstore rows, want %d, one per migration", n, len(files))
	}
}

// TestTheStoreAcceptsExactlyTheJSONItsDatabaseCanHold asks PostgreSQL itself whether each
// sample casts to JSONB, and compares with ValidateJSONObject: what the database would
// refuse is refused first, as invalid input naming the field (it used to reach the
// database and come back as an internal error); what it holds passes.
func TestTheStoreAcceptsExactlyTheJSONItsDatabaseCanHold(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, sample := range []string{
		`{"a":"plain"}`,
		`{"a":"\ud83d\ude00"}`,     // a whole surrogate pair
		`{"a":"\ud800"}`,           // a lone high surrogate
		`{"a":"\udc00"}`,           // a lone low surrogate
		`{"a":"x\ud800\u0041"}`,    // a high surrogate followed by something else
		`{"\ud800":1}`,             // in a key
		`{"a":"\ud800\ud800"}`,     // two high surrogates
		`{"a":"\u0000"}`,           // NUL
		`{"a":"\\u0000"}`,          // an escaped backslash, then text
		`{"a":"\\\ud800"}`,         // an escaped backslash, then a lone surrogate
		"{\"a\":\"\xff\"}",         // not UTF-8
		`{"a":"caf\u00e9 \u20ac"}`, // ordinary escapes
	} {
		var cast string
		dbErr := f.db.QueryRow(ctx, `SELECT $1::text::jsonb::text`, sample).Scan(&cast)
		err := ordersaga.ValidateJSONObject("data", []byte(sample))
		if (err == nil) != (dbErr == nil) {
			t.Errorf("%s: validation says %v, PostgreSQL says %v", sample, err, dbErr)
		}
		if err != nil && ordersaga.ErrorCode(err) != ordersaga.EINVALID {
			t.Errorf("%s: %v, want invalid", sample, err)
		}
		_, appendErr := f.store.Append(ctx, ordersaga.MustParseStream("note-json"), ordersaga.AnyVersion, []ordersaga.EventData{event("note-added", sample)})
		if (appendErr == nil) != (dbErr == nil) || (appendErr != nil && ordersaga.ErrorCode(appendErr) != ordersaga.EINVALID) {
			t.Errorf("%s: append %v, want invalid exactly when PostgreSQL refuses it", sample, appendErr)
		}
	}
}
