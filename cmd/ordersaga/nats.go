package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ordersaga/ordersaga/natsembed"
)

// natsCommand runs the NATS servers dev embeds, as a process of their own: the shape
// `ordersaga chaos` runs (a NATS process it can kill), or a bus for a laptop without one.
func (m *Main) natsCommand() *cobra.Command {
	var (
		cfg     natsembed.Config
		cluster natsembed.Cluster
		cmd     = &cobra.Command{Use: "nats", Args: noArgs,
			Short: "run a NATS server with JetStream and NATS Streaming (as dev embeds them) until stopped; no users: loopback only"}
	)
	fs := cmd.Flags()
	fs.StringVar(&cfg.Dir, "data-dir", "", "where the file stores live (kept across restarts; required)")
	fs.StringVar(&cfg.Host, "host", "127.0.0.1", "address to listen on")
	fs.IntVar(&cfg.Port, "port", 4222, "port for NATS clients")
	fs.IntVar(&cfg.MonitorPort, "monitor-port", 8222, "HTTP monitoring port")
	fs.StringVar(&cfg.ClusterID, "cluster-id", natsembed.DefaultClusterID, "NATS Streaming cluster id")
	fs.DurationVar(&cfg.SyncInterval, "sync-interval", time.Second, "how often the stores fsync; 0 at every message")
	fs.StringVar(&cluster.NodeID, "node-id", "", "run as this node of a cluster (its server name and NATS Streaming node id); empty: alone")
	fs.StringVar(&cluster.Name, "cluster-name", "ordersaga", "with --node-id: the NATS cluster's name, the same on every node")
	fs.IntVar(&cluster.Port, "cluster-port", 6222, "with --node-id: the port this node takes routes from the others on")
	fs.StringSliceVar(&cluster.Routes, "routes", nil, "with --node-id: the other nodes' route URLs (nats://host:port)")
	fs.StringSliceVar(&cluster.Peers, "peers", nil, "with --node-id: the node ids of every node, this one's included")
	cmd.RunE = m.runs(func(ctx context.Context) error {
		if cfg.Dir == "" {
			return fmt.Errorf("--data-dir is required")
		}
		if cfg.SyncInterval < 0 {
			return fmt.Errorf("--sync-interval must not be negative, got %s", cfg.SyncInterval)
		}
		if cfg.Host != "127.0.0.1" && cfg.Host != "localhost" && cfg.Host != "::1" {
			return fmt.Errorf("--host %s: this server has no users, so it listens on loopback only", cfg.Host)
		}
		if cluster.NodeID != "" {
			cfg.Cluster = &cluster
		}
		cfg.Logger = m.logger(false, "warn")
		s, err := natsembed.Start(cfg)
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "nats listening on %s (monitoring %s, NATS Streaming cluster %s)\n", s.ClientURL(), s.MonitorURL(), s.ClusterID())
		<-ctx.Done()
		s.Shutdown()
		return nil
	})
	return cmd
}
