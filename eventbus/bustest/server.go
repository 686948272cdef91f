package bustest

import (
	"os"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/ordersaga/ordersaga/natsembed"
)

// Server is an embedded NATS (JetStream + Streaming) server for adapter tests.
type Server struct {
	mu  sync.Mutex
	cfg natsembed.Config
	s   *natsembed.Servers
}

// StartServer starts embedded servers with file stores in a temporary directory and stops
// them when t ends.
func StartServer(t testing.TB) *Server {
	t.Helper()
	return StartServerWith(t, natsembed.Config{})
}

// StartServerWith is StartServer with the settings of cfg (its Dir and ports are chosen
// here).
func StartServerWith(t testing.TB, cfg natsembed.Config) *Server {
	t.Helper()
	dir, err := os.MkdirTemp("", "ordersaga-nats-")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Dir = dir
	s, err := natsembed.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Port, cfg.MonitorPort = s.Port(), s.MonitorPort()
	srv := &Server{cfg: cfg, s: s}
	t.Cleanup(func() {
		srv.current().Shutdown()
		os.RemoveAll(dir)
	})
	return srv
}

func (s *Server) current() *natsembed.Servers {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.s
}

// URL is the NATS client URL.
func (s *Server) URL() string { return s.current().ClientURL() }

// MonitorURL is the HTTP monitoring URL.
func (s *Server) MonitorURL() string { return s.current().MonitorURL() }

// ClusterID is the NATS Streaming cluster id.
func (s *Server) ClusterID() string { return s.current().ClusterID() }

// Stop shuts the servers down, keeping their stores.
func (s *Server) Stop(t testing.TB) {
	s.current().Shutdown()
}

// Start starts the servers again on the same stores and ports.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	started, err := natsembed.Start(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.s = started
	s.mu.Unlock()
}

// Restart stops and starts the servers.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop(t)
	s.Start(t)
}

// RawPublish publishes payload on subject with a plain NATS connection (JetStream
// captures it if a stream covers the subject), for poison-message tests.
func RawPublish(t testing.TB, url, subject string, payload []byte) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(subject, payload); err != nil {
		t.Fatal(err)
	}
}
