package proccpu_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/proccpu"
)

// fakeProc writes a /proc entry for pid: its kernel name, its command line (words joined
// by NUL, as the kernel keeps them) and its user, system and reaped children's times in
// ticks.
func fakeProc(t *testing.T, root string, pid int, comm string, cmdline []string, utime, stime, cutime, cstime int) {
	t.Helper()
	dir := filepath.Join(root, fmt.Sprint(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
	// utime stime cutime cstime priority nice threads itreal starttime vsize rss ... (52)
	fields := []string{"S", "1", "1", "1", "0", "-1", "0", "0", "0", "0", "0",
		fmt.Sprint(utime), fmt.Sprint(stime), fmt.Sprint(cutime), fmt.Sprint(cstime)}
	for len(fields) < 50 {
		fields = append(fields, "0")
	}
	stat := fmt.Sprintf("%d (%s) %s\n", pid, comm, strings.Join(fields, " "))
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
		t.Fatal(err)
	}
	line := strings.Join(cmdline, "\x00")
	if line != "" {
		line += "\x00"
	}
	if err := os.WriteFile(filepath.Join(dir, "cmdline"), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Processes count in the group of their executable's name, with the time of the children
// they reaped; PostgreSQL's connections (renamed "postgres: ...") and kernel threads (no
// command line) by their kernel name; the process left out and strangers not at all.
func TestSamplesGroupProcessesByExecutable(t *testing.T) {
	root := t.TempDir()
	fakeProc(t, root, 10, "temporal", []string{"/home/u/.cache/ordersaga/temporal-cli-v1.5.1/temporal", "server", "start-dev"}, 300, 100, 0, 0)
	fakeProc(t, root, 11, "temporal-server", []string{"/cache/temporal-server", "start", "--service", "history"}, 50, 50, 0, 0)
	fakeProc(t, root, 20, "ordersaga", []string{"/tmp/ordersaga", "dev", "--reset"}, 150, 50, 0, 0)
	fakeProc(t, root, 21, "ordersaga", []string{"/tmp/ordersaga", "load", "--orders", "800"}, 900, 900, 0, 0) // the generator itself
	fakeProc(t, root, 30, "postgres", []string{"/usr/lib/postgresql/15/bin/postgres", "-D", "/data"}, 10, 10, 20, 30)
	fakeProc(t, root, 31, "postgres", []string{"postgres: postgres postgres [local] idle"}, 5, 5, 0, 0)
	fakeProc(t, root, 40, "postgres", nil, 7, 0, 0, 0) // a kernel name alone
	fakeProc(t, root, 50, "bash", []string{"/bin/bash"}, 1000, 0, 0, 0)

	m, err := proccpu.NewAt(root, proccpu.DefaultGroups(), 21)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Sample()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{"temporal": 5 * time.Second, "ordersaga": 2 * time.Second, "postgres": 870 * time.Millisecond}
	if len(got) != len(want) {
		t.Errorf("groups %v, want %v", got, want)
	}
	for name, d := range want {
		if got[name] != d {
			t.Errorf("%s used %s, want %s (all: %v)", name, got[name], d, got)
		}
	}
}

// What a group used between two samples is the difference, never negative (a process
// that ended takes its time with it).
func TestDeltaIsWhatEachGroupUsedMeanwhile(t *testing.T) {
	before := map[string]time.Duration{"temporal": time.Second, "postgres": 3 * time.Second}
	after := map[string]time.Duration{"temporal": 4 * time.Second, "postgres": 2 * time.Second, "ordersaga": time.Second}
	got := proccpu.Delta(before, after)
	want := map[string]time.Duration{"temporal": 3 * time.Second, "postgres": 0, "ordersaga": time.Second}
	for name, d := range want {
		if got[name] != d {
			t.Errorf("%s: %s, want %s", name, got[name], d)
		}
	}
}

// On this machine's /proc, the CPU a process burns shows in its group.
func TestMeasuresARealProcess(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	m, err := proccpu.NewAt("/proc", []proccpu.Group{{Name: "test", Executables: []string{filepath.Base(exe)}}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	before, err := m.Sample()
	if err != nil {
		t.Fatal(err)
	}
	// Burn at least 300 ms of CPU, by the process's own clock.
	start := cpuNow(t)
	for x := 0; cpuNow(t)-start < 300*time.Millisecond; x++ {
		_ = fmt.Sprint(x)
	}
	after, err := m.Sample()
	if err != nil {
		t.Fatal(err)
	}
	// /proc counts in ticks of 10 ms, so allow one tick less.
	if used := proccpu.Delta(before, after)["test"]; used < 290*time.Millisecond {
		t.Errorf("the test process used %s of CPU by /proc, want at least 300 ms", used)
	}
	if _, err := proccpu.NewAt("/proc", nil, 0); err == nil {
		t.Error("no groups accepted")
	}
}

// cpuNow is the CPU time this process has used, by getrusage.
func cpuNow(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
