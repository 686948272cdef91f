package api_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/api"
	"github.com/ordersaga/ordersaga/auth"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/internal/stacktest"
	"github.com/ordersaga/ordersaga/internal/system"
	"github.com/ordersaga/ordersaga/menus"
)

// orderClient serves the full API over a real listener on a running stack.
func orderClient(t *testing.T) ordersagav1.OrderServiceClient {
	t.Helper()
	return ordersagav1.NewOrderServiceClient(apiConn(t))
}

// apiConn serves the full API over a real listener on a running stack and connects to it
// as an operator.
func apiConn(t *testing.T) *grpc.ClientConn {
	t.Helper()
	s, addr := serveStack(t)
	return connect(t, addr, s.Tokens.As(t, stacktest.Operator))
}

// serveStack serves the full API over a real listener on a running stack.
func serveStack(t *testing.T) (*stacktest.Stack, string) {
	t.Helper()
	return serveStackOn(t, system.BusNATSStreaming, nil)
}

// serveStackOn serves the full API, over TLS when serverTLS is set, on a stack that runs
// on the bus of kind busKind.
func serveStackOn(t *testing.T, busKind string, serverTLS *tls.Config) (*stacktest.Stack, string) {
	t.Helper()
	s := stacktest.StartOn(t, busKind)
	// The tests' orders are of pizza at 10.00, next to the demo menu.
	if _, err := (menus.Menus{Store: s.Store}).SetItem(context.Background(), "r-1", ordersaga.MenuItem{ID: "pizza", Name: "Margherita", Price: 1000, Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	a, err := system.NewAPI(system.APIConfig{DB: s.DB, Temporal: s.Temporal, Tokens: s.Tokens.Verifier, Addr: "127.0.0.1:0", Reflection: true,
		TLS: serverTLS})
	if err != nil {
		t.Fatal(err)
	}
	stacktest.Run(t, a)
	return s, a.Addr()
}

// connect dials the API at addr with opts (credentials, say).
func connect(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func placeRequest(orderID, customer string, quantity int64) *ordersagav1.PlaceOrderRequest {
	return &ordersagav1.PlaceOrderRequest{OrderId: orderID, CustomerId: customer, RestaurantId: "r-1", Currency: "EUR",
		Items: []*ordersagav1.Item{{Id: "pizza", Name: "Margherita", UnitPrice: 1000, Quantity: quantity}}}
}

// decide retries a decision until the saga awaits it.
func decide(t *testing.T, c ordersagav1.OrderServiceClient, orderID string, approve bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		if approve {
			_, err = c.ApproveOrder(context.Background(), &ordersagav1.ApproveOrderRequest{OrderId: orderID})
		} else {
			_, err = c.RejectOrder(context.Background(), &ordersagav1.RejectOrderRequest{OrderId: orderID, Reason: "closed"})
		}
		if err == nil {
			return
		}
		if status.Code(err) != codes.FailedPrecondition || time.Now().After(deadline) {
			t.Fatalf("decision for %s: %v", orderID, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestOrderLifecycleOverGRPC(t *testing.T) {
	c := orderClient(t)
	ctx := context.Background()
	customer := "c-" + uuid.NewString()[:8]
	acct, err := c.CreditAccount(ctx, &ordersagav1.CreditAccountRequest{CustomerId: customer, Amount: 10000, Currency: "EUR", Reference: "t1"})
	if err != nil || acct.Account.Balance != 10000 {
		t.Fatalf("CreditAccount = %v, %v", acct, err)
	}
	orderID := "o-" + uuid.NewString()[:8]
	placed, err := c.PlaceOrder(ctx, placeRequest(orderID, customer, 3))
	if err != nil || placed.AlreadyPlaced || placed.WorkflowId != "order-"+orderID {
		t.Fatalf("PlaceOrder = %v, %v", placed, err)
	}
	again, err := c.PlaceOrder(ctx, placeRequest(orderID, customer, 3))
	if err != nil || !again.AlreadyPlaced || again.RunId != placed.RunId {
		t.Errorf("placing the same order again = %v, %v; want the first saga, already placed", again, err)
	}
	if other, err := c.PlaceOrder(ctx, placeRequest(orderID, customer, 4)); status.Code(err) != codes.AlreadyExists || !strings.Contains(err.Error(), orderID) {
		t.Errorf("placing the order id again with other items = %v, %v; want AlreadyExists naming the order", other, err)
	}

	watch, err := c.WatchOrder(ctx, &ordersagav1.WatchOrderRequest{OrderId: orderID})
	if err != nil {
		t.Fatal(err)
	}
	decide(t, c, orderID, true)
	var seen []string
	for {
		m, err := watch.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("WatchOrder: %v", err)
		}
		seen = append(seen, m.Order.Status)
	}
	if len(seen) == 0 || seen[len(seen)-1] != ordersaga.StatusApproved {
		t.Errorf("WatchOrder saw %v, want it to end at approved", seen)
	}

	got, err := c.GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: orderID, MinVersion: 3})
	if err != nil || got.Order.Status != ordersaga.StatusApproved || got.Order.Amount != 3000 || got.Order.Version != 3 {
		t.Errorf("GetOrder at version 3 = %v, %v; want approved, 3000", got, err)
	}
	history, err := c.GetOrderHistory(ctx, &ordersagav1.GetOrderHistoryRequest{OrderId: orderID})
	if err != nil || len(history.Events) != 3 || history.Events[2].EventType != ordersaga.EventOrderApproved {
		t.Errorf("GetOrderHistory = %v, %v; want created, debited, approved", history, err)
	}
	account, err := c.GetAccount(ctx, &ordersagav1.GetAccountRequest{CustomerId: customer})
	if err != nil || account.Account.Balance != 7000 {
		t.Errorf("GetAccount = %v, %v; want 7000 left", account, err)
	}
	_, err = c.ApproveOrder(ctx, &ordersagav1.ApproveOrderRequest{OrderId: orderID})
	wantStatus(t, err, codes.FailedPrecondition, "")
}

func TestRejectCancelAndListOverGRPC(t *testing.T) {
	c := orderClient(t)
	ctx := context.Background()
	customer := "c-" + uuid.NewString()[:8]
	if _, err := c.CreditAccount(ctx, &ordersagav1.CreditAccountRequest{CustomerId: customer, Amount: 100000, Currency: "EUR", Reference: "t"}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 5 {
		id := fmt.Sprintf("list-%s-%d", customer, i)
		ids = append(ids, id)
		if _, err := c.PlaceOrder(ctx, placeRequest(id, customer, 1)); err != nil {
			t.Fatal(err)
		}
	}
	decide(t, c, ids[0], false)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.CancelOrder(ctx, &ordersagav1.CancelOrderRequest{OrderId: ids[1]})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A customer who cannot pay: declined, compensated, rejected.
	poor := "poor-" + customer
	if _, err := c.CreditAccount(ctx, &ordersagav1.CreditAccountRequest{CustomerId: poor, Amount: 1, Currency: "EUR", Reference: "t"}); err != nil {
		t.Fatal(err)
	}
	declined := "declined-" + customer
	if _, err := c.PlaceOrder(ctx, placeRequest(declined, poor, 1)); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ids[0]: ordersaga.StatusRejected, ids[1]: ordersaga.StatusCancelled, declined: ordersaga.StatusRejected}
	for id, st := range want {
		for {
			o, err := c.GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: id, MinVersion: 2})
			if err == nil && o.Order.Status == st {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("order %s = %v, %v; want %s", id, o, err, st)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// All five appear, two per page, in order id order.
	var listed []string
	req := &ordersagav1.ListOrdersRequest{CustomerId: customer, PageSize: 2}
	for {
		for {
			page, err := c.ListOrders(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if page.NextPageToken == "" && len(listed)+len(page.Orders) < 5 && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond) // projectors still catching up
				continue
			}
			for _, o := range page.Orders {
				listed = append(listed, o.OrderId)
			}
			req.PageToken = page.NextPageToken
			break
		}
		if req.PageToken == "" {
			break
		}
	}
	if fmt.Sprint(listed) != fmt.Sprint(ids) {
		t.Errorf("listed %v, want %v", listed, ids)
	}
	// A page that holds exactly the five is the last; the largest page size is taken.
	for _, size := range []int32{5, api.MaxOrderPageSize} {
		page, err := c.ListOrders(ctx, &ordersagav1.ListOrdersRequest{CustomerId: customer, PageSize: size})
		if err != nil || len(page.Orders) != 5 || page.NextPageToken != "" {
			t.Errorf("page size %d: %d orders, next token %q, %v; want the five and no next page", size, len(page.GetOrders()), page.GetNextPageToken(), err)
		}
	}
	rejected, err := c.ListOrders(ctx, &ordersagav1.ListOrdersRequest{CustomerId: customer, Status: ordersaga.StatusRejected})
	if err != nil || len(rejected.Orders) != 1 || rejected.Orders[0].OrderId != ids[0] {
		t.Errorf("rejected orders = %v, %v; want %s", rejected, err, ids[0])
	}
}

func TestOrderServiceErrors(t *testing.T) {
	c := orderClient(t)
	ctx := context.Background()
	bad := placeRequest("bad-1", "c-1", 0)
	_, err := c.PlaceOrder(ctx, bad)
	wantStatus(t, err, codes.InvalidArgument, "items[0].quantity")
	_, err = c.PlaceOrder(ctx, &ordersagav1.PlaceOrderRequest{OrderId: "x"})
	wantStatus(t, err, codes.InvalidArgument, "customer_id")
	// Without min_version a missing order is NotFound at once, not after a wait.
	quick, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err = c.GetOrder(quick, &ordersagav1.GetOrderRequest{OrderId: "nope"})
	wantStatus(t, err, codes.NotFound, "")
	_, err = c.GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: "has space"})
	wantStatus(t, err, codes.InvalidArgument, "order_id")
	_, err = c.GetOrderHistory(ctx, &ordersagav1.GetOrderHistoryRequest{OrderId: "nope"})
	wantStatus(t, err, codes.NotFound, "")
	_, err = c.ApproveOrder(ctx, &ordersagav1.ApproveOrderRequest{OrderId: "nope"})
	wantStatus(t, err, codes.NotFound, "")
	_, err = c.CancelOrder(ctx, &ordersagav1.CancelOrderRequest{OrderId: "nope"})
	wantStatus(t, err, codes.NotFound, "")
	_, err = c.ListOrders(ctx, &ordersagav1.ListOrdersRequest{PageSize: 501})
	wantStatus(t, err, codes.InvalidArgument, "page_size")
	_, err = c.ListOrders(ctx, &ordersagav1.ListOrdersRequest{PageToken: "???"})
	wantStatus(t, err, codes.InvalidArgument, "page_token")
	// A forged token: the fingerprint of the (public) filters, then bytes that are not UTF-8.
	sum := sha256.Sum256([]byte(`orders "" "" ""`))
	forged := base64.RawURLEncoding.EncodeToString(append(sum[:8], 0xff, 0xfe))
	_, err = c.ListOrders(ctx, &ordersagav1.ListOrdersRequest{PageToken: forged})
	wantStatus(t, err, codes.InvalidArgument, "page_token")
	_, err = c.CreditAccount(ctx, &ordersagav1.CreditAccountRequest{CustomerId: "c-1", Amount: -1, Currency: "EUR", Reference: "r"})
	wantStatus(t, err, codes.InvalidArgument, "amount")
	_, err = c.GetAccount(ctx, &ordersagav1.GetAccountRequest{CustomerId: "nobody"})
	wantStatus(t, err, codes.NotFound, "")
	watch, err := c.WatchOrder(ctx, &ordersagav1.WatchOrderRequest{OrderId: "bad id"})
	if err == nil {
		_, err = watch.Recv()
	}
	wantStatus(t, err, codes.InvalidArgument, "order_id")
}

// TestHistoryIsWholeOrRefused gives one order stream exactly as many events as
// GetOrderHistory returns, and another one more: the first is returned whole, the second is
// refused, naming the paged read, rather than cut short.
func TestHistoryIsWholeOrRefused(t *testing.T) {
	s, addr := serveStack(t)
	ctx := context.Background()
	appendNoted := func(stream string, n int) {
		for n > 0 {
			var events []ordersaga.EventData
			for range min(n, 100) {
				events = append(events, ordersaga.EventData{ID: uuid.New(), Type: "order-noted", Data: []byte(`{}`)})
			}
			if _, err := s.Store.Append(ctx, ordersaga.MustParseStream(stream), ordersaga.AnyVersion, events); err != nil {
				t.Fatalf("append to %s: %v", stream, err)
			}
			n -= len(events)
		}
	}
	appendNoted("order-full", 1000) // what a history holds
	appendNoted("order-long", 1001) // one more
	c := ordersagav1.NewOrderServiceClient(connect(t, addr, s.Tokens.As(t, stacktest.Operator)))
	full, err := c.GetOrderHistory(ctx, &ordersagav1.GetOrderHistoryRequest{OrderId: "full"})
	if err != nil {
		t.Fatalf("a history of exactly 1000 events: %v", err)
	}
	if got := len(full.Events); got != 1000 || full.Events[999].Version != 1000 {
		t.Errorf("history of order-full: %d events, want all 1000", got)
	}
	_, err = c.GetOrderHistory(ctx, &ordersagav1.GetOrderHistoryRequest{OrderId: "long"})
	wantStatus(t, err, codes.FailedPrecondition, "")
	if !strings.Contains(status.Convert(err).Message(), "GetEvents") {
		t.Errorf("the refusal %q does not name EventStoreService.GetEvents", status.Convert(err).Message())
	}

	// The timeline likewise; these streams were written past the saga (there is none),
	// so the timeline is the store's part alone.
	timeline, err := c.GetOrderTimeline(ctx, &ordersagav1.GetOrderTimelineRequest{OrderId: "full"})
	if err != nil {
		t.Fatalf("the timeline of exactly 1000 events, without a saga: %v", err)
	}
	recorded := 0
	for _, e := range timeline.GetEntries() {
		if e.GetSource() == "store" {
			recorded++
		}
	}
	if recorded != 1000 {
		t.Errorf("the timeline of order-full has %d store entries, want all 1000", recorded)
	}
	_, err = c.GetOrderTimeline(ctx, &ordersagav1.GetOrderTimelineRequest{OrderId: "long"})
	wantStatus(t, err, codes.FailedPrecondition, "")
}

// TestReadYourWritesWaitsForTheReadModelThenSaysRetry asks GetOrder for a version that the
// store holds but that no read model will ever reflect (a stream that does not start with
// order-created, written past the saga). An operator may see any stream, so the API waits
// for the read model and, when it does not catch up, answers Unavailable (retry), neither
// NotFound at once nor a deadline error; a customer, who may not see a stream without an
// owner, is refused at once.
func TestReadYourWritesWaitsForTheReadModelThenSaysRetry(t *testing.T) {
	s, addr := serveStack(t)
	ctx := context.Background()
	noted := []ordersaga.EventData{{ID: uuid.New(), Type: "order-noted", Data: []byte(`{}`)}}
	if _, err := s.Store.Append(ctx, ordersaga.MustParseStream("order-stray"), ordersaga.AnyVersion, noted); err != nil {
		t.Fatal(err)
	}
	customer := ordersagav1.NewOrderServiceClient(connect(t, addr, s.Tokens.As(t, auth.Principal{Role: auth.Customer, ID: "c-1"})))
	_, err := customer.GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: "stray", MinVersion: 1})
	wantStatus(t, err, codes.PermissionDenied, "")

	operator := ordersagav1.NewOrderServiceClient(connect(t, addr, s.Tokens.As(t, stacktest.Operator)))
	start := time.Now()
	_, err = operator.GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: "stray", MinVersion: 1})
	wantStatus(t, err, codes.Unavailable, "")
	if !strings.Contains(status.Convert(err).Message(), "retry") {
		t.Errorf("the answer %q does not say to retry", status.Convert(err).Message())
	}
	if waited := time.Since(start); waited < 5*time.Second {
		t.Errorf("answered after %v; the API gives the read model 10s to catch up", waited)
	}
}
