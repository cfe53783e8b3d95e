package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/storage"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *env, args []string) int
}

var commands = []command{
	{"run", "run the daemon: poll on schedule and serve the unified feed", cmdRun},
	{"poll", "poll every source once, then exit", cmdPoll},
	{"check", "validate the config file", cmdCheck},
	{"stories", "list the newest stories, or explain one", viaDaemon(cmdStories)},
	{"sources", "list the sources with their fetch state and errors", viaDaemon(cmdSources)},
	{"opml", "import an OPML list of feeds into the config, or export the sources as OPML", cmdOPML},
	{"split", "take an item out of its story, for good", cmdSplit},
	{"merge", "merge one story into another, for good", cmdMerge},
	{"eval", "measure the dedupe engine on labelled items", cmdEval},
	{"backup", "write a consistent copy of the database, also while the daemon runs", cmdBackup},
	{"compact", "rewrite the database without its free space (daemon stopped)", cmdCompact},
	{"version", "print version and build information", cmdVersion},
}

// env is what every command gets: its output streams and what the process
// was given by the outside world.
type env struct {
	stdout, stderr io.Writer
	// hup delivers SIGHUP, on which `run` reloads its config; nil when no
	// signal can come.
	hup <-chan os.Signal
	// getenv reads the process environment (systemd's NOTIFY_SOCKET and
	// WATCHDOG_USEC); nil reads nothing.
	getenv func(string) string

	// shared is the daemon's open database, when a read command runs
	// inside the daemon for a client (see remote.go).
	shared *storage.DB
	// askDaemon is set by readDB when another process holds the database:
	// the command is then run by that process (see viaDaemon).
	askDaemon *config.Config
	// commandName is the name of the running command.
	commandName string
}

// run is the whole program: it parses args, runs one command and returns
// the exit status. Tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return execute(ctx, &env{stdout: stdout, stderr: stderr}, args)
}

// execute runs the command args name with the environment e.
func execute(ctx context.Context, e *env, args []string) int {
	stderr, stdout := e.stderr, e.stdout
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	case "-version", "--version":
		name = "version"
	}
	for _, c := range commands {
		if c.name == name {
			e.commandName = name
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(stderr, "storyfeed: unknown command %q\n\n", name)
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "storyfeed merges the coverage of one news story by many outlets into one feed entry.")
	fmt.Fprintln(w, "\nUsage: storyfeed COMMAND [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'storyfeed COMMAND -h' for a command's flags. With no --config, storyfeed reads the")
	fmt.Fprintln(w, "article files in ./seeds, keeps ./storyfeed.db and listens on 127.0.0.1:8080.")
}

// common holds the flags shared by commands that open the database.
type common struct {
	config string
	db     string
	listen string
}

func newFlags(e *env, name, args, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: storyfeed %s %s\n\n%s\n\nFlags:\n", name, args, about)
		fs.PrintDefaults()
	}
	return fs
}

func (c *common) register(fs *flag.FlagSet, withListen bool) {
	fs.StringVar(&c.config, "config", "", "config `FILE` (TOML); default: built-in defaults")
	fs.StringVar(&c.db, "db", "", "database `PATH`, overriding [storage] path")
	if withListen {
		fs.StringVar(&c.listen, "listen", "", "listen `ADDR` (host:port), overriding [server] listen")
	}
}

// parse parses args; it returns false and the exit status when the command
// should stop (after -h, or on a usage error).
func parse(fs *flag.FlagSet, args []string) (int, bool) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0, false
	case err != nil:
		return 2, false
	}
	return 0, true
}

// load returns the config named by --config, or the defaults, with the
// flag overrides applied.
func (c *common) load() (config.Config, error) {
	cfg := config.Default()
	if c.config != "" {
		var err error
		cfg, err = config.Load(c.config)
		if err != nil {
			return cfg, err
		}
	}
	if c.db != "" {
		cfg.Storage.Path = c.db
	}
	if c.listen != "" {
		if _, _, err := net.SplitHostPort(c.listen); err != nil {
			return cfg, fmt.Errorf("--listen %q: want host:port", c.listen)
		}
		cfg.Server.Listen = c.listen
	}
	return cfg, nil
}

// newLogger builds the one logger of the process, as the config says.
func newLogger(w io.Writer, cfg config.Config) *slog.Logger {
	log, _ := newLevelLogger(w, cfg)
	return log
}

// newLevelLogger builds the logger of the daemon, whose level can change
// on reload.
func newLevelLogger(w io.Writer, cfg config.Config) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	setLevel(level, cfg)
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), level
	}
	return slog.New(slog.NewTextHandler(w, opts)), level
}

func setLevel(v *slog.LevelVar, cfg config.Config) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		level = slog.LevelInfo
	}
	v.Set(level)
}

// openDB opens the database for a command, read-only for commands that
// only read.
func openDB(cfg config.Config, readOnly bool) (*storage.DB, error) {
	db, err := storage.Open(cfg.Storage.Path, storage.Options{ReadOnly: readOnly})
	if err != nil && readOnly && errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no database at %s: run 'storyfeed poll' first", cfg.Storage.Path)
	}
	return db, err
}

// readDB opens the database for a read command and returns it with the
// function that releases it. Inside the daemon it is the daemon's own
// handle. When another process holds the file, it returns errAskDaemon and
// remembers cfg, so that viaDaemon can ask that process instead.
func (e *env) readDB(cfg config.Config) (*storage.DB, func() error, error) {
	if e.shared != nil {
		return e.shared, func() error { return nil }, nil
	}
	db, err := openDB(cfg, true)
	if errors.Is(err, storage.ErrLocked) {
		e.askDaemon = &cfg
		return nil, nil, errAskDaemon
	}
	if err != nil {
		return nil, nil, err
	}
	return db, db.Close, nil
}

// baseURL is the absolute URL the feeds are published at.
func baseURL(cfg config.Config, addr string) string {
	if cfg.Server.BaseURL != "" {
		return strings.TrimRight(cfg.Server.BaseURL, "/")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// fail prints err as the command's error and returns status 1.
func fail(e *env, name string, err error) int {
	if errors.Is(err, errAskDaemon) {
		return 1 // not an error yet: viaDaemon asks the daemon
	}
	fmt.Fprintf(e.stderr, "storyfeed %s: %v\n", name, err)
	return 1
}
