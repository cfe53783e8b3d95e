package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/aggregator/publish"
	"github.com/storyfeed/storyfeed/storage"
)

func cmdOPML(ctx context.Context, e *env, args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "import":
			return opmlImport(e, args[1:])
		case "export":
			return opmlExport(e, args[1:])
		case "-h", "-help", "--help", "help":
			opmlUsage(e.stderr) // where every command's -h goes (package flag)
			return 0
		}
	}
	opmlUsage(e.stderr)
	return 2
}

func opmlUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: storyfeed opml import --config FILE [--dry-run] OPML")
	fmt.Fprintln(w, "       storyfeed opml export [--config FILE] [-o FILE]")
	fmt.Fprintln(w, "\nimport adds the feeds of an OPML subscription list to the config file as [[source]]")
	fmt.Fprintln(w, "entries; export writes the configured feeds as OPML 2.0. Run 'storyfeed opml import -h'")
	fmt.Fprintln(w, "or 'storyfeed opml export -h' for their flags.")
}

// opmlImport appends the feeds of an OPML file to the config file. It keeps
// the file's text as it is and adds text at its end, so comments and
// layout survive; the result must pass the strict loader, or nothing is
// written.
func opmlImport(e *env, args []string) int {
	const name = "opml import"
	fs := newFlags(e, name, "--config FILE [--dry-run] OPML",
		"Add the feeds of the OPML file to the config FILE (created if missing) as [[source]] entries:\n"+
			"outline titles become names (made unique: \"Title #2\"), enclosing folders the category\n"+
			"(\"news/world\"). Feeds whose URL is already configured are skipped. The config file keeps\n"+
			"its text, comments included; the entries are appended, and only if the result is valid.")
	conf := fs.String("config", "", "config `FILE` to add the sources to (required)")
	dryRun := fs.Bool("dry-run", false, "print the text that would be appended, and change nothing")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	if *conf == "" {
		return fail(e, name, errors.New("--config FILE is required: the config file to add the sources to"))
	}
	opmlPath := fs.Arg(0)
	f, err := os.Open(opmlPath)
	if err != nil {
		return fail(e, name, err)
	}
	feeds, err := publish.ParseOPML(opmlPath, f)
	f.Close()
	if err != nil {
		return fail(e, name, err)
	}

	data, err := os.ReadFile(*conf)
	exists := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fail(e, name, fmt.Errorf("read config: %w", err))
	}
	var current []config.Source
	allowPrivate := false
	if exists {
		cfg, err := config.Parse(*conf, data)
		if err != nil {
			return fail(e, name, fmt.Errorf("the config file is not valid; fix it first:\n%w", err))
		}
		current, allowPrivate = cfg.Sources, cfg.Poll.AllowPrivateNetworks
	}
	plan := planImport(current, feeds)
	for _, w := range plan.skipped {
		fmt.Fprintf(e.stderr, "%s:%d: skipped: %s\n", opmlPath, w.line, w.why)
	}
	if len(plan.add) == 0 {
		fmt.Fprintf(e.stdout, "nothing to add: %d feeds in %s, %d already configured\n", len(feeds), opmlPath, plan.known)
		return 0
	}
	out := config.AppendSources(data, "Added by `storyfeed opml import "+filepath.Base(opmlPath)+"`", plan.add)
	if _, err := config.Parse(*conf, out); err != nil {
		return fail(e, name, fmt.Errorf("the config with the imported sources would not be valid, so %s is unchanged:\n%w", *conf, err))
	}
	if *dryRun {
		e.stdout.Write(out[len(data):])
		return 0
	}
	perm := os.FileMode(0o644)
	target := *conf
	if info, err := os.Stat(*conf); err == nil {
		perm = info.Mode().Perm()
		// Replace the file a symlink points to, not the link.
		if real, err := filepath.EvalSymlinks(*conf); err == nil {
			target = real
		}
	}
	err = storage.WriteFileAtomic(target, perm, func(w io.Writer) error {
		_, err := io.Copy(w, bytes.NewReader(out))
		return err
	})
	if err != nil {
		return fail(e, name, fmt.Errorf("write %s: %w", *conf, err))
	}
	verb := "added"
	if !exists {
		verb = "created with"
	}
	fmt.Fprintf(e.stdout, "%s: %s %d sources from %s (%d already configured, %d skipped)\n",
		*conf, verb, len(plan.add), opmlPath, plan.known, len(plan.skipped))
	if n := privateHosts(plan.add); n > 0 && !allowPrivate {
		fmt.Fprintf(e.stdout, "note: %d of them are on loopback or private addresses, which storyfeed refuses to fetch\n"+
			"unless the config says [poll] allow_private_networks = true\n", n)
	}
	return 0
}

