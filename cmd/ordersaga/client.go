package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/ordersaga/ordersaga"
	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
)

// clientFlags are the settings every `order` and `account` verb shares: where the API is
// and how to print.
type clientFlags struct {
	api     apiFlags
	asJSON  bool
	timeout time.Duration
}

func (c *clientFlags) register(f envFlags) {
	c.api.register(f)
	f.fs.BoolVar(&c.asJSON, "json", false, "print JSON instead of a table")
	f.fs.DurationVar(&c.timeout, "timeout", 15*time.Second, "deadline of the call (watch: none)")
}

// call is one client verb: it calls OrderService and returns what to print.
type call func(ctx context.Context, c ordersagav1.OrderServiceClient) (proto.Message, error)

// verb is a client verb's command: it connects to the API, makes the call under the
// timeout and prints the answer.
func (m *Main) verb(cf *clientFlags, cmd *cobra.Command, do call) *cobra.Command {
	cmd.RunE = m.runs(func(ctx context.Context) error {
		conn, err := m.dialAPI(cf.api)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, cf.timeout)
		defer cancel()
		out, err := do(ctx, ordersagav1.NewOrderServiceClient(conn))
		if err != nil {
			return explain(err, conn, cf.api.addr)
		}
		return cf.print(m.Stdout, out)
	})
	return cmd
}

// orderID is the one positional argument of the order verbs that take it.
func orderID(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%s needs exactly one order id, got %d arguments", cmd.CommandPath(), len(args))
	}
	return nil
}

// group is the `order` or `account` command: it only holds its verbs.
func group(use, short string, verbs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use + " <verb>", Short: short,
		Args: func(cmd *cobra.Command, args []string) error {
			var names []string
			for _, v := range cmd.Commands() {
				if v.IsAvailableCommand() {
					names = append(names, v.Name())
				}
			}
			if len(args) == 0 {
				return fmt.Errorf("%s needs a verb: %s", cmd.CommandPath(), strings.Join(names, ", "))
			}
			return fmt.Errorf("unknown verb %q for %s: choose %s", args[0], cmd.CommandPath(), strings.Join(names, ", "))
		},
		RunE: func(*cobra.Command, []string) error { return nil }, // Args always refuses
	}
	cmd.AddCommand(verbs...)
	return cmd
}

