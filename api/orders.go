package api

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ordersaga/ordersaga"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/workflows"
)

// Sagas is what OrderService needs from Temporal (workflows.Client).
type Sagas interface {
	// Place: EINVALID, EUNAVAILABLE.
	Place(ctx context.Context, in ordersaga.OrderInput) (workflows.Placed, error)
	// Decide: EINVALID, ENOTFOUND, EPRECONDITION, EUNAVAILABLE.
	Decide(ctx context.Context, orderID string, d workflows.Decision) (workflows.DecisionResult, error)
	// Cancel: EINVALID, ENOTFOUND, EPRECONDITION, EUNAVAILABLE.
	Cancel(ctx context.Context, orderID string) error
}

// ReadModels is what OrderService reads orders from (projections.Projector).
type ReadModels interface {
	// Order: ENOTFOUND, EUNAVAILABLE.
	Order(ctx context.Context, orderID string) (ordersaga.OrderView, error)
	// ListOrders: EUNAVAILABLE.
	ListOrders(ctx context.Context, f ordersaga.OrderFilter, afterOrderID string, limit int) ([]ordersaga.OrderView, error)
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
	// maxReadYourWritesWait caps how long GetOrder waits for min_version and WatchOrder
	// for an order to appear.
	maxReadYourWritesWait = 10 * time.Second
	pollInterval          = 50 * time.Millisecond
	// firstReadYourWritesPoll is how soon GetOrder looks again for a min_version the read
	// model has not reached; the interval doubles up to pollInterval. The projectors take
	// a few milliseconds (docs/benchmarks.md), so a client that asks right after the saga
	// wrote waits about that long, not a whole pollInterval.
	firstReadYourWritesPoll = 2 * time.Millisecond
)

type orderServer struct {
	ordersagav1.UnimplementedOrderServiceServer
	sagas    Sagas
	reads    ReadModels
	accounts Accounts
	store    EventStore
}

func (s *orderServer) PlaceOrder(ctx context.Context, req *ordersagav1.PlaceOrderRequest) (*ordersagav1.PlaceOrderResponse, error) {
	in := ordersaga.OrderInput{OrderID: req.GetOrderId(), CustomerID: req.GetCustomerId(), RestaurantID: req.GetRestaurantId(),
		Currency: req.GetCurrency(), DecisionTimeout: req.GetDecisionTimeout()}
	for _, it := range req.GetItems() {
		in.Items = append(in.Items, ordersaga.Item{ID: it.GetId(), Name: it.GetName(), UnitPrice: it.GetUnitPrice(), Quantity: it.GetQuantity()})
	}
	placed, err := s.sagas.Place(ctx, in)
	if err != nil {
		return nil, err
	}
	return &ordersagav1.PlaceOrderResponse{OrderId: in.OrderID, WorkflowId: placed.WorkflowID, RunId: placed.RunID, AlreadyPlaced: placed.AlreadyPlaced}, nil
}

