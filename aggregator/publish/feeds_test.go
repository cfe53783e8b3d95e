package publish_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/storyfeed/storyfeed/aggregator/publish"
	"github.com/storyfeed/storyfeed/storage"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

// hostile is text with everything that must come out escaped or cleaned:
// markup, entities, quotes, emoji, right-to-left text and overrides, and
// control characters that XML forbids.
const hostile = "<b>Bold</b> & \"quoted\" 'single' ]]> 🎉 مرحبا שלום \u202eevil\u202c \x01\x07\x1b\x7f\u0085 end"

// hostileStories stores n stories whose fields carry hostile text; every
// third story is covered by a second outlet.
func hostileStories(t testing.TB, db *storage.DB, n int) {
	t.Helper()
	var items []storage.Item
	for i := range n {
		a := item(fmt.Sprintf("Outlet %d %s", i%7, hostile), fmt.Sprintf("g%d", i), fmt.Sprintf("Story %d %s", i, hostile),
			fmt.Sprintf("https://a.example/%d?x=1&y=<2>", i), t0.Add(time.Duration(i)*time.Minute), "")
		a.Summary = "Summary " + hostile
		a.Author = "Author " + hostile
		a.Category = []string{"world", "business", "Ünïcode & <cat>"}[i%3]
		a.Cites = []string{"Bloomberg " + hostile}
		a.Updated = t0.Add(time.Duration(i) * time.Minute)
		items = append(items, a)
		if i%3 == 0 {
			b := item("Second "+hostile, fmt.Sprintf("s%d", i), "Rewrite "+hostile, "javascript:alert(1)", a.Published.Add(time.Minute), a.ID)
			b.Updated = a.Updated
			b.Match = storage.Match{Level: "similar", Score: 0.5, Threshold: 0.25, Shared: []string{hostile}, Reason: hostile}
			items = append(items, b)
		}
	}
	if err := db.Commit(context.Background(), storage.Batch{Items: items}); err != nil {
		t.Fatal(err)
	}
}

// validateFeed is the shared validator, or "" when it is not there.
func validateFeed(t *testing.T) string {
	t.Helper()
	const tool = "../../../shared/tools/validate-feed"
	_, err := os.Stat(tool)
	_, perr := exec.LookPath("python3")
	if err != nil || perr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("validate-feed needs %s and python3: %v %v", tool, err, perr)
		}
		t.Skipf("validate-feed needs %s and python3: %v %v", tool, err, perr)
	}
	return tool
}

func TestFeedsPassTheValidator(t *testing.T) {
	tool := validateFeed(t)
	for _, tc := range []struct {
		name string
		fill func(t testing.TB, db *storage.DB)
	}{
		{"empty", func(testing.TB, *storage.DB) {}},
		{"one story", func(t testing.TB, db *storage.DB) {
			it := item("Wire", "w1", "Envoy heads to Moscow", "https://wire.example/envoy", t0, "")
			if err := db.Commit(context.Background(), storage.Batch{Items: []storage.Item{it}}); err != nil {
				t.Fatal(err)
			}
		}},
		{"500 hostile stories", func(t testing.TB, db *storage.DB) { hostileStories(t, db, 500) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := storagetest.OpenTemp(t)
			tc.fill(t, db)
			h := publish.NewHandler(db, publish.Options{BaseURL: "http://feeds.example", Title: "Test " + hostile,
				Sources: []publish.SourceInfo{{Name: "Wire", URL: "https://wire.example/rss", Category: "world"}}})
			dir := t.TempDir()
			var files []string
			for _, path := range []string{"/feed.xml?limit=500", "/feed.atom?limit=500", "/feed.json?limit=500",
				"/categories/world/feed.xml", "/categories/world/feed.atom", "/categories/world/feed.json",
				"/feed.xml?min_sources=2", "/feed.atom?min_sources=2", "/feed.json?min_sources=2"} {
				rec := get(t, h, path)
				if rec.Code != 200 {
					t.Fatalf("GET %s = %d", path, rec.Code)
				}
				f := filepath.Join(dir, fmt.Sprintf("%d%s", len(files), filepath.Ext(strings.Split(path, "?")[0])))
				if err := os.WriteFile(f, rec.Body.Bytes(), 0o600); err != nil {
					t.Fatal(err)
				}
				files = append(files, f)
				if tc.name == "500 hostile stories" && path == "/feed.json?limit=500" {
					var doc struct{ Items []any }
					if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || len(doc.Items) != 500 {
						t.Errorf("GET %s: %d items (%v), want 500", path, len(doc.Items), err)
					}
				}
			}
			out, err := exec.Command("python3", append([]string{tool, "--strict"}, files...)...).CombinedOutput()
			if err != nil {
				t.Errorf("validate-feed --strict: %v\n%s", err, out)
			}
		})
	}
}

