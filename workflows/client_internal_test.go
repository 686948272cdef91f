package workflows

import (
	"fmt"
	"testing"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga"
)

// TestTemporalErrorsBecomeApplicationErrors maps each kind of error Temporal's client
// returns; the server's words for an ended saga are those of go.temporal.io/server.
func TestTemporalErrorsBecomeApplicationErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"completed", serviceerror.NewNotFound("workflow execution already completed"), ordersaga.EPRECONDITION},
		{"closing under an update", fmt.Errorf("update: %w", serviceerror.NewNotFound("workflow update was aborted by closing workflow")), ordersaga.EPRECONDITION},
		{"missing", serviceerror.NewNotFound("workflow not found for ID: order-9"), ordersaga.ENOTFOUND},
		{"unreachable", serviceerror.NewUnavailable("connection refused"), ordersaga.EUNAVAILABLE},
		{"overloaded", serviceerror.NewResourceExhausted(0, "busy"), ordersaga.EUNAVAILABLE},
		{"over Temporal's limits", serviceerror.NewInvalidArgument("Blob data size exceeds limit."), ordersaga.EINVALID},
		{"larger than gRPC takes", serviceerror.NewResourceExhausted(0, "grpc: trying to send message larger than max (5000000 vs. 4194304)"), ordersaga.EINVALID},
		{"a bug", serviceerror.NewInternal("nil pointer"), ordersaga.EINTERNAL},
		{"a decision out of turn", fmt.Errorf("update: %w", temporal.NewApplicationError("the order is not awaiting a decision", ErrNotAwaitingDecision)), ordersaga.EPRECONDITION},
		{"another failure of the saga", temporal.NewApplicationError("boom", "SomethingElse"), ordersaga.EINTERNAL},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := ordersaga.ErrorCode(temporalError("decide order 9", c.err)); got != c.want {
				t.Errorf("temporalError(%v) has code %s, want %s", c.err, got, c.want)
			}
		})
	}
}
