package temporaldev

import (
	"os/exec"
	"testing"
	"time"
)

// Stop and Kill may be called again, on a server that exited already, and return at
// once (a cluster that fails to start is stopped by Start, then perhaps by its caller).
func TestStopAndKillAreIdempotent(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &Server{cmd: cmd, done: make(chan struct{})}
	go func() {
		s.exitErr = cmd.Wait()
		close(s.done)
	}()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	finished := make(chan struct{})
	go func() {
		_ = s.Stop()
		s.Kill()
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Fatal("a second Stop or Kill blocked")
	}
}
