package publish_test

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/storyfeed/storyfeed/aggregator/publish"
	"github.com/storyfeed/storyfeed/storage"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

var _ publish.Source = (*storage.DB)(nil)

var t0 = time.Date(2025, 12, 2, 10, 0, 0, 0, time.UTC)

func item(outlet, guid, title, url string, pub time.Time, story string) storage.Item {
	id := storage.ItemID(outlet, guid)
	if story == "" {
		story = id
	}
	return storage.Item{ID: id, Feed: outlet, GUID: guid, Outlet: outlet, Title: title, URL: url,
		Text: "Some text about " + title + ".", Published: pub, FirstSeen: t0, Updated: t0, Story: story,
		Hash: guid, Match: storage.Match{Level: "new"}}
}

// fixture stores two stories: one covered by two outlets, one by a single
// outlet with hostile text and no link.
func fixture(t *testing.T) (*storage.DB, http.Handler, []storage.Item) {
	t.Helper()
	db := storagetest.OpenTemp(t)
	a := item("Wire", "w1", "Envoy heads to Moscow", "https://wire.example/envoy", t0.Add(-time.Hour), "")
	b := item("CRBC News", "c1", "US says it can advance peace plan", "https://crbc.example/plan", t0, a.ID)
	b.Match = storage.Match{Level: "similar", Score: 0.51, Threshold: 0.4, Shared: []string{"envoy", "moscow"}}
	c := item("Evil <Outlet>", "e1", `<script>alert("x")</script> & "quotes" \u202eRTL 🎉`+"\x01", "", t0, "")
	if err := db.Commit(context.Background(), storage.Batch{Items: []storage.Item{a, b, c}}); err != nil {
		t.Fatal(err)
	}
	h := publish.NewHandler(db, publish.Options{Title: "Test feed", BaseURL: "http://feeds.example"})
	return db, h, []storage.Item{a, b, c}
}

func get(t *testing.T, h http.Handler, path string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestFeedsOneItemPerStory(t *testing.T) {
	_, h, items := fixture(t)
	for _, tc := range []struct{ path, ctype string }{
		{"/feed.xml", "application/rss+xml"},
		{"/feed.atom", "application/atom+xml"},
		{"/feed.json", "application/feed+json"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			rec := get(t, h, tc.path)
			if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), tc.ctype) {
				t.Fatalf("GET %s = %d %q", tc.path, rec.Code, rec.Header().Get("Content-Type"))
			}
			f, err := gofeed.NewParser().ParseString(rec.Body.String())
			if err != nil {
				t.Fatalf("our own %s does not parse: %v\n%s", tc.path, err, rec.Body)
			}
			if len(f.Items) != 2 {
				t.Fatalf("%s has %d items, want 2 (one per story)", tc.path, len(f.Items))
			}
			var merged *gofeed.Item
			for _, it := range f.Items {
				if it.Title == items[0].Title {
					merged = it
				}
			}
			if merged == nil {
				t.Fatalf("%s: no item titled %q", tc.path, items[0].Title)
			}
			if merged.Link != items[0].URL {
				t.Errorf("%s: link %q, want the representative's %q", tc.path, merged.Link, items[0].URL)
			}
			if want := "urn:storyfeed:story:" + items[0].ID; merged.GUID != want {
				t.Errorf("%s: guid %q, want %q", tc.path, merged.GUID, want)
			}
			for _, want := range []string{"Wire", "CRBC News", items[1].Title, items[1].URL} {
				if !strings.Contains(merged.Content, want) {
					t.Errorf("%s: content does not list %q:\n%s", tc.path, want, merged.Content)
				}
			}
			if strings.Contains(rec.Body.String(), "<script>alert") {
				t.Errorf("%s: unescaped script from an item title", tc.path)
			}
		})
	}
}

