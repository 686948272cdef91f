package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
)

// clientRole is the `order` and `account` commands: they call OrderService and print a
// table, or JSON with --json.
type clientRole struct {
	noun string // "order" or "account"
	verb string
	args []string

	api        string
	asJSON     bool
	timeout    time.Duration
	customer   string
	restaurant string
	status     string
	currency   string
	items      itemsFlag
	amount     int64
	reference  string
	reason     string
	orderID    string
	decision   string
	minVersion int64
	pageSize   int
	pageToken  string

	conn *grpc.ClientConn
}

// verbs lists each command's verbs.
var verbs = map[string][]string{
	"order":   {"place", "get", "list", "history", "watch", "approve", "reject", "cancel"},
	"account": {"credit", "get"},
}

func (r *clientRole) flags(fs *flag.FlagSet, env func(string) string) {
	fs.StringVar(&r.api, "api", envOr(env, "ORDERSAGA_API", "127.0.0.1:50051"), "gRPC address of the ordersaga API (env ORDERSAGA_API)")
	fs.BoolVar(&r.asJSON, "json", false, "print JSON instead of a table")
	fs.DurationVar(&r.timeout, "timeout", 15*time.Second, "deadline of the call (watch: none)")
	fs.StringVar(&r.customer, "customer", "", "customer id")
	fs.StringVar(&r.restaurant, "restaurant", "", "restaurant id")
	fs.StringVar(&r.status, "status", "", "order status (list filter)")
	fs.StringVar(&r.currency, "currency", "EUR", "ISO 4217 currency code")
	fs.Var(&r.items, "item", "an item as id:name:unit_price:quantity (repeat for more)")
	fs.Int64Var(&r.amount, "amount", 0, "amount in minor units (cents)")
	fs.StringVar(&r.reference, "reference", "", "id of the credit (default: derived from customer, amount and currency)")
	fs.StringVar(&r.reason, "reason", "", "reason of a rejection")
	fs.StringVar(&r.decision, "decision-timeout", "", "how long the restaurant has to decide (e.g. 90s)")
	fs.Int64Var(&r.minVersion, "min-version", 0, "wait until the read model reflects this version of the order")
	fs.IntVar(&r.pageSize, "page-size", 0, "orders per page (list)")
	fs.StringVar(&r.pageToken, "page-token", "", "page to list, from a previous list")
}

// setArgs takes the verb and the order id.
func (r *clientRole) setArgs(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("ordersaga %s needs a verb: %s", r.noun, strings.Join(verbs[r.noun], ", "))
	}
	r.verb, r.args = args[0], args[1:]
	found := false
	for _, v := range verbs[r.noun] {
		found = found || v == r.verb
	}
	if !found {
		return fmt.Errorf("unknown verb %q for ordersaga %s: choose %s", r.verb, r.noun, strings.Join(verbs[r.noun], ", "))
	}
	if r.noun == "order" && r.verb != "list" {
		if len(r.args) != 1 {
			return fmt.Errorf("ordersaga order %s needs exactly one order id", r.verb)
		}
		r.orderID = r.args[0]
	}
	return nil
}

func (r *clientRole) run(ctx context.Context, m *Main) error {
	var err error
	r.conn, err = grpc.NewClient(r.api, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	c := ordersagav1.NewOrderServiceClient(r.conn)
	if r.verb != "watch" {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	var out proto.Message
	switch r.noun + " " + r.verb {
	case "order place":
		out, err = c.PlaceOrder(ctx, &ordersagav1.PlaceOrderRequest{OrderId: r.orderID, CustomerId: r.customer, RestaurantId: r.restaurant,
			Items: r.items, Currency: r.currency, DecisionTimeout: r.decision})
	case "order get":
		var res *ordersagav1.GetOrderResponse
		if res, err = c.GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: r.orderID, MinVersion: r.minVersion}); err == nil {
			out = res.Order
		}
	case "order list":
		out, err = c.ListOrders(ctx, &ordersagav1.ListOrdersRequest{CustomerId: r.customer, RestaurantId: r.restaurant, Status: r.status,
			PageSize: int32(r.pageSize), PageToken: r.pageToken})
	case "order history":
		out, err = c.GetOrderHistory(ctx, &ordersagav1.GetOrderHistoryRequest{OrderId: r.orderID})
	case "order watch":
		return r.watch(ctx, m, c)
	case "order approve":
		out, err = c.ApproveOrder(ctx, &ordersagav1.ApproveOrderRequest{OrderId: r.orderID})
	case "order reject":
		out, err = c.RejectOrder(ctx, &ordersagav1.RejectOrderRequest{OrderId: r.orderID, Reason: r.reason})
	case "order cancel":
		out, err = c.CancelOrder(ctx, &ordersagav1.CancelOrderRequest{OrderId: r.orderID})
	case "account credit":
		ref := r.reference
		if ref == "" {
			ref = fmt.Sprintf("cli-%s-%d-%s", r.customer, r.amount, r.currency)
		}
		var res *ordersagav1.CreditAccountResponse
		if res, err = c.CreditAccount(ctx, &ordersagav1.CreditAccountRequest{CustomerId: r.customer, Amount: r.amount, Currency: r.currency, Reference: ref}); err == nil {
			out = res.Account
		}
	case "account get":
		var res *ordersagav1.GetAccountResponse
		if res, err = c.GetAccount(ctx, &ordersagav1.GetAccountRequest{CustomerId: r.customer}); err == nil {
			out = res.Account
		}
	}
	if err != nil {
		return err
	}
	return r.print(m.Stdout, out)
}

