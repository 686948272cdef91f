// Package scale fills an event store with a history shaped like a busy order service's, at
// a chosen size, and draws the curves its benchmark (BenchmarkScale) measures as the store
// grows: short order streams, customers whose accounts record every debit and refund, a
// few hot customers with many orders, and one customer with a very long account history.
package scale

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventstore"
)

// Appender is what Fill writes through: the event store's batched appends.
type Appender interface {
	Append(ctx context.Context, stream ordersaga.Stream, expected ordersaga.ExpectedVersion, events []ordersaga.EventData) (ordersaga.AppendResult, error)
	AppendStreams(ctx context.Context, appends []ordersaga.StreamAppend) ([]ordersaga.AppendResult, error)
}

// Shape says how big a history Fill writes.
type Shape struct {
	// Events is how many events to append, about (a batch may pass it by a few).
	Events int
	// LongHistory is how many account events the customer with the longest history gets
	// (part of Events); default min(100,000, Events/10).
	LongHistory int
	// Writers append concurrently, each to customers of its own; default 2.
	Writers int
	// Seed makes the history repeatable.
	Seed uint64
}

// Filled says what Fill wrote.
type Filled struct {
	Events, Orders int
	// Customers counts the ordinary customers; HotCustomers share a fifth of all orders.
	Customers    int
	HotCustomers []string
	// LongHistory is the customer whose account has LongHistoryEvents events.
	LongHistory       string
	LongHistoryEvents int
	// SampleOrders are up to SampleSize order ids, drawn evenly from all.
	SampleOrders []string
	// Elapsed is how long the appends took.
	Elapsed time.Duration
}

// SampleSize bounds Filled.SampleOrders.
const SampleSize = 1000

// LongHistoryCustomer is the customer with the longest account history.
const LongHistoryCustomer = "long-history"

// hotCustomers share hotShare of the orders.
var hotCustomers = []string{"hot-1", "hot-2", "hot-3"}

const (
	hotShare = 0.2
	// ordersPerAppend orders go in one AppendStreams with their customers' accounts:
	// at most eventstore.MaxStreamsPerAppend streams.
	ordersPerAppend = eventstore.MaxStreamsPerAppend / 2
	// eventsPerCustomer is the average customer's share of the events: about ten orders.
	eventsPerCustomer = 40
	// topUp is what a customer is credited with when an order would overdraw the account.
	topUp = 5_000_000
)

