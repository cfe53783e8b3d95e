package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/storyfeed/storyfeed/aggregator"
	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/aggregator/publish"
	"github.com/storyfeed/storyfeed/storage"
)

// httpShutdownTimeout bounds the wait for in-flight HTTP requests at
// shutdown. With the aggregator's own budget (aggregator.Run) the daemon
// exits well within the 10 s a service manager allows.
const httpShutdownTimeout = 3 * time.Second

// daemon is the state of `storyfeed run`.
type daemon struct {
	e      *env
	flags  common // to reload the config as it was first loaded
	log    *slog.Logger
	level  *slog.LevelVar
	db     *storage.DB
	dbPath string // absolute
	svc    *aggregator.Service
	base   string // absolute URL of the server
	addr   string // address actually listened on

	mu  sync.Mutex
	cfg config.Config // in force

	pub atomic.Pointer[http.Handler] // publisher; replaced when its options change
	reg *prometheus.Registry
}

func cmdRun(ctx context.Context, e *env, args []string) int {
	d := &daemon{e: e}
	fs := newFlags(e, "run", "[--config FILE] [--db PATH] [--listen ADDR]",
		"Run the daemon: poll every source at start-up and then on schedule, and serve the unified\n"+
			"feed at /feed.xml, /feed.atom and /feed.json, with HTML at /, /metrics, /healthz and /readyz.\n"+
			"SIGHUP reloads the config; SIGINT or SIGTERM stop the daemon within 10 seconds.")
	d.flags.register(fs, true)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	cfg, err := d.flags.load()
	if err != nil {
		return fail(e, "run", err)
	}
	d.cfg = cfg
	defer limitMemory(cfg)()
	d.log, d.level = newLevelLogger(e.stderr, cfg)
	d.db, err = openDB(cfg, false)
	if err != nil {
		return fail(e, "run", err)
	}
	defer func() {
		if err := d.db.Close(); err != nil {
			d.log.Error("close database", "err", err)
		}
	}()
	if d.dbPath, err = filepath.Abs(cfg.Storage.Path); err != nil {
		return fail(e, "run", err)
	}
	// Listen before anything runs, so that a port in use fails at once.
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fail(e, "run", err)
	}
	d.addr = ln.Addr().String()
	d.base = baseURL(cfg, d.addr)

	d.reg = prometheus.NewRegistry()
	metrics, err := d.registerMetrics()
	if err != nil {
		ln.Close()
		return fail(e, "run", err)
	}
	d.svc, err = aggregator.New(cfg, aggregator.Deps{Store: d.db, Logger: d.log, Observer: metrics, Version: version})
	if err != nil {
		ln.Close()
		return fail(e, "run", err)
	}
	d.setPublisher(cfg)
	srv := &http.Server{
		Handler:           d.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	d.log.Info("serving", "url", d.base+"/feed.xml", "db", cfg.Storage.Path, "sources", len(cfg.Sources))
	fmt.Fprintf(e.stdout, "storyfeed: subscribe to %s/feed.xml (Atom: /feed.atom, JSON Feed: /feed.json, HTML: %s/)\n", d.base, d.base)

	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	runErr := make(chan error, 1)
	go func() { runErr <- d.svc.Run(runCtx) }()

	// Reloads run one at a time, beside the main loop: a reload waits for
	// a running poll to end, and the loop must stay ready for SIGTERM.
	reloads := make(chan struct{}, 1)
	var reloader sync.WaitGroup
	reloader.Go(func() {
		for range reloads {
			d.reload()
		}
	})

	d.notify("READY=1\nSTATUS=serving " + d.base)
	watchdog := d.watchdogTicker()
	defer watchdog.Stop()

	code := 0
loop:
	for {
		select {
		case <-ctx.Done():
			d.log.Info("shutting down")
			break loop
		case err := <-serveErr:
			d.log.Error("http server stopped", "err", err)
			code = 1
			break loop
		case err := <-runErr:
			runErr <- err // collected below
			break loop
		case <-d.e.hup:
			select {
			case reloads <- struct{}{}:
			default: // a reload is already queued; it reads the newest file
			}
		case <-watchdog.C:
			if err := d.db.Ping(); err == nil {
				d.notify("WATCHDOG=1")
			}
		}
	}

	// Shutdown, in the order of STYLE.md §5: Run stops the scheduler,
	// cancels fetches and lets the writer finish its transaction; then the
	// HTTP server; then (deferred) the database.
	d.notify("STOPPING=1")
	start := time.Now()
	stopRun()
	if err := <-runErr; err != nil {
		d.log.Error("poller stopped", "err", err)
		code = 1
	}
	close(reloads)
	reloader.Wait()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		d.log.Warn("http shutdown", "err", err)
		srv.Close()
	}
	d.log.Info("stopped", "dur", time.Since(start).Round(time.Millisecond))
	return code
}

