package system

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventbus/jetstream"
	"github.com/ordersaga/ordersaga/eventbus/natsconn"
	"github.com/ordersaga/ordersaga/eventbus/natsstreaming"
	"github.com/ordersaga/ordersaga/telemetry"
)

// Bus kinds: BusConfig.Kind.
const (
	BusNATSStreaming = "natsstreaming"
	BusJetStream     = "jetstream"
)

// BusConfig says which event bus to connect to, and how.
type BusConfig struct {
	// Kind is BusNATSStreaming or BusJetStream.
	Kind string
	// URL of the NATS server; MonitorURL its HTTP monitoring (NATS Streaming checks there
	// that it stores on disk, unless AllowMemoryStore).
	URL, MonitorURL  string
	AllowMemoryStore bool
	// ClusterID is NATS Streaming's; ClientID names this process (NATS Streaming needs it
	// stable across restarts and unique per process).
	ClusterID, ClientID string
	// Prefix of channel or subject names; empty keeps the adapter's default.
	Prefix string
	// Replicas is how many servers of a JetStream cluster keep the events (0: 1).
	Replicas int
	// Conn are the NATS credentials and TLS; the zero value is anonymous plaintext.
	Conn natsconn.Config
}

// OpenBus connects to the bus cfg names, measured and traced by tel (nil: not).
func OpenBus(ctx context.Context, cfg BusConfig, logger *slog.Logger, tel *telemetry.Telemetry) (eventbus.Bus, error) {
	tel = orOff(tel)
	switch cfg.Kind {
	case BusNATSStreaming:
		return natsstreaming.Connect(ctx, natsstreaming.Config{
			URL: cfg.URL, ClusterID: cfg.ClusterID, ClientID: cfg.ClientID, ChannelPrefix: cfg.Prefix,
			MonitorURL: cfg.MonitorURL, AllowMemoryStore: cfg.AllowMemoryStore, Conn: cfg.Conn, Logger: logger,
			Meters: tel.Meters, Tracers: tel.Tracers,
		})
	case BusJetStream:
		return jetstream.Connect(ctx, jetstream.Config{URL: cfg.URL, ClientName: cfg.ClientID, SubjectPrefix: cfg.Prefix, Replicas: cfg.Replicas,
			Conn: cfg.Conn, Logger: logger, Meters: tel.Meters, Tracers: tel.Tracers})
	}
	return nil, fmt.Errorf("unknown bus %q: choose %s or %s", cfg.Kind, BusNATSStreaming, BusJetStream)
}
