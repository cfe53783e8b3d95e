package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/storyfeed/storyfeed/aggregator"
	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/aggregator/publish"
	"github.com/storyfeed/storyfeed/storage"
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

// publishOptions are the publisher's options from the config.
func publishOptions(cfg config.Config, base string, log *slog.Logger, now time.Time) publish.Options {
	opt := publish.Options{
		Title:   cfg.Server.Title,
		BaseURL: base,
		Logger:  log,
		Token:   cfg.Server.Token,
		Policy:  representative(cfg),
		MaxAge:  pollInterval(cfg, now),
		// While a poll commits every few milliseconds, render each feed
		// at most once a second: no reader notices a second.
		Refresh: time.Second,
	}
	for _, s := range cfg.Sources {
		opt.Sources = append(opt.Sources, publish.SourceInfo{Name: s.Name, URL: s.URL, Category: s.Category})
	}
	return opt
}

// representative is the configured representative policy; the publisher
// and `storyfeed stories` use the same one.
func representative(cfg config.Config) storage.Policy {
	return storage.Policy{Rule: cfg.Server.Representative, Preferred: cfg.Server.Preferred}
}

// pollInterval is the shortest time between two polls of any source after
// now: nothing the publisher serves changes faster, so it is the max-age
// that clients may cache responses for. Unparsable specs (config
// validation rejects them) and schedules that never fire count as none.
func pollInterval(cfg config.Config, now time.Time) time.Duration {
	specs := []string{cfg.Poll.Schedule}
	for _, s := range cfg.Sources {
		specs = append(specs, s.Schedule)
	}
	var best time.Duration
	for _, spec := range specs {
		if spec == "" {
			continue
		}
		sched, err := config.ScheduleParser.Parse(spec)
		if err != nil {
			continue
		}
		t1 := sched.Next(now)
		t2 := sched.Next(t1)
		if t1.IsZero() || t2.IsZero() {
			continue
		}
		if d := t2.Sub(t1); best == 0 || d < best {
			best = d
		}
	}
	return best
}
