// Package pglocal runs a private PostgreSQL cluster from the PostgreSQL server binaries, in a
// directory of its own and reachable only through a Unix socket in that directory. The tests
// use it as a throwaway database and `ordersaga dev` as its embedded one.
//
// PostgreSQL refuses to run as root; when this process is root the server runs as an
// unprivileged user (default "postgres") that owns the directory.
package pglocal

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Config describes the cluster to run.
type Config struct {
	// Dir holds the cluster: data in Dir/data, the socket and the server log in Dir. It is
	// created if missing; an existing cluster in it is started again with its data.
	Dir string
	// BinDir is where initdb and pg_ctl live. Empty means: PATH, then the newest
	// /usr/lib/postgresql/*/bin.
	BinDir string
	// Durable keeps fsync and synchronous commit on. Tests turn it off for speed: a crashed
	// throwaway cluster is simply thrown away.
	Durable bool
	// RunAs is the operating-system user that runs the server when this process is root.
	// Empty means "postgres".
	RunAs string
	// RelocateTo, when set, is where the cluster goes if this process is root and RunAs
	// cannot enter Dir (a checkout in root's home, say): into a directory of its own under
	// RelocateTo, with a symbolic link to it at Dir, so that the socket's path through Dir
	// stays the same and later starts find the cluster again. Empty: such a Dir is an error.
	RelocateTo string
	// MaxConnections is the server's max_connections. Zero means 200.
	MaxConnections int
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.Dir == "" {
		return errors.New("pglocal: Dir is required")
	}
	if c.MaxConnections < 0 {
		return fmt.Errorf("pglocal: MaxConnections %d is negative", c.MaxConnections)
	}
	// The socket path must fit sockaddr_un (107 bytes on Linux).
	if abs, err := filepath.Abs(c.Dir); err == nil && len(abs)+len("/.s.PGSQL.5432") > 107 {
		return fmt.Errorf("pglocal: directory path %q is too long for a Unix socket; choose a shorter one", abs)
	}
	return nil
}

// Cluster is a running local PostgreSQL server.
type Cluster struct {
	dir     string
	dataDir string
	pgCtl   string
	cred    *syscall.Credential
}