func TestHostileTextComesOutEscaped(t *testing.T) {
	db := storagetest.OpenTemp(t)
	hostileStories(t, db, 3)
	h := publish.NewHandler(db, publish.Options{BaseURL: "http://feeds.example"})
	cleaned := "<b>Bold</b> & \"quoted\" 'single' ]]> 🎉 مرحبا שלום \u202eevil\u202c end"
	for _, path := range []string{"/feed.xml", "/feed.atom", "/feed.json"} {
		body := get(t, h, path).Body.String()
		f, err := gofeed.NewParser().ParseString(body)
		if err != nil {
			t.Fatalf("%s does not parse: %v", path, err)
		}
		want := "Story 0 " + cleaned
		var found bool
		for _, it := range f.Items {
			if it.Title == want {
				found = true
				if strings.Contains(it.Content, "<b>Bold</b>") || !strings.Contains(it.Content, "&lt;b&gt;Bold&lt;/b&gt;") {
					t.Errorf("%s: markup from a source is not escaped in the content:\n%s", path, it.Content)
				}
				if strings.Contains(it.Content, "javascript:") {
					t.Errorf("%s: a javascript: link survived:\n%s", path, it.Content)
				}
			}
		}
		if !found {
			t.Errorf("%s: no item titled %q; titles: %q", path, want, titles(f))
		}
	}
	for _, path := range []string{"/", "/stories/" + storage.ItemID("Outlet 0 "+hostile, "g0")} {
		body := get(t, h, path).Body.String()
		if strings.Contains(body, "<b>Bold") || strings.ContainsAny(body, "\x01\x07\x1b\x7f") || strings.Contains(body, "javascript:") {
			t.Errorf("GET %s: unescaped markup, control characters or a javascript: link", path)
		}
	}
}

func titles(f *gofeed.Feed) []string {
	var out []string
	for _, it := range f.Items {
		out = append(out, it.Title)
	}
	return out
}

// An outlet that joins a story leaves its GUID alone and moves its updated
// time forward, so readers refresh the entry instead of showing it twice.
func TestOutletJoiningKeepsGUIDAndMovesUpdated(t *testing.T) {
	db := storagetest.OpenTemp(t)
	a := item("Wire", "w1", "Envoy heads to Moscow", "https://wire.example/envoy", t0, "")
	if err := db.Commit(context.Background(), storage.Batch{Items: []storage.Item{a}}); err != nil {
		t.Fatal(err)
	}
	h := publish.NewHandler(db, publish.Options{BaseURL: "http://feeds.example"})
	before := parse(t, get(t, h, "/feed.atom").Body.String())
	b := item("CRBC News", "c1", "US says it can advance peace plan", "https://crbc.example/plan", t0.Add(time.Hour), a.ID)
	b.FirstSeen, b.Updated = t0.Add(2*time.Hour), t0.Add(2*time.Hour)
	if err := db.Commit(context.Background(), storage.Batch{Items: []storage.Item{b}}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/feed.atom", "/feed.json"} {
		after := parse(t, get(t, h, path).Body.String())
		if len(after.Items) != 1 || after.Items[0].GUID != before.Items[0].GUID {
			t.Fatalf("%s after a join: %d items, GUID %q; want 1 item with GUID %q", path, len(after.Items), after.Items[0].GUID, before.Items[0].GUID)
		}
		if got := after.Items[0].UpdatedParsed; got == nil || !got.After(*before.Items[0].UpdatedParsed) {
			t.Errorf("%s: updated %v after the join, was %v; want later", path, got, before.Items[0].UpdatedParsed)
		}
		if !strings.Contains(after.Items[0].Content, "Also reported by") || !strings.Contains(after.Items[0].Content, b.Title) {
			t.Errorf("%s: content does not list the joining outlet:\n%s", path, after.Items[0].Content)
		}
	}
}

