package localcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ordersaga/ordersaga/internal/system"
)

// NATSLeader returns the NATS server that leads the bus: for NATS Streaming, the node its
// Raft group elected (`/streaming/serverz` says "Leader"); for JetStream, the server that
// says it leads the events stream (`/jsz`). A single server leads by itself.
func (c *Cluster) NATSLeader(ctx context.Context) (*Process, error) {
	nodes := c.natsNodes()
	if len(nodes) == 1 {
		return nodes[0], nil
	}
	for _, p := range nodes {
		if c.cfg.Bus == system.BusNATSStreaming {
			if role, err := streamingRole(ctx, p); err == nil && role == "Leader" {
				return p, nil
			}
			continue
		}
		// Only a server's word about itself counts: the others may still name a leader
		// that is gone.
		if stream, err := eventsStream(ctx, p, false); err == nil && stream.Cluster.Leader == p.Name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("no NATS server says it leads the %s bus", c.cfg.Bus)
}

// NATSWhole returns nil when every NATS server of the cluster is back in it: for NATS
// Streaming, one leads and the others follow; for JetStream, the events stream's leader
// counts every other server as a current replica of the stream, and each consumer of it
// has a leader and no replica offline (a consumer's replicas trail its acks, so "current"
// flickers under load). A cluster that is not whole has lost more than a leader would.
func (c *Cluster) NATSWhole(ctx context.Context) error {
	nodes := c.natsNodes()
	if len(nodes) == 1 {
		return nil
	}
	if c.cfg.Bus == system.BusNATSStreaming {
		leaders := 0
		for _, p := range nodes {
			role, err := streamingRole(ctx, p)
			switch {
			case err != nil:
				return fmt.Errorf("%s: %w", p.Name, err)
			case role == "Leader":
				leaders++
			case role != "Follower":
				return fmt.Errorf("%s is %s", p.Name, role)
			}
		}
		if leaders != 1 {
			return fmt.Errorf("%d leaders", leaders)
		}
		return nil
	}
	leader, err := c.NATSLeader(ctx)
	if err != nil {
		return err
	}
	stream, err := eventsStream(ctx, leader, true)
	if err != nil {
		return err
	}
	if err := stream.Cluster.whole(len(nodes), true); err != nil {
		return fmt.Errorf("stream %s: %w", stream.Name, err)
	}
	for _, consumer := range stream.Consumers {
		if err := consumer.Cluster.whole(len(nodes), false); err != nil {
			return fmt.Errorf("consumer %s: %w", consumer.Name, err)
		}
	}
	return nil
}

// natsNodes are the cluster's NATS servers.
func (c *Cluster) natsNodes() []*Process {
	var nodes []*Process
	for _, p := range c.Processes {
		if p.Role == "nats" {
			nodes = append(nodes, p)
		}
	}
	return nodes
}

// raftGroup is what a JetStream server's /jsz says of a stream's or a consumer's group.
type raftGroup struct {
	Leader   string `json:"leader"`
	Replicas []struct {
		Name    string `json:"name"`
		Current bool   `json:"current"`
		Offline bool   `json:"offline"`
	} `json:"replicas"`
}

// whole returns nil when the group has a leader and its other nodes-1 members are online
// and, if current is true, caught up.
func (g raftGroup) whole(nodes int, current bool) error {
	if g.Leader == "" {
		return errors.New("no leader")
	}
	if len(g.Replicas) != nodes-1 {
		return fmt.Errorf("%d replicas beside the leader, want %d", len(g.Replicas), nodes-1)
	}
	for _, r := range g.Replicas {
		switch {
		case r.Offline:
			return fmt.Errorf("replica %s offline", r.Name)
		case current && !r.Current:
			return fmt.Errorf("replica %s not current", r.Name)
		}
	}
	return nil
}

// streamDetail is what a JetStream server's /jsz says of a stream.
type streamDetail struct {
	Name      string    `json:"name"`
	Cluster   raftGroup `json:"cluster"`
	Consumers []struct {
		Name    string    `json:"name"`
		Cluster raftGroup `json:"cluster"`
	} `json:"consumer_detail"`
}

// eventsStream is what server p says of the events stream (the one stream on the bus),
// and of its consumers if asked (a heavier question: the server locks each to describe it).
func eventsStream(ctx context.Context, p *Process, withConsumers bool) (streamDetail, error) {
	var jsz struct {
		Accounts []struct {
			Streams []streamDetail `json:"stream_detail"`
		} `json:"account_details"`
	}
	path := "/jsz?streams=true"
	if withConsumers {
		path += "&consumers=true"
	}
	if err := monitor(ctx, p, path, &jsz); err != nil {
		return streamDetail{}, err
	}
	for _, a := range jsz.Accounts {
		for _, s := range a.Streams {
			return s, nil
		}
	}
	return streamDetail{}, fmt.Errorf("%s knows no stream", p.Name)
}

// streamingRole is NATS Streaming server p's role in its Raft group.
func streamingRole(ctx context.Context, p *Process) (string, error) {
	var serverz struct {
		Role string `json:"role"`
	}
	err := monitor(ctx, p, "/streaming/serverz", &serverz)
	return serverz.Role, err
}

// monitor reads path from p's HTTP monitoring into v.
func monitor(ctx context.Context, p *Process, path string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.MonitorAddr+path, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s%s: %s", p.Name, path, res.Status)
	}
	return json.NewDecoder(res.Body).Decode(v)
}
