// Package natsstreaming is the event bus on NATS Streaming (stan.go), the bus the design
// names. It is written for file-store servers: a stable client id per process that
// survives restarts, durable queue groups with manual acks, AckWait and MaxInflight from
// the subscription options, publishes that wait for the server's ack, and reconnection with
// resubscription when the connection is lost.
//
// NATS Streaming reached end of life in 2023; the jetstream package implements the same
// port on its successor.
package natsstreaming

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	stand "github.com/nats-io/nats-streaming-server/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/stan.go"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventbus/natsconn"
)

// Config configures the adapter.
type Config struct {
	// URL of the NATS server the streaming server listens through. Required.
	URL string
	// ClusterID of the NATS Streaming server. Required.
	ClusterID string
	// ClientID must be stable for a process across restarts and unique among live
	// processes (e.g. "worker-<hostname>"). Required.
	ClientID string
	// ChannelPrefix is put before each channel name; default none (the channel of a
	// catalog event is its type, as in the classic demo).
	ChannelPrefix string
	// Channels are the event types that have a channel of their own; default the catalog
	// (ordersaga.EventTypes). Every other type travels on one shared channel, OtherChannel,
	// so that event types made up through the event store API, however many, never
	// exhaust the server's channel limit.
	Channels []string
	// PublishTimeout bounds the wait for the server's ack; default 5s.
	PublishTimeout time.Duration
	// ConnectTimeout bounds Connect, including waiting for the server to drop a previous
	// connection with the same client id after a crash; default 1 minute.
	ConnectTimeout time.Duration
	// MonitorURL is the server's HTTP monitoring address (e.g. http://127.0.0.1:8222),
	// used to check its store type; for a cluster, the nodes' addresses separated by
	// commas (the first that answers is asked).
	MonitorURL string
	// AllowMemoryStore accepts a server with a memory store, which loses every message on
	// restart. Without it Connect refuses such a server, and refuses to start when the
	// store type cannot be checked (no MonitorURL).
	AllowMemoryStore bool
	// PingInterval (seconds) and PingMaxOut decide when the connection counts as lost:
	// after PingInterval×PingMaxOut seconds without the server; defaults 5 and 6.
	PingInterval, PingMaxOut int
	// Conn are the NATS credentials and TLS settings; the zero value is anonymous plaintext.
	Conn natsconn.Config
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
	// Meters and Tracers, when set, receive the bus's metrics and spans (eventbus.Instruments).
	Meters  metric.MeterProvider
	Tracers trace.TracerProvider
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.URL == "":
		return errors.New("natsstreaming: URL is required")
	case c.ClusterID == "":
		return errors.New("natsstreaming: ClusterID is required")
	case c.ClientID == "":
		return errors.New("natsstreaming: ClientID is required (stable across restarts of this process)")
	case !c.AllowMemoryStore && c.MonitorURL == "":
		return errors.New("natsstreaming: MonitorURL is required to check that the server stores messages on disk (or set AllowMemoryStore)")
	}
	return c.Conn.Validate()
}