func parse(t *testing.T, s string) *gofeed.Feed {
	t.Helper()
	f, err := gofeed.NewParser().ParseString(s)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, s)
	}
	return f
}

func TestQueryParameters(t *testing.T) {
	db := storagetest.OpenTemp(t)
	var items []storage.Item
	for i := range 60 {
		it := item(fmt.Sprintf("O%d", i), "g", fmt.Sprintf("Story %d", i), "", t0.Add(time.Duration(i)*time.Minute), "")
		it.Category = []string{"world", "business"}[i%2]
		if i == 59 {
			it.Category = "news/local & more" // a category from OPML folders
		}
		it.Updated = t0.Add(time.Duration(i) * time.Minute)
		items = append(items, it)
		if i%10 == 0 {
			j := item("Joiner", fmt.Sprintf("j%d", i), fmt.Sprintf("Joined %d", i), "", it.Published, it.ID)
			j.Updated = it.Updated
			items = append(items, j)
		}
	}
	if err := db.Commit(context.Background(), storage.Batch{Items: items}); err != nil {
		t.Fatal(err)
	}
	h := publish.NewHandler(db, publish.Options{BaseURL: "http://feeds.example"})
	for _, tc := range []struct {
		path  string
		want  int
		check func(*gofeed.Item) bool
	}{
		{"/feed.json", 50, nil},
		{"/feed.json?limit=5", 5, nil},
		{"/feed.json?limit=100000", 60, nil},
		{"/feed.json?min_sources=2", 6, func(it *gofeed.Item) bool { return strings.Contains(it.Content, "Joiner") }},
		{"/feed.json?min_sources=3", 0, nil},
		{"/feed.json?category=world&limit=500", 30, func(it *gofeed.Item) bool { return hasCategory(it, "world") }},
		{"/categories/news%2Flocal%20&%20more/feed.json", 1, func(it *gofeed.Item) bool { return hasCategory(it, "news/local & more") }},
		{"/feed.json?category=news%2Flocal+%26+more", 1, func(it *gofeed.Item) bool { return hasCategory(it, "news/local & more") }},
		{"/categories/business/feed.json?limit=500", 29, func(it *gofeed.Item) bool { return hasCategory(it, "business") }},
		{"/categories/business/feed.atom?limit=3", 3, func(it *gofeed.Item) bool { return hasCategory(it, "business") }},
		{"/categories/world/feed.xml?min_sources=2", 6, func(it *gofeed.Item) bool { return hasCategory(it, "world") }},
		{"/categories/nowhere/feed.xml", 0, nil},
	} {
		rec := get(t, h, tc.path)
		if rec.Code != 200 {
			t.Errorf("GET %s = %d", tc.path, rec.Code)
			continue
		}
		f := parse(t, rec.Body.String())
		if len(f.Items) != tc.want {
			t.Errorf("GET %s: %d items, want %d", tc.path, len(f.Items), tc.want)
		}
		for _, it := range f.Items {
			if tc.check != nil && !tc.check(it) {
				t.Errorf("GET %s: item %q (categories %q) should not be there", tc.path, it.Title, it.Categories)
			}
		}
	}
	for _, path := range []string{"/feed.xml?limit=0", "/feed.xml?limit=x", "/feed.json?min_sources=0", "/feed.atom?min_sources=-1",
		"/feed.xml?category=" + strings.Repeat("x", 300)} {
		if rec := get(t, h, path); rec.Code != http.StatusBadRequest {
			t.Errorf("GET %s = %d, want 400", path, rec.Code)
		}
	}
}

