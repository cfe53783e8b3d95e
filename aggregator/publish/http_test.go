package publish_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/aggregator/publish"
	"github.com/storyfeed/storyfeed/storage"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

func TestToken(t *testing.T) {
	db := storagetest.OpenTemp(t)
	a := item("Wire", "w1", "Envoy heads to Moscow", "", t0, "")
	if err := db.Commit(context.Background(), storage.Batch{Items: []storage.Item{a}}); err != nil {
		t.Fatal(err)
	}
	h := publish.NewHandler(db, publish.Options{BaseURL: "http://feeds.example", Token: "s3cr&t"})
	for _, tc := range []struct {
		path string
		hdr  []string
		want int
	}{
		{"/feed.xml", nil, 401},
		{"/feed.xml?token=wrong", nil, 401},
		{"/feed.xml?token=s3cr", nil, 401},
		{"/feed.xml?token=s3cr%26t", nil, 200},
		{"/feed.json", []string{"Authorization", "Bearer s3cr&t"}, 200},
		{"/feed.json", []string{"Authorization", "Bearer nope"}, 401},
		{"/feed.json", []string{"Authorization", "Basic czNjciZ0"}, 401},
		{"/", nil, 401},
		{"/stories/" + a.ID, nil, 401},
		{"/sources.opml", nil, 401},
		{"/healthz", nil, 200},
		{"/static/style.css", nil, 200},
	} {
		rec := get(t, h, tc.path, tc.hdr...)
		if rec.Code != tc.want {
			t.Errorf("GET %s %q = %d, want %d", tc.path, tc.hdr, rec.Code, tc.want)
		}
		if rec.Code == 401 && (rec.Header().Get("WWW-Authenticate") == "" || rec.Header().Get("Cache-Control") != "no-store") {
			t.Errorf("GET %s: 401 without WWW-Authenticate or with caching: %v", tc.path, rec.Header())
		}
	}
	// Links inside a private feed carry the token, so readers can follow them.
	body := get(t, h, "/feed.json?token=s3cr%26t").Body.String()
	if !strings.Contains(body, `/stories/`+a.ID+`?token=s3cr%26t`) || !strings.Contains(body, `"feed_url": "http://feeds.example/feed.json?token=s3cr%26t"`) {
		t.Errorf("private feed links lack the token:\n%s", body)
	}
	if cc := get(t, h, "/feed.json?token=s3cr%26t").Header().Get("Cache-Control"); !strings.HasPrefix(cc, "private") {
		t.Errorf("private feed Cache-Control = %q, want private", cc)
	}
}

func TestHTTPHeaders(t *testing.T) {
	db, _, items := fixture(t)
	h := publish.NewHandler(db, publish.Options{BaseURL: "http://feeds.example", MaxAge: 15 * time.Minute})
	for _, tc := range []struct{ path, ctype string }{
		{"/feed.xml", "application/rss+xml; charset=utf-8"},
		{"/feed.atom", "application/atom+xml; charset=utf-8"},
		{"/feed.json", "application/feed+json; charset=utf-8"},
		{"/categories/world/feed.xml", "application/rss+xml; charset=utf-8"},
		{"/", "text/html; charset=utf-8"},
		{"/stories/" + items[0].ID, "text/html; charset=utf-8"},
		{"/sources.opml", "text/x-opml; charset=utf-8"},
	} {
		rec := get(t, h, tc.path, "Accept-Encoding", "gzip")
		hd := rec.Header()
		if rec.Code != 200 || hd.Get("Content-Type") != tc.ctype {
			t.Errorf("GET %s = %d %q, want 200 %q", tc.path, rec.Code, hd.Get("Content-Type"), tc.ctype)
		}
		for k, want := range map[string]string{"Cache-Control": "public, max-age=900", "Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff"} {
			if hd.Get(k) != want {
				t.Errorf("GET %s: %s = %q, want %q", tc.path, k, hd.Get(k), want)
			}
		}
		if hd.Get("ETag") == "" || hd.Get("Last-Modified") == "" || hd.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: missing ETag, Last-Modified or CSP: %v", tc.path, hd)
		}
		if strings.HasPrefix(tc.ctype, "text/html") && !strings.Contains(hd.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("GET %s: CSP %q", tc.path, hd.Get("Content-Security-Policy"))
		}
		// The gzipped representation has its own validator, which revalidates.
		if rec2 := get(t, h, tc.path, "Accept-Encoding", "gzip", "If-None-Match", hd.Get("ETag")); rec2.Code != http.StatusNotModified {
			t.Errorf("GET %s If-None-Match %s = %d, want 304", tc.path, hd.Get("ETag"), rec2.Code)
		}
		req := httptest.NewRequest("HEAD", tc.path, nil)
		head := httptest.NewRecorder()
		h.ServeHTTP(head, req)
		if head.Code != 200 || head.Body.Len() != 0 || head.Header().Get("ETag") == "" {
			t.Errorf("HEAD %s = %d with %d body bytes, ETag %q", tc.path, head.Code, head.Body.Len(), head.Header().Get("ETag"))
		}
	}
	req := httptest.NewRequest("POST", "/feed.xml", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /feed.xml = %d, want 405", rec.Code)
	}
}

