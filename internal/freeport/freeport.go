// Package freeport picks TCP ports on loopback for servers that bind them a while later:
// a child process (the Temporal server's services, `ordersaga nats`, a role), or a command
// under test. A port from the kernel (listen on port 0) is in its ephemeral range, which
// it also draws from for outgoing connections: one of those can take the port before the
// server binds it ("address already in use"). So ports come from under that range, are
// never handed out twice by one process, and each process draws first from its own share.
package freeport

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"
)

// Low and High bound the ports handed out: above the well-known and common service
// ports, under the kernel's ephemeral range (32768 and up by default on Linux).
const (
	Low  = 10000
	High = 32767
)

var (
	mu    sync.Mutex
	given = map[int]bool{}
)

// shares splits Low..High so that processes picking at once (go test runs packages side
// by side, each starting servers) draw from different parts: a port another process
// picked but has not bound yet looks free here too.
const shares = 32

// Pick returns a port free on loopback now, between Low and High, that this process has
// not handed out before: from this process's share of the range (by its pid) while it
// has room, then from anywhere in it.
func Pick() (int, error) {
	mu.Lock()
	defer mu.Unlock()
	span := (High - Low + 1) / shares
	own := Low + os.Getpid()%shares*span
	for i := range 2000 {
		port := own + rand.IntN(span)
		if i >= 1000 {
			port = Low + rand.IntN(High-Low+1)
		}
		if given[port] {
			continue
		}
		lis, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		lis.Close()
		given[port] = true
		return port, nil
	}
	return 0, errors.New("freeport: no free port on loopback between 10000 and 32767")
}

// Reserve records port, chosen elsewhere, as handed out, so that Pick never returns it;
// false if this process had handed it out already (two servers would share it).
func Reserve(port int) bool {
	mu.Lock()
	defer mu.Unlock()
	if given[port] {
		return false
	}
	given[port] = true
	return true
}

// WaitListening waits, up to within, until addr takes TCP connections: a server given a
// port has bound it.
func WaitListening(ctx context.Context, addr string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err == nil {
			return conn.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nothing listens on %s: %w", addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Addr is Pick as 127.0.0.1:port.
func Addr() (string, error) {
	port, err := Pick()
	return fmt.Sprintf("127.0.0.1:%d", port), err
}
