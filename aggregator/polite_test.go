package aggregator_test

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/aggregator"
	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/aggregator/fetch"
	"github.com/storyfeed/storyfeed/storage"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

// farm is a loopback feed server that counts the requests to each path and
// answers them with the handler registered for the path, or an RSS feed.
type farm struct {
	*httptest.Server
	mu     sync.Mutex
	hits   map[string]int
	routes map[string]http.HandlerFunc
}

func newFarm(t *testing.T) *farm { return listenFarm(t, "127.0.0.1") }

// listenFarm is a farm on the loopback address ip: 127.0.0.2 is another
// host than 127.0.0.1. It skips the test when ip is not available.
func listenFarm(t *testing.T, ip string) *farm {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	f := &farm{hits: map[string]int{}, routes: map[string]http.HandlerFunc{}}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.hits[r.URL.Path]++
		h := f.routes[r.URL.Path]
		f.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprint(w, feedFor(r.URL.Path))
	}))
	f.Listener.Close()
	f.Listener = ln
	f.Start()
	t.Cleanup(f.Close)
	return f
}

// feedFor is a one-item RSS feed particular to path.
func feedFor(path string) string {
	return fmt.Sprintf(`<?xml version="1.0"?><rss version="2.0"><channel><title>%[1]s</title><link>https://example.org%[1]s</link>
<item><title>Report from %[1]s on the harbour bridge</title><link>https://example.org%[1]s/1</link><guid>%[1]s-1</guid>
<description>The harbour bridge in %[1]s reopened after repairs, the council said.</description></item></channel></rss>`, path)
}

func (f *farm) route(path string, h http.HandlerFunc) {
	f.mu.Lock()
	f.routes[path] = h
	f.mu.Unlock()
}

func (f *farm) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[path]
}

func (f *farm) src(name, path string) config.Source {
	return config.Source{Name: name, URL: f.URL + path}
}

// logBuffer collects a service's logs.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

type politeOpts struct {
	workers  int
	schedule string
	private  bool // allow_private_networks
	fetcher  *fetch.Client
}

