package restaurant

import (
	"context"
	"encoding/json"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ordersaga/ordersaga"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/workflows"
)

// APIOrders are the orders as the gRPC API serves them to its client: the simulator
// calls it with credentials like any other client, and may see and decide only what they
// allow.
type APIOrders struct {
	Client ordersagav1.OrderServiceClient
}

var _ Orders = APIOrders{}

// Created implements Orders with the order's history: its first event.
func (a APIOrders) Created(ctx context.Context, orderID string) (ordersaga.OrderCreated, error) {
	var created ordersaga.OrderCreated
	h, err := a.Client.GetOrderHistory(ctx, &ordersagav1.GetOrderHistoryRequest{OrderId: orderID})
	if err != nil {
		return created, apiError(err)
	}
	if len(h.Events) == 0 || h.Events[0].EventType != ordersaga.EventOrderCreated || json.Unmarshal([]byte(h.Events[0].EventData), &created) != nil {
		return created, ordersaga.Errorf(ordersaga.EINTERNAL, "order %s does not start with a readable %s", orderID, ordersaga.EventOrderCreated)
	}
	return created, nil
}

// Decide implements Orders with ApproveOrder or RejectOrder.
func (a APIOrders) Decide(ctx context.Context, orderID string, d workflows.Decision) error {
	var err error
	if d.Approved {
		_, err = a.Client.ApproveOrder(ctx, &ordersagav1.ApproveOrderRequest{OrderId: orderID})
	} else {
		_, err = a.Client.RejectOrder(ctx, &ordersagav1.RejectOrderRequest{OrderId: orderID, Reason: d.Reason})
	}
	return apiError(err)
}

// apiError turns the API's statuses into application errors: what is not there, or not
// this caller's, is ENOTFOUND; a decision no longer needed EPRECONDITION; an API that
// cannot answer now EUNAVAILABLE; the rest (credentials refused, say) EINTERNAL.
func apiError(err error) error {
	if err == nil {
		return nil
	}
	st := status.Convert(err)
	switch st.Code() {
	case codes.NotFound, codes.PermissionDenied:
		return &ordersaga.Error{Code: ordersaga.ENOTFOUND, Message: st.Message(), Err: err}
	case codes.FailedPrecondition:
		return &ordersaga.Error{Code: ordersaga.EPRECONDITION, Message: st.Message(), Err: err}
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Canceled:
		return &ordersaga.Error{Code: ordersaga.EUNAVAILABLE, Message: "the order API: " + st.Message(), Err: err}
	}
	return &ordersaga.Error{Code: ordersaga.EINTERNAL, Message: "the order API: " + st.Message(), Err: err}
}
