package main

import (
	"net/http"
	"sync"
	"time"

	"github.com/storyfeed/storyfeed/storage"
)

// The publisher renders each feed once per database generation and serves
// the cached bytes until the generation moves. During a cold poll the
// writer commits a batch every few milliseconds, so without help every
// request would find a new generation and render again, and sixteen
// clients arriving together would render sixteen times at once, on a
// machine that is busy ingesting. Two wrappers keep /feed.xml fast then:
// steadySource lets the publisher see at most one new generation per
// interval, and coalesce has the first request after a change render while
// the others wait for its result instead of rendering too.

// feedRefresh is how stale a feed may be behind the database: a feed
// reader polls every few minutes, so a second is nothing to it.
const feedRefresh = time.Second

// steadySource is the database as the publisher sees it: its generation
// moves at most once per interval.
type steadySource struct {
	*storage.DB
	every time.Duration
	now   func() time.Time

	mu  sync.Mutex
	gen uint64
	at  time.Time
}

func newSteadySource(db *storage.DB, every time.Duration, now func() time.Time) *steadySource {
	return &steadySource{DB: db, every: every, now: now, gen: db.Generation(), at: now()}
}

// Generation is the database's generation as of the last sample; a new
// sample is taken when the last one is older than the interval.
func (s *steadySource) Generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now := s.now(); now.Sub(s.at) >= s.every {
		s.gen, s.at = s.DB.Generation(), now
	}
	return s.gen
}

// coalescePaths are the documents that feed readers poll; other paths (and
// requests with a query) go straight to the publisher.
var coalescePaths = map[string]bool{"/feed.xml": true, "/feed.atom": true, "/feed.json": true, "/": true}

// coalesce makes the publisher render each feed once per generation: the
// first request that finds a new generation renders the feed into the
// publisher's cache, with a request of its own, while the others for the
// same document wait; then every one of them is served from the cache.
type coalesce struct {
	next http.Handler
	gen  func() uint64

	mu   sync.Mutex
	docs map[string]*warmth
}

type warmth struct {
	mu  sync.Mutex
	gen uint64
	ok  bool
}

func newCoalesce(next http.Handler, gen func() uint64) *coalesce {
	return &coalesce{next: next, gen: gen, docs: map[string]*warmth{}}
}

func (c *coalesce) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || r.URL.RawQuery != "" || !coalescePaths[r.URL.Path] {
		c.next.ServeHTTP(w, r)
		return
	}
	c.mu.Lock()
	d := c.docs[r.URL.Path]
	if d == nil {
		d = &warmth{}
		c.docs[r.URL.Path] = d
	}
	c.mu.Unlock()
	gen := c.gen()
	d.mu.Lock()
	if !d.ok || d.gen != gen {
		// Render into the publisher's cache: a plain GET of the same
		// document, whose answer nobody reads.
		warm := r.Clone(r.Context())
		warm.Method = http.MethodGet
		for _, h := range []string{"If-None-Match", "If-Modified-Since", "Range", "If-Range"} {
			warm.Header.Del(h)
		}
		c.next.ServeHTTP(&discard{header: http.Header{}}, warm)
		d.gen, d.ok = gen, true
	}
	d.mu.Unlock()
	c.next.ServeHTTP(w, r)
}

// discard is a ResponseWriter that forgets what it is given.
type discard struct {
	header http.Header
}

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}
