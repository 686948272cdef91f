package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/auth"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/workflows"
)

// Sagas is what OrderService needs from Temporal (workflows.Client).
type Sagas interface {
	// PlaceShowing places in, showing amount (as the menu prices it) in Temporal Web:
	// EINVALID, EEXISTS, EUNAVAILABLE.
	PlaceShowing(ctx context.Context, in ordersaga.OrderInput, amount int64) (workflows.Placed, error)
	// Decide: EINVALID, ENOTFOUND, EPRECONDITION, EUNAVAILABLE.
	Decide(ctx context.Context, orderID string, d workflows.Decision) (workflows.DecisionResult, error)
	// Cancel: EINVALID, ENOTFOUND, EPRECONDITION, EUNAVAILABLE.
	Cancel(ctx context.Context, orderID string) error
	// History: EINVALID, ENOTFOUND, EUNAVAILABLE.
	History(ctx context.Context, orderID string) ([]workflows.Step, error)
}

// ReadModels is what OrderService reads orders from (projections.Projector).
type ReadModels interface {
	// Order: ENOTFOUND, EUNAVAILABLE.
	Order(ctx context.Context, orderID string) (ordersaga.OrderView, error)
	// ListOrders: EUNAVAILABLE.
	ListOrders(ctx context.Context, f ordersaga.OrderFilter, afterOrderID string, limit int) ([]ordersaga.OrderView, error)
	// OrderMarks: EUNAVAILABLE.
	OrderMarks(ctx context.Context, orderID string) ([]ordersaga.OrderMark, error)
}

// Accounts is what OrderService uses for payments accounts (payments.Accounts).
type Accounts interface {
	// Credit: EINVALID, ECONFLICT, EUNAVAILABLE.
	Credit(ctx context.Context, customerID string, amount int64, currency, reference string) (ordersaga.Account, error)
	// Get: EINVALID, EUNAVAILABLE.
	Get(ctx context.Context, customerID string) (ordersaga.Account, error)
}

// Limits of OrderService.
const (
	DefaultOrderPageSize = 50
	MaxOrderPageSize     = 500
	// maxHistoryEvents is the most events GetOrderHistory returns; an order with more is
	// refused, naming the paged read that serves it (an order of the saga has at most 6).
	maxHistoryEvents = 1000
	// maxReadYourWritesWait caps how long GetOrder waits for min_version and WatchOrder
	// for an order to appear.
	maxReadYourWritesWait = 10 * time.Second
	// firstPoll is how soon the API looks at the read model again for a version it does
	// not hold yet; the interval doubles up to getOrderPoll (GetOrder) or watchPoll
	// (WatchOrder, which waits on people, not on projectors).
	firstPoll    = 2 * time.Millisecond
	getOrderPoll = 50 * time.Millisecond
	watchPoll    = 200 * time.Millisecond
)

type orderServer struct {
	ordersagav1.UnimplementedOrderServiceServer
	sagas    Sagas
	reads    ReadModels
	accounts Accounts
	menus    Menus
	store    EventStore
	// maxWatch is how long one WatchOrder stream lasts at most.
	maxWatch time.Duration
	// parties are the customer and restaurant of the orders asked about lately.
	parties *lru.Cache[string, orderParties]
}

func (s *orderServer) PlaceOrder(ctx context.Context, req *ordersagav1.PlaceOrderRequest) (*ordersagav1.PlaceOrderResponse, error) {
	in := ordersaga.OrderInput{OrderID: req.GetOrderId(), CustomerID: req.GetCustomerId(), RestaurantID: req.GetRestaurantId(),
		Currency: req.GetCurrency(), DecisionTimeout: req.GetDecisionTimeout()}
	for _, it := range req.GetItems() {
		in.Items = append(in.Items, ordersaga.Item{ID: it.GetId(), Name: it.GetName(), UnitPrice: it.GetUnitPrice(), Quantity: it.GetQuantity()})
	}
	p, err := auth.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	if !auth.MayActForCustomer(p, in.CustomerID) {
		return nil, auth.Denied("placing orders for customer %s", in.CustomerID)
	}
	in, amount, err := s.price(ctx, in)
	if err != nil {
		return nil, err
	}
	placed, err := s.sagas.PlaceShowing(ctx, in, amount)
	if err != nil {
		return nil, err
	}
	return &ordersagav1.PlaceOrderResponse{OrderId: in.OrderID, WorkflowId: placed.WorkflowID, RunId: placed.RunID, AlreadyPlaced: placed.AlreadyPlaced,
		MenuVersion: in.MenuVersion}, nil
}

