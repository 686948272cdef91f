package api_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/api"
	"github.com/ordersaga/ordersaga/auth"
	"github.com/ordersaga/ordersaga/eventstore"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/internal/metrictest"
	"github.com/ordersaga/ordersaga/internal/stacktest"
	"github.com/ordersaga/ordersaga/pglocal"
	"github.com/ordersaga/ordersaga/sqldb"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// serve starts the API on a real TCP listener over a store on databaseURL and returns a
// connected client connection.
func serve(t *testing.T, databaseURL string) *grpc.ClientConn {
	t.Helper()
	return serveWith(t, databaseURL, nil)
}

// serveWith is serve with the server's Config changed by with first (when not nil).
func serveWith(t *testing.T, databaseURL string, with func(*api.Config)) *grpc.ClientConn {
	t.Helper()
	return serveFor(t, databaseURL, with)(stacktest.Operator)
}

// serveFor is serveWith, and returns a way to connect as anyone.
func serveFor(t *testing.T, databaseURL string, with func(*api.Config)) (as func(auth.Principal) *grpc.ClientConn) {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, sqldb.Config{URL: databaseURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := eventstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	tokens := stacktest.NewTokens(t)
	cfg := api.Config{Store: eventstore.New(db), Tokens: tokens.Verifier, Reflection: true,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
	if with != nil {
		with(&cfg)
	}
	srv, err := api.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		srv.Stop(stopCtx)
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return func(p auth.Principal) *grpc.ClientConn {
		conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()), tokens.As(t, p))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
}

// A call is measured when the server is given meters and traced when it is given tracers,
// each without the other too: one span per call, named by its method, and the call's
// duration metric.
func TestCallsAreMeasuredAndTracedByWhatTheServerIsGiven(t *testing.T) {
	url := dbtest.NewDatabase(t)
	for _, c := range []struct {
		name           string
		meters, traces bool
	}{{"neither", false, false}, {"meters only", true, false}, {"tracers only", false, true}, {"both", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			metrics := metrictest.New(t)
			spans := tracetest.NewInMemoryExporter()
			tracers := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
			t.Cleanup(func() { _ = tracers.Shutdown(context.Background()) })
			client := ordersagav1.NewEventStoreServiceClient(serveWith(t, url, func(cfg *api.Config) {
				if c.meters {
					cfg.Meters = metrics.Provider
				}
				if c.traces {
					cfg.Tracers = tracers
				}
			}))
			if _, err := client.GetEvents(context.Background(), &ordersagav1.GetEventsRequest{}); err != nil {
				t.Fatal(err)
			}
			// The server ends a call's span and records its duration after the
			// response is on its way, so the client may see the reply first: wait
			// (briefly) for what is wanted before judging.
			measured := func() bool { return metrics.Has(t, "rpc.server.call.duration") }
			spansOfTheCall := func() int {
				var called int
				for _, s := range spans.GetSpans() {
					if s.Name == "ordersaga.v1.EventStoreService/GetEvents" {
						called++
					}
				}
				return called
			}
			wantSpans := map[bool]int{true: 1, false: 0}[c.traces]
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if measured() == c.meters && spansOfTheCall() == wantSpans {
					break
				}
			}
			if got := measured(); got != c.meters {
				t.Errorf("the call's duration measured: %v, want %v", got, c.meters)
			}
			if called := spansOfTheCall(); called != wantSpans {
				t.Errorf("%d spans of the call, want %d", called, wantSpans)
			}
		})
	}
}

func wantStatus(t *testing.T, err error, code codes.Code, field string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != code {
		t.Fatalf("status = %v (%v), want %v", st.Code(), err, code)
	}
	if field == "" {
		return
	}
	if !strings.HasPrefix(st.Message(), field+": ") {
		t.Errorf("message %q does not start with the field %q", st.Message(), field)
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.FieldViolations) == 1 && br.FieldViolations[0].Field == field {
			return
		}
	}
	t.Errorf("status details %v lack a BadRequest naming %q", st.Details(), field)
}

