// Package config loads and validates storyfeed's TOML configuration.
//
// Loading is strict: Default() first, then the file decoded over it, where an
// unknown key, a value of the wrong type, a bad duration or cron spec, or an
// inconsistent source is an error that names the file and line. Every
// problem in a file is reported at once. The package reads only the file it
// is given; it never looks at the environment.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Config is storyfeed's whole configuration.
type Config struct {
	// File is the path the config was loaded from, "" for the defaults.
	File    string
	Storage Storage
	Server  Server
	Poll    Poll
	Dedupe  Dedupe
	Log     Log
	Sources []Source

	lines map[string]int // key path -> line, for errors found after decoding
}

// Storage configures the database.
type Storage struct {
	Path string // database file; relative paths are relative to the config file
	// Keep is how long items are kept after they were first seen; older
	// ones are deleted for good (tombstoned). 0 keeps them for ever.
	Keep time.Duration
	// MaxItems caps the number of items kept, oldest deleted first; 0 means
	// no cap.
	MaxItems int
}

// Server configures the HTTP publisher.
type Server struct {
	Listen  string // host:port
	BaseURL string // absolute URL the feeds are reached at; "" means http://Listen
	Title   string // title of the unified feed
	// Token, when set, makes the feeds and pages private: every request but
	// /healthz must carry it as ?token= or Authorization: Bearer.
	Token string
	// Representative is the policy that picks the report that speaks for a
	// story: "earliest", "preferred" (the first of Preferred that covered
	// it) or "longest".
	Representative string
	Preferred      []string // source or outlet names, most preferred first
}

// Poll configures fetching.
type Poll struct {
	Schedule             string        // robfig/cron spec used by sources without their own
	AllowPrivateNetworks bool          // let url sources resolve to loopback/private addresses
	Workers              int           // sources fetched at once
	PerHost              int           // requests to one host (host:port) at once; 0: no limit
	HostGap              time.Duration // minimum time between request starts to one host
	ConnectTimeout       time.Duration // time limit of one TCP connection and TLS handshake
	Timeout              time.Duration // whole-request timeout of one fetch
	MaxBodySize          int64         // bytes; a bigger feed is an error
	UserAgent            string        // "" means "storyfeed/VERSION (+https://github.com/storyfeed/storyfeed)"
	// MemoryLimit is the process's soft memory limit in bytes (Go's
	// debug.SetMemoryLimit): the garbage collector works harder as the
	// heap nears it. 0 means none.
	MemoryLimit int64
}

// Dedupe configures story clustering. The thresholds are those of
// dedupe.Options; their defaults were chosen with `storyfeed eval`.
type Dedupe struct {
	Window   time.Duration // how far back stories can be joined
	Similar  float64       // mean cosine (position- and frequency-weighted) that merges two full texts
	Headline float64       // evidence a headline-only item needs to join a story
	Near     float64       // SimHash similarity of near-duplicate full texts
}

// Log configures logging.
type Log struct {
	Level  string // debug, info, warn, error
	Format string // text or json
}

// Source is one configured source: a feed URL, or a local path (a directory
// of article files or one feed file).
type Source struct {
	Name     string
	URL      string
	Path     string // relative paths are relative to the config file
	Category string
	Schedule string // overrides Poll.Schedule when set
}

// Default returns the configuration used when no file is given: the article
// files in ./seeds, ./storyfeed.db, and a publisher on 127.0.0.1:8080.
func Default() Config {
	return Config{
		Storage: Storage{Path: "storyfeed.db", Keep: 720 * time.Hour},
		Server:  Server{Listen: "127.0.0.1:8080", Title: "storyfeed", Representative: "earliest"},
		Poll: Poll{
			Schedule:       "@every 15m",
			Workers:        16,
			PerHost:        4,
			ConnectTimeout: 10 * time.Second,
			Timeout:        30 * time.Second,
			MaxBodySize:    10 << 20,
			MemoryLimit:    80 << 20,
		},
		Dedupe: Dedupe{
			Window:   72 * time.Hour,
			Similar:  0.25,
			Headline: 5.5,
			Near:     0.90,
		},
		Log:     Log{Level: "info", Format: "text"},
		Sources: []Source{{Name: "seeds", Path: "seeds"}},
	}
}

