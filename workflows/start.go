package workflows

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// StartOptions are the options to start an order's saga with. The workflow id is derived
// from the order id; a start while the saga runs returns the running saga
// (USE_EXISTING), and a start after it closed is refused (REJECT_DUPLICATE), so one order
// never gets two sagas. From the CLI:
//
//	temporal workflow start --type OrderSaga --task-queue orders --workflow-id order-<id> \
//	  --id-reuse-policy RejectDuplicate --id-conflict-policy UseExisting --input '{...}'
func StartOptions(orderID string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       WorkflowID(orderID),
		TaskQueue:                TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}
}
