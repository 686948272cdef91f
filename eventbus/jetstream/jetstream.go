// Package jetstream is the event bus on NATS JetStream, the supported successor of NATS
// Streaming: one file-backed stream captures every event subject; Publish sets Nats-Msg-Id
// to the event id so the server drops duplicates inside its de-duplication window; each
// queue group is a durable pull consumer shared by its members, with explicit acks.
package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventbus/natsconn"
)

// Config configures the adapter.
type Config struct {
	// URL of the NATS servers, e.g. nats://127.0.0.1:4222. Required.
	URL string
	// ClientName identifies this process in the server's monitoring.
	ClientName string
	// Stream is the JetStream stream holding the events; default "ORDERSAGA_EVENTS".
	Stream string
	// SubjectPrefix is put before each event type to make its subject; default
	// "ordersaga.events.". The stream captures SubjectPrefix + ">".
	SubjectPrefix string
	// DuplicateWindow is how long the server remembers event ids to drop duplicates;
	// default 2 minutes.
	DuplicateWindow time.Duration
	// Replicas is how many servers of a JetStream cluster keep the stream, 1 to 5
	// (default 1: one server, or a cluster that may lose the stream with a server). With 3,
	// losing one server, its leader included, loses no acknowledged message.
	Replicas int
	// PublishTimeout bounds the wait for the server's acknowledgement; default 5s.
	PublishTimeout time.Duration
	// Conn are the NATS credentials and TLS settings; the zero value is anonymous plaintext.
	Conn natsconn.Config
	// Logger receives connection and consumer problems; nil discards them.
	Logger *slog.Logger
	// Meters and Tracers, when set, receive the bus's metrics and spans (eventbus.Instruments).
	Meters  metric.MeterProvider
	Tracers trace.TracerProvider
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.URL == "" {
		return errors.New("jetstream: URL is required")
	}
	if c.SubjectPrefix != "" && !strings.HasSuffix(c.SubjectPrefix, ".") {
		return fmt.Errorf("jetstream: SubjectPrefix %q must end with a dot", c.SubjectPrefix)
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		return fmt.Errorf("jetstream: Replicas must be 1 to 5, got %d", c.Replicas)
	}
	return c.Conn.Validate()
}

func (c Config) withDefaults() Config {
	if c.Stream == "" {
		c.Stream = "ORDERSAGA_EVENTS"
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = "ordersaga.events."
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = 2 * time.Minute
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = 5 * time.Second
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Bus is a connection to JetStream.
type Bus struct {
	cfg Config
	nc  *nats.Conn
	js  jetstream.JetStream

	mu   sync.Mutex
	subs []*subscription

	obs     *eventbus.Instruments
	unwatch func()
}

var _ eventbus.Bus = (*Bus)(nil)

// Connect connects and creates the events stream, or checks and updates it.
func Connect(ctx context.Context, cfg Config) (*Bus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger
	conn, err := cfg.Conn.Options()
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(cfg.URL, append(conn,
		nats.Name(cfg.ClientName),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("NATS disconnected", "err", err) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("NATS reconnected", "url", eventbus.RedactURL(nc.ConnectedUrl())) }),
	)...)
	if err != nil {
		return nil, eventbus.Unavailable("connect to "+eventbus.RedactURL(cfg.URL), err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(cfg.PublishTimeout), jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		nc.Close()
		return nil, err
	}
	if err := ensureStream(ctx, js, jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "ordersaga events, one subject per event type",
		Subjects:    []string{cfg.SubjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  cfg.DuplicateWindow,
		Replicas:    cfg.Replicas,
	}); err != nil {
		nc.Close()
		return nil, eventbus.Unavailable("create stream "+cfg.Stream, err)
	}
	b := &Bus{cfg: cfg, nc: nc, js: js, obs: eventbus.NewInstruments(cfg.Meters, cfg.Tracers)}
	if b.unwatch, err = b.obs.WatchConnection(cfg.ClientName, nc.IsConnected, func() int64 { return int64(nc.Stats().Reconnects) }); err != nil {
		nc.Close()
		return nil, err
	}
	return b, nil
}

// ensureStream creates the stream, or updates it to want, unless it is as wanted already:
// a client whose user may not change streams (a reader, natsembed.ReaderPublishDeny)
// connects to a stream that a writer made.
func ensureStream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig) error {
	stream, err := js.Stream(ctx, want.Name)
	if err == nil {
		have := stream.CachedInfo().Config
		if slices.Equal(have.Subjects, want.Subjects) && have.Storage == want.Storage && have.Retention == want.Retention &&
			have.Duplicates == want.Duplicates && have.Description == want.Description && have.Replicas == want.Replicas {
			return nil
		}
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return err
	}
	_, err = js.CreateOrUpdateStream(ctx, want)
	return err
}

// StreamLeader names the server that leads the events stream (its server name; "" for a
// server that is not in a cluster).
func (b *Bus) StreamLeader(ctx context.Context) (string, error) {
	stream, err := b.js.Stream(ctx, b.cfg.Stream)
	if err != nil {
		return "", eventbus.Unavailable("read stream "+b.cfg.Stream, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return "", eventbus.Unavailable("read stream "+b.cfg.Stream, err)
	}
	if info.Cluster == nil {
		return "", nil
	}
	return info.Cluster.Leader, nil
}

// Subject returns the subject of an event type.
func (b *Bus) Subject(eventType string) string { return b.cfg.SubjectPrefix + eventType }

// Publish implements eventbus.Publisher. A duplicate inside the de-duplication window is
// acknowledged by the server without being stored again.
func (b *Bus) Publish(ctx context.Context, event ordersaga.RecordedEvent) error {
	payload, err := eventbus.Encode(event)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	defer cancel()
	_, err = b.js.PublishMsg(ctx, b.message(ctx, event, payload), b.publishOpts(event)...)
	if errors.Is(err, nats.ErrMaxPayload) {
		return eventbus.Refused(event, err)
	}
	return eventbus.Unavailable("publish "+event.ID.String(), err)
}

// message is the NATS message carrying an event, with the trace context of ctx (the
// event's producer span) in its headers, as OpenTelemetry's messaging conventions have it.
func (b *Bus) message(ctx context.Context, event ordersaga.RecordedEvent, payload []byte) *nats.Msg {
	msg := &nats.Msg{Subject: b.Subject(event.Type), Data: payload, Header: nats.Header{}}
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(msg.Header))
	return msg
}