func politeService(t *testing.T, db *storage.DB, clk *clock, logs *logBuffer, o politeOpts, sources ...config.Source) *aggregator.Service {
	t.Helper()
	cfg := config.Default()
	cfg.Sources = sources
	cfg.Poll.AllowPrivateNetworks = o.private
	if o.workers > 0 {
		cfg.Poll.Workers = o.workers
	}
	if o.schedule != "" {
		cfg.Poll.Schedule = o.schedule
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	deps := aggregator.Deps{Store: db, Now: clk.Now, Fetch: o.fetcher}
	if logs != nil {
		deps.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	svc, err := aggregator.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func state(t *testing.T, db *storage.DB, name string) storage.SourceState {
	t.Helper()
	st, ok, err := db.Source(name)
	if err != nil || !ok {
		t.Fatalf("Source(%s) = %v, %v", name, ok, err)
	}
	return st
}

// TestHostHoldAcrossPolls: one feed of a host answers 429 with
// Retry-After; the host's other feeds are skipped in the same cycle, in a
// second poll by a fresh service on the same database (a new `storyfeed
// poll`), and fetched again once the hold is over. Another host is not
// affected.
func TestHostHoldAcrossPolls(t *testing.T) {
	for _, tc := range []struct {
		name       string
		code       int
		retryAfter func(now time.Time) string // of the service's clock
		hold       time.Duration
	}{
		{"429 seconds", http.StatusTooManyRequests, func(time.Time) string { return "120" }, 2 * time.Minute},
		{"503 date", http.StatusServiceUnavailable, func(now time.Time) string { return now.Add(10 * time.Minute).Format(http.TimeFormat) }, 10 * time.Minute},
		{"429 without Retry-After", http.StatusTooManyRequests, func(time.Time) string { return "" }, fetch.DefaultHold},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			busy := newFarm(t)
			busy.route("/a", func(w http.ResponseWriter, r *http.Request) {
				if v := tc.retryAfter(clk.Now()); v != "" {
					w.Header().Set("Retry-After", v)
				}
				w.WriteHeader(tc.code)
			})
			other := listenFarm(t, "127.0.0.2")
			sources := []config.Source{busy.src("a", "/a"), busy.src("b", "/b"), busy.src("c", "/c"), other.src("d", "/d")}
			db := storagetest.OpenTemp(t)
			logs := &logBuffer{}
			// One worker: a is fetched first, then d (hosts interleaved), then
			// b and c, which must be skipped.
			c, err := politeService(t, db, clk, logs, politeOpts{workers: 1, private: true}, sources...).PollOnce(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if c.Errors != 1 || c.Skipped != 2 || c.OK != 1 {
				t.Errorf("first poll: %+v, want 1 error (a), 2 skipped (b, c), 1 ok (d)", c)
			}
			if busy.count("/b")+busy.count("/c") != 0 || other.count("/d") != 1 {
				t.Errorf("requests b=%d c=%d d=%d, want 0, 0, 1", busy.count("/b"), busy.count("/c"), other.count("/d"))
			}
			if n := logs.count("host asked for a pause"); n != 1 {
				t.Errorf("the hold was logged %d times, want once:\n%s", n, logs.b.String())
			}
			host := fetch.HostKeyOf(busy.URL)
			holds, err := db.Holds()
			if got := holds[host].Sub(clk.Now()); err != nil || got != tc.hold {
				t.Errorf("stored hold of %s = %v from now (%v), want %v", host, got, err, tc.hold)
			}
			if st := state(t, db, "a"); st.LastStatus != tc.code || st.ErrorStreak != 1 || st.NextDue.Before(holds[host]) {
				t.Errorf("state of a = %+v, want status %d, streak 1, next due not before the hold", st, tc.code)
			}
			if _, ok, _ := db.Source("b"); ok {
				t.Error("a skipped source got a state written")
			}

			// A new process, a minute less than the hold later: nothing on
			// the held host is fetched, a included.
			clk.Add(tc.hold - 30*time.Second)
			c, err = politeService(t, db, clk, nil, politeOpts{workers: 4, private: true}, sources...).PollOnce(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if c.Skipped != 3 || c.Errors != 0 || busy.count("/a") != 1 || busy.count("/b") != 0 {
				t.Errorf("second poll: %+v, a hit %d times, b %d; want 3 skipped, no new request", c, busy.count("/a"), busy.count("/b"))
			}

			// After the hold, everything is fetched again and the expired
			// hold is forgotten.
			clk.Add(time.Minute)
			busy.route("/a", nil)
			c, err = politeService(t, db, clk, nil, politeOpts{workers: 4, private: true}, sources...).PollOnce(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if c.Skipped != 0 || c.Errors != 0 || busy.count("/b") != 1 || busy.count("/c") != 1 {
				t.Errorf("poll after the hold: %+v, b hit %d times; want everything fetched", c, busy.count("/b"))
			}
			if holds, err := db.Holds(); err != nil || len(holds) != 0 {
				t.Errorf("holds after they ended = %v (%v), want none", holds, err)
			}
		})
	}
}

// TestPrivateNetworksRefused: without allow_private_networks, a feed on
// 127.0.0.1 and a feed that redirects there are refused with an error
// that names the URL and the setting; a local source still ingests.
func TestPrivateNetworksRefused(t *testing.T) {
	inside := newFarm(t)
	outside := listenFarm(t, "127.0.0.2") // stands in for a public host
	outside.route("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inside.URL+"/secret", http.StatusFound)
	})
	db := storagetest.OpenTemp(t)
	local := articles(t, t.TempDir(), "local", "Volcano erupts")
	// The fetch client of a service without allow_private_networks, but
	// with 127.0.0.2 let through as if it were public.
	fc := fetch.New(fetch.Options{AllowAddrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}})
	svc := politeService(t, db, newClock(), nil, politeOpts{fetcher: fc},
		inside.src("direct", "/feed"), outside.src("redirect", "/redirect"), outside.src("public", "/feed"), local)
	c, err := svc.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Errors != 2 || c.OK != 2 {
		t.Errorf("cycle %+v, want 2 errors and 2 sources ingested", c)
	}
	if inside.count("/feed")+inside.count("/secret") != 0 {
		t.Error("the private server was reached")
	}
	for name, want := range map[string][]string{
		"direct":   {inside.URL + "/feed", "127.0.0.1", "loopback", "allow_private_networks = true"},
		"redirect": {outside.URL + "/redirect", "redirected to " + inside.URL + "/secret", "loopback", "allow_private_networks = true"},
	} {
		st := state(t, db, name)
		for _, w := range want {
			if !strings.Contains(st.LastError, w) {
				t.Errorf("last error of %s = %q, want it to say %q", name, st.LastError, w)
			}
		}
	}

	// The service's own client, built from the config, refuses loopback
	// too unless the config allows it.
	db2 := storagetest.OpenTemp(t)
	c, err = politeService(t, db2, newClock(), nil, politeOpts{}, inside.src("direct", "/feed"), local).PollOnce(context.Background())
	if err != nil || c.Errors != 1 || !strings.Contains(state(t, db2, "direct").LastError, "allow_private_networks") {
		t.Errorf("default config: cycle %+v, %v, want the loopback feed refused", c, err)
	}
	c, err = politeService(t, db2, newClock(), nil, politeOpts{private: true}, inside.src("direct", "/feed"), local).PollOnce(context.Background())
	if err != nil || c.Errors != 0 || inside.count("/feed") != 1 {
		t.Errorf("allow_private_networks = true: cycle %+v, %v, want the loopback feed fetched", c, err)
	}
}

// TestOversizedBodies: a 50 MB body and a gzip bomb end in clear errors
// naming their URLs under the default 10 MiB cap; the other sources of the
// cycle still ingest.
func TestOversizedBodies(t *testing.T) {
	// A gzip stream may hold many members, decompressed one after the
	// other: 64 copies of 1 MiB of zeros make 64 MiB out of about 64 KB.
	var member, bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	for range 64 {
		bomb.Write(member.Bytes())
	}
	srv := newFarm(t)
	srv.route("/big", func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("<p>more</p>"), 10000)
		for sent := 0; sent < 50<<20; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return // the client hung up at its cap
			}
		}
	})
	srv.route("/big-declared", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(50<<20))
		w.Write([]byte("<rss>")) // the client never reads further
	})
	srv.route("/bomb", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write(bomb.Bytes())
	})
	db := storagetest.OpenTemp(t)
	svc := politeService(t, db, newClock(), nil, politeOpts{private: true},
		srv.src("big", "/big"), srv.src("big-declared", "/big-declared"), srv.src("bomb", "/bomb"), srv.src("good", "/good"))
	c, err := svc.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Errors != 3 || c.OK != 1 || c.ItemsNew != 1 {
		t.Errorf("cycle %+v, want 3 errors and the good feed's item", c)
	}
	for _, name := range []string{"big", "big-declared", "bomb"} {
		st := state(t, db, name)
		for _, w := range []string{srv.URL + "/" + name, "body too large", "max_body_size"} {
			if !strings.Contains(st.LastError, w) {
				t.Errorf("last error of %s = %q, want it to say %q", name, st.LastError, w)
			}
		}
	}
	if st := state(t, db, "bomb"); !strings.Contains(st.LastError, "decompressed") {
		t.Errorf("last error of the gzip bomb = %q, want it to say it was decompressed", st.LastError)
	}
	if err := db.Check(); err != nil {
		t.Error(err)
	}
}

