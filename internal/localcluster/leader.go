package localcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/ordersaga/ordersaga/internal/system"
)

// NATSLeader returns the NATS server that leads the bus: for NATS Streaming, the node its
// Raft group elected (`/streaming/serverz` says "Leader"); for JetStream, the server that
// says it leads the events stream (`/jsz`). A single server leads by itself.
func (c *Cluster) NATSLeader(ctx context.Context) (*Process, error) {
	var nodes []*Process
	for _, p := range c.Processes {
		if p.Role == "nats" {
			nodes = append(nodes, p)
		}
	}
	if len(nodes) == 1 {
		return nodes[0], nil
	}
	client := http.Client{Timeout: 2 * time.Second}
	get := func(p *Process, path string, v any) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.MonitorAddr+path, nil)
		if err != nil {
			return err
		}
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		return json.NewDecoder(res.Body).Decode(v)
	}
	for _, p := range nodes {
		if c.cfg.Bus == system.BusNATSStreaming {
			var serverz struct {
				Role string `json:"role"`
			}
			if get(p, "/streaming/serverz", &serverz) == nil && serverz.Role == "Leader" {
				return p, nil
			}
			continue
		}
		var jsz struct {
			Accounts []struct {
				Streams []struct {
					Name    string `json:"name"`
					Cluster struct {
						Leader string `json:"leader"`
					} `json:"cluster"`
				} `json:"stream_detail"`
			} `json:"account_details"`
		}
		if get(p, "/jsz?streams=true", &jsz) != nil {
			continue
		}
		// Only a server's word about itself counts: the others may still name a leader
		// that is gone.
		for _, a := range jsz.Accounts {
			for _, s := range a.Streams {
				if s.Cluster.Leader == p.Name {
					return p, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("no NATS server says it leads the %s bus", c.cfg.Bus)
}