// Fill appends a history of about shape.Events events to store: the long account history
// first (single-stream appends of ordersaga.MaxEventsPerAppend), then orders, five to an
// AppendStreams with their customers' debits, refunds and top-ups, from shape.Writers
// writers whose customers do not overlap.
func Fill(ctx context.Context, store Appender, shape Shape) (Filled, error) {
	if shape.Events <= 0 {
		return Filled{}, fmt.Errorf("scale: a shape of %d events", shape.Events)
	}
	if shape.LongHistory <= 0 {
		shape.LongHistory = min(100_000, shape.Events/10)
	}
	if shape.Writers <= 0 {
		shape.Writers = 2
	}
	start := time.Now()
	f := Filled{HotCustomers: hotCustomers, LongHistory: LongHistoryCustomer, LongHistoryEvents: shape.LongHistory,
		Customers: max(10, shape.Events/eventsPerCustomer)}
	if err := fillLongHistory(ctx, store, shape.LongHistory); err != nil {
		return Filled{}, err
	}
	var events, orders atomic.Int64
	events.Add(int64(shape.LongHistory))
	var mu sync.Mutex
	samples := make([][]string, shape.Writers)
	g, ctx := errgroup.WithContext(ctx)
	for w := range shape.Writers {
		g.Go(func() error {
			wr := newWriter(w, shape, f.Customers)
			for events.Load() < int64(shape.Events) {
				n, err := wr.appendOrders(ctx, store)
				if err != nil {
					return err
				}
				events.Add(int64(n))
				orders.Add(ordersPerAppend)
			}
			mu.Lock()
			samples[w] = wr.sample
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Filled{}, err
	}
	for _, s := range samples {
		f.SampleOrders = append(f.SampleOrders, s...)
	}
	f.Events, f.Orders, f.Elapsed = int(events.Load()), int(orders.Load()), time.Since(start)
	return f, nil
}

// fillLongHistory appends n account events to LongHistoryCustomer: a credit, then debits
// and refunds of orders, topped up when they would overdraw it.
func fillLongHistory(ctx context.Context, store Appender, n int) error {
	stream := ordersaga.MustParseStream("customer-" + LongHistoryCustomer)
	expected := ordersaga.NoStream
	var balance int64
	for done := 0; done < n; {
		batch := make([]ordersaga.EventData, 0, min(ordersaga.MaxEventsPerAppend, n-done))
		for i := done; len(batch) < cap(batch); i++ {
			order := fmt.Sprintf("lh-%d", i)
			switch {
			case balance < 10_000:
				batch = append(batch, entry(ordersaga.EventAccountCredited, LongHistoryCustomer, topUp, "", fmt.Sprintf("top-up-%d", i)))
				balance += topUp
			case i%10 == 9:
				batch = append(batch, entry(ordersaga.EventAccountRefunded, LongHistoryCustomer, 1150, order, ""))
				balance += 1150
			default:
				batch = append(batch, entry(ordersaga.EventAccountDebited, LongHistoryCustomer, 1150, order, ""))
				balance -= 1150
			}
		}
		if _, err := store.Append(ctx, stream, expected, batch); err != nil {
			return fmt.Errorf("scale: the long history at %d: %w", done, err)
		}
		done += len(batch)
		expected = ordersaga.ExpectedVersion(done)
	}
	return nil
}

// writer appends the orders of its own customers: those whose number modulo the writers is
// its own, and the hot customers likewise.
type writer struct {
	id, writers, customers int
	rng                    *rand.Rand
	next                   int
	balances               map[string]int64
	hot                    []string
	sample                 []string
	sampleEvery            int
}

func newWriter(id int, shape Shape, customers int) *writer {
	w := &writer{id: id, writers: shape.Writers, customers: customers, rng: rand.New(rand.NewPCG(shape.Seed, uint64(id))),
		balances: map[string]int64{}, sampleEvery: max(1, shape.Events/5/SampleSize)}
	for i, c := range hotCustomers {
		if i%shape.Writers == id {
			w.hot = append(w.hot, c)
		}
	}
	return w
}

// customer draws the customer of the next order.
func (w *writer) customer() string {
	// This writer's hot customers get their share of all orders from its own.
	if len(w.hot) > 0 && w.rng.Float64() < hotShare*float64(w.writers*len(w.hot))/float64(len(hotCustomers)) {
		return w.hot[w.rng.IntN(len(w.hot))]
	}
	// An ordinary customer of this writer's share.
	n := w.rng.IntN(max(1, w.customers/w.writers))*w.writers + w.id
	return fmt.Sprintf("c-%07d", n)
}

// appendOrders appends ordersPerAppend orders with their customers' account events, in
// one AppendStreams, and returns how many events it appended.
func (w *writer) appendOrders(ctx context.Context, store Appender) (int, error) {
	var appends []ordersaga.StreamAppend
	accounts := map[string]int{} // customer -> index in appends
	total := 0
	for range ordersPerAppend {
		w.next++
		orderID := fmt.Sprintf("o%d-%08d", w.id, w.next)
		if w.next%w.sampleEvery == 0 && len(w.sample) < SampleSize/w.writers {
			w.sample = append(w.sample, orderID)
		}
		customer := w.customer()
		order, account := w.order(orderID, customer)
		appends = append(appends, ordersaga.StreamAppend{Stream: ordersaga.MustParseStream("order-" + orderID), Expected: ordersaga.NoStream, Events: order})
		total += len(order) + len(account)
		if len(account) == 0 {
			continue
		}
		if i, ok := accounts[customer]; ok {
			appends[i].Events = append(appends[i].Events, account...)
			continue
		}
		accounts[customer] = len(appends)
		appends = append(appends, ordersaga.StreamAppend{Stream: ordersaga.MustParseStream("customer-" + customer), Expected: ordersaga.AnyVersion, Events: account})
	}
	if _, err := store.AppendStreams(ctx, appends); err != nil {
		return 0, fmt.Errorf("scale: orders up to %d of writer %d: %w", w.next, w.id, err)
	}
	return total, nil
}

// order makes the events of one order and of its customer's account, by an outcome drawn
// as a busy service sees them: most approved, some rejected by the restaurant and
// refunded, some declined for want of funds, a few cancelled, a few still awaiting the
// restaurant.
func (w *writer) order(orderID, customer string) (order, account []ordersaga.EventData) {
	quantity := int64(1 + w.rng.IntN(3))
	amount := 1150 * quantity
	created := payload(ordersaga.EventOrderCreated, ordersaga.OrderCreated{OrderID: orderID, CustomerID: customer, RestaurantID: "r-1", Currency: "EUR",
		Amount: amount, Items: []ordersaga.Item{{ID: "margherita", Name: "Margherita", UnitPrice: 1150, Quantity: quantity}}, MenuVersion: 1})
	paymentID := "pay-" + orderID
	debited := payload(ordersaga.EventPaymentDebited, ordersaga.PaymentDebited{OrderID: orderID, PaymentID: paymentID, CustomerID: customer, Amount: amount, Currency: "EUR"})
	refunded := payload(ordersaga.EventPaymentRefunded, ordersaga.PaymentRefunded{OrderID: orderID, PaymentID: paymentID, Amount: amount, Currency: "EUR"})
	debit := entry(ordersaga.EventAccountDebited, customer, amount, orderID, "")
	refund := entry(ordersaga.EventAccountRefunded, customer, amount, orderID, "")
	if w.balances[customer] < amount {
		account = append(account, entry(ordersaga.EventAccountCredited, customer, topUp, "", "top-up-"+orderID))
		w.balances[customer] += topUp
	}
	switch p := w.rng.Float64(); {
	case p < 0.70:
		w.balances[customer] -= amount
		return []ordersaga.EventData{created, debited, payload(ordersaga.EventOrderApproved, ordersaga.OrderApproved{OrderID: orderID, RestaurantID: "r-1"})},
			append(account, debit)
	case p < 0.82:
		return []ordersaga.EventData{created, debited, refunded,
			payload(ordersaga.EventOrderRejected, ordersaga.OrderRejected{OrderID: orderID, Reason: ordersaga.ReasonRestaurantRejected})}, append(account, debit, refund)
	case p < 0.90:
		return []ordersaga.EventData{created, payload(ordersaga.EventOrderRejected, ordersaga.OrderRejected{OrderID: orderID, Reason: ordersaga.ReasonPaymentDeclined})}, account
	case p < 0.95:
		return []ordersaga.EventData{created, debited, refunded,
			payload(ordersaga.EventOrderCancelled, ordersaga.OrderCancelled{OrderID: orderID, Reason: ordersaga.ReasonCancelled, By: customer})}, append(account, debit, refund)
	default:
		w.balances[customer] -= amount
		return []ordersaga.EventData{created, debited}, append(account, debit)
	}
}

// entry is an account event.
func entry(typ, customer string, amount int64, orderID, reference string) ordersaga.EventData {
	e := ordersaga.AccountEntry{CustomerID: customer, Amount: amount, Currency: "EUR", Reference: reference}
	if orderID != "" {
		e.OrderID, e.PaymentID = orderID, "pay-"+orderID
	}
	return payload(typ, e)
}

// payload is an event of type typ carrying v, under a new id.
func payload(typ string, v any) ordersaga.EventData {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err) // the payload types above always encode
	}
	return ordersaga.EventData{ID: uuid.New(), Type: typ, Data: data}
}