// Test410DisablesSource: 410 Gone disables the source, logged once; later
// polls leave it alone; a new url in the config enables it again.
func Test410DisablesSource(t *testing.T) {
	srv := newFarm(t)
	srv.route("/gone", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "gone", http.StatusGone) })
	db := storagetest.OpenTemp(t)
	clk := newClock()
	logs := &logBuffer{}
	svc := politeService(t, db, clk, logs, politeOpts{private: true}, srv.src("x", "/gone"), srv.src("y", "/y"))
	for range 3 {
		if _, err := svc.PollOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		clk.Add(24 * time.Hour)
	}
	if n := srv.count("/gone"); n != 1 {
		t.Errorf("the gone feed was fetched %d times, want once", n)
	}
	if n := logs.count("source is gone (HTTP 410)"); n != 1 {
		t.Errorf("the 410 was logged %d times, want once", n)
	}
	if st := state(t, db, "x"); !st.Disabled || st.LastStatus != 410 {
		t.Errorf("state after 410 = %+v, want disabled with status 410", st)
	}
	if srv.count("/y") != 3 {
		t.Errorf("the other feed was fetched %d times, want 3", srv.count("/y"))
	}
	// The user fixes the url.
	c, err := politeService(t, db, clk, nil, politeOpts{private: true}, srv.src("x", "/x-new"), srv.src("y", "/y")).PollOnce(context.Background())
	if err != nil || c.Errors != 0 || srv.count("/x-new") != 1 {
		t.Fatalf("poll after the url changed: %+v, %v; want the new url fetched", c, err)
	}
	if st := state(t, db, "x"); st.Disabled || st.ErrorStreak != 0 || st.URL != srv.URL+"/x-new" || st.ConfigURL != srv.URL+"/x-new" {
		t.Errorf("state after the url changed = %+v, want enabled, no errors, the new url", st)
	}
}

