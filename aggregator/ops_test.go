package aggregator_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/storyfeed/storyfeed/aggregator"
	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/storage"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

// articles writes one front-matter article file per title into a new
// directory dir/name and returns its source.
func articles(t *testing.T, dir, name string, titles ...string) config.Source {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, title := range titles {
		body := fmt.Sprintf("---\ntitle: %s\nsource: %s\npublished: 2025-12-0%dT09:00:00Z\n---\n\n%s, and nothing else: a report about %s only.\n",
			title, name, i+1, title, strings.ToLower(title))
		if err := os.WriteFile(filepath.Join(p, fmt.Sprintf("%02d.txt", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return config.Source{Name: name, Path: p}
}

func titles(t *testing.T, db *storage.DB) []string {
	t.Helper()
	var out []string
	for _, sv := range allStories(t, db) {
		for _, m := range sv.Members {
			out = append(out, m.Title)
		}
	}
	slices.Sort(out)
	return out
}

func TestReloadDiff(t *testing.T) {
	dir := t.TempDir()
	a := articles(t, dir, "a", "Volcano erupts")
	b := articles(t, dir, "b", "Budget passes")
	c := articles(t, dir, "c", "Bridge reopens")
	db := storagetest.OpenTemp(t)
	svc := newService(t, db, newClock(), a, b)

	cfg := config.Default()
	cfg.Sources = []config.Source{a, c, b}
	cfg.Sources[2].Category = "politics"
	cfg.Poll.Schedule = "@every 5m"
	cfg.Dedupe.Window = 48 * time.Hour
	cfg.Server.Listen = "127.0.0.1:9999"
	cfg.Poll.Timeout = time.Minute
	cfg.Poll.AllowPrivateNetworks = true // as newService has it
	d, err := svc.Reload(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := aggregator.Diff{
		Added: []string{"c"}, Changed: []string{"b"},
		Settings: []string{"poll.schedule", "dedupe.window"},
		Restart:  []string{"server.listen", "poll.timeout"},
	}
	if fmt.Sprint(d) != fmt.Sprint(want) {
		t.Errorf("Reload diff = %+v, want %+v", d, want)
	}
	cfg.Sources = []config.Source{c}
	d, err = svc.Reload(cfg)
	if err != nil || !slices.Equal(d.Removed, []string{"a", "b"}) || len(d.Added)+len(d.Changed)+len(d.Settings) != 0 {
		t.Errorf("Reload removing a and b = %+v, %v", d, err)
	}
	// Only c is polled now.
	if _, err := svc.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := titles(t, db); !slices.Equal(got, []string{"Bridge reopens"}) {
		t.Errorf("after reload, poll stored %v, want only c's", got)
	}

	// An invalid config changes nothing.
	bad := cfg
	bad.Sources = []config.Source{a, a}
	bad.Poll.Schedule = "whenever"
	if _, err := svc.Reload(bad); err == nil || !strings.Contains(err.Error(), "duplicate source name") || !strings.Contains(err.Error(), "bad cron spec") {
		t.Errorf("Reload of an invalid config = %v, want every problem", err)
	}
	if d, err := svc.Reload(cfg); err != nil || !d.Empty() {
		t.Errorf("Reload of the config in force = %+v, %v; want an empty diff (the bad one was not applied)", d, err)
	}
}

// Run polls a source that a reload added at once.
func TestRunReload(t *testing.T) {
	dir := t.TempDir()
	a := articles(t, dir, "a", "Volcano erupts")
	b := articles(t, dir, "b", "Budget passes")
	db := storagetest.OpenTemp(t)
	cfg := config.Default()
	cfg.Sources = []config.Source{a}
	cfg.Poll.Schedule = "@every 1h"
	svc, err := aggregator.New(cfg, aggregator.Deps{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()
	waitFor(t, "the first cycle", func() bool { _, _, ok := svc.LastCycle(); return ok })
	if _, err, _ := svc.LastCycle(); err != nil {
		t.Fatalf("first cycle: %v", err)
	}
	cfg.Sources = []config.Source{b}
	if _, err := svc.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b's story", func() bool { return slices.Contains(titles(t, db), "Budget passes") })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %s within 10s", what)
}

// Retention deletes old items for good: the next poll of the same files
// does not bring them back, and the dedupe index forgets them.
func TestExpireKeepsDeletedItemsOut(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := articles(t, dir, "a", "Volcano erupts", "Budget passes", "Bridge reopens")
	db := storagetest.OpenTemp(t)
	clk := newClock()
	cfg := config.Default()
	cfg.Sources = []config.Source{a}
	cfg.Storage.Keep = 24 * time.Hour
	svc, err := aggregator.New(cfg, aggregator.Deps{Store: db, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := svc.Expire(ctx); err != nil || n.Items != 0 {
		t.Fatalf("Expire of fresh items = %+v, %v; want nothing", n, err)
	}
	clk.Add(25 * time.Hour)
	// A new article arrives; the three old ones expire.
	articles(t, dir, "a", "Volcano erupts", "Budget passes", "Bridge reopens", "Storm hits the coast")
	if _, err := svc.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := svc.Expire(ctx)
	if err != nil || n.Items != 3 || n.Stories != 3 {
		t.Fatalf("Expire = %+v, %v; want 3 items and 3 stories", n, err)
	}
	if _, err := svc.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := titles(t, db); !slices.Equal(got, []string{"Storm hits the coast"}) {
		t.Errorf("after expiry and a re-poll: %v, want only the new story", got)
	}

	// The cap: keep at most one item.
	cfg.Storage.Keep, cfg.Storage.MaxItems = 0, 1
	if _, err := svc.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	articles(t, dir, "a", "Volcano erupts", "Budget passes", "Bridge reopens", "Storm hits the coast", "Port strike ends")
	if _, err := svc.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := svc.Expire(ctx); err != nil || n.Items != 1 {
		t.Fatalf("Expire with max_items 1 = %+v, %v; want 1 item", n, err)
	}
	if got := titles(t, db); !slices.Equal(got, []string{"Port strike ends"}) {
		t.Errorf("with max_items 1: %v, want only the newest", got)
	}
}

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu      sync.Mutex
	fetches []aggregator.FetchEvent
	commits []aggregator.CommitEvent
	cycles  []aggregator.Cycle
}

func (r *recorder) Fetched(ev aggregator.FetchEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fetches = append(r.fetches, ev)
}

func (r *recorder) Committed(ev aggregator.CommitEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.commits = append(r.commits, ev)
}

func (r *recorder) CycleDone(c aggregator.Cycle, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cycles = append(r.cycles, c)
}

const oneItemFeed = `<?xml version="1.0"?><rss version="2.0"><channel><title>f</title><link>http://f.example/</link>
<item><title>Dam breaks after heavy rain</title><link>http://f.example/1</link><guid>1</guid><description>The dam broke after days of heavy rain.</description></item>
</channel></rss>`

func TestObserverAndMetrics(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/gone" {
			http.Error(w, "gone", http.StatusGone)
			return
		}
		io.WriteString(w, oneItemFeed)
	}))
	defer srv.Close()
	dir := t.TempDir()
	copyFiles(t, dir, seeds(t)...)
	db := storagetest.OpenTemp(t)
	reg := prometheus.NewRegistry()
	m, err := aggregator.NewMetrics(reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := aggregator.NewMetrics(reg, nil); err == nil {
		t.Error("a second Metrics on the same registry registered without error")
	}
	rec := &recorder{}
	cfg := config.Default()
	cfg.Poll.AllowPrivateNetworks = true
	cfg.Sources = []config.Source{
		{Name: "seeds", Path: dir},
		{Name: "feed", URL: srv.URL + "/feed.xml"},
		{Name: "gone", URL: srv.URL + "/gone"},
	}
	svc, err := aggregator.New(cfg, aggregator.Deps{Store: db, Observer: both{rec, m}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := svc.PollOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m.CycleDone(c, nil) // Run reports cycles; PollOnce leaves it to the caller

	rec.mu.Lock()
	defer rec.mu.Unlock()
	statuses := map[int]int{}
	for _, f := range rec.fetches {
		statuses[f.Status]++
		if f.Status == 200 && f.Bytes != len(oneItemFeed) {
			t.Errorf("fetch of %s: %d bytes, want %d", f.Source, f.Bytes, len(oneItemFeed))
		}
	}
	if statuses[200] != 1 || statuses[410] != 1 || len(rec.fetches) != 2 {
		t.Errorf("fetch events by status %v, want one 200 and one 410", statuses)
	}
	var levels []string
	for _, ev := range rec.commits {
		levels = append(levels, ev.Levels...)
	}
	slices.Sort(levels)
	if !slices.Equal(levels, []string{"new", "new", "similar"}) {
		t.Errorf("levels of new items = %v, want new (seed), similar (the other seed), new (feed)", levels)
	}
	// One event per transaction: one per source, or fewer when batches
	// queued behind a transaction share the next (group commit).
	if n := len(rec.commits); n < 1 || n > 3 {
		t.Errorf("%d commit events, want one to three for three sources", n)
	}

	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"fetches 2xx", value(t, reg, "storyfeed_fetches_total", "class", "2xx"), 1},
		{"fetches 4xx", value(t, reg, "storyfeed_fetches_total", "class", "4xx"), 1},
		{"stories created", value(t, reg, "storyfeed_stories_created_total"), 2},
		{"joined similar", value(t, reg, "storyfeed_stories_joined_total", "level", "similar"), 1},
		{"items new", value(t, reg, "storyfeed_items_ingested_total", "kind", "new"), 3},
		{"source polls error", value(t, reg, "storyfeed_source_polls_total", "outcome", "error"), 1},
		{"cycles ok", value(t, reg, "storyfeed_poll_cycles_total", "result", "ok"), 1},
		{"bytes", value(t, reg, "storyfeed_fetched_bytes_total"), float64(len(oneItemFeed))},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

type both [2]aggregator.Observer

func (b both) Fetched(ev aggregator.FetchEvent)    { b[0].Fetched(ev); b[1].Fetched(ev) }
func (b both) Committed(ev aggregator.CommitEvent) { b[0].Committed(ev); b[1].Committed(ev) }
func (b both) CycleDone(c aggregator.Cycle, err error) {
	b[0].CycleDone(c, err)
	b[1].CycleDone(c, err)
}

// value is the value of the series name{labels} in reg.
func value(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == labels[i] && l.GetValue() == labels[i+1] }) {
					continue series
				}
			}
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}