// Error is one problem in a config file.
type Error struct {
	File string
	Line int    // 0 when the problem has no single line
	Key  string // e.g. "source[2].url"; "" when not about one key
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if b.Len() == 0 {
		b.WriteString("config")
	}
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errors is every problem found in one config, in line order. Its Error
// method prints one problem per line.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.Is and errors.As see each problem.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Load reads the config file at path, decodes it over Default() and
// validates the result. A non-nil error is an Errors listing every problem,
// or an I/O error.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(path, data)
	if err != nil {
		return c, err
	}
	c.resolvePaths()
	return c, nil
}

// Parse decodes data (the contents of the file named name) over Default()
// and validates the result. It does no I/O; relative paths stay relative.
func Parse(name string, data []byte) (Config, error) {
	c := Default()
	c.File = name
	errs := c.decode(data)
	errs = append(errs, c.validate()...)
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b *Error) int { return a.Line - b.Line })
		return c, errs
	}
	return c, nil
}

// resolvePaths makes relative paths relative to the config file's directory,
// so a config means the same thing whatever the working directory.
func (c *Config) resolvePaths() {
	dir := filepath.Dir(c.File)
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	c.Storage.Path = abs(c.Storage.Path)
	for i := range c.Sources {
		c.Sources[i].Path = abs(c.Sources[i].Path)
	}
}

// Validate checks a config that was built or changed in code.
func (c *Config) Validate() error {
	if errs := c.validate(); len(errs) > 0 {
		return errs
	}
	return nil
}