func TestStoryWithoutLinkPointsAtItsPage(t *testing.T) {
	_, h, items := fixture(t)
	f, err := gofeed.NewParser().ParseString(get(t, h, "/feed.json").Body.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range f.Items {
		if strings.Contains(it.Title, "quotes") && it.Link != "http://feeds.example/stories/"+items[2].ID {
			t.Errorf("link %q, want the story page", it.Link)
		}
	}
}

func TestConditionalAndGzip(t *testing.T) {
	db, h, _ := fixture(t)
	first := get(t, h, "/feed.xml")
	etag := first.Header().Get("ETag")
	if etag == "" || first.Header().Get("Last-Modified") == "" {
		t.Fatalf("no validators: %v", first.Header())
	}
	if rec := get(t, h, "/feed.xml", "If-None-Match", etag); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("If-None-Match with the current ETag = %d (%d bytes), want 304", rec.Code, rec.Body.Len())
	}
	if rec := get(t, h, "/feed.xml", "If-Modified-Since", first.Header().Get("Last-Modified")); rec.Code != http.StatusNotModified {
		t.Errorf("If-Modified-Since = %d, want 304", rec.Code)
	}
	gz := get(t, h, "/feed.xml", "Accept-Encoding", "gzip")
	if gz.Header().Get("Content-Encoding") != "gzip" || gz.Header().Get("Vary") != "Accept-Encoding" {
		t.Fatalf("gzip not served: %v", gz.Header())
	}
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || string(plain) != first.Body.String() {
		t.Errorf("gzipped body differs from the plain one (%v)", err)
	}
	if gz.Header().Get("ETag") == etag {
		t.Error("gzip and identity responses share one strong ETag")
	}
	// Holding the identity bytes while now accepting gzip: still current.
	if rec := get(t, h, "/feed.xml", "Accept-Encoding", "gzip", "If-None-Match", etag); rec.Code != http.StatusNotModified || rec.Header().Get("ETag") != etag {
		t.Errorf("gzip request with the identity ETag = %d, ETag %q; want 304 confirming %q", rec.Code, rec.Header().Get("ETag"), etag)
	}
	if rec := get(t, h, "/feed.xml", "If-None-Match", gz.Header().Get("ETag")); rec.Code != http.StatusNotModified {
		t.Errorf("identity request with the gzip ETag = %d, want 304", rec.Code)
	}
	if rec := get(t, h, "/feed.xml", "If-None-Match", `"other"`); rec.Code != 200 || rec.Body.String() != first.Body.String() {
		t.Errorf("request with a stale ETag = %d, want 200 and the feed", rec.Code)
	}
	// A new story changes the feed and its ETag.
	extra := item("Other", "o1", "Storm hits coast", "https://other.example/storm", t0, "")
	extra.Updated = t0.Add(time.Hour)
	extra.FirstSeen = extra.Updated
	if err := db.Commit(context.Background(), storage.Batch{Items: []storage.Item{extra}}); err != nil {
		t.Fatal(err)
	}
	rec := get(t, h, "/feed.xml", "If-None-Match", etag)
	if rec.Code != 200 || rec.Header().Get("ETag") == etag || !strings.Contains(rec.Body.String(), "Storm hits coast") {
		t.Errorf("after a commit: %d, ETag %q (was %q); want the new feed", rec.Code, rec.Header().Get("ETag"), etag)
	}
}

func TestHTMLPages(t *testing.T) {
	_, h, items := fixture(t)
	index := get(t, h, "/")
	if index.Code != 200 || !strings.HasPrefix(index.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %q", index.Code, index.Header().Get("Content-Type"))
	}
	body := index.Body.String()
	for _, want := range []string{items[0].Title, "CRBC News", `rel="alternate" type="application/rss+xml"`, "&lt;script&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("index page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("index page contains a script element")
	}
	if index.Header().Get("Content-Security-Policy") == "" {
		t.Error("HTML without Content-Security-Policy")
	}
	story := get(t, h, "/stories/"+items[0].ID)
	if story.Code != 200 {
		t.Fatalf("story page = %d", story.Code)
	}
	for _, want := range []string{items[0].Title, items[1].Title, "similar, score 0.510", "envoy, moscow"} {
		if !strings.Contains(story.Body.String(), want) {
			t.Errorf("story page lacks %q", want)
		}
	}
	for _, path := range []string{"/stories/0000000000000000", "/stories/not-an-id", "/nope"} {
		if rec := get(t, h, path); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, rec.Code)
		}
	}
	if rec := get(t, h, "/healthz"); rec.Code != 200 {
		t.Errorf("GET /healthz = %d", rec.Code)
	}
}

func TestEmptyDatabase(t *testing.T) {
	db := storagetest.OpenTemp(t)
	h := publish.NewHandler(db, publish.Options{BaseURL: "http://x.example"})
	for _, path := range []string{"/feed.xml", "/feed.atom", "/feed.json", "/"} {
		rec := get(t, h, path)
		if rec.Code != 200 {
			t.Errorf("GET %s on an empty database = %d", path, rec.Code)
		}
		if path != "/" {
			if _, err := gofeed.NewParser().ParseString(rec.Body.String()); err != nil {
				t.Errorf("empty %s does not parse: %v", path, err)
			}
		}
	}
}

func TestLimit(t *testing.T) {
	_, h, _ := fixture(t)
	f, err := gofeed.NewParser().ParseString(get(t, h, "/feed.json?limit=1").Body.String())
	if err != nil || len(f.Items) != 1 {
		t.Errorf("?limit=1 gave %d items (%v), want 1", len(f.Items), err)
	}
}