func (s *orderServer) GetOrder(ctx context.Context, req *ordersagav1.GetOrderRequest) (*ordersagav1.GetOrderResponse, error) {
	if err := ordersaga.ValidateID("order_id", req.GetOrderId()); err != nil {
		return nil, err
	}
	if req.GetMinVersion() < 0 {
		return nil, ordersaga.Invalidf("min_version", "must not be negative, got %d", req.GetMinVersion())
	}
	ctx, cancel := context.WithTimeout(ctx, maxReadYourWritesWait)
	defer cancel()
	for wait := firstReadYourWritesPoll; ; wait = min(2*wait, pollInterval) {
		o, err := s.reads.Order(ctx, req.GetOrderId())
		switch {
		case err == nil && o.Version >= req.GetMinVersion():
			return &ordersagav1.GetOrderResponse{Order: orderToProto(o)}, nil
		case err != nil && (req.GetMinVersion() == 0 || ordersaga.ErrorCode(err) != ordersaga.ENOTFOUND):
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ordersaga.Errorf(ordersaga.EUNAVAILABLE, "order %s has not reached version %d in the read model yet; retry", req.GetOrderId(), req.GetMinVersion())
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
	fingerprint := fingerprintOf(f)
	after := ""
	if req.GetPageToken() != "" {
		var err error
		if after, err = decodeOrderToken(req.GetPageToken(), fingerprint); err != nil {
			return nil, err
		}
	}
	orders, err := s.reads.ListOrders(ctx, f, after, size+1)
	if err != nil {
		return nil, err
	}
	resp := &ordersagav1.ListOrdersResponse{}
	if len(orders) > size {
		orders = orders[:size]
		resp.NextPageToken = encodeOrderToken(fingerprint, orders[size-1].OrderID)
	}
	for _, o := range orders {
		resp.Orders = append(resp.Orders, orderToProto(o))
	}
	return resp, nil
}

func (s *orderServer) GetOrderHistory(ctx context.Context, req *ordersagav1.GetOrderHistoryRequest) (*ordersagav1.GetOrderHistoryResponse, error) {
	if err := ordersaga.ValidateID("order_id", req.GetOrderId()); err != nil {
		return nil, err
	}
	events, err := s.store.ReadStream(ctx, ordersaga.OrderStream(req.GetOrderId()), 1, 1000)
	if err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, ordersaga.Errorf(ordersaga.ENOTFOUND, "order %s not found", req.GetOrderId())
	}
	resp := &ordersagav1.GetOrderHistoryResponse{}
	for _, e := range events {
		resp.Events = append(resp.Events, toProto(e))
	}
	return resp, nil
}

func (s *orderServer) WatchOrder(req *ordersagav1.WatchOrderRequest, stream grpc.ServerStreamingServer[ordersagav1.WatchOrderResponse]) error {
	if err := ordersaga.ValidateID("order_id", req.GetOrderId()); err != nil {
		return err
	}
	ctx := stream.Context()
	appear := time.Now().Add(maxReadYourWritesWait)
	var sent int64
	for {
		o, err := s.reads.Order(ctx, req.GetOrderId())
		switch {
		case err == nil && o.Version > sent:
			if err := stream.Send(&ordersagav1.WatchOrderResponse{Order: orderToProto(o)}); err != nil {
				return err
			}
			sent = o.Version
			if o.Terminal() {
				return nil
			}
		case ordersaga.ErrorCode(err) == ordersaga.ENOTFOUND && time.Now().Before(appear):
			// Placed a moment ago: the projectors have not seen it yet.
		case err != nil:
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(4 * pollInterval):
		}
	}
}

func (s *orderServer) ApproveOrder(ctx context.Context, req *ordersagav1.ApproveOrderRequest) (*ordersagav1.ApproveOrderResponse, error) {
	res, err := s.sagas.Decide(ctx, req.GetOrderId(), workflows.Decision{Approved: true})
	if err != nil {
		return nil, err
	}
	return &ordersagav1.ApproveOrderResponse{Status: res.Status}, nil
}

func (s *orderServer) RejectOrder(ctx context.Context, req *ordersagav1.RejectOrderRequest) (*ordersagav1.RejectOrderResponse, error) {
	res, err := s.sagas.Decide(ctx, req.GetOrderId(), workflows.Decision{Approved: false, Reason: req.GetReason()})
	if err != nil {
		return nil, err
	}
	return &ordersagav1.RejectOrderResponse{Status: res.Status}, nil
}

func (s *orderServer) CancelOrder(ctx context.Context, req *ordersagav1.CancelOrderRequest) (*ordersagav1.CancelOrderResponse, error) {
	if err := s.sagas.Cancel(ctx, req.GetOrderId()); err != nil {
		return nil, err
	}
	return &ordersagav1.CancelOrderResponse{}, nil
}

func (s *orderServer) CreditAccount(ctx context.Context, req *ordersagav1.CreditAccountRequest) (*ordersagav1.CreditAccountResponse, error) {
	a, err := s.accounts.Credit(ctx, req.GetCustomerId(), req.GetAmount(), req.GetCurrency(), req.GetReference())
	if err != nil {
		return nil, err
	}
	return &ordersagav1.CreditAccountResponse{Account: accountToProto(a)}, nil
}

func (s *orderServer) GetAccount(ctx context.Context, req *ordersagav1.GetAccountRequest) (*ordersagav1.GetAccountResponse, error) {
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

func fingerprintOf(f ordersaga.OrderFilter) uint64 {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%q %q %q", f.CustomerID, f.RestaurantID, f.Status)))
	return binary.BigEndian.Uint64(sum[:8])
}

func encodeOrderToken(fingerprint uint64, after string) string {
	b := binary.BigEndian.AppendUint64(nil, fingerprint)
	return base64.RawURLEncoding.EncodeToString(append(b, after...))
}

func decodeOrderToken(token string, fingerprint uint64) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) < 9 {
		return "", ordersaga.Invalidf("page_token", "malformed; pass next_page_token from the previous response unchanged")
	}
	if binary.BigEndian.Uint64(b) != fingerprint {
		return "", ordersaga.Invalidf("page_token", "belongs to other filters; keep customer_id, restaurant_id and status unchanged while paging")
	}
	return string(b[8:]), nil
}