func TestCreateEventIsTheDemoContractAndIdempotent(t *testing.T) {
	client := ordersagav1.NewEventStoreServiceClient(serve(t, dbtest.NewDatabase(t)))
	ctx := context.Background()
	ev := &ordersagav1.Event{
		EventId: uuid.NewString(), EventType: "order-created", AggregateId: "42", AggregateType: "demo",
		EventData: `{"order_id": "42", "amount": 1999}`, Channel: "order-created",
		Metadata: `{"correlation_id": "saga-42"}`,
	}
	first, err := client.CreateEvent(ctx, &ordersagav1.CreateEventRequest{Event: ev})
	if err != nil {
		t.Fatal(err)
	}
	if first.Version != 1 || first.Position <= 0 || first.Duplicate || first.RecordedAt == nil {
		t.Errorf("first CreateEvent = %v, want version 1, a position, not duplicate", first)
	}
	again, err := client.CreateEvent(ctx, &ordersagav1.CreateEventRequest{Event: ev})
	if err != nil {
		t.Fatal(err)
	}
	if again.Version != first.Version || again.Position != first.Position || !again.Duplicate {
		t.Errorf("repeated CreateEvent = %v, want the original %v marked duplicate", again, first)
	}
	got, err := client.GetEvents(ctx, &ordersagav1.GetEventsRequest{AggregateType: "demo", AggregateId: "42"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Events) != 1 || got.StreamVersion != 1 {
		t.Fatalf("GetEvents = %v, want the one event", got)
	}
	e := got.Events[0]
	if e.EventId != ev.EventId || e.EventType != ev.EventType || e.AggregateId != "42" || e.AggregateType != "demo" ||
		e.Channel != "order-created" || e.Version != 1 || e.Position != first.Position || !strings.Contains(e.Metadata, `"correlation_id":"saga-42"`) {
		t.Errorf("stored event = %v, want %v", e, ev)
	}
}

func TestAppendEventsChecksExpectedVersion(t *testing.T) {
	client := ordersagav1.NewEventStoreServiceClient(serve(t, dbtest.NewDatabase(t)))
	ctx := context.Background()
	batch := func(n int) []*ordersagav1.NewEvent {
		out := make([]*ordersagav1.NewEvent, n)
		for i := range out {
			out[i] = &ordersagav1.NewEvent{EventId: uuid.NewString(), EventType: "order-noted", EventData: fmt.Sprintf(`{"i": %d}`, i)}
		}
		return out
	}
	first := &ordersagav1.AppendEventsRequest{AggregateType: "demo", AggregateId: "7",
		ExpectedVersion: ordersagav1.ExpectedVersion_EXPECTED_VERSION_NO_STREAM, Events: batch(3)}
	res, err := client.AppendEvents(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Events) != 3 || res.Events[2].Version != 3 || res.Events[0].EventId != first.Events[0].EventId {
		t.Errorf("AppendEvents = %v, want versions 1..3 in request order", res)
	}
	retry, err := client.AppendEvents(ctx, first)
	if err != nil || !retry.Duplicate || retry.Events[2].Position != res.Events[2].Position {
		t.Errorf("retried AppendEvents = %v, %v; want the original result marked duplicate", retry, err)
	}
	_, err = client.AppendEvents(ctx, &ordersagav1.AppendEventsRequest{AggregateType: "demo", AggregateId: "7",
		ExpectedVersion: ordersagav1.ExpectedVersion_EXPECTED_VERSION_EXACT, Version: 2, Events: batch(1)})
	wantStatus(t, err, codes.Aborted, "")
	if !strings.Contains(status.Convert(err).Message(), "actual version 3") {
		t.Errorf("conflict message %q does not give the actual version", status.Convert(err).Message())
	}
	res, err = client.AppendEvents(ctx, &ordersagav1.AppendEventsRequest{AggregateType: "demo", AggregateId: "7",
		ExpectedVersion: ordersagav1.ExpectedVersion_EXPECTED_VERSION_EXACT, Version: 3, Events: batch(2)})
	if err != nil || res.Events[1].Version != 5 {
		t.Errorf("append at the exact version = %v, %v; want versions 4..5", res, err)
	}
	// The exact version 0 is a stream with nothing in it yet; the most events one append
	// takes land, one more is refused.
	res, err = client.AppendEvents(ctx, &ordersagav1.AppendEventsRequest{AggregateType: "demo", AggregateId: "most",
		ExpectedVersion: ordersagav1.ExpectedVersion_EXPECTED_VERSION_EXACT, Version: 0, Events: batch(ordersaga.MaxEventsPerAppend)})
	if err != nil || len(res.Events) != ordersaga.MaxEventsPerAppend {
		t.Errorf("%d events at exact version 0: %d appended, %v", ordersaga.MaxEventsPerAppend, len(res.GetEvents()), err)
	}
	_, err = client.AppendEvents(ctx, &ordersagav1.AppendEventsRequest{AggregateType: "demo", AggregateId: "too-many",
		Events: batch(ordersaga.MaxEventsPerAppend + 1)})
	wantStatus(t, err, codes.InvalidArgument, "events")
	reused := batch(1)
	reused[0].EventId, reused[0].EventData = first.Events[0].EventId, `{"other": "content"}`
	_, err = client.AppendEvents(ctx, &ordersagav1.AppendEventsRequest{AggregateType: "demo", AggregateId: "7", Events: reused})
	wantStatus(t, err, codes.Aborted, "")
}

func TestBadRequestsAreInvalidArgumentNamingTheField(t *testing.T) {
	client := ordersagav1.NewEventStoreServiceClient(serve(t, dbtest.NewDatabase(t)))
	ctx := context.Background()
	good := func() *ordersagav1.Event {
		return &ordersagav1.Event{EventId: uuid.NewString(), EventType: "order-created", AggregateId: "1", AggregateType: "demo", EventData: `{}`}
	}
	create := func(mod func(*ordersagav1.Event)) error {
		e := good()
		mod(e)
		_, err := client.CreateEvent(ctx, &ordersagav1.CreateEventRequest{Event: e})
		return err
	}
	appendOne := func(mod func(*ordersagav1.AppendEventsRequest)) error {
		req := &ordersagav1.AppendEventsRequest{AggregateType: "demo", AggregateId: "1",
			Events: []*ordersagav1.NewEvent{{EventId: uuid.NewString(), EventType: "order-created", EventData: `{}`}}}
		mod(req)
		_, err := client.AppendEvents(ctx, req)
		return err
	}
	get := func(req *ordersagav1.GetEventsRequest) error {
		_, err := client.GetEvents(ctx, req)
		return err
	}
	tests := []struct {
		name  string
		call  func() error
		field string
	}{
		{"no event", func() error { _, err := client.CreateEvent(ctx, &ordersagav1.CreateEventRequest{}); return err }, "event"},
		{"missing event id", func() error { return create(func(e *ordersagav1.Event) { e.EventId = "" }) }, "event.event_id"},
		{"malformed event id", func() error { return create(func(e *ordersagav1.Event) { e.EventId = "not-a-uuid" }) }, "event.event_id"},
		{"missing event type", func() error { return create(func(e *ordersagav1.Event) { e.EventType = "" }) }, "event.event_type"},
		{"bad event type", func() error { return create(func(e *ordersagav1.Event) { e.EventType = "order created!" }) }, "event.event_type"},
		{"missing aggregate id", func() error { return create(func(e *ordersagav1.Event) { e.AggregateId = "" }) }, "event.aggregate_id"},
		{"bad aggregate type", func() error { return create(func(e *ordersagav1.Event) { e.AggregateType = "Order-Type" }) }, "event.aggregate_type"},
		{"data not an object", func() error { return create(func(e *ordersagav1.Event) { e.EventData = `[1, 2]` }) }, "event.event_data"},
		{"data not JSON", func() error { return create(func(e *ordersagav1.Event) { e.EventData = `{oops` }) }, "event.event_data"},
		{"channel differs from type", func() error { return create(func(e *ordersagav1.Event) { e.Channel = "elsewhere" }) }, "event.channel"},
		{"metadata not an object", func() error { return create(func(e *ordersagav1.Event) { e.Metadata = `"x"` }) }, "event.metadata"},
		{"append without events", func() error { return appendOne(func(r *ordersagav1.AppendEventsRequest) { r.Events = nil }) }, "events"},
		{"append with bad data", func() error {
			return appendOne(func(r *ordersagav1.AppendEventsRequest) { r.Events[0].EventData = `1` })
		}, "events[0].event_data"},
		{"append with negative exact version", func() error {
			return appendOne(func(r *ordersagav1.AppendEventsRequest) {
				r.ExpectedVersion, r.Version = ordersagav1.ExpectedVersion_EXPECTED_VERSION_EXACT, -1
			})
		}, "version"},
		{"append with unknown expectation", func() error {
			return appendOne(func(r *ordersagav1.AppendEventsRequest) { r.ExpectedVersion = 99 })
		}, "expected_version"},
		{"append without aggregate type", func() error {
			return appendOne(func(r *ordersagav1.AppendEventsRequest) { r.AggregateType = "" })
		}, "aggregate_type"},
		{"page size too large", func() error { return get(&ordersagav1.GetEventsRequest{PageSize: api.MaxPageSize + 1}) }, "page_size"},
		{"malformed page token", func() error { return get(&ordersagav1.GetEventsRequest{PageToken: "%%%"}) }, "page_token"},
		{"from version without aggregate", func() error { return get(&ordersagav1.GetEventsRequest{FromVersion: 3}) }, "from_version"},
		{"aggregate type without id", func() error { return get(&ordersagav1.GetEventsRequest{AggregateType: "demo"}) }, "aggregate_id"},
		{"type filter on a stream", func() error {
			return get(&ordersagav1.GetEventsRequest{AggregateType: "demo", AggregateId: "1", EventTypes: []string{"x"}})
		}, "event_types"},
		{"bad type filter", func() error { return get(&ordersagav1.GetEventsRequest{EventTypes: []string{"ok", "not ok"}}) }, "event_types[1]"},
		{"negative position", func() error { return get(&ordersagav1.GetEventsRequest{AfterPosition: -1}) }, "after_position"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantStatus(t, tt.call(), codes.InvalidArgument, tt.field)
		})
	}
	all, err := client.GetEvents(ctx, &ordersagav1.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Events) != 0 {
		t.Errorf("rejected requests stored %d events", len(all.Events))
	}
}

