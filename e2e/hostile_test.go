package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
)

// grpcurlVersion is the grpcurl the tour uses.
const grpcurlVersion = "github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4"

// TestHostileClientsBreakNothing attacks a running dev with public clients only (grpcurl
// with a customer's token, and the temporal CLI): forged money, a one-cent order, a saga
// under another order's workflow id, oversized and out-of-range input, forged tokens, a
// refund of a debit that never happened, a second saga for a finished order. Each attack
// gets a clear refusal and changes nothing; then verify is clean and every balance equals
// its credits minus its approved orders.
func TestHostileClientsBreakNothing(t *testing.T) {
	s := newSystem(t)
	grpcurl := installGrpcurl(t)
	s.start()
	s.ordersaga("account", "credit", "--customer", "mallory", "--amount", "5000", "--currency", "EUR")
	s.ordersaga("account", "credit", "--customer", "broke", "--amount", "100", "--currency", "EUR")
	mallory := strings.TrimSpace(s.run(s.bin, "token", "--customer", "mallory"))

	// call makes one gRPC call as mallory and returns grpcurl's output and whether it failed.
	call := func(token, method, body string) (string, bool) {
		t.Helper()
		out, err := s.command(grpcurl, "-plaintext", "-H", "authorization: Bearer "+token, "-d", body,
			s.apiAddr, "ordersaga.v1.OrderService/"+method).CombinedOutput()
		return string(out), err != nil
	}
	refused := func(what, token, method, body, code, says string) {
		t.Helper()
		out, failed := call(token, method, body)
		if !failed || !strings.Contains(out, "Code: "+code) || !strings.Contains(out, says) {
			t.Errorf("%s: %s, want %s saying %q", what, out, code, says)
		}
	}
	place := func(orderID string, items string) string {
		return fmt.Sprintf(`{"order_id": %q, "customer_id": "mallory", "restaurant_id": "r-7", "currency": "EUR", "items": [%s]}`, orderID, items)
	}

	// Over the API, as mallory.
	refused("forged money", mallory, "CreditAccount", `{"customer_id": "mallory", "amount": 100000000, "currency": "EUR", "reference": "free"}`,
		"PermissionDenied", "only an operator")
	refused("a one-cent pizza", mallory, "PlaceOrder", place("cheap", `{"id": "margherita", "unit_price": 1, "quantity": 100}`),
		"InvalidArgument", "items[0].unit_price")
	refused("an item off the menu", mallory, "PlaceOrder", place("off-menu", `{"id": "truffle", "quantity": 1}`),
		"InvalidArgument", "items[0].id")
	refused("a negative quantity", mallory, "PlaceOrder", place("negative", `{"id": "margherita", "quantity": -3}`),
		"InvalidArgument", "items[0].quantity")
	refused("an oversized name", mallory, "PlaceOrder", place("long-name", `{"id": "margherita", "name": "`+strings.Repeat("x", 10_000)+`", "quantity": 1}`),
		"InvalidArgument", "items[0].name")
	refused("too many items", mallory, "PlaceOrder", place("many", strings.TrimSuffix(strings.Repeat(`{"id": "margherita", "quantity": 1},`, 101), ",")),
		"InvalidArgument", "items")
	refused("an order for someone else", mallory, "PlaceOrder", strings.Replace(place("theirs", `{"id": "margherita", "quantity": 1}`), `"mallory"`, `"broke"`, 1),
		"PermissionDenied", "")
	refused("a menu of someone else's restaurant", mallory, "SetMenuItem", `{"restaurant_id": "r-7", "currency": "EUR", "item": {"item_id": "margherita", "name": "Margherita", "price": 1}}`,
		"PermissionDenied", "")
	forged := mallory[:len(mallory)-4] + "AAAA"
	refused("a forged token", forged, "GetAccount", `{"customer_id": "mallory"}`, "Unauthenticated", "")
	refused("no token", "", "GetAccount", `{"customer_id": "mallory"}`, "Unauthenticated", "")

	// Through Temporal, as anyone who reaches it.
	failedSaga := func(what, workflowID, input, says string) {
		t.Helper()
		s.temporalCLI("workflow", "start", "--type", "OrderSaga", "--task-queue", "orders", "--workflow-id", workflowID, "--input", input)
		if out := sagaFailure(s, workflowID); !strings.Contains(out, `"InvalidOrder"`) || !strings.Contains(out, says) {
			t.Errorf("%s: %s, want the saga to fail as InvalidOrder saying %q", what, out, says)
		}
	}
	failedSaga("a one-cent pizza through Temporal", "order-cheap-t", place("cheap-t", `{"id": "margherita", "unit_price": 1, "quantity": 100}`), "items[0].unit_price")
	failedSaga("a saga under another order's workflow id", "order-victim", place("mismatch", `{"id": "margherita", "quantity": 1}`), "runs as workflow order-mismatch")
	failedSaga("a decision timeout of a year", "order-slow-t", strings.Replace(place("slow-t", `{"id": "margherita", "quantity": 1}`), `"items"`, `"decision_timeout": "8760h", "items"`, 1), "decision_timeout")
	failedSaga("an oversized id", "order-"+strings.Repeat("i", 150), place(strings.Repeat("i", 150), `{"id": "margherita", "quantity": 1}`), "order_id")
	for _, id := range []string{"cheap", "off-menu", "negative", "long-name", "many", "theirs", "cheap-t", "mismatch", "victim", "slow-t"} {
		if _, err := s.client.GetOrderHistory(context.Background(), &ordersagav1.GetOrderHistoryRequest{OrderId: id}); err == nil {
			t.Errorf("order %s, refused, has events", id)
		}
	}

	// A refund of a debit that never happened: broke's payment is declined, and the saga
	// compensates (its refund runs) without giving anything back.
	s.startOrder("declined", "broke", "r-7", "margherita")
	s.awaitStatus("declined", "rejected", time.Minute)
	// Legitimate orders, to give the books something to add up: one approved, one
	// cancelled (debited, then refunded).
	if out, failed := call(mallory, "PlaceOrder", place("legit", `{"id": "margherita", "quantity": 2}`)); failed {
		t.Fatalf("a legitimate order: %s", out)
	}
	s.awaitStatus("legit", "approved", time.Minute)
	s.startOrder("changed-mind", "mallory", "manual", "tiramisu")
	s.awaitStatus("changed-mind", "paid", time.Minute)
	s.temporalCLI("workflow", "cancel", "--workflow-id", "order-changed-mind")
	s.awaitStatus("changed-mind", "cancelled", time.Minute)
	// A second saga for the finished order, started the way the CLI allows: it touches nothing.
	s.temporalCLI("workflow", "start", "--type", "OrderSaga", "--task-queue", "orders", "--workflow-id", "order-legit",
		"--id-reuse-policy", "AllowDuplicate", "--input", place("legit", `{"id": "margherita", "quantity": 2}`))
	if out := sagaFailure(s, "order-legit"); !strings.Contains(out, `"AlreadyStarted"`) {
		t.Errorf("a second saga for a finished order: %s, want it to fail as AlreadyStarted", out)
	}

	s.verify()
	for customer, want := range map[string]int64{"mallory": 5000 - 2*1150, "broke": 100} {
		res, err := s.client.GetAccount(context.Background(), &ordersagav1.GetAccountRequest{CustomerId: customer})
		if err != nil || res.Account.Balance != want {
			t.Errorf("the balance of %s = %v, %v; want %d (its credits minus its approved orders)", customer, res, err, want)
		}
	}
	history, err := s.client.GetOrderHistory(context.Background(), &ordersagav1.GetOrderHistoryRequest{OrderId: "legit"})
	if err != nil || len(history.Events) != 3 {
		t.Errorf("order legit: %v, %v; want created, debited, approved and nothing from the second saga", history, err)
	}
	var created struct {
		Amount      int64 `json:"amount"`
		MenuVersion int64 `json:"menu_version"`
	}
	if err == nil && (json.Unmarshal([]byte(history.Events[0].EventData), &created) != nil || created.Amount != 2300 || created.MenuVersion == 0) {
		t.Errorf("order legit was created as %s, want 23.00 priced from a menu version", history.Events[0].EventData)
	}
}

// sagaFailure waits for the saga's latest run to end and returns its result as the
// temporal CLI prints it in JSON (the failure's type and message), or says it did not fail.
func sagaFailure(s *system, workflowID string) string {
	s.t.Helper()
	out, err := s.command(s.temporalBin, "workflow", "result", "--workflow-id", workflowID, "--address", s.temporal, "--output", "json").CombinedOutput()
	if err == nil {
		return "the saga did not fail: " + string(out)
	}
	return string(out)
}

// installGrpcurl builds grpcurl (the version the tour runs) into a directory of the test's.
func installGrpcurl(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	install := exec.Command("go", "install", grpcurlVersion)
	install.Env = append(os.Environ(), "GOBIN="+dir)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("go install %s: %v\n%s", grpcurlVersion, err, out)
	}
	return filepath.Join(dir, "grpcurl")
}
