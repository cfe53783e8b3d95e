package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/aggregator/fetch"
	"github.com/storyfeed/storyfeed/storage"
)

// sourceJSON is one element of `sources --json`. Every key is always
// present (null for a time never reached), so that scripts can rely on the
// shape; README.md documents the fields.
type sourceJSON struct {
	Name        string     `json:"name"`
	Configured  bool       `json:"configured"` // false: in the database only, gone from the config
	Kind        string     `json:"kind"`       // "url", "path", or "" when not configured
	URL         string     `json:"url"`        // configured feed URL
	Path        string     `json:"path"`       // configured local path
	Category    string     `json:"category"`
	CurrentURL  string     `json:"current_url"` // URL fetched last, after permanent redirects
	ConfigURL   string     `json:"-"`           // the configured URL CurrentURL follows from
	LastStatus  int        `json:"last_status"` // HTTP status, 200 for a local read; 0 never fetched
	LastFetch   *time.Time `json:"last_fetch"`
	LastSuccess *time.Time `json:"last_success"`
	NextDue     *time.Time `json:"next_due"`
	ETag        string     `json:"etag"`
	LastMod     string     `json:"last_modified"`
	ErrorStreak int        `json:"error_streak"`
	LastError   string     `json:"last_error"`
	Disabled    bool       `json:"disabled"` // the feed answered 410 Gone: no longer polled
	// HeldUntil is when its host's pause (429/503 with Retry-After) ends:
	// none of the host's sources is fetched before.
	HeldUntil *time.Time `json:"held_until"`
	Items     int        `json:"items"` // items in the last successful fetch
}

func cmdSources(ctx context.Context, e *env, args []string) int {
	var c common
	fs := newFlags(e, "sources", "[--json] [--config FILE] [--db PATH]",
		"List every configured source with its fetch state: last status, last fetch and success,\n"+
			"next due, error streak and last error. Sources that the database still remembers but\n"+
			"the config no longer names are listed last, as not configured.")
	c.register(fs, true)
	asJSON := fs.Bool("json", false, "print one JSON array of sources")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fail(e, "sources", fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	cfg, err := c.load()
	if err != nil {
		return fail(e, "sources", err)
	}
	db, closeDB, err := e.readDB(cfg)
	if err != nil {
		return fail(e, "sources", err)
	}
	defer closeDB()
	states, err := db.Sources()
	if err != nil {
		return fail(e, "sources", err)
	}
	holds, err := db.Holds()
	if err != nil {
		return fail(e, "sources", err)
	}
	rows := sourceRows(cfg.Sources, states)
	setHolds(rows, holds, time.Now())
	if *asJSON {
		b, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return fail(e, "sources", err)
		}
		fmt.Fprintf(e.stdout, "%s\n", b)
		return 0
	}
	printSources(e, rows)
	return 0
}

// sourceRows joins the configured sources, in config order, with their
// stored states; states of sources no longer configured follow, by name.
func sourceRows(sources []config.Source, states []storage.SourceState) []sourceJSON {
	byName := make(map[string]storage.SourceState, len(states))
	for _, st := range states {
		byName[st.Name] = st
	}
	rows := make([]sourceJSON, 0, len(sources))
	for _, s := range sources {
		r := sourceJSON{Name: s.Name, Configured: true, URL: s.URL, Path: s.Path, Category: s.Category, Kind: "url"}
		if s.URL == "" {
			r.Kind = "path"
		}
		if st, ok := byName[s.Name]; ok {
			r.setState(&st)
			delete(byName, s.Name)
		}
		rows = append(rows, r)
	}
	gone := make([]string, 0, len(byName))
	for name := range byName {
		gone = append(gone, name)
	}
	slices.Sort(gone)
	for _, name := range gone {
		st := byName[name]
		r := sourceJSON{Name: name}
		r.setState(&st)
		rows = append(rows, r)
	}
	return rows
}

// setHolds marks the sources whose host is held at now. A source is
// fetched at its current URL (after permanent redirects) while the config
// names the URL it came from, else at the configured one.
func setHolds(rows []sourceJSON, holds map[string]time.Time, now time.Time) {
	for i := range rows {
		r := &rows[i]
		target := r.URL
		if r.CurrentURL != "" && (r.ConfigURL == r.URL || !r.Configured) {
			target = r.CurrentURL
		}
		if until, ok := holds[fetch.HostKeyOf(target)]; ok && until.After(now) {
			r.HeldUntil = timeOrNil(until)
		}
	}
}

func (r *sourceJSON) setState(st *storage.SourceState) {
	r.CurrentURL, r.ConfigURL = st.URL, st.ConfigURL
	r.LastStatus = st.LastStatus
	r.LastFetch = timeOrNil(st.LastFetch)
	r.LastSuccess = timeOrNil(st.LastSuccess)
	r.NextDue = timeOrNil(st.NextDue)
	r.ETag, r.LastMod = st.ETag, st.LastModified
	r.ErrorStreak, r.LastError = st.ErrorStreak, st.LastError
	r.Disabled, r.Items = st.Disabled, st.Items
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// printSources prints the human table, one line per source, then the last
// error of every failing source.
func printSources(e *env, rows []sourceJSON) {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tSTATUS\tLAST SUCCESS\tNEXT DUE\tITEMS\tERRORS\tFROM")
	for i := range rows {
		r := &rows[i]
		from := r.URL
		switch {
		case !r.Configured:
			from = "(not in the config)"
		case r.Kind == "path":
			from = r.Path
		case r.CurrentURL != "" && r.CurrentURL != r.URL:
			from = r.URL + " -> " + r.CurrentURL
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", oneLine(r.Name), sourceStatus(r), when(r.LastSuccess), when(r.NextDue),
			r.Items, r.ErrorStreak, oneLine(from))
	}
	tw.Flush()
	first := true
	for i := range rows {
		if r := &rows[i]; r.LastError != "" {
			if first {
				fmt.Fprintln(e.stdout, "\nLast errors:")
				first = false
			}
			fmt.Fprintf(e.stdout, "  %s: %s\n", oneLine(r.Name), oneLine(r.LastError))
		}
	}
}

func sourceStatus(r *sourceJSON) string {
	switch {
	case r.Disabled:
		return "disabled (" + strconv.Itoa(r.LastStatus) + ")"
	case r.HeldUntil != nil:
		return "held until " + r.HeldUntil.Format("15:04")
	case r.LastFetch == nil:
		return "never polled"
	case r.LastError != "" && r.LastStatus == 0:
		return "error"
	case r.LastError != "":
		return "error (" + strconv.Itoa(r.LastStatus) + ")"
	}
	return strconv.Itoa(r.LastStatus)
}

func when(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format("2006-01-02 15:04")
}

// oneLine keeps a table cell on one line, whatever a feed or a file name
// put in it.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }), " ")
}
