package main

import (
	"context"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// pprofFlag is where a long-running role serves its profiles.
type pprofFlag struct{ addr string }

func (p *pprofFlag) register(fs *flag.FlagSet, env func(string) string) {
	fs.StringVar(&p.addr, "pprof-addr", env("ORDERSAGA_PPROF_ADDR"), "serve Go profiles (net/http/pprof) on this address, e.g. 127.0.0.1:6060 (env ORDERSAGA_PPROF_ADDR)")
}

// serve serves the profiles in the background of a role, logging a failure.
func (p pprofFlag) serve(ctx context.Context, logger *slog.Logger) {
	if err := servePprof(ctx, logger, p.addr); err != nil {
		logger.Warn("pprof not served", "err", err)
	}
}

// servePprof serves Go's profiles on addr (empty: off) until ctx ends.
func servePprof(ctx context.Context, logger *slog.Logger, addr string) error {
	if addr == "" {
		return nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	logger.Info("pprof listening", "addr", lis.Addr().String())
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(lis); err != http.ErrServerClosed {
		return err
	}
	return nil
}
