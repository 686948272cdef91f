package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/ordersaga/ordersaga/eventbus"
	"github.com/ordersaga/ordersaga/eventbus/jetstream"
	"github.com/ordersaga/ordersaga/eventbus/natsstreaming"
)

// busFlags are the settings of every role that uses the event bus.
type busFlags struct {
	kind             string
	url              string
	monitorURL       string
	clusterID        string
	clientID         string
	prefix           string
	allowMemoryStore bool
}

func (b *busFlags) register(fs *flag.FlagSet, env func(string) string, role string) {
	host, _ := os.Hostname()
	fs.StringVar(&b.kind, "bus", envOr(env, "ORDERSAGA_BUS", "natsstreaming"), "event bus: natsstreaming or jetstream (env ORDERSAGA_BUS)")
	fs.StringVar(&b.url, "nats-url", envOr(env, "NATS_URL", "nats://127.0.0.1:4222"), "NATS server URL (env NATS_URL)")
	fs.StringVar(&b.monitorURL, "nats-monitor-url", envOr(env, "NATS_MONITOR_URL", "http://127.0.0.1:8222"),
		"NATS HTTP monitoring URL, used to check that NATS Streaming stores on disk (env NATS_MONITOR_URL)")
	fs.StringVar(&b.clusterID, "stan-cluster-id", envOr(env, "ORDERSAGA_STAN_CLUSTER_ID", "ordersaga"), "NATS Streaming cluster id (env ORDERSAGA_STAN_CLUSTER_ID)")
	fs.StringVar(&b.clientID, "stan-client-id", envOr(env, "ORDERSAGA_STAN_CLIENT_ID", role+"-"+host),
		"NATS Streaming client id: stable across restarts, unique per process (env ORDERSAGA_STAN_CLIENT_ID)")
	fs.StringVar(&b.prefix, "channel-prefix", env("ORDERSAGA_CHANNEL_PREFIX"),
		`prefix of channel/subject names; default "" for natsstreaming (channel = event type), "ordersaga.events." for jetstream (env ORDERSAGA_CHANNEL_PREFIX)`)
	fs.BoolVar(&b.allowMemoryStore, "allow-memory-store", false, "accept a NATS Streaming server with a memory store (loses messages on restart)")
}

// open connects to the configured bus.
func (b *busFlags) open(ctx context.Context, logger *slog.Logger) (eventbus.Bus, error) {
	switch b.kind {
	case "natsstreaming":
		return natsstreaming.Connect(ctx, natsstreaming.Config{
			URL: b.url, ClusterID: b.clusterID, ClientID: b.clientID, ChannelPrefix: b.prefix,
			MonitorURL: b.monitorURL, AllowMemoryStore: b.allowMemoryStore, Logger: logger,
		})
	case "jetstream":
		return jetstream.Connect(ctx, jetstream.Config{URL: b.url, ClientName: b.clientID, SubjectPrefix: b.prefix, Logger: logger})
	}
	return nil, fmt.Errorf("unknown --bus %q: choose natsstreaming or jetstream", b.kind)
}