func (s *orderServer) GetOrder(ctx context.Context, req *ordersagav1.GetOrderRequest) (*ordersagav1.GetOrderResponse, error) {
	p, err := auth.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	if err := ordersaga.ValidateID("order_id", req.GetOrderId()); err != nil {
		return nil, err
	}
	if req.GetMinVersion() < 0 {
		return nil, ordersaga.Invalidf("min_version", "must not be negative, got %d", req.GetMinVersion())
	}
	if req.GetMinVersion() > 0 {
		// Usually the read model is there already (a client reading what it just wrote
		// asks a moment after the write): the store holds every version the read model
		// shows, so its answer needs no look at the store.
		if o, err := s.reads.Order(ctx, req.GetOrderId()); err == nil && o.Version >= req.GetMinVersion() {
			return visibleOrder(p, o)
		}
		if err := s.reachable(ctx, p, req.GetOrderId(), req.GetMinVersion()); err != nil {
			return nil, err
		}
	}
	// Without min_version, a missing order is NotFound at once; with one, the store has
	// the version (reachable) and the projectors will have it in a moment.
	appear := time.Time{}
	if req.GetMinVersion() > 0 {
		appear = time.Now().Add(2 * maxReadYourWritesWait) // the wait ends first: Unavailable, retry
	}
	waitCtx, cancel := context.WithTimeout(ctx, maxReadYourWritesWait)
	defer cancel()
	o, err := s.awaitOrder(waitCtx, req.GetOrderId(), req.GetMinVersion(), appear, getOrderPoll)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return nil, ordersaga.Errorf(ordersaga.EUNAVAILABLE, "order %s has not reached version %d in the read model yet; retry", req.GetOrderId(), req.GetMinVersion())
	}
	if err != nil {
		return nil, hideMissing(p, req.GetOrderId(), err)
	}
	return visibleOrder(p, o)
}

// visibleOrder is GetOrder's answer to p: the order, if p may see it.
func visibleOrder(p auth.Principal, o ordersaga.OrderView) (*ordersagav1.GetOrderResponse, error) {
	if !auth.MaySeeOrder(p, o.CustomerID, o.RestaurantID) {
		return nil, auth.Denied("order %s", o.OrderID)
	}
	return &ordersagav1.GetOrderResponse{Order: orderToProto(o)}, nil
}

// reachable returns nil when the store holds version minVersion of an order that p may
// see, so that waiting for the read model to reach it makes sense; a version the store has
// not got is EPRECONDITION at once, and an order p may not see is refused first.
func (s *orderServer) reachable(ctx context.Context, p auth.Principal, orderID string, minVersion int64) error {
	customer, restaurant, err := s.orderParties(ctx, p, orderID)
	if err != nil {
		return err
	}
	if !auth.MaySeeOrder(p, customer, restaurant) {
		return auth.Denied("order %s", orderID)
	}
	stream, err := ordersaga.OrderStream(orderID)
	if err != nil {
		return err
	}
	version, err := s.store.StreamVersion(ctx, stream)
	if err != nil {
		return err
	}
	if version < minVersion {
		return ordersaga.Errorf(ordersaga.EPRECONDITION, "order %s is at version %d; version %d has not been written", orderID, version, minVersion)
	}
	return nil
}

// awaitOrder polls the read model until it holds the order at version least or later,
// and returns it. An order the read model does not hold is waited for until appear, then it
// is ENOTFOUND. The polls start after firstPoll and double up to maxPoll; ctx bounds it all.
func (s *orderServer) awaitOrder(ctx context.Context, orderID string, least int64, appear time.Time, maxPoll time.Duration) (ordersaga.OrderView, error) {
	for wait := firstPoll; ; wait = min(2*wait, maxPoll) {
		o, err := s.reads.Order(ctx, orderID)
		switch code := ordersaga.ErrorCode(err); {
		case err == nil && o.Version >= least:
			return o, nil
		case code == ordersaga.ENOTFOUND && time.Now().After(appear):
			return o, err
		case err != nil && code != ordersaga.ENOTFOUND:
			return o, err
		}
		select {
		case <-ctx.Done():
			return ordersaga.OrderView{}, ctx.Err()
		case <-time.After(wait):
		}
	}
}