// TestPermanentRedirectMovesSource: after a 301 or 308 the new URL is
// fetched directly, logged once; after a 302 or 307 the configured one is
// fetched again.
func TestPermanentRedirectMovesSource(t *testing.T) {
	srv := newFarm(t)
	for _, code := range []int{301, 302, 307, 308} {
		srv.route(fmt.Sprintf("/old%d", code), func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, fmt.Sprintf("/new%d", code), code)
		})
	}
	db := storagetest.OpenTemp(t)
	logs := &logBuffer{}
	var sources []config.Source
	for _, code := range []int{301, 302, 307, 308} {
		sources = append(sources, srv.src(fmt.Sprint(code), fmt.Sprintf("/old%d", code)))
	}
	svc := politeService(t, db, newClock(), logs, politeOpts{private: true}, sources...)
	for range 3 {
		if c, err := svc.PollOnce(context.Background()); err != nil || c.Errors != 0 {
			t.Fatalf("poll: %+v, %v", c, err)
		}
	}
	for _, code := range []int{301, 302, 307, 308} {
		old, moved := fmt.Sprintf("/old%d", code), fmt.Sprintf("/new%d", code)
		permanent := code == 301 || code == 308
		wantOld, wantURL := 3, srv.URL+old
		if permanent {
			wantOld, wantURL = 1, srv.URL+moved
		}
		if got := srv.count(old); got != wantOld {
			t.Errorf("%d: the old URL was fetched %d times in 3 polls, want %d", code, got, wantOld)
		}
		if got := srv.count(moved); got != 3 {
			t.Errorf("%d: the new URL was fetched %d times in 3 polls, want 3", code, got)
		}
		if st := state(t, db, fmt.Sprint(code)); st.URL != wantURL || st.ConfigURL != srv.URL+old {
			t.Errorf("%d: state URL %q (config %q), want %q", code, st.URL, st.ConfigURL, wantURL)
		}
	}
	if n := logs.count("source moved permanently"); n != 2 {
		t.Errorf("moves logged %d times, want twice (301 and 308, once each)", n)
	}
}

// TestBackoffGrowth: every failure in a row doubles the wait before the
// next scheduled fetch, with jitter, up to 24 h; a success ends it.
func TestBackoffGrowth(t *testing.T) {
	srv := newFarm(t)
	fail := true
	var mu sync.Mutex
	srv.route("/flaky", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, feedFor("/flaky"))
	})
	db := storagetest.OpenTemp(t)
	clk := newClock()
	svc := politeService(t, db, clk, nil, politeOpts{private: true, schedule: "@every 15m"}, srv.src("f", "/flaky"))
	base := 15 * time.Minute
	for streak := 1; streak <= 10; streak++ {
		if _, err := svc.PollOnce(context.Background()); err != nil && !errors.Is(err, aggregator.ErrNoSource) {
			t.Fatal(err)
		}
		st := state(t, db, "f")
		want := min(base<<(streak-1), 24*time.Hour)
		got := st.NextDue.Sub(clk.Now())
		if st.ErrorStreak != streak || got < want*9/10 || got > min(want*11/10, 24*time.Hour) {
			t.Errorf("after %d failures: streak %d, next due in %v; want in %v ±10%% (capped at 24h)", streak, st.ErrorStreak, got, want)
		}
		clk.Add(time.Minute)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	if _, err := svc.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := state(t, db, "f"); st.ErrorStreak != 0 || !st.NextDue.IsZero() || st.LastError != "" {
		t.Errorf("after a success: %+v, want no streak, no error, due at the next tick", st)
	}
}