func (m *Main) orderCommand() *cobra.Command {
	var cf clientFlags
	var (
		customer, restaurant, currency, decisionTimeout string
		items                                           itemsFlag
	)
	place := &cobra.Command{Use: "place <order id>", Short: "place an order: the restaurant's menu prices it and its saga starts", Args: orderID,
		Example: "  ordersaga order place 41 --customer c-1 --restaurant r-7 --item margherita:2"}
	place.Flags().StringVar(&customer, "customer", "", "customer id")
	place.Flags().StringVar(&restaurant, "restaurant", "", "restaurant id")
	place.Flags().StringVar(&currency, "currency", "EUR", "ISO 4217 currency code")
	place.Flags().Var(&items, "item", "an item as id:quantity, priced from the menu, or id:name:unit_price:quantity to check the menu's price (cents); repeat for more")
	place.Flags().StringVar(&decisionTimeout, "decision-timeout", "", "how long the restaurant has to decide (e.g. 90s; default 5m)")
	m.verb(&cf, place, func(ctx context.Context, c ordersagav1.OrderServiceClient) (proto.Message, error) {
		return c.PlaceOrder(ctx, &ordersagav1.PlaceOrderRequest{OrderId: place.Flags().Arg(0), CustomerId: customer, RestaurantId: restaurant,
			Items: items, Currency: currency, DecisionTimeout: decisionTimeout})
	})

	var minVersion int64
	get := &cobra.Command{Use: "get <order id>", Short: "show an order as the read model holds it", Args: orderID}
	get.Flags().Int64Var(&minVersion, "min-version", 0, "wait until the read model reflects this version of the order")
	m.verb(&cf, get, func(ctx context.Context, c ordersagav1.OrderServiceClient) (proto.Message, error) {
		res, err := c.GetOrder(ctx, &ordersagav1.GetOrderRequest{OrderId: get.Flags().Arg(0), MinVersion: minVersion})
		return res.GetOrder(), err
	})

	var (
		listCustomer, listRestaurant, status, pageToken string
		pageSize                                        int32
	)
	list := &cobra.Command{Use: "list", Short: "list orders, filtered and paged", Args: noArgs}
	list.Flags().StringVar(&listCustomer, "customer", "", "only this customer's orders")
	list.Flags().StringVar(&listRestaurant, "restaurant", "", "only this restaurant's orders")
	list.Flags().StringVar(&status, "status", "", "only orders with this status")
	list.Flags().Int32Var(&pageSize, "page-size", 0, "orders per page (default 50)")
	list.Flags().StringVar(&pageToken, "page-token", "", "page to list, from a previous list")
	m.verb(&cf, list, func(ctx context.Context, c ordersagav1.OrderServiceClient) (proto.Message, error) {
		return c.ListOrders(ctx, &ordersagav1.ListOrdersRequest{CustomerId: listCustomer, RestaurantId: listRestaurant, Status: status,
			PageSize: pageSize, PageToken: pageToken})
	})

	history := &cobra.Command{Use: "history <order id>", Short: "show the events of an order's stream", Args: orderID}
	m.verb(&cf, history, func(ctx context.Context, c ordersagav1.OrderServiceClient) (proto.Message, error) {
		return c.GetOrderHistory(ctx, &ordersagav1.GetOrderHistoryRequest{OrderId: history.Flags().Arg(0)})
	})

	watch := &cobra.Command{Use: "watch <order id>", Short: "follow an order until it ends", Args: orderID}
	watch.RunE = m.runs(func(ctx context.Context) error { return m.watch(ctx, &cf, watch.Flags().Arg(0)) })

	approve := &cobra.Command{Use: "approve <order id>", Short: "approve an order as its restaurant", Args: orderID}
	m.verb(&cf, approve, func(ctx context.Context, c ordersagav1.OrderServiceClient) (proto.Message, error) {
		return c.ApproveOrder(ctx, &ordersagav1.ApproveOrderRequest{OrderId: approve.Flags().Arg(0)})
	})

	var reason string
	reject := &cobra.Command{Use: "reject <order id>", Short: "reject an order as its restaurant", Args: orderID}
	reject.Flags().StringVar(&reason, "reason", "", "why the restaurant rejects it")
	m.verb(&cf, reject, func(ctx context.Context, c ordersagav1.OrderServiceClient) (proto.Message, error) {
		return c.RejectOrder(ctx, &ordersagav1.RejectOrderRequest{OrderId: reject.Flags().Arg(0), Reason: reason})
	})

	cancel := &cobra.Command{Use: "cancel <order id>", Short: "cancel an order: its saga compensates", Args: orderID}
	m.verb(&cf, cancel, func(ctx context.Context, c ordersagav1.OrderServiceClient) (proto.Message, error) {
		return c.CancelOrder(ctx, &ordersagav1.CancelOrderRequest{OrderId: cancel.Flags().Arg(0)})
	})

	trace := &cobra.Command{Use: "trace <order id>", Args: orderID,
		Short: "show an order's timeline: its saga's steps, its events, when the bus published and the read model reflected each (operators)"}
	m.verb(&cf, trace, func(ctx context.Context, c ordersagav1.OrderServiceClient) (proto.Message, error) {
		return c.GetOrderTimeline(ctx, &ordersagav1.GetOrderTimelineRequest{OrderId: trace.Flags().Arg(0)})
	})

	cmd := group("order", "place|get|list|history|watch|approve|reject|cancel|trace orders through the API",
		place, get, list, history, watch, approve, reject, cancel, trace)
	cf.register(m.flagsOf(cmd.PersistentFlags()))
	return cmd
}

func (m *Main) accountCommand() *cobra.Command {
	var cf clientFlags
	var (
		customer, currency, reference string
		amount                        int64
	)
	credit := &cobra.Command{Use: "credit", Short: "fund a customer's account", Args: noArgs,
		Example: "  ordersaga account credit --customer c-1 --amount 5000 --currency EUR"}
	credit.Flags().StringVar(&customer, "customer", "", "customer id")
	credit.Flags().Int64Var(&amount, "amount", 0, "amount in minor units (cents)")
	credit.Flags().StringVar(&currency, "currency", "EUR", "ISO 4217 currency code")
	credit.Flags().StringVar(&reference, "reference", "", "id of the credit, the same on retries (default: derived from customer, amount and currency)")
	m.verb(&cf, credit, func(ctx context.Context, c ordersagav1.OrderServiceClient) (proto.Message, error) {
		ref := cmp.Or(reference, fmt.Sprintf("cli-%s-%d-%s", customer, amount, currency))
		res, err := c.CreditAccount(ctx, &ordersagav1.CreditAccountRequest{CustomerId: customer, Amount: amount, Currency: currency, Reference: ref})
		return res.GetAccount(), err
	})

	var getCustomer string
	get := &cobra.Command{Use: "get", Short: "show a customer's account", Args: noArgs}
	get.Flags().StringVar(&getCustomer, "customer", "", "customer id")
	m.verb(&cf, get, func(ctx context.Context, c ordersagav1.OrderServiceClient) (proto.Message, error) {
		res, err := c.GetAccount(ctx, &ordersagav1.GetAccountRequest{CustomerId: getCustomer})
		return res.GetAccount(), err
	})

	cmd := group("account", "credit|get customer accounts through the API", credit, get)
	cf.register(m.flagsOf(cmd.PersistentFlags()))
	return cmd
}

