package telemetry_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	sdkworker "go.temporal.io/sdk/worker"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/api"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/internal/stacktest"
	"github.com/ordersaga/ordersaga/internal/system"
	"github.com/ordersaga/ordersaga/telemetry"
)

func TestMain(m *testing.M) {
	// Every workflow task replays the saga's history so far, so that a span started again
	// on replay would show up twice.
	sdkworker.SetStickyWorkflowCacheSize(0)
	stacktest.Main(m)
}

// instrumentedStack runs the whole system with tel, as dev does: the worker, the
// projectors, the API on a real listener and the restaurant simulator, which decides
// through the API. It returns a client of the API, as an operator, instrumented too.
func instrumentedStack(t *testing.T, tel *telemetry.Telemetry) (*stacktest.Stack, ordersagav1.OrderServiceClient) {
	t.Helper()
	s := stacktest.StartWith(t, stacktest.Options{Telemetry: tel})
	a, err := system.NewAPI(system.APIConfig{DB: s.DB, Temporal: s.Temporal, Tokens: s.Tokens.Verifier, Addr: "127.0.0.1:0", Telemetry: tel})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(a.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()), s.Tokens.As(t, stacktest.Operator),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(api.InstrumentOptions(tel.Meters, tel.Tracers)...)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := ordersagav1.NewOrderServiceClient(conn)
	r, err := system.NewRestaurant(system.RestaurantConfig{Bus: s.Bus, API: client, Delay: 50 * time.Millisecond, Telemetry: tel})
	if err != nil {
		t.Fatal(err)
	}
	stacktest.Run(t, a, r)
	return s, client
}