// registerMetrics registers the metrics of the process, the database and
// the service with the daemon's own registry.
func (d *daemon) registerMetrics() (*aggregator.Metrics, error) {
	err := errors.Join(
		d.reg.Register(collectors.NewGoCollector()),
		d.reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})),
		d.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "storyfeed", Name: "database_size_bytes",
			Help: "Size of the database file as of the last commit, free pages included (see `storyfeed compact`).",
		}, func() float64 {
			n, err := d.db.Size()
			if err != nil {
				return -1
			}
			return float64(n)
		})),
	)
	if err != nil {
		return nil, err
	}
	return aggregator.NewMetrics(d.reg, nil)
}

// setPublisher builds the publisher for cfg.
func (d *daemon) setPublisher(cfg config.Config) {
	h := publish.NewHandler(d.db, publishOptions(cfg, baseURL(cfg, d.addr), d.log, time.Now()))
	d.pub.Store(&h)
}

// routes is the daemon's HTTP interface: the publisher, plus what an
// operator needs.
func (d *daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelError),
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: false,
	}))
	mux.HandleFunc("GET /readyz", d.readyz)
	mux.HandleFunc("POST /api/command", d.apiCommand)
	mux.HandleFunc("GET /api/backup", d.apiBackup)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		(*d.pub.Load()).ServeHTTP(w, r)
	})
	return mux
}