// line is the line of key path p, or of the nearest enclosing table.
func (c *Config) line(p string) int {
	for p != "" {
		if n, ok := c.lines[p]; ok {
			return n
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

func (c *Config) errorf(key string, format string, args ...any) *Error {
	return &Error{File: c.File, Line: c.line(key), Key: key, Err: fmt.Errorf(format, args...)}
}

func (c *Config) validate() Errors {
	var errs Errors
	add := func(e *Error) { errs = append(errs, e) }
	if c.Storage.Path == "" {
		add(c.errorf("storage.path", "must not be empty"))
	}
	if c.Storage.Keep < 0 || (c.Storage.Keep > 0 && c.Storage.Keep < time.Hour) {
		add(c.errorf("storage.keep", "must be 0 (keep for ever) or at least 1h, got %v", c.Storage.Keep))
	}
	if c.Storage.MaxItems < 0 {
		add(c.errorf("storage.max_items", "must be 0 (no cap) or positive, got %d", c.Storage.MaxItems))
	}
	if _, _, err := net.SplitHostPort(c.Server.Listen); err != nil {
		add(c.errorf("server.listen", "want host:port: %v", err))
	}
	if c.Server.BaseURL != "" {
		if err := checkHTTPURL(c.Server.BaseURL); err != nil {
			add(c.errorf("server.base_url", "%v", err))
		}
	}
	switch c.Server.Representative {
	case "earliest", "longest":
	case "preferred":
		if len(c.Server.Preferred) == 0 {
			add(c.errorf("server.preferred", "representative = \"preferred\" needs a list of source names"))
		}
	default:
		add(c.errorf("server.representative", "want earliest, preferred or longest, got %q", c.Server.Representative))
	}
	if strings.IndexFunc(c.Server.Token, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		add(c.errorf("server.token", "must not contain spaces or control characters"))
	}
	if err := checkSchedule(c.Poll.Schedule); err != nil {
		add(c.errorf("poll.schedule", "%v", err))
	}
	if c.Poll.Workers < 1 {
		add(c.errorf("poll.workers", "must be at least 1, got %d", c.Poll.Workers))
	}
	if c.Poll.Timeout <= 0 {
		add(c.errorf("poll.timeout", "must be positive"))
	}
	if c.Poll.PerHost < 0 {
		add(c.errorf("poll.per_host", "must be 0 (no limit) or positive, got %d", c.Poll.PerHost))
	}
	if c.Poll.HostGap < 0 || c.Poll.HostGap > time.Hour {
		add(c.errorf("poll.host_gap", "must be between 0s and 1h, got %v", c.Poll.HostGap))
	}
	if c.Poll.ConnectTimeout <= 0 {
		add(c.errorf("poll.connect_timeout", "must be positive"))
	}
	if c.Poll.MaxBodySize < 1024 {
		add(c.errorf("poll.max_body_size", "must be at least 1024 bytes, got %d", c.Poll.MaxBodySize))
	}
	if c.Poll.MemoryLimit != 0 && c.Poll.MemoryLimit < 16<<20 {
		add(c.errorf("poll.memory_limit", "must be 0 (none) or at least 16 MiB (16777216), got %d", c.Poll.MemoryLimit))
	}
	if c.Dedupe.Window <= 0 {
		add(c.errorf("dedupe.window", "must be positive"))
	}
	for _, t := range []struct {
		key       string
		v, lo, hi float64
	}{
		{"dedupe.similar", c.Dedupe.Similar, 0, 1},
		{"dedupe.similar_headline", c.Dedupe.Headline, 0, 100},
		{"dedupe.near", c.Dedupe.Near, 0.5, 1},
	} {
		if !(t.v > t.lo && t.v <= t.hi) {
			add(c.errorf(t.key, "must be above %g and at most %g, got %g", t.lo, t.hi, t.v))
		}
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		add(c.errorf("log.level", "want debug, info, warn or error, got %q", c.Log.Level))
	}
	if !slices.Contains([]string{"text", "json"}, c.Log.Format) {
		add(c.errorf("log.format", "want text or json, got %q", c.Log.Format))
	}
	if len(c.Sources) == 0 {
		add(c.errorf("source", "no sources configured: add a [[source]] with a url or path"))
	}
	names := map[string]int{}
	for i, s := range c.Sources {
		key := fmt.Sprintf("source[%d]", i)
		switch {
		case s.Name == "":
			add(c.errorf(key+".name", "missing: every source needs a name"))
		case names[s.Name] > 0:
			add(c.errorf(key+".name", "duplicate source name %q (first at source[%d])", s.Name, names[s.Name]-1))
		default:
			names[s.Name] = i + 1
		}
		switch {
		case s.URL == "" && s.Path == "":
			add(c.errorf(key, "source %q needs a url or a path", s.Name))
		case s.URL != "" && s.Path != "":
			add(c.errorf(key+".path", "source %q has both url and path; keep one", s.Name))
		case s.URL != "":
			if err := checkHTTPURL(s.URL); err != nil {
				add(c.errorf(key+".url", "%v", err))
			}
		}
		if s.Schedule != "" {
			if err := checkSchedule(s.Schedule); err != nil {
				add(c.errorf(key+".schedule", "%v", err))
			}
		}
	}
	return errs
}

// ScheduleParser parses the cron specs of poll.schedule and source.schedule:
// five fields (minute hour day-of-month month day-of-week) or a descriptor
// such as "@every 15m" or "@hourly".
var ScheduleParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func checkSchedule(spec string) error {
	if spec == "" {
		return errors.New("empty cron spec")
	}
	if _, err := ScheduleParser.Parse(spec); err != nil {
		return fmt.Errorf("bad cron spec %q: %v", spec, err)
	}
	return nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("bad URL %q: %v", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("URL %q must start with http:// or https://", s)
	}
	if u.Host == "" {
		return fmt.Errorf("URL %q has no host", s)
	}
	return nil
}

// ParseDuration parses a Go duration ("90s", "15m", "72h") or a number of
// days ("30d").
func ParseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q: want e.g. \"15m\", \"72h\" or \"30d\"", s)
	}
	return v, nil
}
