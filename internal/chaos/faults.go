package chaos

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ordersaga/ordersaga/internal/localcluster"
)

// The faults ordersaga chaos knows, by the name its --faults flag takes.
const (
	KillWorker      = "kill-worker"
	KillProjector   = "kill-projector"
	KillRelay       = "kill-relay"
	KillAPI         = "kill-api"
	PauseWorker     = "pause-worker"
	KillNATS        = "kill-nats"
	CutBus          = "cut-bus"
	RestartDatabase = "restart-postgres"
	RestartTemporal = "restart-temporal"
)

// Faults are every fault, in the order a run injects them by default.
func Faults() []string {
	return []string{KillWorker, KillProjector, KillRelay, KillAPI, PauseWorker, KillNATS, RestartDatabase, RestartTemporal, CutBus}
}

// ParseFaults reads a comma-separated list of fault names; "all" is every fault.
func ParseFaults(list string) ([]string, error) {
	if list == "all" {
		return Faults(), nil
	}
	var out []string
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(Faults(), f) {
			return nil, fmt.Errorf("unknown fault %q (known: %s, or all)", f, strings.Join(Faults(), ", "))
		}
		out = append(out, f)
	}
	return out, nil
}

// faultTiming says how long a fault lasts.
type faultTiming struct {
	// down is how long a killed process stays down before it is started again.
	down time.Duration
	// pause is how long a paused worker stays stopped: past its activities' 10 s
	// start-to-close timeout, so that Temporal gives them to another worker.
	pause time.Duration
	// busOutage is how long the bus stays away when it is cut off.
	busOutage time.Duration
}

// injected is what inject did: the processes it acted on, and, when it killed the bus's
// leader, how long the bus had no leader.
type injected struct {
	target     string
	leaderless time.Duration
}

// inject runs one fault against the cluster and undoes it: kills and starts again, pauses
// and resumes, restarts. The n-th fault of a kind picks the n-th process of its role, in
// turn.
func inject(ctx context.Context, c *localcluster.Cluster, fault string, n int, t faultTiming) (injected, error) {
	if fault == KillNATS {
		return killLeader(ctx, c, t)
	}
	target, err := injectInto(ctx, c, fault, n, t)
	return injected{target: target}, err
}

// killLeader kills the node that leads the bus (the one whose loss costs an election),
// starts it again after t.down and waits until the cluster is whole again; it measures how
// long the bus had no leader: until another node led, or the killed one, started again,
// did. It kills only a whole cluster: one whose last restarted node still catches up has
// lost more than one node of three when its leader dies.
func killLeader(ctx context.Context, c *localcluster.Cluster, t faultTiming) (injected, error) {
	if err := waitWhole(ctx, c); err != nil {
		return injected{}, err
	}
	p, err := waitLeader(ctx, c)
	if err != nil {
		return injected{}, err
	}
	starts := p.Starts()
	killed := time.Now()
	if err := p.Kill(); err != nil {
		return injected{target: p.Name}, err
	}
	elected := make(chan time.Duration, 1)
	go func() {
		for ctx.Err() == nil && time.Since(killed) < 2*time.Minute {
			if leader, err := c.NATSLeader(ctx); err == nil && (leader != p || p.Starts() > starts) {
				elected <- time.Since(killed)
				return
			}
			sleep(ctx, 50*time.Millisecond)
		}
		elected <- -1
	}()
	sleep(ctx, t.down)
	if err := p.Start(); err != nil {
		return injected{target: p.Name}, err
	}
	err = waitWhole(ctx, c)
	return injected{target: p.Name + " (leader)", leaderless: <-elected}, err
}

// injectInto runs every fault but the leader's kill, and returns the processes it acted on.
func injectInto(ctx context.Context, c *localcluster.Cluster, fault string, n int, t faultTiming) (string, error) {
	switch fault {
	case RestartDatabase:
		return "postgres", c.RestartDatabase(ctx)
	case RestartTemporal:
		if !c.RunsTemporalServices() {
			return "temporal", c.RestartTemporal(ctx)
		}
		// The server's services: kill -9 one of them, in turn, as below.
	}
	switch fault {
	case CutBus: // every node: no bus at all
		var nodes []*localcluster.Process
		for _, p := range c.Processes {
			if p.Role == "nats" {
				if err := p.Kill(); err != nil {
					return p.Name, err
				}
				nodes = append(nodes, p)
			}
		}
		sleep(ctx, t.busOutage)
		for _, p := range nodes {
			if err := p.Start(); err != nil {
				return p.Name, err
			}
		}
		_, err := waitLeader(ctx, c)
		return "bus", err
	}
	role := map[string]string{KillWorker: "worker", KillProjector: "projector", KillRelay: "relay", KillAPI: "api",
		PauseWorker: "worker", RestartTemporal: localcluster.TemporalRole}[fault]
	var candidates []*localcluster.Process
	for _, p := range c.Processes {
		if p.Role == role {
			candidates = append(candidates, p)
		}
	}
	if len(candidates) == 0 {
		return "", fmt.Errorf("%s: no %s process", fault, role)
	}
	p := candidates[n%len(candidates)]
	if fault == PauseWorker {
		if err := p.Pause(); err != nil {
			return p.Name, err
		}
		sleep(ctx, t.pause)
		return p.Name, p.Resume()
	}
	if err := p.Kill(); err != nil {
		return p.Name, err
	}
	sleep(ctx, t.down)
	return p.Name, p.Start()
}

// waitLeader waits, up to two minutes, until the bus has a leader (a cluster elects one
// after it lost its own, or restarted), and returns it: a NATS fault is undone only then.
func waitLeader(ctx context.Context, c *localcluster.Cluster) (p *localcluster.Process, err error) {
	err = poll(ctx, 100*time.Millisecond, func() (err error) {
		p, err = c.NATSLeader(ctx)
		return err
	})
	return p, err
}

// waitWhole waits, up to two minutes, until every NATS server is back in the cluster
// and caught up (localcluster.NATSWhole). Not too often: a JetStream server's /jsz with
// consumers locks the stream and its consumers to describe them.
func waitWhole(ctx context.Context, c *localcluster.Cluster) error {
	if err := poll(ctx, 500*time.Millisecond, func() error { return c.NATSWhole(ctx) }); err != nil {
		return fmt.Errorf("the NATS cluster is not whole: %w", err)
	}
	return nil
}

// poll calls fn every so often until it succeeds, two minutes pass or ctx ends, and
// returns its last error.
func poll(ctx context.Context, every time.Duration, fn func() error) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := fn()
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		sleep(ctx, every)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