// TestFreshnessFloor: Cache-Control max-age, Expires and RSS <ttl> set the
// earliest next fetch, capped at 24 h; the ttl outlives a 304.
func TestFreshnessFloor(t *testing.T) {
	srv := newFarm(t)
	ttlFeed := strings.Replace(feedFor("/ttl"), "<link>", "<ttl>120</ttl><link>", 1)
	srv.route("/ttl", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"t1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"t1"`)
		fmt.Fprint(w, ttlFeed)
	})
	srv.route("/maxage", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fmt.Fprint(w, feedFor("/maxage"))
	})
	srv.route("/huge", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=31536000")
		fmt.Fprint(w, feedFor("/huge"))
	})
	srv.route("/expires", func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		w.Header().Set("Date", now.Format(http.TimeFormat))
		w.Header().Set("Expires", now.Add(30*time.Minute).Format(http.TimeFormat))
		fmt.Fprint(w, feedFor("/expires"))
	})
	db := storagetest.OpenTemp(t)
	clk := newClock()
	svc := politeService(t, db, clk, nil, politeOpts{private: true},
		srv.src("ttl", "/ttl"), srv.src("maxage", "/maxage"), srv.src("huge", "/huge"), srv.src("expires", "/expires"), srv.src("none", "/none"))
	for i := range 2 { // the second poll gets a 304 from /ttl
		if c, err := svc.PollOnce(context.Background()); err != nil || c.Errors != 0 {
			t.Fatalf("poll: %+v, %v", c, err)
		}
		for name, want := range map[string]time.Duration{"ttl": 2 * time.Hour, "maxage": time.Hour, "huge": 24 * time.Hour, "expires": 30 * time.Minute, "none": 0} {
			st := state(t, db, name)
			got := time.Duration(0)
			if !st.NextDue.IsZero() {
				got = st.NextDue.Sub(clk.Now())
			}
			if got != want {
				t.Errorf("poll %d: %s next due in %v, want %v", i+1, name, got, want)
			}
		}
	}
	if srv.count("/ttl") != 2 || state(t, db, "ttl").LastStatus != 304 {
		t.Errorf("/ttl fetched %d times, last status %d; want 2, 304", srv.count("/ttl"), state(t, db, "ttl").LastStatus)
	}
}

// TestUserAgent: feeds are fetched with storyfeed's name, the build's
// version and the project URL, unless the config says otherwise.
func TestUserAgent(t *testing.T) {
	srv := newFarm(t)
	agents := make(chan string, 2)
	srv.route("/ua", func(w http.ResponseWriter, r *http.Request) {
		agents <- r.Header.Get("User-Agent")
		fmt.Fprint(w, feedFor("/ua"))
	})
	for _, custom := range []string{"", "my-reader/2"} {
		cfg := config.Default()
		cfg.Sources = []config.Source{srv.src("ua", "/ua")}
		cfg.Poll.AllowPrivateNetworks = true
		cfg.Poll.UserAgent = custom
		svc, err := aggregator.New(cfg, aggregator.Deps{Store: storagetest.OpenTemp(t), Version: "v1.4.0"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.PollOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		want := cmp.Or(custom, "storyfeed/v1.4.0 (+https://github.com/storyfeed/storyfeed)")
		if got := <-agents; got != want {
			t.Errorf("User-Agent with user_agent = %q: %q, want %q", custom, got, want)
		}
	}
}

// TestHoldStopsQueuedFetches: with many workers and one request at a time
// per host, the fetches queued for the host's turn when it answers 429 are
// skipped, not sent: the 429 is the last request the host sees.
func TestHoldStopsQueuedFetches(t *testing.T) {
	srv := newFarm(t)
	var mu sync.Mutex
	var order []string
	for i := range 12 {
		path := fmt.Sprintf("/f%d", i)
		srv.route(path, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			order = append(order, path)
			mu.Unlock()
			if path == "/f5" {
				w.Header().Set("Retry-After", "60")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			time.Sleep(2 * time.Millisecond) // let the others queue
			fmt.Fprint(w, feedFor(path))
		})
	}
	var sources []config.Source
	for i := range 12 {
		sources = append(sources, srv.src(fmt.Sprint(i), fmt.Sprintf("/f%d", i)))
	}
	cfg := config.Default()
	cfg.Sources = sources
	cfg.Poll.AllowPrivateNetworks = true
	cfg.Poll.PerHost = 1
	svc, err := aggregator.New(cfg, aggregator.Deps{Store: storagetest.OpenTemp(t), Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	c, err := svc.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) == 0 || order[len(order)-1] != "/f5" {
		t.Errorf("requests in order %v: the 429 (/f5) must be the last", order)
	}
	if c.Errors != 1 || c.OK != len(order)-1 || c.Skipped != 12-len(order) {
		t.Errorf("cycle %+v after %d requests, want 1 error, %d ok, %d skipped", c, len(order), len(order)-1, 12-len(order))
	}
}
