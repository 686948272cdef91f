package temporalserver

import "testing"

// Ports are handed out under 32768 and never twice: two services given the same port
// (one's gRPC, another's membership) left one of them failing to start for ever.
func TestPortsAreLowAndNeverTwice(t *testing.T) {
	ports := lowPorts{}
	for range 2000 {
		port, err := ports.pick()
		if err != nil {
			t.Fatal(err)
		}
		if port < 10000 || port >= 32768 {
			t.Fatalf("port %d, want 10000 to 32767", port)
		}
	}
	if len(ports) != 2000 {
		t.Errorf("2000 picks gave %d distinct ports", len(ports))
	}
}
