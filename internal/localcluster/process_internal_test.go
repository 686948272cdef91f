package localcluster

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func newProcess(t *testing.T, script string) *Process {
	t.Helper()
	return &Process{Name: "p", Role: "test", binary: "/bin/sh", args: []string{"-c", script},
		env: []string{"PATH=" + os.Getenv("PATH")}, logPath: filepath.Join(t.TempDir(), "p.log")}
}

// A process that exits by itself is started again (a crash, counted), as a Deployment
// would; one that Kill ended stays down until Start.
func TestSupervision(t *testing.T) {
	crashing := newProcess(t, "echo started; exit 3")
	if err := crashing.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for crashing.Crashes() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("a crashing process was not started again: %d crashes, %d starts", crashing.Crashes(), crashing.Starts())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := crashing.Kill(); err != nil {
		t.Fatal(err)
	}
	starts := crashing.Starts()
	time.Sleep(2500 * time.Millisecond) // past the restart delay
	if crashing.Starts() != starts {
		t.Errorf("a killed process was started again: %d starts, then %d", starts, crashing.Starts())
	}
	log, err := os.ReadFile(crashing.LogPath())
	if err != nil || len(log) < len("started\nstarted\n") {
		t.Errorf("log across restarts: %q, %v", log, err)
	}

	running := newProcess(t, "sleep 60")
	if err := running.Start(); err != nil {
		t.Fatal(err)
	}
	if err := running.Start(); err == nil {
		t.Error("a running process was started twice")
	}
	if err := running.Pause(); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if err := running.Stop(5 * time.Second); err != nil { // a paused process still stops
		t.Fatal(err)
	}
	if took := time.Since(begin); took > 4*time.Second {
		t.Errorf("stopping a paused process took %s: SIGTERM did not reach it", took)
	}
	if running.Crashes() != 0 {
		t.Errorf("a stopped process counted %d crashes", running.Crashes())
	}
	if err := running.Resume(); err == nil {
		t.Error("resumed a process that does not run")
	}
}