// publishOpts make the server drop a duplicate of the event and check the stream.
func (b *Bus) publishOpts(event ordersaga.RecordedEvent) []jetstream.PublishOpt {
	return []jetstream.PublishOpt{jetstream.WithMsgID(event.ID.String()), jetstream.WithExpectStream(b.cfg.Stream)}
}

// PublishBatch implements eventbus.Publisher with asynchronous publishes.
func (b *Bus) PublishBatch(ctx context.Context, events []ordersaga.RecordedEvent) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	defer cancel()
	return eventbus.PublishBatch(ctx, b.obs, events, func(ctx context.Context, event ordersaga.RecordedEvent, payload []byte) (func(context.Context) error, error) {
		f, err := b.js.PublishMsgAsync(b.message(ctx, event, payload), b.publishOpts(event)...)
		if errors.Is(err, nats.ErrMaxPayload) {
			return nil, eventbus.Refused(event, err)
		}
		return func(ctx context.Context) error {
			select {
			case <-f.Ok():
				return nil
			case err := <-f.Err():
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
		}, err
	})
}

// Subscribe implements eventbus.Subscriber: the group is a durable consumer filtered to
// the types' subjects; every member consumes from it.
func (b *Bus) Subscribe(ctx context.Context, opts eventbus.SubscribeOptions) (eventbus.Subscription, error) {
	opts, err := opts.WithDefaults()
	if err != nil {
		return nil, err
	}
	subjects := make([]string, len(opts.Types))
	for i, t := range opts.Types {
		subjects[i] = b.Subject(t)
	}
	cons, err := b.js.CreateOrUpdateConsumer(ctx, b.cfg.Stream, jetstream.ConsumerConfig{
		Durable:        opts.Group,
		Description:    "ordersaga queue group " + opts.Group,
		FilterSubjects: subjects,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        opts.AckWait,
		MaxDeliver:     -1, // dead letters are ours: after MaxDeliveries the handler acks
		MaxAckPending:  opts.MaxInFlight * 16,
	})
	if err != nil {
		return nil, eventbus.Unavailable("create consumer "+opts.Group, err)
	}
	sub := &subscription{bus: b, dispatcher: eventbus.NewDispatcher(opts, b.obs)}
	handle := func(m jetstream.Msg) {
		deliveries, published := 1, time.Time{}
		if md, err := m.Metadata(); err == nil {
			deliveries, published = int(md.NumDelivered), md.Timestamp
		}
		sub.dispatcher.Deliver(eventbus.NewMessage(m.Subject(), m.Data(), deliveries, published), func(ack bool) {
			if !ack {
				_ = m.NakWithDelay(redeliveryDelay(deliveries, opts.AckWait))
				return
			}
			if err := m.DoubleAck(context.Background()); err != nil {
				b.cfg.Logger.Warn("ack failed; the message will be redelivered", "subject", m.Subject(), "err", err)
			}
		})
	}
	sub.cc, err = cons.Consume(handle,
		jetstream.PullMaxMessages(opts.MaxInFlight), jetstream.PullExpiry(pullExpiry), jetstream.PullHeartbeat(pullHeartbeat),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			b.cfg.Logger.Warn("JetStream consumer", "group", opts.Group, "err", err)
		}))
	if err != nil {
		return nil, eventbus.Unavailable("consume "+opts.Group, err)
	}
	b.mu.Lock()
	b.subs = append(b.subs, sub)
	b.mu.Unlock()
	return sub, nil
}

// A consumer's pull request lasts pullExpiry, and the server sends a heartbeat every
// pullHeartbeat while it has nothing to deliver; two missed heartbeats make the client pull
// afresh. nats.go's defaults (30 s and 15 s) left a consumer idle for up to 30 s after
// its server or the consumer's leader was lost, while the request it waited on was gone
// with it: a chaos run saw projection lag of 19 s after the bus came back.
const (
	pullExpiry    = 10 * time.Second
	pullHeartbeat = 2 * time.Second
)

// redeliveryDelay backs off a failing message: 100 ms, doubling, at most AckWait.
func redeliveryDelay(deliveries int, ackWait time.Duration) time.Duration {
	return min(100*time.Millisecond<<min(deliveries-1, 10), ackWait)
}

// Close implements eventbus.Bus.
func (b *Bus) Close() error {
	b.mu.Lock()
	subs := b.subs
	b.subs = nil
	b.mu.Unlock()
	for _, s := range subs {
		s.stop()
	}
	b.unwatch()
	return b.nc.Drain()
}

type subscription struct {
	bus        *Bus
	cc         jetstream.ConsumeContext
	dispatcher *eventbus.Dispatcher
	once       sync.Once
}

func (s *subscription) stop() {
	s.once.Do(func() {
		s.dispatcher.Close() // calls still running end now; their messages come again
		s.cc.Drain()
		<-s.cc.Closed()
	})
}

// Close implements eventbus.Subscription; the durable consumer stays on the server.
func (s *subscription) Close() error {
	s.stop()
	return nil
}