func TestGetEventsPages(t *testing.T) {
	client := ordersagav1.NewEventStoreServiceClient(serve(t, dbtest.NewDatabase(t)))
	ctx := context.Background()
	types := []string{"order-created", "order-approved"}
	for i := range 23 {
		_, err := client.CreateEvent(ctx, &ordersagav1.CreateEventRequest{Event: &ordersagav1.Event{
			EventId: uuid.NewString(), EventType: types[i%2], AggregateType: "demo", AggregateId: fmt.Sprint(i % 4),
			EventData: fmt.Sprintf(`{"i": %d}`, i)}})
		if err != nil {
			t.Fatal(err)
		}
	}
	pages := func(req *ordersagav1.GetEventsRequest) (events []*ordersagav1.Event, pageCount int) {
		for pageCount < 100 {
			res, err := client.GetEvents(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			pageCount++
			events = append(events, res.Events...)
			if res.NextPageToken == "" {
				return events, pageCount
			}
			req.PageToken = res.NextPageToken
		}
		t.Fatalf("paging %v does not end after 100 pages", req)
		return nil, 0
	}
	all, n := pages(&ordersagav1.GetEventsRequest{PageSize: 5})
	if len(all) != 23 || n != 5 {
		t.Errorf("all events: %d in %d pages, want 23 in 5", len(all), n)
	}
	if !sort.SliceIsSorted(all, func(i, j int) bool { return all[i].Position < all[j].Position }) {
		t.Errorf("all events are not in position order")
	}
	created, _ := pages(&ordersagav1.GetEventsRequest{PageSize: 4, EventTypes: []string{"order-created"}})
	if len(created) != 12 {
		t.Errorf("order-created events: %d, want 12", len(created))
	}
	stream, n := pages(&ordersagav1.GetEventsRequest{AggregateType: "demo", AggregateId: "1", PageSize: 2, FromVersion: 2})
	if len(stream) != 5 || n != 3 || stream[0].Version != 2 || stream[4].Version != 6 {
		t.Errorf("order-1 from version 2: %d events in %d pages, want versions 2..6 in 3 pages", len(stream), n)
	}
	// A page that holds exactly what is left is the last: no token to a page of nothing.
	for _, size := range []int32{23, api.MaxPageSize} {
		if whole, n := pages(&ordersagav1.GetEventsRequest{PageSize: size}); len(whole) != 23 || n != 1 {
			t.Errorf("page size %d: %d events in %d pages, want 23 in one", size, len(whole), n)
		}
	}
	after, _ := pages(&ordersagav1.GetEventsRequest{AfterPosition: all[19].Position})
	if len(after) != 3 {
		t.Errorf("after position of the 20th event: %d events, want 3", len(after))
	}
	first, err := client.GetEvents(ctx, &ordersagav1.GetEventsRequest{PageSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.GetEvents(ctx, &ordersagav1.GetEventsRequest{PageSize: 5, EventTypes: []string{"order-created"}, PageToken: first.NextPageToken})
	wantStatus(t, err, codes.InvalidArgument, "page_token")
}

func TestHealthAndReflection(t *testing.T) {
	conn := serve(t, dbtest.NewDatabase(t))
	ctx := context.Background()
	for _, service := range []string{"", "ordersaga.v1.EventStoreService"} {
		res, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil || res.Status != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health of %q = %v, %v; want SERVING", service, res, err)
		}
	}
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	res, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range res.GetListServicesResponse().GetService() {
		names = append(names, s.Name)
	}
	sort.Strings(names)
	want := "[grpc.health.v1.Health grpc.reflection.v1.ServerReflection grpc.reflection.v1alpha.ServerReflection ordersaga.v1.EventStoreService]"
	if fmt.Sprint(names) != want {
		t.Errorf("reflection lists %v, want %s", names, want)
	}
}

// TestDatabaseDownIsUnavailable stops a private PostgreSQL under a running API.
func TestDatabaseDownIsUnavailable(t *testing.T) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ordersaga-pg-down-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cluster, err := pglocal.Start(ctx, pglocal.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cluster.Stop()
		}
	})
	client := ordersagav1.NewEventStoreServiceClient(serve(t, cluster.URL("postgres")))
	create := func() error {
		_, err := client.CreateEvent(ctx, &ordersagav1.CreateEventRequest{Event: &ordersagav1.Event{
			EventId: uuid.NewString(), EventType: "order-created", AggregateType: "demo", AggregateId: "1", EventData: `{}`}})
		return err
	}
	if err := create(); err != nil {
		t.Fatalf("with the database up: %v", err)
	}
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	wantStatus(t, create(), codes.Unavailable, "")
	_, err = client.GetEvents(ctx, &ordersagav1.GetEventsRequest{})
	wantStatus(t, err, codes.Unavailable, "")
}

