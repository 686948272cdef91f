package localcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Process is one OS process of the cluster: a role of internal/topology, or the NATS
// server. It is supervised as Kubernetes would: a process that exits by itself is started
// again after a second (and counted); one that Kill ended stays down until Start.
type Process struct {
	// Name is unique in the cluster: "worker-1", "nats".
	Name string
	// Role is the topology role ("worker"), or "nats".
	Role string
	// HealthAddr is where a role serves its health probes, MetricsAddr its Prometheus
	// metrics; "" for NATS. MonitorAddr is a NATS server's HTTP monitoring.
	HealthAddr, MetricsAddr, MonitorAddr string

	binary  string
	args    []string
	env     []string
	logPath string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has exited
	wanted  bool          // supervise: restart if it exits by itself
	crashes int
	starts  int
}

// Start starts the process (again). It is an error if it runs.
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s runs already", p.Name)
	}
	p.wanted = true
	return p.startLocked()
}

func (p *Process) startLocked() error {
	log, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.binary, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group, so that a signal to the cluster's process (Ctrl-C) does not
	// reach it before Close stops it in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	p.starts++
	exited := make(chan struct{})
	p.cmd, p.exited = cmd, exited
	go func() {
		_ = cmd.Wait()
		log.Close()
		close(exited)
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.cmd != cmd {
			return
		}
		p.cmd = nil
		if p.wanted {
			// Exited by itself: a crash (or its dependency was away at start). Start it
			// again after a moment, as a Deployment would.
			p.crashes++
			time.AfterFunc(time.Second, func() {
				p.mu.Lock()
				defer p.mu.Unlock()
				if p.wanted && p.cmd == nil {
					_ = p.startLocked()
				}
			})
		}
	}()
	return nil
}

// Kill ends the process with SIGKILL, as a crash would, and waits until it is gone; it
// stays down until Start. A stopped (Pause) process is killed too.
func (p *Process) Kill() error { return p.end(syscall.SIGKILL, 0) }

// Stop asks the process to end with SIGTERM, waits up to grace, then kills it.
func (p *Process) Stop(grace time.Duration) error { return p.end(syscall.SIGTERM, grace) }

func (p *Process) end(sig syscall.Signal, grace time.Duration) error {
	p.mu.Lock()
	p.wanted = false
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGCONT) // a paused process cannot act on SIGTERM
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s: %w", p.Name, err)
	}
	if sig != syscall.SIGKILL {
		select {
		case <-exited:
			return nil
		case <-time.After(grace):
			_ = cmd.Process.Kill()
		}
	}
	<-exited
	return nil
}

// Pause stops the process with SIGSTOP: it holds its connections and leases but does
// nothing, as a process stalled by its machine would.
func (p *Process) Pause() error { return p.signal(syscall.SIGSTOP) }

// Resume continues a paused process (SIGCONT).
func (p *Process) Resume() error { return p.signal(syscall.SIGCONT) }

func (p *Process) signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return fmt.Errorf("%s does not run", p.Name)
	}
	return p.cmd.Process.Signal(sig)
}

// Crashes counts the times the process exited by itself and was started again.
func (p *Process) Crashes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.crashes
}

// Starts counts the times it was started.
func (p *Process) Starts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}

// LogPath is the file that receives the process's output, across restarts.
func (p *Process) LogPath() string { return p.logPath }

// WaitReady waits until the role reports ready on its health port (a role), or until its
// port takes connections (NATS).
func (p *Process) WaitReady(ctx context.Context) error {
	if p.HealthAddr == "" {
		return nil
	}
	conn, err := grpc.NewClient(p.HealthAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		res, err := health.Check(cctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && res.Status == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready (log: %s): %w", p.Name, p.logPath, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