// placeAndAwait places an order of two pizzas for a funded customer and waits until the
// read model shows it approved.
func placeAndAwait(t *testing.T, s *stacktest.Stack, c ordersagav1.OrderServiceClient, orderID, customer string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Accounts.Credit(ctx, customer, 10000, "EUR", "funding-"+customer); err != nil {
		t.Fatal(err)
	}
	_, err := c.PlaceOrder(ctx, &ordersagav1.PlaceOrderRequest{OrderId: orderID, CustomerId: customer, RestaurantId: "r-1", Currency: "EUR",
		Items: []*ordersagav1.Item{{Id: "margherita", Quantity: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := c.GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: orderID})
		if err == nil && res.GetOrder().GetStatus() == ordersaga.StatusApproved {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s never approved: %v %v", orderID, res, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAnOrderIsOneTrace places an order through the API on the real stack and follows it
// in the spans: one trace from the client's PlaceOrder through the saga's start, every
// activity, every append, each event's publish, the projectors' writes, the restaurant's
// decision and the update it sends. The worker keeps no workflow in its cache, so every
// workflow task replays the history: a span started again on replay would be counted twice.
func TestAnOrderIsOneTrace(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tel, err := telemetry.New(context.Background(), telemetry.Config{Service: "ordersaga-test", SpanExporter: spans})
	if err != nil {
		t.Fatal(err)
	}
	s, client := instrumentedStack(t, tel)
	placeAndAwait(t, s, client, "traced", "tracy")
	// The projector applies order-approved before the read model says approved; the spans
	// of its delivery end right after.
	time.Sleep(500 * time.Millisecond)

	all := spans.GetSpans()
	place := slices.IndexFunc(all, func(sp tracetest.SpanStub) bool {
		return sp.Name == "ordersaga.v1.OrderService/PlaceOrder" && sp.SpanKind == trace.SpanKindClient
	})
	if place < 0 {
		t.Fatalf("no client span of PlaceOrder among %d spans", len(all))
	}
	id := all[place].SpanContext.TraceID()
	var order []tracetest.SpanStub
	names := map[string]int{}
	for _, sp := range all {
		if sp.SpanContext.TraceID() == id {
			order = append(order, sp)
			names[sp.Name]++
		}
	}
	// An RPC is a client and a server span; everything else happens once.
	want := map[string]int{"ordersaga.v1.OrderService/PlaceOrder": 2, "ordersaga.v1.OrderService/ApproveOrder": 2,
		"StartWorkflow:OrderSaga": 1, "RunWorkflow:OrderSaga": 1,
		"StartActivity:CreateOrder": 1, "RunActivity:CreateOrder": 1, "StartActivity:DebitPayment": 1, "RunActivity:DebitPayment": 1,
		"StartActivity:ApproveOrder": 1, "RunActivity:ApproveOrder": 1, "UpdateWorkflow:decide": 1, "HandleUpdate:decide": 1,
		"restaurant decides": 1, "eventstore.append": 2, "eventstore.append_streams": 1}
	for name, n := range want {
		if names[name] != n {
			t.Errorf("the order's trace has %d spans %q, want %d", names[name], name, n)
		}
	}
	for _, typ := range []string{ordersaga.EventOrderCreated, ordersaga.EventPaymentDebited, ordersaga.EventAccountDebited, ordersaga.EventOrderApproved} {
		if names["publish "+typ] < 1 {
			t.Errorf("the order's trace does not publish %s (spans: %v)", typ, names)
		}
		if !delivered(order, "deliver "+typ, system.ProjectorGroup) {
			t.Errorf("the order's trace has no delivery of %s to the projectors", typ)
		}
	}
	if !delivered(order, "deliver "+ordersaga.EventPaymentDebited, "restaurants") {
		t.Error("the order's trace has no delivery of the debit to the restaurant")
	}
	if !wroteUnder(order, system.ProjectorGroup) {
		t.Error("no projector's write to a read model is in the order's trace")
	}
	// Every span hangs under one of the trace (the client's PlaceOrder is the root), also
	// those started after a replay under the run's span.
	exported := map[trace.SpanID]bool{}
	for _, sp := range order {
		exported[sp.SpanContext.SpanID()] = true
	}
	for _, sp := range order {
		if sp.Parent.IsValid() && !exported[sp.Parent.SpanID()] {
			t.Errorf("span %q hangs under span %s, which the trace does not hold", sp.Name, sp.Parent.SpanID())
		} else if !sp.Parent.IsValid() && sp.SpanContext.SpanID() != all[place].SpanContext.SpanID() {
			t.Errorf("span %q is a second root of the trace", sp.Name)
		}
	}
	// Nothing the saga did is in another trace.
	for _, sp := range all {
		if sp.SpanContext.TraceID() != id && attributeIs(sp.Attributes, "temporalWorkflowID", "order-traced") {
			t.Errorf("span %q of the saga is in trace %s, not the order's %s", sp.Name, sp.SpanContext.TraceID(), id)
		}
	}
}

// delivered says whether spans hold a delivery named name to group.
func delivered(spans []tracetest.SpanStub, name, group string) bool {
	return slices.ContainsFunc(spans, func(sp tracetest.SpanStub) bool {
		return sp.Name == name && attributeIs(sp.Attributes, "messaging.consumer.group.name", group)
	})
}

// wroteUnder says whether a statement that changes a row ran under a delivery to group.
func wroteUnder(spans []tracetest.SpanStub, group string) bool {
	parent := map[trace.SpanID]tracetest.SpanStub{}
	for _, sp := range spans {
		parent[sp.SpanContext.SpanID()] = sp
	}
	for _, sp := range spans {
		if !strings.HasPrefix(sp.Name, "UPDATE ") && !strings.HasPrefix(sp.Name, "INSERT ") {
			continue
		}
		for p, ok := parent[sp.Parent.SpanID()]; ok; p, ok = parent[p.Parent.SpanID()] {
			if strings.HasPrefix(p.Name, "deliver ") {
				if attributeIs(p.Attributes, "messaging.consumer.group.name", group) {
					return true
				}
				break
			}
		}
	}
	return false
}

func attributeIs(attrs []attribute.KeyValue, key, value string) bool {
	return slices.ContainsFunc(attrs, func(kv attribute.KeyValue) bool { return string(kv.Key) == key && kv.Value.Emit() == value })
}

var _ sdktrace.SpanExporter = (*tracetest.InMemoryExporter)(nil)