// Start initialises the cluster if its directory holds none, then starts the server and
// waits until it accepts connections. The caller must call Stop.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("pglocal: %w", err)
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real // a cluster relocated by an earlier start
	}
	binDir, err := findBinDir(cfg.BinDir)
	if err != nil {
		return nil, err
	}
	cred, err := credential(cfg.RunAs)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pglocal: %w", err)
	}
	if cred != nil {
		if err := traversable(filepath.Dir(dir), cred, cfg.RunAs); err != nil {
			if cfg.RelocateTo == "" {
				return nil, err
			}
			if dir, err = relocate(dir, cfg.RelocateTo); err != nil {
				return nil, err
			}
		}
		if err := chownTree(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	c := &Cluster{dir: dir, dataDir: filepath.Join(dir, "data"), pgCtl: filepath.Join(binDir, "pg_ctl"), cred: cred}

	if _, err := os.Stat(filepath.Join(c.dataDir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		args := []string{"-D", c.dataDir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C"}
		if !cfg.Durable {
			args = append(args, "--no-sync")
		}
		if err := c.run(ctx, filepath.Join(binDir, "initdb"), args...); err != nil {
			return nil, err
		}
	}

	// A server left running by a process that was killed (kill -9 does not reach
	// PostgreSQL, which runs detached) is stopped and started again with our options.
	if c.run(ctx, c.pgCtl, "status", "-D", c.dataDir) == nil {
		if err := c.Stop(); err != nil {
			return nil, err
		}
	}
	opts := []string{
		"-c listen_addresses=''",
		"-c unix_socket_directories='" + dir + "'",
		"-c default_transaction_isolation=serializable",
		"-c max_connections=" + strconv.Itoa(cmp.Or(cfg.MaxConnections, 200)),
	}
	if !cfg.Durable {
		opts = append(opts, "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off")
	}
	// Statement statistics (pg_stat_statements) cost little and tell where database time
	// goes; `ordersaga load` prints them. The library ships with the server packages.
	if libDir, ok := serverLibDir(c.pgCtl); ok {
		if _, err := os.Stat(filepath.Join(libDir, "pg_stat_statements.so")); err == nil {
			opts = append(opts, "-c shared_preload_libraries=pg_stat_statements")
		}
	}
	err = c.run(ctx, c.pgCtl, "start", "-w", "-t", "60", "-D", c.dataDir,
		"-l", filepath.Join(dir, "server.log"), "-o", strings.Join(opts, " "))
	if err != nil {
		return nil, fmt.Errorf("%w (server log: %s)", err, filepath.Join(dir, "server.log"))
	}
	return c, nil
}

// URL returns a connection string for database dbname as the superuser "postgres".
func (c *Cluster) URL(dbname string) string {
	return fmt.Sprintf("host=%s user=postgres dbname=%s sslmode=disable", c.dir, dbname)
}

// Stop shuts the server down (fast mode: open transactions roll back) and waits for it.
func (c *Cluster) Stop() error {
	return c.run(context.Background(), c.pgCtl, "stop", "-w", "-m", "fast", "-D", c.dataDir)
}

func (c *Cluster) run(ctx context.Context, bin string, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = c.dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pglocal: %s %s: %w\n%s", filepath.Base(bin), args[0], err, strings.TrimSpace(out.String()))
	}
	return nil
}

// findBinDir locates the directory holding initdb and pg_ctl.
func findBinDir(configured string) (string, error) {
	if configured != "" {
		if _, err := os.Stat(filepath.Join(configured, "pg_ctl")); err != nil {
			return "", fmt.Errorf("pglocal: no pg_ctl in %s: %w", configured, err)
		}
		return configured, nil
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "initdb")); err == nil {
			return filepath.Dir(p), nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	sort.Slice(matches, func(i, j int) bool { return majorOf(matches[i]) > majorOf(matches[j]) })
	for _, m := range matches {
		if _, err := os.Stat(filepath.Join(filepath.Dir(m), "initdb")); err == nil {
			return filepath.Dir(m), nil
		}
	}
	return "", errors.New("pglocal: PostgreSQL server binaries (initdb, pg_ctl) not found on PATH " +
		"or under /usr/lib/postgresql/*/bin; install them (Debian/Ubuntu: apt-get install postgresql) " +
		"or point to them explicitly")
}

// serverLibDir returns the server's library directory: lib next to the real bin directory
// of pg_ctl (which may be reached through a symbolic link, e.g. from /usr/local/bin).
func serverLibDir(pgCtl string) (string, bool) {
	real, err := filepath.EvalSymlinks(pgCtl)
	if err != nil {
		return "", false
	}
	return filepath.Join(filepath.Dir(filepath.Dir(real)), "lib"), true
}

// majorOf extracts the major version from /usr/lib/postgresql/<major>/bin/pg_ctl.
func majorOf(path string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return n
}

// credential returns the user to run the server as, or nil when this process is not root.
func credential(name string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	if name == "" {
		name = "postgres"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("pglocal: running as root, PostgreSQL must run as another user, and %q cannot be used: %w "+
			"(create it, e.g. `useradd --system postgres`, or run as a non-root user)", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// traversable checks that the server's user can reach dir: every directory from the root
// down must grant it search (x) permission.
func traversable(dir string, cred *syscall.Credential, name string) error {
	for d := dir; ; d = filepath.Dir(d) {
		info, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("pglocal: %w", err)
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		mode := info.Mode().Perm()
		if ok {
			switch {
			case st.Uid == cred.Uid:
				ok = mode&0o100 != 0
			case st.Gid == cred.Gid:
				ok = mode&0o010 != 0
			default:
				ok = mode&0o001 != 0
			}
		}
		if !ok {
			if name == "" {
				name = "postgres"
			}
			return fmt.Errorf("pglocal: the server runs as user %q, which cannot enter %s (mode %v); "+
				"choose a directory it can reach, or `chmod o+x %s`", name, d, mode, d)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// relocate moves the empty cluster directory dir to a directory of its own under base,
// named after dir, and leaves a symbolic link to it at dir. It returns the new directory.
func relocate(dir, base string) (string, error) {
	sum := sha256.Sum256([]byte(dir))
	target := filepath.Join(base, hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", fmt.Errorf("pglocal: relocate the cluster: %w", err)
	}
	if err := os.Chmod(base, 0o755); err != nil { // reachable by the server's user
		return "", fmt.Errorf("pglocal: relocate the cluster: %w", err)
	}
	if err := os.MkdirAll(target, 0o700); err != nil {
		return "", fmt.Errorf("pglocal: relocate the cluster: %w", err)
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("pglocal: relocate the cluster (%s must be empty): %w", dir, err)
	}
	if err := os.Symlink(target, dir); err != nil {
		return "", fmt.Errorf("pglocal: relocate the cluster: %w", err)
	}
	return target, nil
}

// Remove deletes the cluster directory dir, and the directory it was relocated to if
// it was (see Config.RelocateTo). The cluster must be stopped.
func Remove(dir string) error {
	if target, err := os.Readlink(dir); err == nil {
		if err := os.RemoveAll(target); err != nil {
			return fmt.Errorf("pglocal: %w", err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("pglocal: %w", err)
	}
	return nil
}

// chownTree hands dir and everything in it to uid:gid.
func chownTree(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(path, uid, gid); err != nil {
			return fmt.Errorf("pglocal: %w", err)
		}
		return nil
	})
}
