package aggregator_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/aggregator"
	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/storage"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

var _ aggregator.Store = (*storage.DB)(nil)

// clock is a settable time source for the service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2025, 12, 2, 12, 0, 0, 0, time.UTC)} }

// copyFiles copies files into dir.
func copyFiles(t *testing.T, dir string, files ...string) {
	t.Helper()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func seeds(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../seeds/*.txt")
	if err != nil || len(files) != 2 {
		t.Fatalf("want the two seed files in ../seeds, got %v (%v)", files, err)
	}
	return files
}

func newService(t *testing.T, db *storage.DB, clk *clock, sources ...config.Source) *aggregator.Service {
	t.Helper()
	cfg := config.Default()
	cfg.Sources = sources
	cfg.Poll.AllowPrivateNetworks = true // the test servers are on loopback
	svc, err := aggregator.New(cfg, aggregator.Deps{Store: db, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func allStories(t *testing.T, db *storage.DB) []storage.StoryView {
	t.Helper()
	svs, err := db.Stories(context.Background(), storage.StoryQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return svs
}

// storyOf maps each item's GUID to the set of GUIDs in its story.
func storyOf(svs []storage.StoryView) map[string][]string {
	m := map[string][]string{}
	for _, sv := range svs {
		var guids []string
		for _, it := range sv.Members {
			guids = append(guids, it.GUID)
		}
		slices.Sort(guids)
		for _, g := range guids {
			m[g] = guids
		}
	}
	return m
}

// The canonical example: the two seeds are one story, and nothing else
// joins it, neither unrelated news nor other Ukraine stories from other
// days.
func TestSeedsMergeAndOthersStayApart(t *testing.T) {
	dir := t.TempDir()
	copyFiles(t, dir, seeds(t)...)
	others, _ := filepath.Glob("testdata/articles/*.txt")
	if len(others) < 5 {
		t.Fatalf("want at least 5 articles in testdata/articles, got %d", len(others))
	}
	copyFiles(t, dir, others...)
	db := storagetest.OpenTemp(t)
	svc := newService(t, db, newClock(), config.Source{Name: "local", Path: dir})
	c, err := svc.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.ItemsNew != 2+len(others) || c.Errors != 0 {
		t.Fatalf("cycle %+v: want %d new items and no errors", c, 2+len(others))
	}
	svs := allStories(t, db)
	if len(svs) != 1+len(others) {
		t.Errorf("got %d stories, want %d (the seeds as one, every other article alone)", len(svs), 1+len(others))
	}
	by := storyOf(svs)
	seedStory := by["file:000_c9e8a6bff94d1ab9.txt"]
	if want := []string{"file:000_c9e8a6bff94d1ab9.txt", "file:001_c9e9b25df1c491d6.txt"}; !slices.Equal(seedStory, want) {
		t.Errorf("the seeds' story holds %v, want %v", seedStory, want)
	}
	for _, sv := range svs {
		if len(sv.Members) == 2 {
			outlets := []string{sv.Members[0].Outlet, sv.Members[1].Outlet}
			slices.Sort(outlets)
			if !slices.Equal(outlets, []string{"Aksah Italo", "CRBC News"}) {
				t.Errorf("seed story outlets = %v, want the byline and CRBC News", outlets)
			}
			joined := sv.Members[1].Match
			if joined.Level != "similar" || joined.Score < joined.Threshold || len(joined.Shared) == 0 {
				t.Errorf("seed join not explained: %+v", joined)
			}
		}
	}
}

// Each seed, alone with one hard negative, stays apart from it: the decision
// does not depend on the other seed being present.
func TestSeedAgainstEachNegative(t *testing.T) {
	others, _ := filepath.Glob("testdata/articles/*.txt")
	for _, seed := range seeds(t) {
		for _, other := range others {
			t.Run(filepath.Base(seed)+"+"+filepath.Base(other), func(t *testing.T) {
				dir := t.TempDir()
				copyFiles(t, dir, seed, other)
				db := storagetest.OpenTemp(t)
				svc := newService(t, db, newClock(), config.Source{Name: "local", Path: dir})
				if _, err := svc.PollOnce(context.Background()); err != nil {
					t.Fatal(err)
				}
				if svs := allStories(t, db); len(svs) != 2 {
					sv := svs[0]
					t.Errorf("%s and %s merged (score %.3f, shared %v)", seed, other,
						sv.Members[1].Match.Score, sv.Members[1].Match.Shared)
				}
			})
		}
	}
}

func TestRepollUnchangedWritesNothing(t *testing.T) {
	dir := t.TempDir()
	copyFiles(t, dir, seeds(t)...)
	db := storagetest.OpenTemp(t)
	clk := newClock()
	svc := newService(t, db, clk, config.Source{Name: "local", Path: dir})
	ctx := context.Background()
	if _, err := svc.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	before := allStories(t, db)
	gen := db.Generation()
	clk.Add(time.Hour)
	c, err := svc.PollOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.ItemsNew != 0 || c.ItemsUpdate != 0 || db.Generation() != gen {
		t.Errorf("re-poll of unchanged files: %+v, generation %d -> %d; want no item writes", c, gen, db.Generation())
	}
	after := allStories(t, db)
	if len(after) != 1 || after[0].ID != before[0].ID {
		t.Fatalf("story changed on re-poll: %v -> %v", before[0].ID, after[0].ID)
	}
	// The undated seed keeps the date it was first seen.
	for i, m := range after[0].Members {
		if !m.Date().Equal(before[0].Members[i].Date()) {
			t.Errorf("item %s date moved from %v to %v", m.ID, before[0].Members[i].Date(), m.Date())
		}
	}
}

func TestEditedFileUpdatesItsItem(t *testing.T) {
	dir := t.TempDir()
	copyFiles(t, dir, seeds(t)...)
	db := storagetest.OpenTemp(t)
	clk := newClock()
	svc := newService(t, db, clk, config.Source{Name: "local", Path: dir})
	ctx := context.Background()
	if _, err := svc.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	first := allStories(t, db)[0]
	story := first.ID
	oldHash := map[string]string{}
	for _, m := range first.Members {
		oldHash[m.ID] = m.Hash
	}
	path := filepath.Join(dir, "001_c9e9b25df1c491d6.txt")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), "killed four people", "killed five people", 1)
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	c, err := svc.PollOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.ItemsNew != 0 || c.ItemsUpdate != 1 {
		t.Fatalf("after an edit: %+v, want 1 updated item and no new one", c)
	}
	svs := allStories(t, db)
	if len(svs) != 1 || svs[0].ID != story || len(svs[0].Members) != 2 {
		t.Fatalf("after an edit: %d stories, want the same single story %s", len(svs), story)
	}
	if !svs[0].Updated.Equal(clk.Now()) {
		t.Errorf("story updated %v, want %v: readers must see the change", svs[0].Updated, clk.Now())
	}
	for _, m := range svs[0].Members {
		// Only the lead of the text is stored; the edit is further in, so
		// the item's content hash tells that the new text was read.
		if edited := m.GUID == "file:001_c9e9b25df1c491d6.txt"; edited == (m.Hash == oldHash[m.ID]) || edited != m.Updated.Equal(clk.Now()) {
			t.Errorf("item %s: hash %s, was %s, updated %v: want a new hash and time for the edited file only", m.GUID, m.Hash, oldHash[m.ID], m.Updated)
		}
	}
}

func TestBadFilesAreSkipped(t *testing.T) {
	dir := t.TempDir()
	copyFiles(t, dir, seeds(t)...)
	for name, data := range map[string]string{
		"empty.txt":  "",
		"binary.bin": "\x00\x01\x02\x03 not text \x00",
		"noise.txt":  strings.Repeat("\x01\x02\x03\x04\x05", 100),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "unreadable.txt"), []byte("Title\n\nText."), 0o000); err != nil {
		t.Fatal(err)
	}
	db := storagetest.OpenTemp(t)
	svc := newService(t, db, newClock(), config.Source{Name: "local", Path: dir})
	c, err := svc.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Root can read a 0000 file; either way the good files must be in.
	if c.ItemsNew < 2 || c.Errors != 0 {
		t.Errorf("cycle %+v: the two seeds must ingest despite the bad files", c)
	}
	if svs := allStories(t, db); len(svs) < 1 || len(svs[0].Members) != 2 {
		t.Errorf("seeds not merged next to bad files")
	}
}

const rss = `<?xml version="1.0"?>
<rss version="2.0"><channel><title>Wire</title><link>https://wire.example/</link>
<item><title>Fed holds rates steady</title><link>https://wire.example/a?utm_source=x</link><guid>a</guid>
<description>&lt;p&gt;The Federal Reserve left rates unchanged on Wednesday.&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;</description>
<pubDate>Mon, 01 Dec 2025 19:00:00 GMT</pubDate></item>
<item><title>Storm hits coast</title><link>https://wire.example/b</link><guid>b</guid>
<description>Hurricane Delia came ashore near Corpus Christi.</description>
<pubDate>Fri, 31 Dec 9999 23:59:59 GMT</pubDate></item>
</channel></rss>`

func TestFeedSourceConditionalGet(t *testing.T) {
	var mu sync.Mutex
	var hits, notModified int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		hits++
		if r.Header.Get("If-None-Match") == `"v1"` {
			notModified++
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write([]byte(rss))
	}))
	defer srv.Close()

	db := storagetest.OpenTemp(t)
	clk := newClock()
	svc := newService(t, db, clk, config.Source{Name: "Wire", URL: srv.URL + "/feed"})
	ctx := context.Background()
	c, err := svc.PollOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.ItemsNew != 2 || c.OK != 1 {
		t.Fatalf("first poll: %+v, want 2 new items", c)
	}
	gen := db.Generation()
	clk.Add(time.Hour)
	c, err = svc.PollOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.NotModified != 1 || c.ItemsNew != 0 || db.Generation() != gen || notModified != 1 {
		t.Errorf("second poll: %+v, %d 304s, generation %d -> %d; want one 304 and no writes", c, notModified, gen, db.Generation())
	}
	st, _, err := db.Source("Wire")
	if err != nil || st.ETag != `"v1"` || st.LastStatus != 304 {
		t.Errorf("source state %+v, %v", st, err)
	}
	for _, sv := range allStories(t, db) {
		it := sv.Members[0]
		if strings.Contains(it.Content, "<script") || strings.Contains(it.Text, "alert") {
			t.Errorf("item %q kept script: content %q text %q", it.Title, it.Content, it.Text)
		}
		if it.GUID == "a" {
			if it.CanonURL != "wire.example/a" || it.URL != "https://wire.example/a?utm_source=x" {
				t.Errorf("URL %q canonical %q", it.URL, it.CanonURL)
			}
			if want := time.Date(2025, 12, 1, 19, 0, 0, 0, time.UTC); !it.Published.Equal(want) {
				t.Errorf("published %v, want %v", it.Published, want)
			}
		}
		if it.GUID == "b" && !it.Published.Equal(newClock().Now()) {
			t.Errorf("a date in year 9999 was stored as %v, want it capped to the fetch time", it.Published)
		}
	}
}

func TestBrokenSourceDoesNotStopOthers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/good":
			w.Write([]byte(rss))
		case "/malformed":
			w.Write([]byte("<rss><channel><item><title>unclosed"))
		default:
			http.Error(w, "gone fishing", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	db := storagetest.OpenTemp(t)
	svc := newService(t, db, newClock(),
		config.Source{Name: "bad", URL: srv.URL + "/error"},
		config.Source{Name: "malformed", URL: srv.URL + "/malformed"},
		config.Source{Name: "good", URL: srv.URL + "/good"},
		config.Source{Name: "missing", Path: filepath.Join(t.TempDir(), "nope")},
	)
	c, err := svc.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Errors != 3 || c.ItemsNew != 2 {
		t.Errorf("cycle %+v: want 3 failed sources and the good one's 2 items", c)
	}
	for _, name := range []string{"bad", "malformed", "missing"} {
		st, ok, err := db.Source(name)
		if err != nil || !ok || st.ErrorStreak != 1 || st.LastError == "" {
			t.Errorf("source %s state %+v, %v: want an error recorded", name, st, err)
		}
	}
	st, _, _ := db.Source("bad")
	if !strings.Contains(st.LastError, srv.URL+"/error") || !strings.Contains(st.LastError, "500") {
		t.Errorf("error %q does not name the URL and status", st.LastError)
	}
}

func TestAllSourcesFailing(t *testing.T) {
	db := storagetest.OpenTemp(t)
	svc := newService(t, db, newClock(), config.Source{Name: "missing", Path: filepath.Join(t.TempDir(), "nope")})
	if _, err := svc.PollOnce(context.Background()); !errors.Is(err, aggregator.ErrNoSource) {
		t.Errorf("PollOnce = %v, want ErrNoSource", err)
	}
}

// A report that arrives in a later poll, or after a restart, still joins a
// story ingested earlier, even when that story's articles are dated long
// before today: the index keeps what was ingested within the window, and
// the window constrains matching by the articles' own dates.
func TestLaterPollJoinsOldDatedStory(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprintf("restart=%v", restart), func(t *testing.T) {
			dir := t.TempDir()
			s := seeds(t)
			copyFiles(t, dir, s[0]) // dated 2 December 2025
			db := storagetest.OpenTemp(t)
			clk := &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)} // a year later
			ctx := context.Background()
			svc := newService(t, db, clk, config.Source{Name: "local", Path: dir})
			if _, err := svc.PollOnce(ctx); err != nil {
				t.Fatal(err)
			}
			copyFiles(t, dir, s[1]) // undated
			clk.Add(time.Hour)
			if restart {
				svc = newService(t, db, clk, config.Source{Name: "local", Path: dir})
			}
			if _, err := svc.PollOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if svs := allStories(t, db); len(svs) != 1 {
				t.Errorf("the second seed, polled an hour after the first, started its own story: %d stories", len(svs))
			}
			// Once the window has passed since it was ingested, the old
			// story is out of reach.
			clk.Add(4 * 24 * time.Hour)
			other := filepath.Join(dir, "002_late.txt")
			b, err := os.ReadFile(s[1])
			if err != nil {
				t.Fatal(err)
			}
			// A rewrite, not a copy: exact copies join their story at any age.
			late := strings.Replace(string(b), "CRBC News", "Late Wire News", 1)
			late = strings.Replace(late, "killed four people", "killed at least four people", 1)
			if err := os.WriteFile(other, []byte(late), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.PollOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if svs := allStories(t, db); len(svs) != 2 {
				t.Errorf("a copy ingested after the window joined the old story: %d stories, want 2", len(svs))
			}
		})
	}
}

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"https://www.Example.com/a/b?utm_source=x&b=2&a=1#frag": "example.com/a/b?a=1&b=2",
		"http://example.com:80/":                                "example.com",
		"https://example.com:8443/x":                            "example.com:8443/x",
		"https://example.com/x?fbclid=1&gclid=2":                "example.com/x",
		"ftp://example.com/x":                                   "",
		"/relative":                                             "",
		"":                                                      "",
	} {
		if got := aggregator.Canonical(in); got != want {
			t.Errorf("Canonical(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"https://www.example.com/a?utm_x=1&b=2#f", "http://EXAMPLE.com:80/%41", "https://x/?a=%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := aggregator.Canonical(s)
		if c == "" {
			return
		}
		if again := aggregator.Canonical("https://" + c); again != c {
			t.Fatalf("Canonical is not idempotent: %q -> %q -> %q", s, c, again)
		}
	})
}