func (r *clientRole) watch(ctx context.Context, m *Main, c ordersagav1.OrderServiceClient) error {
	stream, err := c.WatchOrder(ctx, &ordersagav1.WatchOrderRequest{OrderId: r.orderID})
	if err != nil {
		return err
	}
	for {
		res, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := r.print(m.Stdout, res.Order); err != nil {
			return err
		}
	}
}

// print writes msg as JSON or as a table.
func (r *clientRole) print(w io.Writer, msg proto.Message) error {
	if r.asJSON {
		b, err := protojson.MarshalOptions{Multiline: true, UseProtoNames: true}.Marshal(msg)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(b))
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	switch v := msg.(type) {
	case *ordersagav1.Order:
		printOrders(tw, v)
	case *ordersagav1.ListOrdersResponse:
		printOrders(tw, v.Orders...)
		if v.NextPageToken != "" {
			defer fmt.Fprintf(w, "more: --page-token %s\n", v.NextPageToken)
		}
	case *ordersagav1.GetOrderHistoryResponse:
		fmt.Fprintln(tw, "VERSION\tTYPE\tRECORDED\tDATA")
		for _, e := range v.Events {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", e.Version, e.EventType, e.RecordedAt.AsTime().Format(time.RFC3339), e.EventData)
		}
	case *ordersagav1.Account:
		fmt.Fprintln(tw, "CUSTOMER\tBALANCE\tCURRENCY\tVERSION")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", v.CustomerId, money(v.Balance), v.Currency, v.Version)
	case *ordersagav1.PlaceOrderResponse:
		fmt.Fprintln(tw, "ORDER\tWORKFLOW\tRUN\tALREADY PLACED")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%t\n", v.OrderId, v.WorkflowId, v.RunId, v.AlreadyPlaced)
	case *ordersagav1.ApproveOrderResponse, *ordersagav1.RejectOrderResponse:
		fmt.Fprintln(tw, "decision accepted")
	case *ordersagav1.CancelOrderResponse:
		fmt.Fprintln(tw, "cancellation requested; the saga compensates and ends as cancelled")
	}
	return tw.Flush()
}

func printOrders(w io.Writer, orders ...*ordersagav1.Order) {
	fmt.Fprintln(w, "ORDER\tCUSTOMER\tRESTAURANT\tSTATUS\tREASON\tAMOUNT\tVERSION\tUPDATED")
	for _, o := range orders {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s %s\t%d\t%s\n", o.OrderId, o.CustomerId, o.RestaurantId, o.Status, o.Reason,
			money(o.Amount), o.Currency, o.Version, o.UpdatedAt.AsTime().Format(time.RFC3339))
	}
}

// money formats minor units as units with two decimals.
func money(minor int64) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	return fmt.Sprintf("%s%d.%02d", sign, minor/100, minor%100)
}

func (r *clientRole) close() error {
	if r.conn != nil {
		return r.conn.Close()
	}
	return nil
}

// itemsFlag collects --item id:name:unit_price:quantity.
type itemsFlag []*ordersagav1.Item

func (f *itemsFlag) String() string { return fmt.Sprint(len(*f), " items") }

func (f *itemsFlag) Set(v string) error {
	parts := strings.Split(v, ":")
	if len(parts) != 4 {
		return errors.New("want id:name:unit_price:quantity")
	}
	price, err1 := strconv.ParseInt(parts[2], 10, 64)
	qty, err2 := strconv.ParseInt(parts[3], 10, 64)
	if err1 != nil || err2 != nil {
		return errors.New("unit_price and quantity must be integers (unit_price in cents)")
	}
	*f = append(*f, &ordersagav1.Item{Id: parts[0], Name: parts[1], UnitPrice: price, Quantity: qty})
	return nil
}
