// Package proccpu measures the CPU time that processes on this machine have used, in
// groups named by what runs in them (the Temporal server, ordersaga, PostgreSQL), from
// Linux's /proc. `ordersaga load --cpu` samples it around each round to report CPU per
// order beside throughput: a figure that drifts less than throughput when the machine is
// shared with other work.
package proccpu

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/procfs"
)

// Group names processes by their executable's base name (that of the first word of their
// command line, or their kernel name).
type Group struct {
	Name        string
	Executables []string
}

// DefaultGroups are the processes of a local ordersaga stack: the temporal CLI's dev
// server or the Temporal server, every ordersaga process (dev, or the roles), PostgreSQL.
func DefaultGroups() []Group {
	return []Group{
		{Name: "temporal", Executables: []string{"temporal", "temporal-server"}},
		{Name: "ordersaga", Executables: []string{"ordersaga"}},
		{Name: "postgres", Executables: []string{"postgres"}},
	}
}

// userHZ is the unit of /proc/<pid>/stat's times: 100 a second on every Linux build Go
// supports.
const userHZ = 100

// Meter samples the CPU time of a set of groups.
type Meter struct {
	fs     procfs.FS
	groups []Group
	skip   int // this process's pid: a load generator named ordersaga is not the stack
}

// New measures groups on this machine's /proc; it leaves this process out.
func New(groups []Group) (*Meter, error) {
	return NewAt(procfs.DefaultMountPoint, groups, os.Getpid())
}

// NewAt measures groups in the /proc mounted at mountPoint, leaving out the process skip
// (0: none).
func NewAt(mountPoint string, groups []Group, skip int) (*Meter, error) {
	if len(groups) == 0 {
		return nil, errors.New("proccpu: no groups to measure")
	}
	fs, err := procfs.NewFS(mountPoint)
	if err != nil {
		return nil, err
	}
	return &Meter{fs: fs, groups: groups, skip: skip}, nil
}

// Sample returns the CPU time every group's live processes have used so far, their own
// and that of their children they have reaped (PostgreSQL's connections that ended, for
// one). A process that ended between two samples takes what it used since the first with
// it, unless its parent in the same group reaped it.
func (m *Meter) Sample() (map[string]time.Duration, error) {
	procs, err := m.fs.AllProcs()
	if err != nil {
		return nil, err
	}
	out := make(map[string]time.Duration, len(m.groups))
	for _, g := range m.groups {
		out[g.Name] = 0
	}
	for _, p := range procs {
		if p.PID == m.skip {
			continue
		}
		stat, err := p.Stat()
		if err != nil {
			continue // ended meanwhile
		}
		group, ok := m.groupOf(p, stat.Comm)
		if !ok {
			continue
		}
		ticks := int64(stat.UTime) + int64(stat.STime) + int64(stat.CUTime) + int64(stat.CSTime)
		out[group] += time.Duration(ticks) * time.Second / userHZ
	}
	return out, nil
}

// groupOf names the group of p, whose kernel name is comm: by the base name of its
// command line's first word, or else by comm (PostgreSQL rewrites its connections'
// command lines as "postgres: user db ...", and the kernel cuts comm at 15 bytes).
func (m *Meter) groupOf(p procfs.Proc, comm string) (string, bool) {
	names := []string{comm}
	if cmdline, err := p.CmdLine(); err == nil && len(cmdline) > 0 {
		if first := strings.Fields(cmdline[0]); len(first) > 0 {
			names = append(names, strings.TrimSuffix(filepath.Base(first[0]), ":"))
		}
	}
	for _, g := range m.groups {
		for _, name := range names {
			if slices.Contains(g.Executables, name) {
				return g.Name, true
			}
		}
	}
	return "", false
}

// Delta is what each group used from before to after.
func Delta(before, after map[string]time.Duration) map[string]time.Duration {
	out := make(map[string]time.Duration, len(after))
	for name, t := range after {
		out[name] = max(t-before[name], 0)
	}
	return out
}
