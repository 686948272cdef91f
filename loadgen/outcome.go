package loadgen

import "github.com/ordersaga/ordersaga"

// Outcome is how an order ends: its final status and, for a rejection or a cancellation,
// the reason.
type Outcome struct {
	Status, Reason string
}

// String is "status" or "status/reason", the key of Report.Statuses.
func (o Outcome) String() string {
	if o.Reason == "" {
		return o.Status
	}
	return o.Status + "/" + o.Reason
}

// The outcomes the load asks for.
var (
	approved = Outcome{Status: ordersaga.StatusApproved}
	// declined: the customer cannot pay.
	declined = Outcome{Status: ordersaga.StatusRejected, Reason: ordersaga.ReasonPaymentDeclined}
	// rejected by the restaurant.
	rejected = Outcome{Status: ordersaga.StatusRejected, Reason: ordersaga.ReasonRestaurantRejected}
	// cancelled while it waits for the restaurant.
	cancelled = Outcome{Status: ordersaga.StatusCancelled, Reason: ordersaga.ReasonCancelled}
)

// WantedOutcome is what the load asks of order i: most are approved; one in ten is
// declined, one rejected by the restaurant, one cancelled.
func WantedOutcome(i int) Outcome {
	switch i % 10 {
	case 0:
		return declined
	case 1:
		return rejected
	case 2:
		return cancelled
	}
	return approved
}
