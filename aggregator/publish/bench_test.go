package publish_test

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/aggregator/publish"
	"github.com/storyfeed/storyfeed/storage"
)

// fillStories stores n stories of realistic size, a third of them covered
// by three outlets, in batches, and returns the database.
func fillStories(tb testing.TB, n int) *storage.DB {
	tb.Helper()
	db, err := storage.Open(filepath.Join(tb.TempDir(), "bench.db"), storage.Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	const batch = 5000
	text := strings.Repeat("The envoy met officials in Moscow on Tuesday to discuss the plan. ", 12)
	for start := 0; start < n; start += batch {
		var items []storage.Item
		for i := start; i < min(n, start+batch); i++ {
			at := t0.Add(time.Duration(i) * time.Second)
			a := item(fmt.Sprintf("Outlet %d", i%40), "g"+strconv.Itoa(i), fmt.Sprintf("Story number %d: envoy heads to Moscow for talks", i),
				fmt.Sprintf("https://outlet%d.example/news/%d", i%40, i), at, "")
			a.Summary, a.Text, a.Category, a.Updated, a.FirstSeen = text[:200], text, []string{"world", "business", "tech"}[i%3], at, at
			items = append(items, a)
			if i%3 == 0 {
				for k := 1; k <= 2; k++ {
					m := item(fmt.Sprintf("Joiner %d", k), fmt.Sprintf("j%d-%d", k, i), fmt.Sprintf("Rewrite %d of story %d", k, i),
						fmt.Sprintf("https://joiner%d.example/%d", k, i), at.Add(time.Duration(k)*time.Minute), a.ID)
					m.Text, m.Updated, m.FirstSeen = text, at, at
					m.Match = storage.Match{Level: "similar", Score: 0.4, Threshold: 0.25, Shared: []string{"envoy", "moscow"}}
					items = append(items, m)
				}
			}
		}
		if err := db.Commit(context.Background(), storage.Batch{Items: items}); err != nil {
			tb.Fatal(err)
		}
	}
	return db
}

// load sends requests for url from conns connections at once, for b.N
// requests in all, and reports the latency percentiles.
func load(b *testing.B, url string, conns int, hdr http.Header, want int) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	fetch := func() (int, error) {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			return 0, err
		}
		maps.Copy(req.Header, hdr)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != want {
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return int(n), err
	}
	size, err := fetch() // warm the connection and the cache
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	var (
		mu  sync.Mutex
		lat []time.Duration
	)
	b.SetParallelism((conns + 1) / 2) // GOMAXPROCS is 2 here; more makes more goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			start := time.Now()
			if _, err := fetch(); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	if len(lat) > 0 {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}

// BenchmarkServeFeed compares serving the cached feed of 100 stories with
// Go's http.ServeFile of a file of the same bytes, both over a real
// loopback listener from 16 connections. The target: the feed within 0.5x
// of ServeFile's time per request, and p99 under 10 ms.
func BenchmarkServeFeed(b *testing.B) {
	db := fillStories(b, 300)
	h := publish.NewHandler(db, publish.Options{BaseURL: "http://feeds.example", Limit: 100})
	feed := httptest.NewServer(h)
	defer feed.Close()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/feed.xml", nil))
	file := filepath.Join(b.TempDir(), "feed.xml")
	if err := os.WriteFile(file, rec.Body.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	static := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, file) }))
	defer static.Close()
	gzip := http.Header{"Accept-Encoding": {"gzip"}}
	b.Run("feed", func(b *testing.B) { load(b, feed.URL+"/feed.xml", 16, nil, 200) })
	b.Run("servefile", func(b *testing.B) { load(b, static.URL+"/feed.xml", 16, nil, 200) })
	b.Run("feed-gzip", func(b *testing.B) { load(b, feed.URL+"/feed.xml", 16, gzip, 200) })
	b.Run("feed-304", func(b *testing.B) {
		load(b, feed.URL+"/feed.xml", 16, http.Header{"If-None-Match": {rec.Header().Get("ETag")}}, http.StatusNotModified)
	})
}

// generations makes every call look like a new database generation, so
// that each request renders.
type generations struct {
	*storage.DB
	n  uint64
	mu sync.Mutex
}

func (g *generations) Generation() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n++
	return g.n
}

// BenchmarkStoredStories shows that serving (cached) and rendering (on a
// database change) the feed of 100 stories cost the same whatever the
// number of stories stored. Sizes come from STORYFEED_BENCH_STORIES
// (default "1000"; the README's figures use "1000,500000", which takes
// minutes to build).
func BenchmarkStoredStories(b *testing.B) {
	sizes := os.Getenv("STORYFEED_BENCH_STORIES")
	if sizes == "" {
		sizes = "1000"
	}
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			b.Fatalf("STORYFEED_BENCH_STORIES=%q: %v", sizes, err)
		}
		db := fillStories(b, n)
		b.Run(fmt.Sprintf("stored=%d/cached", n), func(b *testing.B) {
			h := publish.NewHandler(db, publish.Options{BaseURL: "http://feeds.example", Limit: 100})
			req := httptest.NewRequest("GET", "/feed.xml", nil)
			h.ServeHTTP(httptest.NewRecorder(), req) // render once, outside the timing
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("GET /feed.xml = %d", rec.Code)
				}
			}
		})
		for _, path := range []string{"/feed.xml", "/feed.json?min_sources=2", "/categories/tech/feed.atom"} {
			b.Run(fmt.Sprintf("stored=%d/render%s", n, path), func(b *testing.B) {
				h := publish.NewHandler(&generations{DB: db}, publish.Options{BaseURL: "http://feeds.example", Limit: 100})
				req := httptest.NewRequest("GET", path, nil)
				b.ReportAllocs()
				for b.Loop() {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Fatalf("GET %s = %d", path, rec.Code)
					}
				}
			})
		}
	}
}
