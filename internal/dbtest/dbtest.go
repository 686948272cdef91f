// Package dbtest gives tests a real, empty PostgreSQL database at SERIALIZABLE isolation.
//
// If ORDERSAGA_TEST_DATABASE_URL is set, databases are created on that server (its user
// needs CREATEDB). Otherwise Main starts a throwaway cluster from the PostgreSQL server
// binaries in a temporary directory and removes it after the package's tests. A missing
// binary fails the tests with instructions; nothing is ever skipped.
package dbtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga/pglocal"
)

// EnvURL names the environment variable that points the tests at an existing server.
const EnvURL = "ORDERSAGA_TEST_DATABASE_URL"

// EnvDurable, set to 1, keeps fsync and synchronous commit on in the throwaway cluster
// (they are off by default for speed), for benchmarks that should pay for durability.
const EnvDurable = "ORDERSAGA_TEST_PG_DURABLE"

var (
	mu       sync.Mutex
	adminURL string // where CREATE DATABASE runs
	startErr error
	counter  atomic.Int64
)

// Main runs a test binary's tests with a database server available and exits; call it
// from TestMain.
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Run is Main without the exit, for a TestMain that has more to tear down.
func Run(m *testing.M) int {
	if u := os.Getenv(EnvURL); u != "" {
		adminURL = u
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "ordersaga-pg-")
	if err != nil {
		startErr = err
		return m.Run()
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cluster, err := pglocal.Start(ctx, pglocal.Config{Dir: dir, Durable: os.Getenv(EnvDurable) == "1"})
	cancel()
	if err != nil {
		startErr = fmt.Errorf("start throwaway PostgreSQL (or set %s): %w", EnvURL, err)
		return m.Run()
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "dbtest:", err)
		}
	}()
	adminURL = cluster.URL("postgres")
	return m.Run()
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

// NewDatabase creates an empty database for t, drops it when t ends, and returns its
// connection string. It fails t if no server could be started.
func NewDatabase(t testing.TB) string {
	t.Helper()
	mu.Lock()
	admin, err := adminURL, startErr
	mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if admin == "" {
		t.Fatal("dbtest: no database server; call dbtest.Main from the package's TestMain")
	}
	name := fmt.Sprintf("t_%s_%d_%d", unsafeChars.ReplaceAllString(strings.ToLower(t.Name()), "_"), os.Getpid(), counter.Add(1))
	if len(name) > 63 {
		name = name[len(name)-63:]
		name = "t" + strings.TrimLeft(name[1:], "_")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("dbtest: connect to %s: %v", admin, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("dbtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("dbtest: connect to drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("dbtest: drop database %s: %v", name, err)
		}
	})
	return WithDatabase(admin, name)
}

// WithDatabase returns connStr with its database name replaced by dbname. It accepts both
// URL (postgres://...) and keyword/value connection strings.
func WithDatabase(connStr, dbname string) string {
	if strings.HasPrefix(connStr, "postgres://") || strings.HasPrefix(connStr, "postgresql://") {
		u, err := url.Parse(connStr)
		if err == nil {
			u.Path = "/" + dbname
			return u.String()
		}
	}
	return connStr + " dbname=" + dbname
}
