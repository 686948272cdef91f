package loadgen

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ordersaga/ordersaga"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/workflows"
)

// driver places orders and hands their sagas decisions and cancellations, through one
// way in (Config.Via).
type driver interface {
	// place starts the order's saga and returns its run id.
	place(ctx context.Context, in ordersaga.OrderInput) (runID string, err error)
	decide(ctx context.Context, orderID string, d workflows.Decision) error
	cancel(ctx context.Context, orderID string) error
}

// newDriver returns the driver of cfg.Via (validated).
func newDriver(cfg Config) driver {
	if cfg.Via == ViaTemporal {
		return temporalDriver{workflows.Client{Temporal: cfg.Temporal}}
	}
	return apiDriver{cfg.API}
}

// refusedDecision says whether err is the saga refusing a decision or cancellation it is
// not ready for (FailedPrecondition through the API, EPRECONDITION through Temporal).
func refusedDecision(err error) bool {
	return err != nil && (status.Code(err) == codes.FailedPrecondition || ordersaga.ErrorCode(err) == ordersaga.EPRECONDITION)
}

// apiDriver goes through the gRPC API.
type apiDriver struct {
	api ordersagav1.OrderServiceClient
}

func (d apiDriver) place(ctx context.Context, in ordersaga.OrderInput) (string, error) {
	req := &ordersagav1.PlaceOrderRequest{OrderId: in.OrderID, CustomerId: in.CustomerID, RestaurantId: in.RestaurantID, Currency: in.Currency}
	for _, it := range in.Items {
		req.Items = append(req.Items, &ordersagav1.Item{Id: it.ID, Name: it.Name, UnitPrice: it.UnitPrice, Quantity: it.Quantity})
	}
	res, err := d.api.PlaceOrder(ctx, req)
	return res.GetRunId(), err
}

func (d apiDriver) decide(ctx context.Context, orderID string, dec workflows.Decision) error {
	var err error
	if dec.Approved {
		_, err = d.api.ApproveOrder(ctx, &ordersagav1.ApproveOrderRequest{OrderId: orderID})
	} else {
		_, err = d.api.RejectOrder(ctx, &ordersagav1.RejectOrderRequest{OrderId: orderID, Reason: dec.Reason})
	}
	return err
}

func (d apiDriver) cancel(ctx context.Context, orderID string) error {
	_, err := d.api.CancelOrder(ctx, &ordersagav1.CancelOrderRequest{OrderId: orderID})
	return err
}

// temporalDriver goes straight through Temporal, with the same start options, search
// attributes and update as the API.
type temporalDriver struct{ sagas workflows.Client }

func (d temporalDriver) place(ctx context.Context, in ordersaga.OrderInput) (string, error) {
	placed, err := d.sagas.Place(ctx, in)
	return placed.RunID, err
}

func (d temporalDriver) decide(ctx context.Context, orderID string, dec workflows.Decision) error {
	_, err := d.sagas.Decide(ctx, orderID, dec)
	return err
}

func (d temporalDriver) cancel(ctx context.Context, orderID string) error {
	return d.sagas.Cancel(ctx, orderID)
}
