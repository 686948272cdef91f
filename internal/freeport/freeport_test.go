package freeport_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/freeport"
)

// A process draws its first ports from its own thirty-second of the range, chosen by its
// pid, so that test processes running side by side rarely pick the same port. (First in
// the file: the test below uses up the share.)
func TestAProcessPicksFromItsShareFirst(t *testing.T) {
	span := (freeport.High - freeport.Low + 1) / 32
	own := freeport.Low + os.Getpid()%32*span
	for range 100 {
		port, err := freeport.Pick()
		if err != nil {
			t.Fatal(err)
		}
		if port < own || port >= own+span {
			t.Fatalf("port %d outside this process's share %d to %d", port, own, own+span-1)
		}
	}
}

// Ports are handed out under the kernel's ephemeral range and never twice: two servers
// given the same port (the Temporal server's history membership and matching gRPC port
// once) leave one of them failing to start for ever.
func TestPortsAreLowAndNeverTwice(t *testing.T) {
	seen := map[int]bool{}
	for range 2000 {
		port, err := freeport.Pick()
		if err != nil {
			t.Fatal(err)
		}
		if port < freeport.Low || port > freeport.High {
			t.Fatalf("port %d, want %d to %d", port, freeport.Low, freeport.High)
		}
		if seen[port] {
			t.Fatalf("port %d handed out twice", port)
		}
		seen[port] = true
	}
}

// A port chosen elsewhere and reserved is handed out no more, and reserving a port twice,
// or one Pick gave, says so.
func TestReservedPortsAreNotHandedOutAgain(t *testing.T) {
	picked, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	if freeport.Reserve(picked) {
		t.Errorf("port %d, handed out by Pick, reserved again", picked)
	}
	chosen := freeport.Low - 1 // outside Pick's range: never handed out before
	if !freeport.Reserve(chosen) {
		t.Fatalf("port %d refused the first time", chosen)
	}
	if freeport.Reserve(chosen) {
		t.Errorf("port %d reserved twice", chosen)
	}
}

// WaitListening returns once a server binds the address, and names the address when none
// does in time.
func TestWaitListening(t *testing.T) {
	port, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if err := freeport.WaitListening(context.Background(), addr, 200*time.Millisecond); err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("nothing listening: %v, want an error naming %s", err, addr)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Error(err)
			return
		}
		t.Cleanup(func() { l.Close() })
	}()
	if err := freeport.WaitListening(context.Background(), addr, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}
