// Command testpg runs a throwaway PostgreSQL cluster for as long as its standard input
// stays open, for a tool that runs many test binaries (the mutation runner) and wants
// them to share one server (dbtest's ORDERSAGA_TEST_DATABASE_URL) instead of each
// starting its own, which a test binary killed on a time-out would leave running.
//
// It prints the cluster's admin connection string on its first line of output; when its
// standard input reaches end of file (the parent closed it, or died) or it gets SIGINT or
// SIGTERM, it stops the server and removes the cluster.
//
//	go run ./internal/dbtest/testpg
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ordersaga/ordersaga/pglocal"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "testpg:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, err := os.MkdirTemp("", "ordersaga-testpg-")
	if err != nil {
		return err
	}
	defer pglocal.Remove(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cluster, err := pglocal.Start(ctx, pglocal.Config{Dir: dir, MaxConnections: 400})
	cancel()
	if err != nil {
		return err
	}
	defer cluster.Stop()
	fmt.Println(cluster.URL("postgres"))

	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-done:
	case <-signals:
	}
	return nil
}