// readyz answers 200 when the database is open and the first poll cycle
// has run without a database error; /healthz (the publisher's) only says
// the process is alive.
func (d *daemon) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := d.db.Ping(); err != nil {
		http.Error(w, "not ready: database: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	end, err, ok := d.svc.LastCycle()
	switch {
	case !ok:
		http.Error(w, "not ready: the first poll cycle is running", http.StatusServiceUnavailable)
	case err != nil && !errors.Is(err, aggregator.ErrNoSource):
		http.Error(w, "not ready: the last poll cycle failed: "+err.Error(), http.StatusServiceUnavailable)
	default:
		fmt.Fprintf(w, "ready: last poll cycle ended %s\n", end.UTC().Format(time.RFC3339))
	}
}

// apiCommand runs a read command for a client on this machine against the
// daemon's database (see remote.go).
func (d *daemon) apiCommand(w http.ResponseWriter, r *http.Request) {
	if !fromLoopback(r) {
		http.Error(w, "forbidden: only for clients on this machine", http.StatusForbidden)
		return
	}
	var req commandRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	var runCmd func(context.Context, *env, []string) int
	if len(req.Args) > 0 {
		runCmd = remoteCommands[req.Args[0]]
	}
	if runCmd == nil {
		http.Error(w, "bad request: the daemon runs only read commands such as stories", http.StatusBadRequest)
		return
	}
	if !samePath(req.DB, d.dbPath) {
		http.Error(w, fmt.Sprintf("conflict: this daemon holds %s, not %s", d.dbPath, req.DB), http.StatusConflict)
		return
	}
	if rest := stripFlags(req.Args[1:], daemonFlags); len(rest) != len(req.Args)-1 {
		http.Error(w, "bad request: --config, --db and --listen are the daemon's", http.StatusBadRequest)
		return
	}
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	// The command loads the daemon's config file and finds the daemon's
	// database open in env.shared.
	var args []string
	if cfg.File != "" {
		args = append(args, "--config", cfg.File)
	}
	args = append(args, "--db", d.dbPath, "--listen", d.addr)
	args = append(args, req.Args[1:]...)
	var stdout, stderr bytes.Buffer
	e := &env{stdout: &stdout, stderr: &stderr, shared: d.db, commandName: req.Args[0]}
	code := runCmd(r.Context(), e, args)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(commandResponse{Code: code, Stdout: stdout.String(), Stderr: stderr.String()}); err != nil {
		d.log.Debug("api command: write answer", "err", err)
	}
}

// apiBackup streams a consistent copy of the database to a client on this
// machine; `storyfeed backup` uses it while the daemon runs.
func (d *daemon) apiBackup(w http.ResponseWriter, r *http.Request) {
	if !fromLoopback(r) {
		http.Error(w, "forbidden: only for clients on this machine", http.StatusForbidden)
		return
	}
	if want := r.URL.Query().Get("db"); !samePath(want, d.dbPath) {
		http.Error(w, fmt.Sprintf("conflict: this daemon holds %s, not %s", d.dbPath, want), http.StatusConflict)
		return
	}
	size, err := d.db.Size()
	if err != nil {
		http.Error(w, "internal error: "+err.Error(), http.StatusInternalServerError)
		return
	}
	// The copy can take a while: it is not bound by the server's
	// WriteTimeout.
	if err := http.NewResponseController(w).SetWriteDeadline(time.Time{}); err != nil {
		d.log.Debug("backup: clear write deadline", "err", err)
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Storyfeed-Size", strconv.FormatInt(size, 10))
	n, err := d.db.WriteTo(w)
	if err != nil {
		// The client sees a short body and discards it.
		d.log.Warn("backup failed", "err", err, "bytes", n)
		return
	}
	d.log.Info("backup sent", "bytes", n, "client", r.RemoteAddr)
}

// reload loads the config again and applies it. An invalid config changes
// nothing: every problem is logged with its FILE:LINE and the daemon goes on
// with the config it has.
func (d *daemon) reload() {
	d.notify(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", monotonicUsec()))
	defer d.notify("READY=1")
	cfg, err := d.flags.load()
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		d.logConfigErrors(err)
		return
	}
	diff, err := d.svc.Reload(cfg)
	if err != nil {
		d.logConfigErrors(err)
		return
	}
	d.mu.Lock()
	d.cfg = cfg
	d.mu.Unlock()
	setLevel(d.level, cfg)
	// The publisher's options come from [server], the sources (OPML,
	// categories) and the schedules (max-age): build it anew.
	d.setPublisher(cfg)
	for _, name := range diff.Added {
		d.log.Info("reload: source added", "source", name)
	}
	for _, name := range diff.Removed {
		d.log.Info("reload: source removed", "source", name)
	}
	for _, name := range diff.Changed {
		d.log.Info("reload: source changed", "source", name)
	}
	if len(diff.Restart) > 0 {
		d.log.Warn("reload: these settings take effect only after a restart", "keys", diff.Restart)
	}
	d.log.Info("config reloaded", "file", cfg.File, "sources", len(cfg.Sources),
		"added", len(diff.Added), "removed", len(diff.Removed), "changed", len(diff.Changed), "settings", diff.Settings)
}

// logConfigErrors logs each problem of an invalid config on its own line.
func (d *daemon) logConfigErrors(err error) {
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, p := range errs {
			d.log.Error("reload: invalid config, keeping the old one", "problem", p.Error())
		}
		return
	}
	d.log.Error("reload: cannot load config, keeping the old one", "err", err)
}
