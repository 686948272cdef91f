package eventbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventbus"
)

// dispatcherOptions are valid options whose handler runs fn.
func dispatcherOptions(t *testing.T, concurrency int, fn eventbus.Handler) eventbus.SubscribeOptions {
	t.Helper()
	opts, err := eventbus.SubscribeOptions{Group: "g", Types: []string{"order-created"}, AckWait: time.Second,
		Concurrency: concurrency, Handler: fn,
		DeadLetter: func(context.Context, eventbus.Message, error) error { return nil }}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

// validMessage is a first delivery of an event that decodes.
func validMessage(t *testing.T) eventbus.Message {
	t.Helper()
	raw, err := eventbus.Encode(ordersaga.RecordedEvent{ID: uuid.New(), StreamID: "order-1", StreamType: "order", Version: 1,
		Type: "order-created", Data: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	return eventbus.NewMessage("order-created", raw, 1, time.Time{})
}

// TestAHandlerGivesUpBeforeTheAckWait: each call's context ends at nine tenths of the ack
// wait, before the server would hand the message to another member.
func TestAHandlerGivesUpBeforeTheAckWait(t *testing.T) {
	var left time.Duration
	d := eventbus.NewDispatcher(dispatcherOptions(t, 1, func(ctx context.Context, _ eventbus.Message) error {
		deadline, ok := ctx.Deadline()
		if ok {
			left = time.Until(deadline)
		}
		return nil
	}), nil)
	defer d.Close()
	if got := d.HandlerDeadline(); got != 900*time.Millisecond {
		t.Errorf("handler deadline %s with a 1s ack wait, want 900ms", got)
	}
	d.Deliver(validMessage(t), func(bool) {})
	if left <= 800*time.Millisecond || left > 900*time.Millisecond {
		t.Errorf("the handler had %s left, want just under 900ms", left)
	}
}

// TestDeliverSettlesInOrderOrConcurrentlyAndNotAfterClose: with Concurrency 1 a delivery is settled when
// Deliver returns (messages are handled in the order they come); with more, Deliver
// returns while the handler still runs, and Close cancels it with ErrSubscriptionClosed
// and waits for it. After Close a delivery is neither handled nor settled.
func TestDeliverSettlesInOrderOrConcurrentlyAndNotAfterClose(t *testing.T) {
	var settled atomic.Int32
	one := eventbus.NewDispatcher(dispatcherOptions(t, 1, func(context.Context, eventbus.Message) error { return nil }), nil)
	one.Deliver(validMessage(t), func(bool) { settled.Add(1) })
	if settled.Load() != 1 {
		t.Error("with Concurrency 1, Deliver returned before the message was settled")
	}
	one.Close()

	release, cause := make(chan struct{}), make(chan error, 1)
	handled := atomic.Int32{}
	many := eventbus.NewDispatcher(dispatcherOptions(t, 2, func(ctx context.Context, _ eventbus.Message) error {
		handled.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
			cause <- context.Cause(ctx)
		}
		return ctx.Err()
	}), nil)
	acks := make(chan bool, 3)
	many.Deliver(validMessage(t), func(ack bool) { acks <- ack })
	select {
	case <-acks:
		t.Error("with Concurrency 2, the message was settled before its handler returned")
	default: // Deliver returned while the handler runs
	}
	many.Close()
	if err := <-cause; !errors.Is(err, eventbus.ErrSubscriptionClosed) {
		t.Errorf("the running handler was cancelled with %v, want ErrSubscriptionClosed", err)
	}
	if ack := <-acks; ack {
		t.Error("a message whose handler was cut off by Close was acked, not left for redelivery")
	}
	many.Deliver(validMessage(t), func(ack bool) { acks <- ack })
	if handled.Load() != 1 || len(acks) != 0 {
		t.Errorf("after Close: %d handler calls and %d settlements, want the one from before and none", handled.Load(), len(acks))
	}
	close(release)
}