func hasCategory(it *gofeed.Item, c string) bool {
	for _, x := range it.Categories {
		if x == c {
			return true
		}
	}
	return false
}

func TestFeedMetadata(t *testing.T) {
	db := storagetest.OpenTemp(t)
	a := item("Wire", "w1", "Envoy heads to Moscow", "https://wire.example/envoy", t0, "")
	a.Category, a.Author = "world", "Jane Doe"
	b := item("CRBC News", "c1", "US says", "https://crbc.example/plan", t0.Add(time.Hour), a.ID)
	b.Category = "politics"
	if err := db.Commit(context.Background(), storage.Batch{Items: []storage.Item{a, b}}); err != nil {
		t.Fatal(err)
	}
	h := publish.NewHandler(db, publish.Options{BaseURL: "http://feeds.example", MaxAge: 15 * time.Minute})
	rss := get(t, h, "/feed.xml").Body.String()
	for _, want := range []string{
		`<atom:link href="http://feeds.example/feed.xml" rel="self" type="application/rss+xml">`,
		`<dc:creator>Jane Doe</dc:creator>`, `<category>politics</category>`, `<category>world</category>`,
		`<guid isPermaLink="false">urn:storyfeed:story:` + a.ID + `</guid>`, `<ttl>15</ttl>`,
	} {
		if !strings.Contains(rss, want) {
			t.Errorf("RSS lacks %s:\n%s", want, rss)
		}
	}
	if strings.Contains(rss, "<author>") {
		t.Errorf("RSS has an <author>, which must be an e-mail address:\n%s", rss)
	}
	atom := get(t, h, "/feed.atom").Body.String()
	for _, want := range []string{`<link href="http://feeds.example/feed.atom" rel="self" type="application/atom+xml">`,
		`<category term="politics"></category>`, `<name>Jane Doe</name>`, `<id>urn:storyfeed:feed</id>`} {
		if !strings.Contains(atom, want) {
			t.Errorf("Atom lacks %s:\n%s", want, atom)
		}
	}
	var jf struct {
		FeedURL string `json:"feed_url"`
		Items   []struct {
			Tags    []string `json:"tags"`
			Authors []struct{ Name string }
		} `json:"items"`
	}
	if err := json.Unmarshal(get(t, h, "/categories/world/feed.json").Body.Bytes(), &jf); err != nil {
		t.Fatal(err)
	}
	if jf.FeedURL != "http://feeds.example/categories/world/feed.json" || len(jf.Items) != 1 ||
		strings.Join(jf.Items[0].Tags, ",") != "politics,world" || jf.Items[0].Authors[0].Name != "Jane Doe" {
		t.Errorf("JSON Feed of category world = %+v", jf)
	}
}