// privateHosts counts the sources whose host is a loopback, private or
// link-local address, or localhost, as a local test farm's are.
func privateHosts(sources []config.Source) int {
	n := 0
	for _, s := range sources {
		u, err := url.Parse(s.URL)
		if err != nil {
			continue
		}
		host := u.Hostname()
		ip := net.ParseIP(host)
		if strings.EqualFold(host, "localhost") || (ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified())) {
			n++
		}
	}
	return n
}

// importPlan is what an import adds to a config.
type importPlan struct {
	add     []config.Source
	known   int // feeds whose URL the config (or an earlier outline) has
	skipped []skippedFeed
}

type skippedFeed struct {
	line int
	why  string
}

// planImport decides the sources that the OPML feeds add to a config
// holding current: one per URL not configured yet, named by its title
// (its host when it has none), made unique with " #2", " #3"...
func planImport(current []config.Source, feeds []publish.OPMLFeed) importPlan {
	var p importPlan
	names := map[string]bool{}
	urls := map[string]bool{}
	for _, s := range current {
		names[s.Name] = true
		if s.URL != "" {
			urls[urlKey(s.URL)] = true
		}
	}
	for _, f := range feeds {
		u, err := url.Parse(f.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.skipped = append(p.skipped, skippedFeed{f.Line, fmt.Sprintf("%q: xmlUrl %q is not an http(s) URL", f.Title, f.URL)})
			continue
		}
		if urls[urlKey(f.URL)] {
			p.known++
			continue
		}
		urls[urlKey(f.URL)] = true
		base := f.Title
		if base == "" {
			base = u.Hostname()
		}
		n := base
		for i := 2; names[n]; i++ {
			n = base + " #" + strconv.Itoa(i)
		}
		names[n] = true
		p.add = append(p.add, config.Source{Name: n, URL: f.URL, Category: f.Category})
	}
	return p
}

// urlKey is the form in which two spellings of one feed URL are equal:
// scheme and host are case-insensitive.
func urlKey(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return raw
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	return u.String()
}

// opmlExport writes the configured sources as OPML 2.0: the document that
// /sources.opml serves.
func opmlExport(e *env, args []string) int {
	const name = "opml export"
	var c common
	fs := newFlags(e, name, "[--config FILE] [-o FILE]",
		"Write the configured sources as OPML 2.0, in folders by category, to standard output or\n"+
			"FILE. A local (path) source has no URL to subscribe to and is listed by name only.")
	fs.StringVar(&c.config, "config", "", "config `FILE` (TOML); default: built-in defaults")
	out := fs.String("o", "", "write to `FILE` instead of standard output")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fail(e, name, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	cfg, err := c.load()
	if err != nil {
		return fail(e, name, err)
	}
	doc := publish.OPML(cfg.Server.Title+" sources", sourceInfos(cfg))
	if *out == "" {
		e.stdout.Write(doc)
		return 0
	}
	err = storage.WriteFileAtomic(*out, 0o644, func(w io.Writer) error {
		_, err := w.Write(doc)
		return err
	})
	if err != nil {
		return fail(e, name, fmt.Errorf("write %s: %w", *out, err))
	}
	return 0
}

// sourceInfos are the configured sources as the publisher lists them.
func sourceInfos(cfg config.Config) []publish.SourceInfo {
	out := make([]publish.SourceInfo, 0, len(cfg.Sources))
	for _, s := range cfg.Sources {
		out = append(out, publish.SourceInfo{Name: s.Name, URL: s.URL, Category: s.Category})
	}
	return out
}
