package main

// Read commands while the daemon runs. bbolt lets one process open the
// database file, so while `storyfeed run` holds it, a read command such as
// `stories` cannot. It asks the daemon instead: it posts its arguments to
// the daemon's /api/command, the daemon runs the same command against its
// own open database and sends back the output and the exit status. The
// output is the same as with the file, byte for byte, because the same
// code produces it.
//
// The daemon is found at [server] listen of the same config (or --listen);
// it answers only requests from loopback addresses and only for the
// database it holds.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/storyfeed/storyfeed/aggregator/config"
)

// errAskDaemon means a read command found its database held by another
// process and should be run by that process.
var errAskDaemon = errors.New("database held by a running daemon")

// remoteCommands are the commands the daemon runs for a client, by name.
// Only commands that read the database with env.readDB belong here, each
// also wrapped in viaDaemon in the command table.
var remoteCommands = map[string]func(ctx context.Context, e *env, args []string) int{
	"stories": cmdStories,
	"sources": cmdSources,
}

// daemonTimeout bounds one request to the daemon.
const daemonTimeout = 60 * time.Second

// viaDaemon makes f, a read command that opens its database with
// env.readDB, ask the running daemon when the file is held.
func viaDaemon(f func(ctx context.Context, e *env, args []string) int) func(ctx context.Context, e *env, args []string) int {
	return func(ctx context.Context, e *env, args []string) int {
		inner := *e
		code := f(ctx, &inner, args)
		if inner.askDaemon == nil {
			return code
		}
		return askDaemon(ctx, e, *inner.askDaemon, args)
	}
}

// commandRequest is the body of POST /api/command.
type commandRequest struct {
	Args []string `json:"args"` // command name, then its arguments
	DB   string   `json:"db"`   // absolute path of the database the client wants
}

// commandResponse is the daemon's answer.
type commandResponse struct {
	Code   int    `json:"code"`
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
}

// daemonFlags are the flags that choose a config or database; the daemon
// uses its own.
var daemonFlags = []string{"config", "db", "listen"}

// stripFlags removes the flags named in names, with their values, from
// args.
func stripFlags(args []string, names []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && slices.Contains(names, name) {
			if !hasValue {
				i++ // the value is the next argument
			}
			continue
		}
		out = append(out, a)
	}
	return out
}

// askDaemon runs the command args (without its name) in the daemon that
// holds the database of cfg, and prints what it printed.
func askDaemon(ctx context.Context, e *env, cfg config.Config, args []string) int {
	name := e.commandName
	db, err := filepath.Abs(cfg.Storage.Path)
	if err != nil {
		return fail(e, name, err)
	}
	base, err := daemonURL(cfg.Server.Listen)
	if err != nil {
		return fail(e, name, err)
	}
	body, err := json.Marshal(commandRequest{Args: append([]string{name}, stripFlags(args, daemonFlags)...), DB: db})
	if err != nil {
		return fail(e, name, err)
	}
	resp, err := daemonRequest(ctx, http.MethodPost, base+"/api/command", bytes.NewReader(body))
	if err != nil {
		return fail(e, name, fmt.Errorf("database %s is in use by another process, and %w", cfg.Storage.Path, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail(e, name, daemonError(resp, base))
	}
	var out commandResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<30)).Decode(&out); err != nil {
		return fail(e, name, fmt.Errorf("answer of the daemon at %s: %w", base, err))
	}
	io.WriteString(e.stdout, out.Stdout)
	io.WriteString(e.stderr, out.Stderr)
	return out.Code
}

// daemonRequest sends one request to the daemon.
func daemonRequest(ctx context.Context, method, target string, body io.Reader) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, daemonTimeout)
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("no storyfeed daemon answers at %s (%w); stop the other process, or pass --listen ADDR of the daemon", target, err)
	}
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// daemonError is the error of a daemon's non-200 answer.
func daemonError(resp *http.Response, base string) error {
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return fmt.Errorf("the daemon at %s answered %s: %s", base, resp.Status, strings.TrimSpace(string(msg)))
}

// daemonURL is the base URL at which a client on this machine reaches the
// daemon listening on listen.
func daemonURL(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("listen address %q: %w", listen, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// samePath reports whether a and b name the same file.
func samePath(a, b string) bool {
	ia, err1 := os.Stat(a)
	ib, err2 := os.Stat(b)
	if err1 == nil && err2 == nil {
		return os.SameFile(ia, ib)
	}
	return filepath.Clean(a) == filepath.Clean(b)
}

// fromLoopback reports whether r came from this machine.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