func TestRepresentativePolicyAndAttribution(t *testing.T) {
	db := storagetest.OpenTemp(t)
	a := item("seeds", "a", "Envoy to meet Putin, Bloomberg says", "https://italo.example/a", t0, "")
	a.Outlet, a.Cites = "Italo", []string{"Bloomberg"}
	b := item("Bloomberg", "b", "Witkoff travels to Moscow", "https://bloomberg.example/b", t0.Add(time.Hour), a.ID)
	c := item("CRBC News", "c", "US can advance peace plan", "https://crbc.example/c", t0.Add(2*time.Hour), a.ID)
	c.Text = strings.Repeat("long text ", 100)
	if err := db.Commit(context.Background(), storage.Batch{Items: []storage.Item{a, b, c}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		policy storage.Policy
		want   storage.Item
	}{
		{storage.Policy{}, b}, // the earliest cites Bloomberg, which is here: the original wins
		{storage.Policy{Rule: storage.RuleLongest}, c},
		{storage.Policy{Rule: storage.RulePreferred, Preferred: []string{"crbc news"}}, c},
		{storage.Policy{Rule: storage.RulePreferred, Preferred: []string{"nobody"}}, b},
	} {
		h := publish.NewHandler(db, publish.Options{BaseURL: "http://feeds.example", Policy: tc.policy})
		f := parse(t, get(t, h, "/feed.json").Body.String())
		if len(f.Items) != 1 || f.Items[0].Title != tc.want.Title || f.Items[0].Link != tc.want.URL {
			t.Errorf("policy %+v: item %q %q, want %q %q", tc.policy, f.Items[0].Title, f.Items[0].Link, tc.want.Title, tc.want.URL)
		}
		if want := `Original reporting credited to <a href="https://bloomberg.example/b">Bloomberg</a> (by Italo)`; !strings.Contains(f.Items[0].Content, want) {
			t.Errorf("policy %+v: content lacks the attribution %q:\n%s", tc.policy, want, f.Items[0].Content)
		}
	}
	h := publish.NewHandler(db, publish.Options{BaseURL: "http://feeds.example"})
	page := get(t, h, "/stories/"+a.ID).Body.String()
	if !strings.Contains(page, "Original reporting credited to") || !strings.Contains(page, "credits <bdi>Bloomberg</bdi>") {
		t.Errorf("story page lacks the attribution:\n%s", page)
	}
}

func TestSourcesOPML(t *testing.T) {
	db := storagetest.OpenTemp(t)
	h := publish.NewHandler(db, publish.Options{Title: "My feed", Sources: []publish.SourceInfo{
		{Name: "Wire", URL: "https://wire.example/rss", Category: "news/world", Site: "https://wire.example/"},
		{Name: "Local", Title: "Local articles"},
		{Name: "Tech", URL: "https://tech.example/atom", Category: "news"},
		{Name: "Bad", URL: "javascript:alert(1)"},
	}})
	rec := get(t, h, "/sources.opml")
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/x-opml") {
		t.Fatalf("GET /sources.opml = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	type outline struct {
		Text     string    `xml:"text,attr"`
		XMLURL   string    `xml:"xmlUrl,attr"`
		HTMLURL  string    `xml:"htmlUrl,attr"`
		Type     string    `xml:"type,attr"`
		Children []outline `xml:"outline"`
	}
	var doc struct {
		Version string    `xml:"version,attr"`
		Title   string    `xml:"head>title"`
		Body    []outline `xml:"body>outline"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("OPML does not parse: %v\n%s", err, rec.Body)
	}
	got, _ := json.Marshal(doc)
	want := `{"Version":"2.0","Title":"My feed sources","Body":[` +
		`{"Text":"news","XMLURL":"","HTMLURL":"","Type":"","Children":[` +
		`{"Text":"world","XMLURL":"","HTMLURL":"","Type":"","Children":[{"Text":"Wire","XMLURL":"https://wire.example/rss","HTMLURL":"https://wire.example/","Type":"rss","Children":null}]},` +
		`{"Text":"Tech","XMLURL":"https://tech.example/atom","HTMLURL":"","Type":"rss","Children":null}]},` +
		`{"Text":"Local articles","XMLURL":"","HTMLURL":"","Type":"","Children":null},` +
		`{"Text":"Bad","XMLURL":"","HTMLURL":"","Type":"","Children":null}]}`
	if string(got) != want {
		t.Errorf("OPML =\n%s\nwant\n%s", got, want)
	}
}
