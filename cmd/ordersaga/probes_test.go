package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga/eventbus/bustest"
	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/probes"
)

// A role's health port says it is alive all along, and ready only while its database
// answers: the database refusing connections takes readiness away, and allowing them
// again brings it back, without the process restarting.
func TestRoleHealthFollowsItsDatabase(t *testing.T) {
	srv := bustest.StartServer(t)
	url := dbtest.NewDatabase(t)
	healthAddr := freeAddr(t)
	env := map[string]string{"DATABASE_URL": url, "NATS_URL": srv.URL(), "NATS_MONITOR_URL": srv.MonitorURL(),
		"ORDERSAGA_BUS": "jetstream", "ORDERSAGA_HEALTH_ADDR": healthAddr}
	stop, out := start(t, env, "relay")
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("relay did not stop cleanly: %v\n%s", err, out)
		}
	}()
	health := func(service string) (string, error) {
		return cli(t, "health", "--api", healthAddr, "--service", service)
	}
	waitHealth := func(service, want string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			got, err := health(service)
			serving := err == nil && strings.TrimSpace(got) == "SERVING"
			if (want == "SERVING") == serving && (serving || strings.Contains(fmt.Sprint(err), " is "+want)) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("service %q: want %s, got %q (%v)\nrole's output:\n%s", service, want, got, err, out)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitHealth(probes.LivenessService, "SERVING")
	waitHealth("", "SERVING")

	// The database refuses connections, and the role's are cut.
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dbtest.WithDatabase(url, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var name string
	own, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := own.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	own.Close(ctx)
	db := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+db+" ALLOW_CONNECTIONS false"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name); err != nil {
		t.Fatal(err)
	}
	waitHealth("", "NOT_SERVING")
	if got, err := health(probes.LivenessService); err != nil || strings.TrimSpace(got) != "SERVING" {
		t.Errorf("liveness while the database is away: %q, %v (a liveness probe would restart a process for another's outage)", got, err)
	}

	if _, err := admin.Exec(ctx, "ALTER DATABASE "+db+" ALLOW_CONNECTIONS true"); err != nil {
		t.Fatal(err)
	}
	waitHealth("", "SERVING")
}