func (c Config) withDefaults() Config {
	if c.PublishTimeout == 0 {
		c.PublishTimeout = 5 * time.Second
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = time.Minute
	}
	if c.PingInterval == 0 {
		c.PingInterval = 5
	}
	if c.PingMaxOut == 0 {
		c.PingMaxOut = 6
	}
	if c.Channels == nil {
		c.Channels = ordersaga.EventTypes()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Bus is a connection to NATS Streaming that reconnects by itself.
type Bus struct {
	cfg Config
	// life ends when the bus is closed, and with it any reconnection in progress.
	life context.Context
	end  context.CancelFunc

	mu     sync.Mutex
	sc     stan.Conn
	subs   []*subscription
	closed bool

	obs        *eventbus.Instruments
	reconnects atomic.Int64
	unwatch    func()
}

var _ eventbus.Bus = (*Bus)(nil)

// Connect checks the server's store type and connects, retrying while the server still
// holds a previous connection with the same client id.
func Connect(ctx context.Context, cfg Config) (*Bus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if !cfg.AllowMemoryStore {
		if err := checkStore(ctx, cfg.MonitorURL); err != nil {
			return nil, err
		}
	}
	b := &Bus{cfg: cfg, obs: eventbus.NewInstruments(cfg.Meters, cfg.Tracers)}
	b.life, b.end = context.WithCancel(context.Background())
	sc, err := b.connect(ctx)
	if err != nil {
		b.end()
		return nil, err
	}
	b.sc = sc
	if b.unwatch, err = b.obs.WatchConnection(cfg.ClientID, b.connected, b.reconnects.Load); err != nil {
		b.end()
		_ = sc.Close()
		return nil, err
	}
	return b, nil
}

// checkStore refuses a server whose store is in memory. Of several monitoring addresses
// (a cluster's nodes) it asks the first that answers.
func checkStore(ctx context.Context, monitorURLs string) error {
	var err error
	for _, u := range strings.Split(monitorURLs, ",") {
		if err = checkStoreAt(ctx, strings.TrimSpace(u)); ordersaga.ErrorCode(err) != ordersaga.EUNAVAILABLE {
			return err
		}
	}
	return err
}

// checkStoreAt is checkStore at one node.
func checkStoreAt(ctx context.Context, monitorURL string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(monitorURL, "/")+"/streaming/storez", nil)
	if err != nil {
		return fmt.Errorf("natsstreaming: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return eventbus.Unavailable("check the NATS Streaming store at "+monitorURL, err)
	}
	defer resp.Body.Close()
	var storez struct {
		Type string `json:"type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&storez); err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("natsstreaming: %s/streaming/storez did not describe a store (HTTP %d): %v", monitorURL, resp.StatusCode, err)
	}
	if storez.Type == "MEMORY" {
		return errors.New("natsstreaming: refusing a server with a MEMORY store: it loses every message on restart; " +
			"run it with a file store (-store file -dir ...) or set AllowMemoryStore")
	}
	return nil
}

// connect opens a stan connection, retrying while the server still holds this client id
// (clientIDTaken) until ConnectTimeout.
func (b *Bus) connect(ctx context.Context) (stan.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.ConnectTimeout)
	defer cancel()
	var last error
	conn, err := b.cfg.Conn.Options()
	if err != nil {
		return nil, err
	}
	// A reconnect is counted whether nats.go restores the connection under the same
	// session (a short outage) or connectionLost opens a new session (a long one).
	natsOpts := append([]nats.Option{nats.Name(b.cfg.ClientID), nats.MaxReconnects(-1),
		nats.ReconnectHandler(func(*nats.Conn) { b.reconnects.Add(1) })}, conn...)
	sc, err := backoff.Retry(ctx, func() (stan.Conn, error) {
		sc, err := stan.Connect(b.cfg.ClusterID, b.cfg.ClientID,
			stan.NatsURL(b.cfg.URL),
			stan.NatsOptions(natsOpts...),
			stan.PubAckWait(b.cfg.PublishTimeout),
			stan.Pings(b.cfg.PingInterval, b.cfg.PingMaxOut),
			stan.SetConnectionLostHandler(b.connectionLost),
		)
		last = err
		if err != nil && !clientIDTaken(err) {
			return nil, backoff.Permanent(err)
		}
		return sc, err
	}, backoff.WithBackOff(retryBackOff()), backoff.WithMaxElapsedTime(0), backoff.WithNotify(func(error, time.Duration) {
		b.cfg.Logger.Info("NATS Streaming still holds this client id from a previous connection; retrying", "client_id", b.cfg.ClientID)
	}))
	switch {
	case err == nil:
		return sc, nil
	case clientIDTaken(last):
		return nil, eventbus.Unavailable("connect to NATS Streaming as "+b.cfg.ClientID, fmt.Errorf("%w: %w", last, err))
	}
	return nil, eventbus.Unavailable("connect to NATS Streaming "+b.cfg.ClusterID+" at "+eventbus.RedactURL(b.cfg.URL), err)
}

// retryBackOff waits a quarter of a second after a failed attempt, doubling up to 5 seconds.
func retryBackOff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.Multiplier, b.MaxInterval = 250*time.Millisecond, 2, 5*time.Second
	return b
}

// clientIDTaken reports whether the server refused a connection because it still holds
// one with the same client id: a previous incarnation of this process that it has not
// noticed is gone. stan.go hands on the server's refusal as text only, so the text of the
// server's own error is what is matched.
func clientIDTaken(err error) bool {
	return err != nil && strings.Contains(err.Error(), stand.ErrInvalidClient.Error())
}

// connectionLost reconnects in the background, until it succeeds or the bus is closed,
// and resubscribes every subscription.
func (b *Bus) connectionLost(_ stan.Conn, reason error) {
	log := b.cfg.Logger
	log.Warn("NATS Streaming connection lost; reconnecting", "err", reason)
	go func() {
		sc, err := backoff.Retry(b.life, func() (stan.Conn, error) { return b.connect(b.life) },
			backoff.WithBackOff(retryBackOff()), backoff.WithMaxElapsedTime(0), backoff.WithNotify(func(err error, _ time.Duration) {
				log.Warn("NATS Streaming reconnect failed; retrying", "err", err)
			}))
		if err != nil {
			return // closed
		}
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			_ = sc.Close()
			return
		}
		b.sc = sc
		subs := append([]*subscription(nil), b.subs...)
		b.mu.Unlock()
		b.reconnects.Add(1)
		for _, s := range subs {
			if err := s.subscribe(sc); err != nil {
				log.Error("resubscribe failed", "group", s.opts.Group, "err", err)
			}
		}
		log.Info("NATS Streaming reconnected", "subscriptions", len(subs))
	}()
}

// connected says whether the connection is up.
func (b *Bus) connected() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.closed && b.sc != nil && b.sc.NatsConn() != nil && b.sc.NatsConn().IsConnected()
}

func (b *Bus) conn() (stan.Conn, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, stan.ErrConnectionClosed
	}
	return b.sc, nil
}

// OtherChannel is the channel (after ChannelPrefix) of every event type that has none of
// its own (Config.Channels). It cannot be an event type's name: types start with a letter.
const OtherChannel = "_other-events"

// Channel returns the channel of an event type.
func (b *Bus) Channel(eventType string) string {
	if slices.Contains(b.cfg.Channels, eventType) {
		return b.cfg.ChannelPrefix + eventType
	}
	return b.cfg.ChannelPrefix + OtherChannel
}

// Publish implements eventbus.Publisher.
func (b *Bus) Publish(ctx context.Context, event ordersaga.RecordedEvent) error {
	_, err := b.PublishBatch(ctx, []ordersaga.RecordedEvent{event})
	return err
}

// PublishBatch implements eventbus.Publisher with asynchronous publishes.
func (b *Bus) PublishBatch(ctx context.Context, events []ordersaga.RecordedEvent) (int, error) {
	sc, err := b.conn()
	if err != nil {
		return 0, eventbus.Unavailable("publish", err)
	}
	return eventbus.PublishBatch(ctx, b.obs, events, func(_ context.Context, event ordersaga.RecordedEvent, payload []byte) (func(context.Context) error, error) {
		acked := make(chan error, 1)
		_, err := sc.PublishAsync(b.Channel(event.Type), payload, func(_ string, err error) { acked <- err })
		if errors.Is(err, nats.ErrMaxPayload) {
			return nil, eventbus.Refused(event, err)
		}
		return func(ctx context.Context) error {
			select {
			case err := <-acked:
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
		}, err
	})
}

// Subscribe implements eventbus.Subscriber: one durable queue subscription per channel,
// the group name serving as queue group and durable name.
func (b *Bus) Subscribe(ctx context.Context, opts eventbus.SubscribeOptions) (eventbus.Subscription, error) {
	opts, err := opts.WithDefaults()
	if err != nil {
		return nil, err
	}
	if opts.AckWait < time.Second {
		return nil, ordersaga.Invalidf("ack_wait", "NATS Streaming needs at least 1s, got %s", opts.AckWait)
	}
	sc, err := b.conn()
	if err != nil {
		return nil, eventbus.Unavailable("subscribe", err)
	}
	s := &subscription{bus: b, opts: opts, dispatcher: eventbus.NewDispatcher(opts, b.obs)}
	if err := s.subscribe(sc); err != nil {
		s.closeAll()
		return nil, eventbus.Unavailable("subscribe "+opts.Group, err)
	}
	b.mu.Lock()
	b.subs = append(b.subs, s)
	b.mu.Unlock()
	return s, nil
}

// Close implements eventbus.Bus: subscriptions close (their durable state stays) and the
// connection ends.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.end()
	subs, sc := b.subs, b.sc
	b.subs = nil
	b.mu.Unlock()
	b.unwatch()
	for _, s := range subs {
		s.dispatcher.Close() // calls still running end now; their messages come again
		s.closeAll()
	}
	return sc.Close()
}

type subscription struct {
	bus        *Bus
	opts       eventbus.SubscribeOptions
	dispatcher *eventbus.Dispatcher

	mu   sync.Mutex
	subs []stan.Subscription
}

// subscribe (re)creates the channel subscriptions on sc.
func (s *subscription) subscribe(sc stan.Conn) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs = s.subs[:0]
	var channels []string
	for _, t := range s.opts.Types {
		if channel := s.bus.Channel(t); !slices.Contains(channels, channel) {
			channels = append(channels, channel)
		}
	}
	for _, channel := range channels {
		sub, err := sc.QueueSubscribe(channel, s.opts.Group, s.handle,
			stan.DurableName(s.opts.Group),
			stan.SetManualAckMode(),
			stan.AckWait(s.opts.AckWait),
			stan.MaxInflight(s.opts.MaxInFlight),
			stan.DeliverAllAvailable(),
		)
		if err != nil {
			return fmt.Errorf("queue-subscribe %s to %s: %w", s.opts.Group, channel, err)
		}
		s.subs = append(s.subs, sub)
	}
	return nil
}

func (s *subscription) handle(m *stan.Msg) {
	deliveries := int(m.RedeliveryCount) + 1
	if m.Redelivered && m.RedeliveryCount == 0 {
		deliveries = 2 // a server too old to count redeliveries
	}
	msg := eventbus.NewMessage(m.Subject, m.Data, deliveries, time.Unix(0, m.Timestamp))
	if msg.DecodeErr == nil && !slices.Contains(s.opts.Types, msg.Event.Type) {
		// Another type on the shared channel: not this group's to handle.
		if err := m.Ack(); err != nil {
			s.bus.cfg.Logger.Warn("ack failed; the message will be redelivered", "channel", m.Subject, "err", err)
		}
		return
	}
	s.dispatcher.Deliver(msg, func(ack bool) {
		if !ack {
			return // no ack: the server redelivers after AckWait
		}
		if err := m.Ack(); err != nil {
			s.bus.cfg.Logger.Warn("ack failed; the message will be redelivered", "channel", m.Subject, "err", err)
		}
	})
}

// closeAll closes the channel subscriptions, keeping the durable queue group.
func (s *subscription) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range s.subs {
		_ = sub.Close()
	}
	s.subs = nil
}

// Close implements eventbus.Subscription.
func (s *subscription) Close() error {
	s.dispatcher.Close()
	s.closeAll()
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	for i, other := range s.bus.subs {
		if other == s {
			s.bus.subs = append(s.bus.subs[:i], s.bus.subs[i+1:]...)
			break
		}
	}
	return nil
}
