package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/storyfeed/storyfeed/storage"
)

// storyJSON is one line of `stories --json`; its shape is part of the
// outside contract (DESIGN.md).
type storyJSON struct {
	ID        string     `json:"id"`
	Title     string     `json:"title"`
	Link      string     `json:"link"`
	FirstSeen time.Time  `json:"first_seen"`
	Updated   time.Time  `json:"updated"`
	Sources   int        `json:"sources"`
	Items     []itemJSON `json:"items"`
}

type itemJSON struct {
	ID        string    `json:"id"`
	Source    string    `json:"source"`
	Title     string    `json:"title"`
	URL       string    `json:"url"`
	Published time.Time `json:"published"`
	Level     string    `json:"level"`
	Score     float64   `json:"score"`
}

func cmdStories(ctx context.Context, e *env, args []string) int {
	var c common
	fs := newFlags(e, "stories", "[--json] [--limit N] [--explain ID] [--config FILE] [--db PATH]",
		"List the newest stories with the outlets that covered them, or with --explain show why\neach item of one story is in it.")
	c.register(fs, true)
	asJSON := fs.Bool("json", false, "print one JSON object per story and line")
	limit := fs.Int("limit", 50, "print at most `N` stories")
	explain := fs.String("explain", "", "explain story `ID`: every member with its level, score, threshold and shared terms")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if code, ok := noArgs(e, fs); !ok {
		return code
	}
	cfg, err := c.load()
	if err != nil {
		return fail(e, "stories", err)
	}
	db, closeDB, err := e.readDB(cfg)
	if err != nil {
		return fail(e, "stories", err)
	}
	defer closeDB()
	base := baseURL(cfg, cfg.Server.Listen)

	if *explain != "" {
		sv, err := db.Story(*explain)
		if err != nil {
			return fail(e, "stories", err)
		}
		if *asJSON {
			return printJSON(e, toJSON(&sv, base, representative(cfg)))
		}
		printExplain(e, &sv, representative(cfg))
		return 0
	}
	svs, err := db.Stories(ctx, storage.StoryQuery{Limit: *limit})
	if err != nil {
		return fail(e, "stories", err)
	}
	if *asJSON {
		for i := range svs {
			if code := printJSON(e, toJSON(&svs[i], base, representative(cfg))); code != 0 {
				return code
			}
		}
		return 0
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STORY\tUPDATED\tOUTLETS\tTITLE")
	for i := range svs {
		sv := &svs[i]
		rep := &sv.Members[sv.RepresentativeBy(representative(cfg))]
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", sv.ID, sv.Updated.UTC().Format("2006-01-02 15:04"), sv.Outlets(), rep.Title)
		for j := range sv.Members {
			fmt.Fprintf(tw, "\t\t\t  · %s: %s\n", sv.Members[j].Outlet, sv.Members[j].Title)
		}
	}
	tw.Flush()
	return 0
}

func toJSON(sv *storage.StoryView, base string, policy storage.Policy) storyJSON {
	rep := &sv.Members[sv.RepresentativeBy(policy)]
	out := storyJSON{
		ID: sv.ID, Title: rep.Title, Link: rep.URL,
		FirstSeen: sv.FirstSeen.UTC(), Updated: sv.Updated.UTC(), Sources: sv.Outlets(),
		Items: make([]itemJSON, 0, len(sv.Members)),
	}
	if out.Link == "" {
		out.Link = base + "/stories/" + sv.ID
	}
	for i := range sv.Members {
		m := &sv.Members[i]
		out.Items = append(out.Items, itemJSON{
			ID: m.ID, Source: m.Outlet, Title: m.Title, URL: m.URL, Published: m.Date().UTC(),
			Level: m.Match.Level, Score: m.Match.Score,
		})
	}
	return out
}

func printJSON(e *env, v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return fail(e, "stories", err)
	}
	fmt.Fprintf(e.stdout, "%s\n", b)
	return 0
}

func printExplain(e *env, sv *storage.StoryView, policy storage.Policy) {
	rep := &sv.Members[sv.RepresentativeBy(policy)]
	fmt.Fprintf(e.stdout, "story %s: %s\n", sv.ID, rep.Title)
	fmt.Fprintf(e.stdout, "first seen %s, updated %s, %d items from %d outlets\n\n",
		sv.FirstSeen.UTC().Format(time.RFC3339), sv.Updated.UTC().Format(time.RFC3339), len(sv.Members), sv.Outlets())
	if len(sv.Related) > 0 {
		fmt.Fprintf(e.stdout, "related stories: %s\n\n", strings.Join(sv.Related, ", "))
	}
	for i := range sv.Members {
		m := &sv.Members[i]
		fmt.Fprintf(e.stdout, "item %s  %s\n", m.ID, m.Outlet)
		fmt.Fprintf(e.stdout, "  title:     %s\n", m.Title)
		if m.URL != "" {
			fmt.Fprintf(e.stdout, "  url:       %s\n", m.URL)
		}
		fmt.Fprintf(e.stdout, "  published: %s\n", m.Date().UTC().Format(time.RFC3339))
		fmt.Fprintf(e.stdout, "  level:     %s\n", m.Match.Level)
		fmt.Fprintf(e.stdout, "  score:     %.3f (threshold %.3f)\n", m.Match.Score, m.Match.Threshold)
		if len(m.Match.Shared) > 0 {
			fmt.Fprintf(e.stdout, "  shared:    %s\n", strings.Join(m.Match.Shared, ", "))
		}
		if m.Match.Reason != "" {
			fmt.Fprintf(e.stdout, "  reason:    %s\n", m.Match.Reason)
		}
		if len(m.Cites) > 0 {
			fmt.Fprintf(e.stdout, "  cites:     %s\n", strings.Join(m.Cites, ", "))
		}
		fmt.Fprintln(e.stdout)
	}
}
