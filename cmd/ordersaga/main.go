// Command ordersaga is the order saga service's one binary. Each role is a subcommand:
//
//	ordersaga dev        everything in one process, on a throwaway PostgreSQL
//	ordersaga worker     the OrderSaga worker and the outbox relay
//	ordersaga projector  projector members building the read models
//	ordersaga restaurant the restaurant simulator
//	ordersaga api        the gRPC API against an existing database
//	ordersaga relay      publish what is still in the outbox onto the event bus
//	ordersaga outbox     list and requeue the events the bus refused (parked)
//	ordersaga migrate    create or upgrade the database schema, then exit
//	ordersaga verify     prove that nothing was lost: read models = fold of the store
//	ordersaga monitor    verify continuously and watch for stuck sagas, as metrics
//	ordersaga sagas      stuck: list the running sagas that do not move on
//	ordersaga rebuild    rebuild the read models from the store (resumable)
//	ordersaga load       drive orders through a running stack and measure it
//	ordersaga order      place|get|list|history|watch|approve|reject|cancel (through the API)
//	ordersaga account    credit|get (through the API)
//	ordersaga menu       set|remove|show a restaurant's menu (through the API)
//
// This package only reads flags and environment variables and maps them to the roles
// that internal/system builds.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc/status"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain()
	if err := m.ParseFlags(os.Args[1:]); err != nil {
		if errors.Is(err, ErrNothingToRun) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "ordersaga:", err)
		os.Exit(2)
	}
	err := m.Run(ctx)
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if st, ok := status.FromError(err); ok {
			fmt.Fprintf(os.Stderr, "ordersaga: %s: %s\n", st.Code(), st.Message())
		} else {
			fmt.Fprintln(os.Stderr, "ordersaga:", err)
		}
		os.Exit(1)
	}
}
