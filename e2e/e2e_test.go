// Package e2e tests ordersaga as a user meets it: the built binary running `ordersaga dev`
// as a separate process, driven only through its public interfaces (the temporal CLI, the
// gRPC API, the ordersaga CLI, Temporal Web's HTTP API), including a kill -9 with sagas in
// flight.
package e2e

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/api"
	"github.com/ordersaga/ordersaga/auth"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
	"github.com/ordersaga/ordersaga/internal/freeport"
	"github.com/ordersaga/ordersaga/internal/syncbuf"
	roles "github.com/ordersaga/ordersaga/internal/system"
	"github.com/ordersaga/ordersaga/temporaldev"
)

// system is one dev deployment under test.
type system struct {
	t           *testing.T
	bin         string // the ordersaga binary
	temporalBin string
	dataDir     string
	apiAddr     string
	temporal    string
	uiPort      int
	natsPort    int
	monitorPort int
	metricsAddr string // where dev serves /metrics
	cmd         *exec.Cmd
	exited      chan error // receives the result of cmd.Wait
	out         *syncbuf.Buffer
	client      ordersagav1.OrderServiceClient
}

// freePort is a port for a server the binary under test binds later: outside the
// kernel's ephemeral range, so that no outgoing connection takes it meanwhile.
func freePort(t *testing.T) int {
	port, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// newSystem builds the binary and picks ports and a data directory.
func newSystem(t *testing.T) *system {
	t.Helper()
	root, _ := filepath.Abs("..")
	tmp, err := os.MkdirTemp("", "ordersaga-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o711); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(tmp, "ordersaga")
	build := exec.Command("go", "build", "-o", bin, "./cmd/ordersaga")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	temporalBin, err := temporaldev.Binary(context.Background(), root, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s := &system{t: t, bin: bin, temporalBin: temporalBin, dataDir: filepath.Join(tmp, "data"),
		apiAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), temporal: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		uiPort: freePort(t), natsPort: freePort(t), monitorPort: freePort(t), metricsAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	conn, err := grpc.NewClient(s.apiAddr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(devOperator{s}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s.client = ordersagav1.NewOrderServiceClient(conn)
	return s
}

// start runs `ordersaga dev` and waits for its banner. Its ports were free when picked,
// but tests running beside it may take one first: then it picks the servers' ports again
// (not the API's, which the client dials) and retries, twice at most.
func (s *system) start() {
	s.t.Helper()
	for attempt := 1; ; attempt++ {
		if s.startOnce(attempt < 3) {
			return
		}
		s.t.Logf("a port of dev was taken meanwhile; starting again on others")
		s.temporal, s.uiPort = fmt.Sprintf("127.0.0.1:%d", freePort(s.t)), freePort(s.t)
		s.natsPort, s.monitorPort, s.metricsAddr = freePort(s.t), freePort(s.t), fmt.Sprintf("127.0.0.1:%d", freePort(s.t))
	}
}

// startOnce runs dev once; it returns false, when mayRetry, if dev exited because a port
// it was given was in use.
func (s *system) startOnce(mayRetry bool) bool {
	s.t.Helper()
	s.out = &syncbuf.Buffer{}
	s.cmd = exec.Command(s.bin, "dev", "--data-dir", s.dataDir, "--grpc-addr", s.apiAddr,
		"--nats-port", strconv.Itoa(s.natsPort), "--nats-monitor-port", strconv.Itoa(s.monitorPort),
		"--temporal-address", s.temporal, "--temporal-ui-port", strconv.Itoa(s.uiPort), "--restaurant-delay", "300ms",
		"--metrics-addr", s.metricsAddr)
	s.cmd.Env = append(os.Environ(), temporaldev.EnvBinary+"="+s.temporalBin)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.exited = make(chan error, 1)
	go func() { s.exited <- s.cmd.Wait() }()
	s.t.Cleanup(s.stop)
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(s.out.String(), "ordersaga dev is running") {
		select {
		case err := <-s.exited:
			if mayRetry && strings.Contains(s.out.String(), "address already in use") {
				return false
			}
			s.exited <- err
			s.t.Fatalf("ordersaga dev exited (%v):\n%s", err, tail(s.out.String(), 5000))
		default:
		}
		if time.Now().After(deadline) {
			_ = s.cmd.Process.Signal(syscall.SIGQUIT) // a goroutine dump shows where it hangs
			time.Sleep(time.Second)
			s.t.Fatalf("ordersaga dev did not come up:\n%s", tail(s.out.String(), 20000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}

// stop interrupts dev like Ctrl-C and waits for it.
func (s *system) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case err := <-s.exited:
		s.exited <- err // leave it for any later call
		return          // exited already (a failed start, killed, or stopped)
	default:
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-s.exited:
		s.exited <- nil
		if err != nil {
			s.t.Errorf("ordersaga dev did not stop cleanly: %v\n%s", err, s.out)
		}
	case <-time.After(60 * time.Second):
		_ = s.cmd.Process.Kill()
		s.t.Errorf("ordersaga dev did not stop within a minute")
	}
}

// kill ends dev with SIGKILL, as a crash would.
func (s *system) kill() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		s.t.Fatal(err)
	}
	<-s.exited
	s.exited <- nil // stop sees it has exited
}

// run runs a command and returns its output; it fails the test on error.
func (s *system) run(name string, args ...string) string {
	s.t.Helper()
	out, err := s.command(name, args...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// command is a command that runs as a user of this dev would: its CLI finds dev's data
// directory, and with it dev's operator credentials.
func (s *system) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "ORDERSAGA_DATA_DIR="+s.dataDir)
	return cmd
}

// devOperator calls the API as an operator, with a token signed by dev's key.
type devOperator struct{ s *system }

func (d devOperator) GetRequestMetadata(ctx context.Context, uri ...string) (map[string]string, error) {
	signer, err := roles.DevSigner(d.s.dataDir)
	if err != nil {
		return nil, err
	}
	token, err := signer.Token(auth.Principal{Role: auth.Operator, ID: "e2e"}, time.Hour)
	if err != nil {
		return nil, err
	}
	return api.BearerToken{Token: token, AllowInsecure: true}.GetRequestMetadata(ctx, uri...)
}

func (devOperator) RequireTransportSecurity() bool { return false }

func (s *system) ordersaga(args ...string) string {
	return s.run(s.bin, append(args, "--api", s.apiAddr)...)
}

func (s *system) temporalCLI(args ...string) string {
	return s.run(s.temporalBin, append(args, "--address", s.temporal)...)
}

// startOrder starts a saga with the temporal CLI, as the tour shows: without prices,
// which the saga takes from the restaurant's menu.
func (s *system) startOrder(orderID, customer, restaurant, item string) {
	input := fmt.Sprintf(`{"order_id": %q, "customer_id": %q, "restaurant_id": %q, "currency": "EUR",
		"items": [{"id": %q, "quantity": 2}]}`, orderID, customer, restaurant, item)
	s.temporalCLI("workflow", "start", "--type", "OrderSaga", "--task-queue", "orders", "--workflow-id", "order-"+orderID,
		"--id-reuse-policy", "RejectDuplicate", "--input", input)
}

// awaitDetails polls the saga's current details, as `temporal workflow metadata` shows
// them (and Temporal Web), until they say each of want.
func (s *system) awaitDetails(workflowID string, want ...string) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var md struct {
			QueryResult []struct {
				CurrentDetails string `json:"currentDetails"`
			} `json:"queryResult"`
		}
		out, err := s.command(s.temporalBin, "workflow", "metadata", "--workflow-id", workflowID, "--address", s.temporal, "--output", "json").Output()
		if err == nil && json.Unmarshal(out, &md) == nil && len(md.QueryResult) == 1 && containsAll(md.QueryResult[0].CurrentDetails, want) {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the current details of %s never said %q: %v\n%s", workflowID, want, err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// awaitStatus polls GetOrder until the order has status.
func (s *system) awaitStatus(orderID, status string, within time.Duration) *ordersagav1.Order {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		res, err := s.client.GetOrder(context.Background(), &ordersagav1.GetOrderRequest{OrderId: orderID})
		if err == nil && res.Order.Status == status {
			return res.Order
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("order %s never reached %s (last: %v, %v)\n%s", orderID, status, res, err, tail(s.out.String(), 3000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// verify runs `ordersaga verify` until it is clean.
func (s *system) verify() {
	s.t.Helper()
	url := fmt.Sprintf("host=%s user=postgres dbname=postgres sslmode=disable", filepath.Join(s.dataDir, "postgres"))
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, err := exec.Command(s.bin, "verify", "--database-url", url, "--grace", "5s").CombinedOutput()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("verify never came out clean: %v\n%s", err, out)
		}
		time.Sleep(time.Second)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func TestAsAUser(t *testing.T) {
	s := newSystem(t)
	s.start()
	s.ordersaga("account", "credit", "--customer", "rich", "--amount", "100000", "--currency", "EUR")
	s.ordersaga("account", "credit", "--customer", "poor", "--amount", "100", "--currency", "EUR")

	s.startOrder("happy", "rich", "r-7", "margherita")
	s.startOrder("declined", "poor", "r-7", "margherita")
	s.startOrder("rejected", "rich", "r-7", "sold-out")
	s.startOrder("cancelled", "rich", "manual", "margherita")

	s.awaitStatus("happy", ordersaga.StatusApproved, time.Minute)
	if o := s.awaitStatus("declined", ordersaga.StatusRejected, time.Minute); o.Reason != ordersaga.ReasonPaymentDeclined {
		t.Errorf("declined order: reason %q", o.Reason)
	}
	if o := s.awaitStatus("rejected", ordersaga.StatusRejected, time.Minute); o.Reason != ordersaga.ReasonRestaurantRejected {
		t.Errorf("rejected order: reason %q", o.Reason)
	}
	s.awaitStatus("cancelled", ordersaga.StatusPaid, time.Minute)
	s.awaitDetails("order-cancelled", ordersaga.StatusAwaitingDecision, "23.00 EUR", "Waiting for restaurant manual")
	s.temporalCLI("workflow", "cancel", "--workflow-id", "order-cancelled")
	s.awaitStatus("cancelled", ordersaga.StatusCancelled, time.Minute)

	history := s.temporalCLI("workflow", "show", "--workflow-id", "order-cancelled", "--output", "json")
	for _, activity := range []string{"RefundPayment", "CancelOrder"} {
		if !strings.Contains(history, `"name": "`+activity+`"`) {
			t.Errorf("temporal workflow show lists no %s:\n%s", activity, history)
		}
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v1/namespaces/default/workflows/order-happy", s.uiPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "order-happy") {
		t.Errorf("Temporal Web's API for order-happy: HTTP %d %s", resp.StatusCode, tail(string(body), 300))
	}
	// An order placed through the API starts its saga with a summary and details.
	s.ordersaga("order", "place", "placed", "--customer", "rich", "--restaurant", "r-7", "--item", "margherita:2")
	s.awaitStatus("placed", ordersaga.StatusApproved, time.Minute)
	describe := s.temporalCLI("workflow", "describe", "--workflow-id", "order-placed", "--output", "json")
	for _, want := range []string{"order placed · rich at r-7 · 23.00 EUR", "| margherita | 2 | menu |"} {
		if !strings.Contains(describe, want) {
			t.Errorf("temporal workflow describe does not show %q:\n%s", want, describe)
		}
	}
	s.awaitDetails("order-placed", ordersaga.StatusApproved, "Done: create-order, debit-payment, restaurant-decision, approve-order")
	// Its timeline joins the saga's steps, the store, the bus and the read model.
	trace := s.ordersaga("order", "trace", "placed")
	for _, want := range []string{"saga started", "activity DebitPayment completed", "order-approved recorded", "order-approved published",
		"read model reflects version 3", "█"} {
		if !strings.Contains(trace, want) {
			t.Errorf("ordersaga order trace placed does not show %q:\n%s", want, trace)
		}
	}
	// A decision the saga no longer awaits is refused (and counted).
	if out, err := s.command(s.bin, "order", "approve", "happy", "--api", s.apiAddr).CombinedOutput(); err == nil || !strings.Contains(string(out), "FailedPrecondition") {
		t.Errorf("approving an approved order: %v\n%s", err, out)
	}
	s.assertDeployedMetricsExported()
	if out := s.ordersaga("account", "get", "--customer", "rich"); !strings.Contains(out, "954.00") {
		t.Errorf("rich after one approved, one rejected and one cancelled order: %s", out)
	}
	s.verify()
}

func TestKillDashNineWithSagasInFlight(t *testing.T) {
	const orders = 20
	s := newSystem(t)
	s.start()
	ctx := context.Background()
	if _, err := s.client.CreditAccount(ctx, &ordersagav1.CreditAccountRequest{CustomerId: "crash", Amount: 100000, Currency: "EUR", Reference: "f"}); err != nil {
		t.Fatal(err)
	}
	for i := range orders {
		_, err := s.client.PlaceOrder(ctx, &ordersagav1.PlaceOrderRequest{OrderId: fmt.Sprintf("crash-%02d", i), CustomerId: "crash",
			RestaurantId: "r-7", Currency: "EUR", Items: []*ordersagav1.Item{{Id: "margherita", Quantity: 1}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond) // some sagas are mid-activity, some await the restaurant
	s.kill()
	s.start()
	for i := range orders {
		id := fmt.Sprintf("crash-%02d", i)
		s.awaitStatus(id, ordersaga.StatusApproved, 3*time.Minute)
		h, err := s.client.GetOrderHistory(ctx, &ordersagav1.GetOrderHistoryRequest{OrderId: id})
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, e := range h.Events {
			types = append(types, e.EventType)
		}
		if strings.Join(types, ",") != "order-created,order-payment-debited,order-approved" {
			t.Errorf("order %s history after the crash: %v", id, types)
		}
	}
	acct, err := s.client.GetAccount(ctx, &ordersagav1.GetAccountRequest{CustomerId: "crash"})
	if err != nil || acct.Account.Balance != 100000-orders*1150 || acct.Account.Version != 1+orders {
		t.Errorf("account after the crash = %v, %v; want %d debits of 1150 (a margherita) exactly", acct, err, orders)
	}
	s.verify()
}

// TestLoadSmoke runs `ordersaga load` twice — through the API with decisions at once and a
// baseline, then straight through Temporal at a target rate with decisions once the payment
// shows — and checks the counts per outcome and a clean verify (figures, not times: the
// machine is shared).
func TestLoadSmoke(t *testing.T) {
	s := newSystem(t)
	s.start()
	url := fmt.Sprintf("host=%s user=postgres dbname=postgres sslmode=disable", filepath.Join(s.dataDir, "postgres"))
	runs := []struct {
		name   string
		orders int
		args   []string
	}{
		{"api", 50, []string{"--concurrency", "8", "--baseline", "--cpu"}},
		{"temporal", 30, []string{"--via", "temporal", "--decide-at", "paid", "--rate", "20", "--baseline"}},
	}
	for _, run := range runs {
		report := filepath.Join(filepath.Dir(s.bin), "load-"+run.name+".json")
		args := append([]string{"load", "--orders", fmt.Sprint(run.orders), "--api", s.apiAddr,
			"--temporal-address", s.temporal, "--database-url", url, "--json", report}, run.args...)
		out, err := s.command(s.bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ordersaga %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("ordersaga %s:\n%s", strings.Join(args, " "), tail(string(out), 1500))
		raw, err := os.ReadFile(report)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			RunID    string             `json:"run_id"`
			Statuses map[string]int     `json:"statuses"`
			Failures int                `json:"failures"`
			Verify   string             `json:"verify"`
			Ratio    float64            `json:"ratio_to_baseline"`
			Via      string             `json:"via"`
			DecideAt string             `json:"decide_at"`
			CPU      map[string]float64 `json:"cpu_ms_per_order"`
			BaseCPU  map[string]float64 `json:"baseline_cpu_ms_per_order"`
		}
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		tenth := run.orders / 10
		want := map[string]int{"approved": run.orders - 3*tenth, "cancelled/cancelled": tenth,
			"rejected/payment_declined": tenth, "rejected/restaurant_rejected": tenth}
		if fmt.Sprint(got.Statuses) != fmt.Sprint(want) || got.Failures != 0 {
			t.Errorf("%s: statuses %v, %d failures; want %v", run.name, got.Statuses, got.Failures, want)
		}
		if !strings.HasPrefix(got.Verify, "clean") {
			t.Errorf("%s: verify %q", run.name, got.Verify)
		}
		if wantRatio := slices.Contains(run.args, "--baseline"); (got.Ratio > 0) != wantRatio {
			t.Errorf("%s: ratio to the baseline %v, want one: %v", run.name, got.Ratio, wantRatio)
		}
		if got.Via != cmp.Or(flagValue(run.args, "--via"), "api") || got.DecideAt != cmp.Or(flagValue(run.args, "--decide-at"), "start") {
			t.Errorf("%s: report says via %q, decide at %q", run.name, got.Via, got.DecideAt)
		}
		// --cpu: the dev process, the temporal CLI's dev server and PostgreSQL all work for
		// a saga; the baseline needs Temporal and the worker in dev.
		if slices.Contains(run.args, "--cpu") {
			if got.CPU["temporal"] <= 0 || got.CPU["ordersaga"] <= 0 || got.CPU["postgres"] <= 0 ||
				got.BaseCPU["temporal"] <= 0 || got.BaseCPU["ordersaga"] <= 0 {
				t.Errorf("%s: CPU per order %v, the baseline's %v; want temporal, ordersaga and postgres above 0 (postgres for the saga)", run.name, got.CPU, got.BaseCPU)
			}
		} else if got.CPU != nil {
			t.Errorf("%s: CPU per order %v without --cpu", run.name, got.CPU)
		}
		s.assertBaselineMirrorsSagas(t, run.name, got.RunID)
	}
}

// assertBaselineMirrorsSagas compares, for one order of each outcome (orders 0 to 3 are
// declined, rejected, cancelled and approved), the saga's history with its baseline's:
// as many activities, the same OrderStatus upserts and the same summaries for Temporal Web
// (the run's and its activities', ids aside), so that the ratio measures what the saga adds
// on top of Temporal, not Temporal features the baseline skips. awaiting_decision
// is left out of the comparison: whether a saga is already waiting when its decision comes
// (and so publishes it) is a race, which the baseline settles one way.
func (s *system) assertBaselineMirrorsSagas(t *testing.T, name, runID string) {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: s.temporal, Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// ids stand for the order and customer ids, which differ between a saga and its baseline.
	ids := regexp.MustCompile(`(load|baseline)-` + regexp.QuoteMeta(runID) + `-[a-z0-9]+`)
	summaryOf := func(workflowID string, e *historypb.HistoryEvent) string {
		var summary string
		if err := converter.GetDefaultDataConverter().FromPayload(e.GetUserMetadata().GetSummary(), &summary); err != nil {
			t.Fatalf("%s: %s has a summary that is not text: %v", name, workflowID, err)
		}
		return ids.ReplaceAllString(summary, "<id>")
	}
	shape := func(workflowID string) (activities int, statuses, summaries []string) {
		iter := c.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			e, err := iter.Next()
			if err != nil {
				t.Fatalf("%s: history of %s: %v", name, workflowID, err)
			}
			// The run's and its activities' summaries; not the decision timer's, which the
			// saga starts only when it has to wait (the race above).
			switch e.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
				summaries = append(summaries, summaryOf(workflowID, e))
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
				activities++
				summaries = append(summaries, summaryOf(workflowID, e))
			case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
				var status string
				raw := e.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()["OrderStatus"]
				if err := json.Unmarshal(raw.GetData(), &status); err != nil {
					t.Fatalf("%s: %s upserted an OrderStatus of %q: %v", name, workflowID, raw.GetData(), err)
				}
				if status != ordersaga.StatusAwaitingDecision {
					statuses = append(statuses, status)
				}
			}
		}
		return activities, statuses, summaries
	}
	for i := range 4 {
		sagaActs, sagaStatuses, sagaSummaries := shape(fmt.Sprintf("order-load-%s-%06d", runID, i))
		baseActs, baseStatuses, baseSummaries := shape(fmt.Sprintf("baseline-%s-%06d", runID, i))
		if sagaActs != baseActs || !slices.Equal(sagaStatuses, baseStatuses) || sagaActs == 0 || len(sagaStatuses) == 0 {
			t.Errorf("%s, order %d: the saga ran %d activities and upserted %v, its baseline %d and %v",
				name, i, sagaActs, sagaStatuses, baseActs, baseStatuses)
		}
		if !slices.Equal(sagaSummaries, baseSummaries) || len(sagaSummaries) != sagaActs+1 {
			t.Errorf("%s, order %d: the saga's summaries are %q, its baseline's %q", name, i, sagaSummaries, baseSummaries)
		}
	}
}

// flagValue returns the value after name in args, or "".
func flagValue(args []string, name string) string {
	if i := slices.Index(args, name); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}