// watch prints every version of an order until it ends; it has no deadline. When the
// server ends the stream before the order ends (each stream has a lifetime), it watches
// again from the version it saw last.
func (m *Main) watch(ctx context.Context, cf *clientFlags, orderID string) error {
	conn, err := m.dialAPI(cf.api)
	if err != nil {
		return err
	}
	c := ordersagav1.NewOrderServiceClient(conn)
	var seen int64
	for {
		stream, err := c.WatchOrder(ctx, &ordersagav1.WatchOrderRequest{OrderId: orderID})
		if err != nil {
			return explain(err, conn, cf.api.addr)
		}
		for {
			res, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return explain(err, conn, cf.api.addr)
			}
			if res.Order.Version <= seen {
				continue // printed before the stream was renewed
			}
			seen = res.Order.Version
			if err := cf.print(m.Stdout, res.Order); err != nil {
				return err
			}
			if terminal(res.Order.Status) {
				return nil
			}
		}
	}
}

// terminal says whether an order with status will not change any more.
func terminal(status string) bool {
	return ordersaga.OrderView{Status: status}.Terminal()
}

// print writes msg as JSON or as a table.
func (c *clientFlags) print(w io.Writer, msg proto.Message) error {
	if c.asJSON {
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", v.CustomerId, ordersaga.MajorUnits(v.Balance, v.Currency), v.Currency, v.Version)
	case *ordersagav1.PlaceOrderResponse:
		fmt.Fprintln(tw, "ORDER\tWORKFLOW\tRUN\tALREADY PLACED\tMENU VERSION")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%d\n", v.OrderId, v.WorkflowId, v.RunId, v.AlreadyPlaced, v.MenuVersion)
	case *ordersagav1.Menu:
		printMenu(tw, v)
	case *ordersagav1.ApproveOrderResponse, *ordersagav1.RejectOrderResponse:
		fmt.Fprintln(tw, "decision accepted")
	case *ordersagav1.CancelOrderResponse:
		fmt.Fprintln(tw, "cancellation requested; the saga compensates and ends as cancelled")
	case *ordersagav1.GetOrderTimelineResponse:
		printTimeline(tw, v.Entries)
	}
	return tw.Flush()
}

func printOrders(w io.Writer, orders ...*ordersagav1.Order) {
	fmt.Fprintln(w, "ORDER\tCUSTOMER\tRESTAURANT\tSTATUS\tREASON\tAMOUNT\tVERSION\tUPDATED")
	for _, o := range orders {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s %s\t%d\t%s\n", o.OrderId, o.CustomerId, o.RestaurantId, o.Status, o.Reason,
			ordersaga.MajorUnits(o.Amount, o.Currency), o.Currency, o.Version, o.UpdatedAt.AsTime().Format(time.RFC3339))
	}
}

// itemsFlag collects --item id:quantity (the menu prices it) or id:name:unit_price:quantity
// (the menu's price, checked).
type itemsFlag []*ordersagav1.Item

func (f *itemsFlag) String() string { return fmt.Sprint(len(*f), " items") }

// Type names the flag's value in the help (pflag.Value).
func (f *itemsFlag) Type() string { return "id:qty" }

func (f *itemsFlag) Set(v string) error {
	parts := strings.Split(v, ":")
	var it ordersagav1.Item
	var err error
	switch len(parts) {
	case 2:
		it.Id = parts[0]
		it.Quantity, err = strconv.ParseInt(parts[1], 10, 64)
	case 4:
		it.Id, it.Name = parts[0], parts[1]
		var err1 error
		it.UnitPrice, err1 = strconv.ParseInt(parts[2], 10, 64)
		it.Quantity, err = strconv.ParseInt(parts[3], 10, 64)
		err = errors.Join(err1, err)
	default:
		return errors.New("want id:quantity, or id:name:unit_price:quantity")
	}
	if err != nil {
		return errors.New("unit_price and quantity must be integers (unit_price in cents)")
	}
	*f = append(*f, &it)
	return nil
}
