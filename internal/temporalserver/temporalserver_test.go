package temporalserver_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/internal/temporalserver"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// The server runs as four processes on PostgreSQL: workflows complete, upsert the saga's
// search attributes and are found by them; after its history service is killed -9 and
// started again on the same databases, the next workflows complete too. Preparing and
// registering a second time (a restarted cluster) changes nothing.
func TestTheServerRunsAsFourProcessesOnPostgreSQL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Temporal server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	root, _ := filepath.Abs("../..")
	bins, err := temporalserver.Build(ctx, root, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	pg, err := pgconn.ParseConfig(dbtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := temporalserver.Config{Binaries: bins, Dir: t.TempDir(), SocketDir: pg.Host, Port: int(pg.Port), User: pg.User,
		Database: pg.Database, VisibilityDatabase: databaseName(t)}
	for range 2 {
		if err := temporalserver.Prepare(ctx, &cfg); err != nil {
			t.Fatal(err)
		}
	}
	services := map[string]*exec.Cmd{}
	start := func(service string) error {
		cmd := exec.Command(cfg.Server, cfg.Args(service)...)
		logPath := filepath.Join(cfg.Dir, service+".log")
		log, err := os.Create(logPath)
		if err != nil {
			return err
		}
		t.Cleanup(func() { // after the kill below: why a service was not there
			if out, err := os.ReadFile(logPath); t.Failed() && err == nil {
				t.Logf("%s's log ends:\n%s", service, out[max(0, len(out)-3000):])
			}
		})
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			return err
		}
		services[service] = cmd
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); log.Close() })
		return nil
	}
	if err := cfg.StartServices(ctx, start); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := temporalserver.Register(ctx, cfg.HostPort(), "default", 2*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.DialContext(ctx, client.Options{HostPort: cfg.HostPort(), Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := worker.New(c, "smoke", worker.Options{})
	w.RegisterWorkflowWithOptions(tagged, workflow.RegisterOptions{Name: "tagged"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	run := func(batch string, n int) {
		for i := range n {
			r, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("%s-%d", batch, i), TaskQueue: "smoke"}, "tagged", batch)
			if err != nil {
				t.Fatalf("%s: start: %v", batch, err)
			}
			var got string
			// A workflow task failing for ever fails here; after history's restart its
			// shards come back once the membership drops the killed process, which takes
			// a while on a busy machine.
			wait, cancel := context.WithTimeout(ctx, 2*time.Minute)
			err = r.Get(wait, &got)
			cancel()
			if err != nil || got != batch {
				t.Fatalf("%s: result %q, %v", batch, got, err)
			}
		}
		// Visibility is written after the fact: wait for every one to be found.
		query := fmt.Sprintf("OrderStatus = '%s' AND CustomerId = 'c-%s'", batch, batch)
		var found int64
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			res, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: query})
			if err == nil {
				if found = res.Count; found == int64(n) {
					return
				}
			}
		}
		t.Fatalf("%s: %d workflows found by %s, want %d", batch, found, query, n)
	}
	run("before", 5)

	history := services["history"]
	if err := history.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = history.Wait()
	if err := start("history"); err != nil {
		t.Fatal(err)
	}
	run("after", 5)
}

// tagged upserts the saga's two search attributes and returns its input.
func tagged(ctx workflow.Context, batch string) (string, error) {
	err := workflow.UpsertTypedSearchAttributes(ctx,
		temporal.NewSearchAttributeKeyKeyword("OrderStatus").ValueSet(batch),
		temporal.NewSearchAttributeKeyKeyword("CustomerId").ValueSet("c-"+batch))
	return batch, err
}

// databaseName is a second empty database for t, for the server's visibility store.
func databaseName(t *testing.T) string {
	cfg, err := pgconn.ParseConfig(dbtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Database
}
