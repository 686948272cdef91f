package eventbus

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// ErrSubscriptionClosed is the cause of the context of a handler whose subscription is
// closing: its message is left for redelivery, never dead-lettered for it.
var ErrSubscriptionClosed = errors.New("the subscription is closing")

// Dispatcher runs a subscription's handler for each delivery, the same way in every
// adapter: each call under a deadline below the ack wait (so that a handler gives up before
// the server hands its message to another member), every call cancelled when the
// subscription closes, and up to SubscribeOptions.Concurrency calls at once.
type Dispatcher struct {
	opts   SubscribeOptions
	obs    *Instruments
	ctx    context.Context
	cancel context.CancelCauseFunc
	slots  chan struct{}

	mu      sync.Mutex // orders Deliver's start of a call before Close's wait
	closed  bool
	running sync.WaitGroup
}

// NewDispatcher returns the dispatcher of a subscription with opts (defaults filled in),
// measured and traced by in (nil: neither).
func NewDispatcher(opts SubscribeOptions, in *Instruments) *Dispatcher {
	if in == nil {
		in = NewInstruments(nil, nil)
	}
	in.countFromZero(opts.Group, opts.Types)
	ctx, cancel := context.WithCancelCause(context.Background())
	deadLetter := opts.DeadLetter
	opts.DeadLetter = func(ctx context.Context, msg Message, cause error) error {
		err := deadLetter(ctx, msg, cause)
		if err == nil {
			in.deadLettered(ctx, opts.Group, msg)
		}
		return err
	}
	return &Dispatcher{opts: opts, obs: in, ctx: ctx, cancel: cancel, slots: make(chan struct{}, opts.Concurrency)}
}

// HandlerDeadline is how long one handler call may run: nine tenths of the ack wait.
func (d *Dispatcher) HandlerDeadline() time.Duration { return d.opts.AckWait - d.opts.AckWait/10 }

// Deliver runs the handler for msg (Dispatch), then settles it: settle(true) acks it,
// settle(false) leaves it for redelivery. With Concurrency 1 it returns once msg is
// settled, so messages are handled in the order they come; with more it returns once the
// call has started, waiting while Concurrency calls run. After Close it does nothing: the
// message is redelivered later.
func (d *Dispatcher) Deliver(msg Message, settle func(ack bool)) {
	select {
	case d.slots <- struct{}{}:
	case <-d.ctx.Done():
		return
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		<-d.slots
		return
	}
	d.running.Add(1)
	d.mu.Unlock()
	call := func() {
		defer d.running.Done()
		defer func() { <-d.slots }()
		ctx, cancel := context.WithTimeout(d.ctx, d.HandlerDeadline())
		defer cancel()
		ctx, span := d.obs.startDelivery(ctx, d.opts.Group, msg)
		ack := Dispatch(ctx, d.opts, msg)
		span.SetAttributes(attribute.Bool("ordersaga.acked", ack))
		span.End()
		settle(ack)
	}
	if d.opts.Concurrency == 1 {
		call()
		return
	}
	go call()
}

// Close cancels the running calls, with ErrSubscriptionClosed as the cause, and waits
// until they have returned.
func (d *Dispatcher) Close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.cancel(ErrSubscriptionClosed)
	d.running.Wait()
}
