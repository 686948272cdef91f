package freeport_test

import (
	"testing"

	"github.com/ordersaga/ordersaga/internal/freeport"
)

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
