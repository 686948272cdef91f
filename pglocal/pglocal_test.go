package pglocal_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga/pglocal"
)

func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pglocal-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil { // let the server's user pass through
		t.Fatal(err)
	}
	return dir
}

func TestRestartKeepsData(t *testing.T) {
	ctx := context.Background()
	cfg := pglocal.Config{Dir: filepath.Join(tempDir(t), "pg"), Durable: true}
	// session starts the cluster, runs fn on a connection, and stops the cluster.
	session := func(fn func(*pgx.Conn) error) {
		t.Helper()
		c, err := pglocal.Start(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := c.Stop(); err != nil {
				t.Error(err)
			}
		}()
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if err := fn(conn); err != nil {
			t.Fatal(err)
		}
	}
	session(func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `CREATE TABLE kept (n INT); INSERT INTO kept VALUES (7)`)
		return err
	})
	var got int
	var maxConns string
	cfg.MaxConnections = 321 // a restart takes the new settings
	session(func(c *pgx.Conn) error {
		if err := c.QueryRow(ctx, `SHOW max_connections`).Scan(&maxConns); err != nil {
			return err
		}
		return c.QueryRow(ctx, `SELECT n FROM kept`).Scan(&got)
	})
	if got != 7 {
		t.Errorf("after a restart the row holds %d, want 7", got)
	}
	if maxConns != "321" {
		t.Errorf("max_connections is %s, want the configured 321", maxConns)
	}
}

func TestNegativeMaxConnectionsIsRefused(t *testing.T) {
	err := pglocal.Config{Dir: "/tmp/pg", MaxConnections: -1}.Validate()
	if err == nil || !strings.Contains(err.Error(), "MaxConnections") {
		t.Errorf("Validate = %v, want an error naming MaxConnections", err)
	}
}

func TestMissingBinariesIsAClearError(t *testing.T) {
	_, err := pglocal.Start(context.Background(), pglocal.Config{Dir: tempDir(t), BinDir: tempDir(t)})
	if err == nil || !strings.Contains(err.Error(), "no pg_ctl in") {
		t.Errorf("error = %v, want one saying pg_ctl is missing", err)
	}
}

func TestUnreachableDirectoryIsAClearError(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Log("not root: the server runs as this user, so every directory it can create it can reach")
		return
	}
	// t.TempDir's parent is private to root (mode 0700).
	_, err := pglocal.Start(context.Background(), pglocal.Config{Dir: filepath.Join(t.TempDir(), "pg")})
	if err == nil || !strings.Contains(err.Error(), "cannot enter") {
		t.Errorf("error = %v, want one naming the directory the server's user cannot enter", err)
	}
}

func TestStartTakesOverAServerLeftRunning(t *testing.T) {
	ctx := context.Background()
	cfg := pglocal.Config{Dir: filepath.Join(tempDir(t), "pg")}
	first, err := pglocal.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The process that started it "dies" without stopping it; a new one starts.
	second, err := pglocal.Start(ctx, cfg)
	if err != nil {
		first.Stop()
		t.Fatalf("starting over a running cluster: %v", err)
	}
	defer second.Stop()
	conn, err := pgx.Connect(ctx, second.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
}

// TestUnreachableDirectoryIsRelocatedWhenAsked starts a cluster from a directory the
// server's user cannot enter (as `ordersaga dev` run as root from root's home does):
// the cluster lives under RelocateTo, reached through a link at Dir, and a restart finds
// it there with its data; Remove deletes both.
func TestUnreachableDirectoryIsRelocatedWhenAsked(t *testing.T) {
	ctx := context.Background()
	private := t.TempDir() // mode 0700: only its owner may enter
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(tempDir(t), "clusters")
	cfg := pglocal.Config{Dir: filepath.Join(private, "data", "pg"), RelocateTo: base}
	if err := os.MkdirAll(filepath.Dir(cfg.Dir), 0o711); err != nil {
		t.Fatal(err)
	}
	viaLink := fmt.Sprintf("host=%s user=postgres dbname=postgres sslmode=disable", cfg.Dir)
	exec := func(sql string) error {
		conn, err := pgx.Connect(ctx, viaLink)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	c, err := pglocal.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := exec(`CREATE TABLE kept (n INT8)`); err != nil {
		c.Stop()
		t.Fatalf("through the cluster directory's path: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	relocated := os.Geteuid() == 0
	if _, err := os.Readlink(cfg.Dir); (err == nil) != relocated {
		t.Errorf("root: %v; %s is a link: %v; want a link exactly when the server runs as another user", relocated, cfg.Dir, err == nil)
	}
	if c, err = pglocal.Start(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	err = exec(`INSERT INTO kept VALUES (1)`)
	if stopErr := c.Stop(); stopErr != nil {
		t.Error(stopErr)
	}
	if err != nil {
		t.Errorf("after a restart the table is gone: %v", err)
	}
	if err := pglocal.Remove(cfg.Dir); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{cfg.Dir, base} {
		entries, err := os.ReadDir(dir)
		if err == nil && len(entries) > 0 {
			t.Errorf("Remove left %s with %d entries", dir, len(entries))
		}
	}
}
