package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/storyfeed/storyfeed/aggregator"
	"github.com/storyfeed/storyfeed/aggregator/publish"
)

// shutdownTimeout bounds the wait for in-flight HTTP requests at shutdown.
const shutdownTimeout = 5 * time.Second

func cmdRun(ctx context.Context, e *env, args []string) int {
	var c common
	fs := newFlags(e, "run", "[--config FILE] [--db PATH] [--listen ADDR]",
		"Run the daemon: poll every source at start-up and then on schedule, and serve the unified\nfeed at /feed.xml, /feed.atom and /feed.json, with HTML at /. Stops on SIGINT or SIGTERM.")
	c.register(fs, true)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	cfg, err := c.load()
	if err != nil {
		return fail(e, "run", err)
	}
	log := newLogger(e.stderr, cfg)
	db, err := openDB(cfg, false)
	if err != nil {
		return fail(e, "run", err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			log.Error("close database", "err", err)
		}
	}()
	// Listen before anything runs, so that a port in use fails at once.
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fail(e, "run", err)
	}
	base := baseURL(cfg, ln.Addr().String())
	srv := &http.Server{
		Handler:           publish.NewHandler(db, publishOptions(cfg, base, log, time.Now())),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("serving", "url", base+"/feed.xml", "db", cfg.Storage.Path, "sources", len(cfg.Sources))
	fmt.Fprintf(e.stdout, "storyfeed: subscribe to %s/feed.xml (Atom: /feed.atom, JSON Feed: /feed.json, HTML: %s/)\n", base, base)

	svc, err := aggregator.New(cfg, aggregator.Deps{Store: db, Logger: log})
	if err != nil {
		srv.Close()
		return fail(e, "run", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- svc.Run(runCtx) }()

	code := 0
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-serveErr:
		log.Error("http server stopped", "err", err)
		code = 1
	case err := <-runErr:
		runErr <- err // collected below
	}
	// Stop polling first (Run waits for the running transaction), then
	// the HTTP server, then (deferred) the database.
	cancel()
	if err := <-runErr; err != nil {
		log.Error("poller stopped", "err", err)
		code = 1
	}
	sctx, scancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("http shutdown", "err", err)
	}
	log.Info("stopped")
	return code
}
