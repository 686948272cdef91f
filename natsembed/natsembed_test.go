package natsembed_test

import (
	"net"
	"os"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/natsembed"
)

func TestPortInUseIsAClearError(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	dir, err := os.MkdirTemp("", "natsembed-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	port := lis.Addr().(*net.TCPAddr).Port
	s, err := natsembed.Start(natsembed.Config{Dir: dir, Port: port})
	if err == nil {
		s.Shutdown()
		t.Fatal("started on a port in use")
	}
	if !strings.Contains(err.Error(), lis.Addr().String()) {
		t.Errorf("error %q does not name %s", err, lis.Addr())
	}
}

func TestStoresOnDisk(t *testing.T) {
	dir, err := os.MkdirTemp("", "natsembed-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := natsembed.Start(natsembed.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	for _, sub := range []string{"jetstream", "streaming"} {
		if _, err := os.Stat(dir + "/" + sub); err != nil {
			t.Errorf("no %s store in %s: %v", sub, dir, err)
		}
	}
}