// countingSource counts renders and can hold them, to test the cache.
type countingSource struct {
	publish.Source
	gen     atomic.Uint64
	stories atomic.Int64
	hold    chan struct{}
	svs     []storage.StoryView
}

func (s *countingSource) Generation() uint64 { return s.gen.Load() }

func (s *countingSource) Stories(ctx context.Context, q storage.StoryQuery) ([]storage.StoryView, error) {
	s.stories.Add(1)
	if s.hold != nil {
		<-s.hold
	}
	return s.svs, nil
}

func storyOf(id, title string, updated time.Time) storage.StoryView {
	it := storage.Item{ID: id, Outlet: "Wire", Title: title, Published: updated, FirstSeen: updated, Updated: updated, Story: id}
	return storage.StoryView{Story: storage.Story{ID: id, Items: []string{id}, FirstSeen: updated, Updated: updated}, Members: []storage.Item{it}}
}

func TestRenderedOncePerGeneration(t *testing.T) {
	src := &countingSource{hold: make(chan struct{}), svs: []storage.StoryView{storyOf("0000000000000001", "One", t0)}}
	h := publish.NewHandler(src, publish.Options{BaseURL: "http://x.example"})
	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Go(func() {
			// Spellings of one query share one cache entry.
			path := []string{"/feed.xml", "/feed.xml?limit=50", "/feed.xml?utm_source=x&limit=50"}[i%3]
			codes[i] = get(t, h, path).Code
		})
	}
	for src.stories.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others queue behind the render
	close(src.hold)
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("request %d = %d", i, c)
		}
	}
	if n := src.stories.Load(); n != 1 {
		t.Errorf("20 concurrent requests for one feed read the stories %d times, want 1", n)
	}
	get(t, h, "/feed.xml")
	if n := src.stories.Load(); n != 1 {
		t.Errorf("a cached feed was rendered again (%d reads)", n)
	}
	src.gen.Add(1)
	get(t, h, "/feed.xml")
	if n := src.stories.Load(); n != 2 {
		t.Errorf("after a database change: %d reads, want 2", n)
	}
}

// Last-Modified must move forward whenever the body changes, even when no
// story got newer (an item left a story), or If-Modified-Since would get a
// wrong 304.
func TestLastModifiedMovesForwardWithContent(t *testing.T) {
	src := &countingSource{svs: []storage.StoryView{storyOf("0000000000000001", "One", t0), storyOf("0000000000000002", "Two", t0.Add(-time.Hour))}}
	now := t0.Add(24 * time.Hour)
	h := publish.NewHandler(src, publish.Options{BaseURL: "http://x.example", Now: func() time.Time { return now }})
	first := get(t, h, "/feed.xml")
	lm := first.Header().Get("Last-Modified")
	if lm != t0.Format(http.TimeFormat) {
		t.Fatalf("Last-Modified = %q, want the newest story's %q", lm, t0.Format(http.TimeFormat))
	}
	src.svs = src.svs[:1]
	src.gen.Add(1)
	second := get(t, h, "/feed.xml", "If-Modified-Since", lm)
	if second.Code != 200 {
		t.Fatalf("changed feed with If-Modified-Since = %d, want 200", second.Code)
	}
	if got := second.Header().Get("Last-Modified"); got != now.Format(http.TimeFormat) {
		t.Errorf("Last-Modified of the changed feed = %q, want %q", got, now.Format(http.TimeFormat))
	}
	// A generation that changes nothing in this feed keeps its validators.
	src.gen.Add(1)
	third := get(t, h, "/feed.xml", "If-None-Match", second.Header().Get("ETag"))
	if third.Code != http.StatusNotModified {
		t.Errorf("unchanged feed in a new generation = %d, want 304", third.Code)
	}
}

// With Refresh, a burst of commits renders a feed at most once per interval.
func TestRefreshInterval(t *testing.T) {
	src := &countingSource{svs: []storage.StoryView{storyOf("0000000000000001", "One", t0)}}
	now := t0
	h := publish.NewHandler(src, publish.Options{BaseURL: "http://x.example", Refresh: time.Second, Now: func() time.Time { return now }})
	first := get(t, h, "/feed.xml").Header().Get("ETag")
	src.svs = append(src.svs, storyOf("0000000000000002", "Two", t0.Add(time.Minute)))
	for i := range 10 {
		src.gen.Add(1)
		now = now.Add(50 * time.Millisecond)
		if got := get(t, h, "/feed.xml").Header().Get("ETag"); got != first {
			t.Fatalf("commit %d, %v after the render: ETag %q, want the cached %q", i, now.Sub(t0), got, first)
		}
	}
	now = now.Add(time.Second)
	if got := get(t, h, "/feed.xml").Header().Get("ETag"); got == first {
		t.Errorf("a second after the burst: still the old feed")
	}
	if n := src.stories.Load(); n != 2 {
		t.Errorf("%d renders for a burst of 10 commits, want 2", n)
	}
}
