package probes_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/ordersaga/ordersaga/probes"
)

// serve starts a health server with checks until the test ends; it returns a client, its
// connection, and stop, which ends Serve and returns its result.
func serve(t *testing.T, checks ...probes.Check) (healthpb.HealthClient, *grpc.ClientConn, func() error) {
	t.Helper()
	s, err := probes.Listen(probes.Config{Addr: "127.0.0.1:0", Every: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s.Started(checks...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	stop := sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			return errors.New("Serve did not return after its context ended")
		}
	})
	t.Cleanup(func() { _ = stop() })
	conn, err := grpc.NewClient(s.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn), conn, stop
}

// waitFor polls service until it reports want.
func waitFor(t *testing.T, c healthpb.HealthClient, service string, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := c.Check(context.Background(), &healthpb.HealthCheckRequest{Service: service})
		if err == nil && res.Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("service %q: want %s, last answer %v (%v)", service, want, res.GetStatus(), err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReadinessFollowsTheChecksAndLivenessDoesNot(t *testing.T) {
	var down atomic.Bool
	var runs atomic.Int64
	down.Store(true)
	database := probes.Check{Name: "database", Run: func(context.Context) error {
		runs.Add(1)
		if down.Load() {
			return errors.New("connection refused")
		}
		return nil
	}}
	c, _, _ := serve(t, database)

	// Live at once, not ready while the database is down.
	waitFor(t, c, probes.LivenessService, healthpb.HealthCheckResponse_SERVING)
	for runs.Load() < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	waitFor(t, c, "", healthpb.HealthCheckResponse_NOT_SERVING)

	down.Store(false)
	waitFor(t, c, "", healthpb.HealthCheckResponse_SERVING)
	down.Store(true)
	waitFor(t, c, "", healthpb.HealthCheckResponse_NOT_SERVING)
	waitFor(t, c, probes.LivenessService, healthpb.HealthCheckResponse_SERVING)

	// Any other service is unknown, and the port serves nothing but health.
	if _, err := c.Check(context.Background(), &healthpb.HealthCheckRequest{Service: "ordersaga.v1.OrderService"}); status.Code(err) != codes.NotFound {
		t.Errorf("an unknown service: want NotFound, got %v", err)
	}
}

func TestEveryCheckMustPass(t *testing.T) {
	var laterRuns atomic.Int64
	c, _, _ := serve(t,
		probes.Check{Name: "database", Run: func(context.Context) error { return nil }},
		probes.Check{Name: "temporal", Run: func(context.Context) error { return errors.New("unavailable") }},
		probes.Check{Name: "after", Run: func(context.Context) error { laterRuns.Add(1); return nil }},
	)
	time.Sleep(50 * time.Millisecond)
	waitFor(t, c, "", healthpb.HealthCheckResponse_NOT_SERVING)
	if n := laterRuns.Load(); n != 0 {
		t.Errorf("a check after a failing one ran %d times; the first failure decides", n)
	}
}

func TestNoChecksIsReadyAndOnlyHealthIsServed(t *testing.T) {
	c, conn, _ := serve(t)
	waitFor(t, c, "", healthpb.HealthCheckResponse_SERVING)
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(context.Background())
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("reflection on the health port: want Unimplemented, got %v", err)
	}
}

func TestNotReadyUntilStartedAndAHungCheckTimesOut(t *testing.T) {
	s, err := probes.Listen(probes.Config{Addr: "127.0.0.1:0", Every: 10 * time.Millisecond, Timeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	conn, err := grpc.NewClient(s.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := healthpb.NewHealthClient(conn)
	// Live while the role is still starting, and not ready.
	waitFor(t, c, probes.LivenessService, healthpb.HealthCheckResponse_SERVING)
	time.Sleep(50 * time.Millisecond)
	waitFor(t, c, "", healthpb.HealthCheckResponse_NOT_SERVING)
	// Started with a check that hangs: it times out, and the role is not ready.
	var runs atomic.Int64
	s.Started(probes.Check{Name: "temporal", Run: func(ctx context.Context) error { runs.Add(1); <-ctx.Done(); return ctx.Err() }})
	for runs.Load() < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	waitFor(t, c, "", healthpb.HealthCheckResponse_NOT_SERVING)
}

func TestStoppingReportsNotServingAndReturns(t *testing.T) {
	c, _, stop := serve(t)
	watch, err := c.Watch(context.Background(), &healthpb.HealthCheckRequest{Service: probes.LivenessService})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := watch.Recv(); err != nil || res.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first answer: %v, %v", res.GetStatus(), err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// The watcher hears NOT_SERVING, or the connection ends; never SERVING again.
	for {
		res, err := watch.Recv()
		if err != nil {
			break
		}
		if res.Status == healthpb.HealthCheckResponse_SERVING {
			t.Fatal("SERVING after stop")
		}
	}
}

func TestListenRefusesBadConfig(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for name, cfg := range map[string]probes.Config{
		"no address":     {},
		"taken port":     {Addr: taken.Addr().String()},
		"negative every": {Addr: "127.0.0.1:0", Every: -time.Second},
		"negative limit": {Addr: "127.0.0.1:0", Timeout: -time.Second},
	} {
		if s, err := probes.Listen(cfg); err == nil {
			s.Addr()
			t.Errorf("%s: Listen accepted %+v", name, cfg)
		}
	}
}