func TestStatusMapsEveryCode(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	// One case per application code: a code added to ordersaga.ErrorCodes without a case
	// here fails the test.
	byCode := map[string]struct {
		err  error
		code codes.Code
		msg  string
	}{
		ordersaga.EINVALID:         {ordersaga.Invalidf("events[0].event_id", "bad"), codes.InvalidArgument, "events[0].event_id: bad"},
		ordersaga.ENOTFOUND:        {ordersaga.Errorf(ordersaga.ENOTFOUND, "no order 7"), codes.NotFound, "no order 7"},
		ordersaga.ECONFLICT:        {ordersaga.Errorf(ordersaga.ECONFLICT, "stale"), codes.Aborted, "stale"},
		ordersaga.EEXISTS:          {ordersaga.Errorf(ordersaga.EEXISTS, "taken"), codes.AlreadyExists, "taken"},
		ordersaga.EPRECONDITION:    {ordersaga.Errorf(ordersaga.EPRECONDITION, "decided already"), codes.FailedPrecondition, "decided already"},
		ordersaga.EUNAUTHENTICATED: {ordersaga.Errorf(ordersaga.EUNAUTHENTICATED, "token expired"), codes.Unauthenticated, "token expired"},
		ordersaga.EFORBIDDEN:       {ordersaga.Errorf(ordersaga.EFORBIDDEN, "order 7 is not yours"), codes.PermissionDenied, "order 7 is not yours"},
		ordersaga.EUNAVAILABLE:     {fmt.Errorf("wrapped: %w", ordersaga.Errorf(ordersaga.EUNAVAILABLE, "db down")), codes.Unavailable, "db down"},
		ordersaga.EINTERNAL:        {&ordersaga.Error{Code: ordersaga.EINTERNAL, Message: "internal error", Err: errors.New("secret detail")}, codes.Internal, "internal error"},
	}
	for _, code := range ordersaga.ErrorCodes() {
		tt, ok := byCode[code]
		if !ok {
			t.Errorf("no case for application code %q", code)
			continue
		}
		t.Run(code, func(t *testing.T) {
			st := status.Convert(api.Status(logger, "/test", tt.err))
			if st.Code() != tt.code || st.Message() != tt.msg {
				t.Errorf("Status(%v) = %v %q, want %v %q", tt.err, st.Code(), st.Message(), tt.code, tt.msg)
			}
		})
	}
	// Errors that are not application errors.
	for _, tt := range []struct {
		name string
		err  error
		code codes.Code
		msg  string
	}{
		{"a plain error", errors.New("secret detail"), codes.Internal, "internal error"},
		{"cancellation", context.Canceled, codes.Canceled, ""},
		{"a deadline", fmt.Errorf("read: %w", context.DeadlineExceeded), codes.DeadlineExceeded, ""},
		{"a gRPC status", status.Error(codes.PermissionDenied, "no"), codes.PermissionDenied, "no"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := status.Convert(api.Status(logger, "/test", tt.err))
			if st.Code() != tt.code || (tt.msg != "" && st.Message() != tt.msg) {
				t.Errorf("Status(%v) = %v %q, want %v %q", tt.err, st.Code(), st.Message(), tt.code, tt.msg)
			}
		})
	}
	if api.Status(logger, "/test", nil) != nil {
		t.Error("Status(nil) is not nil")
	}
}