func (s *orderServer) ListOrders(ctx context.Context, req *ordersagav1.ListOrdersRequest) (*ordersagav1.ListOrdersResponse, error) {
	size := int(req.GetPageSize())
	switch {
	case size < 0 || size > MaxOrderPageSize:
		return nil, ordersaga.Invalidf("page_size", "must be between 0 (default %d) and %d, got %d", DefaultOrderPageSize, MaxOrderPageSize, size)
	case size == 0:
		size = DefaultOrderPageSize
	}
	f := ordersaga.OrderFilter{CustomerID: req.GetCustomerId(), RestaurantID: req.GetRestaurantId(), Status: req.GetStatus()}
	if err := restrictToCaller(ctx, &f); err != nil {
		return nil, err
	}
	selection := fmt.Sprintf("orders %q %q %q", f.CustomerID, f.RestaurantID, f.Status)
	after := ""
	if req.GetPageToken() != "" {
		cursor, err := decodePageToken(req.GetPageToken(), selection)
		if err != nil {
			return nil, err
		}
		// The cursor is the last order id of the page before; a token is not secret (its
		// fingerprint is of public filters), so a forged one may carry any bytes.
		if ordersaga.ValidateID("page_token", string(cursor)) != nil {
			return nil, ordersaga.Invalidf("page_token", "malformed; pass next_page_token from the previous response unchanged")
		}
		after = string(cursor)
	}
	orders, err := s.reads.ListOrders(ctx, f, after, size+1)
	if err != nil {
		return nil, err
	}
	resp := &ordersagav1.ListOrdersResponse{}
	if len(orders) > size {
		orders = orders[:size]
		resp.NextPageToken = encodePageToken(selection, []byte(orders[size-1].OrderID))
	}
	for _, o := range orders {
		resp.Orders = append(resp.Orders, orderToProto(o))
	}
	return resp, nil
}

func (s *orderServer) GetOrderHistory(ctx context.Context, req *ordersagav1.GetOrderHistoryRequest) (*ordersagav1.GetOrderHistoryResponse, error) {
	p, err := auth.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	stream, err := ordersaga.OrderStream(req.GetOrderId())
	if err != nil {
		return nil, err
	}
	events, err := s.store.ReadStream(ctx, stream, 1, maxHistoryEvents+1)
	switch {
	case err != nil:
		return nil, err
	case len(events) == 0:
		return nil, hideMissing(p, req.GetOrderId(), ordersaga.Errorf(ordersaga.ENOTFOUND, "order %s not found", req.GetOrderId()))
	case !maySeeStream(p, events[0]):
		return nil, auth.Denied("order %s", req.GetOrderId())
	case len(events) > maxHistoryEvents:
		return nil, ordersaga.Errorf(ordersaga.EPRECONDITION, "order %s has more than %d events; page through them with EventStoreService.GetEvents",
			req.GetOrderId(), maxHistoryEvents)
	}
	resp := &ordersagav1.GetOrderHistoryResponse{}
	for _, e := range events {
		resp.Events = append(resp.Events, toProto(e))
	}
	return resp, nil
}

func (s *orderServer) WatchOrder(req *ordersagav1.WatchOrderRequest, stream grpc.ServerStreamingServer[ordersagav1.WatchOrderResponse]) error {
	p, err := auth.FromContext(stream.Context())
	if err != nil {
		return err
	}
	if err := ordersaga.ValidateID("order_id", req.GetOrderId()); err != nil {
		return err
	}
	// Placed a moment ago, the order may not be in the read model yet. After maxWatch the
	// stream ends, without an error; the client resubscribes.
	appear := time.Now().Add(maxReadYourWritesWait)
	ctx, cancel := context.WithTimeout(stream.Context(), s.maxWatch)
	defer cancel()
	for next := int64(1); ; {
		o, err := s.awaitOrder(ctx, req.GetOrderId(), next, appear, watchPoll)
		if errors.Is(err, context.DeadlineExceeded) && stream.Context().Err() == nil {
			return nil // the stream's lifetime is over
		}
		if err != nil {
			return hideMissing(p, req.GetOrderId(), err)
		}
		if !auth.MaySeeOrder(p, o.CustomerID, o.RestaurantID) {
			return auth.Denied("order %s", req.GetOrderId())
		}
		if err := stream.Send(&ordersagav1.WatchOrderResponse{Order: orderToProto(o)}); err != nil {
			return err
		}
		if o.Terminal() {
			return nil
		}
		next = o.Version + 1
	}
}

func (s *orderServer) ApproveOrder(ctx context.Context, req *ordersagav1.ApproveOrderRequest) (*ordersagav1.ApproveOrderResponse, error) {
	if err := s.mayDecide(ctx, req.GetOrderId()); err != nil {
		return nil, err
	}
	res, err := s.sagas.Decide(ctx, req.GetOrderId(), workflows.Decision{Approved: true})
	if err != nil {
		return nil, err
	}
	return &ordersagav1.ApproveOrderResponse{Status: res.Status}, nil
}

func (s *orderServer) RejectOrder(ctx context.Context, req *ordersagav1.RejectOrderRequest) (*ordersagav1.RejectOrderResponse, error) {
	if err := s.mayDecide(ctx, req.GetOrderId()); err != nil {
		return nil, err
	}
	res, err := s.sagas.Decide(ctx, req.GetOrderId(), workflows.Decision{Approved: false, Reason: req.GetReason()})
	if err != nil {
		return nil, err
	}
	return &ordersagav1.RejectOrderResponse{Status: res.Status}, nil
}

func (s *orderServer) CancelOrder(ctx context.Context, req *ordersagav1.CancelOrderRequest) (*ordersagav1.CancelOrderResponse, error) {
	p, err := auth.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	if p.Role != auth.Operator {
		customer, _, err := s.orderParties(ctx, p, req.GetOrderId())
		if err != nil {
			return nil, err
		}
		if !auth.MayActForCustomer(p, customer) {
			return nil, auth.Denied("order %s", req.GetOrderId())
		}
	}
	if err := s.sagas.Cancel(ctx, req.GetOrderId()); err != nil {
		return nil, err
	}
	return &ordersagav1.CancelOrderResponse{}, nil
}

func (s *orderServer) CreditAccount(ctx context.Context, req *ordersagav1.CreditAccountRequest) (*ordersagav1.CreditAccountResponse, error) {
	if err := mayOperate(ctx); err != nil {
		return nil, err
	}
	a, err := s.accounts.Credit(ctx, req.GetCustomerId(), req.GetAmount(), req.GetCurrency(), req.GetReference())
	if err != nil {
		return nil, err
	}
	return &ordersagav1.CreditAccountResponse{Account: accountToProto(a)}, nil
}

func (s *orderServer) GetAccount(ctx context.Context, req *ordersagav1.GetAccountRequest) (*ordersagav1.GetAccountResponse, error) {
	p, err := auth.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	if !auth.MayActForCustomer(p, req.GetCustomerId()) {
		return nil, auth.Denied("the account of customer %s", req.GetCustomerId())
	}
	a, err := s.accounts.Get(ctx, req.GetCustomerId())
	if err != nil {
		return nil, err
	}
	if a.Version == 0 {
		return nil, ordersaga.Errorf(ordersaga.ENOTFOUND, "customer %s has no account", req.GetCustomerId())
	}
	return &ordersagav1.GetAccountResponse{Account: accountToProto(a)}, nil
}

func orderToProto(o ordersaga.OrderView) *ordersagav1.Order {
	out := &ordersagav1.Order{OrderId: o.OrderID, CustomerId: o.CustomerID, RestaurantId: o.RestaurantID, Status: o.Status,
		Amount: o.Amount, Currency: o.Currency, Reason: o.Reason, Version: o.Version,
		CreatedAt: timestamppb.New(o.CreatedAt), UpdatedAt: timestamppb.New(o.UpdatedAt)}
	if !o.ProjectedAt.IsZero() {
		out.ProjectedAt = timestamppb.New(o.ProjectedAt)
	}
	for _, it := range o.Items {
		out.Items = append(out.Items, &ordersagav1.Item{Id: it.ID, Name: it.Name, UnitPrice: it.UnitPrice, Quantity: it.Quantity})
	}
	return out
}

func accountToProto(a ordersaga.Account) *ordersagav1.Account {
	return &ordersagav1.Account{CustomerId: a.CustomerID, Balance: a.Balance, Currency: a.Currency, Version: a.Version}
}
