package publish

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// rendered is one response body, ready to serve.
type rendered struct {
	body    []byte
	gz      []byte // gzipped body, nil when not worth it
	ctype   string
	etag    string // of body
	gzETag  string // of gz: another representation needs its own strong tag
	modTime time.Time

	// Header values, made once: net/http only reads them.
	ctypeH, etagH, gzETagH, lenH, gzLenH, lastModH []string
}

// headers prepares rd's header values; call it after the last change to
// rd.modTime.
func (rd *rendered) headers() *rendered {
	rd.ctypeH = []string{rd.ctype}
	rd.etagH, rd.gzETagH = []string{rd.etag}, []string{rd.gzETag}
	rd.lenH, rd.gzLenH = []string{strconv.Itoa(len(rd.body))}, []string{strconv.Itoa(len(rd.gz))}
	rd.lastModH = []string{rd.modTime.Format(http.TimeFormat)}
	return rd
}

func newRendered(body []byte, ctype string, mod time.Time) *rendered {
	sum := sha256.Sum256(body)
	tag := hex.EncodeToString(sum[:12])
	rd := &rendered{body: body, ctype: ctype, etag: `"` + tag + `"`, gzETag: `"` + tag + `-gz"`,
		modTime: mod.UTC().Truncate(time.Second)}
	if len(body) > 512 {
		var b bytes.Buffer
		b.Grow(len(body) / 3)
		// Compressed once per database change and served many times: the
		// best ratio is worth its time.
		zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
		if err == nil {
			_, err = zw.Write(body)
		}
		if err == nil {
			err = zw.Close()
		}
		if err == nil && b.Len() < len(body) {
			rd.gz = b.Bytes()
		}
	}
	return rd.headers()
}

// cache holds the rendered responses of one database generation. Readers
// take the current snapshot without a lock; a render publishes a new
// snapshot, copying the small map.
type cache struct {
	now     func() time.Time
	refresh time.Duration // see Options.Refresh
	snap    atomic.Pointer[snapshot]

	mu       sync.Mutex // serialises snapshot writers and guards inflight
	inflight map[string]*call
	renders  chan struct{} // bounds concurrent renders
}

type snapshot struct {
	gen   uint64
	since time.Time // when this generation was first cached
	m     map[string]*rendered
	prev  map[string]*rendered // of the previous generation, for Last-Modified
}

// call is one render in progress; requests for the same key wait for it.
type call struct {
	gen  uint64
	done chan struct{}
	rd   *rendered
	err  error
}

// maxCached bounds the number of cached responses per generation: story
// pages and query strings are chosen by clients.
const maxCached = 512

// maxRenders is how many renders may run at once. A render of a filtered
// feed can read many stories; a flood of distinct queries then queues here
// instead of taking every core from the requests the cache answers.
const maxRenders = 2

func newCache(now func() time.Time, refresh time.Duration) *cache {
	c := &cache{now: now, refresh: refresh, inflight: map[string]*call{}, renders: make(chan struct{}, maxRenders)}
	c.snap.Store(&snapshot{m: map[string]*rendered{}})
	return c
}

// get returns the response for key in generation gen, rendering it if
// needed. Concurrent requests for one key share one render.
func (c *cache) get(gen uint64, key string, render func() (*rendered, error)) (*rendered, error) {
	if s := c.snap.Load(); s.gen == gen || s.gen < gen && c.refresh > 0 && c.now().Sub(s.since) < c.refresh {
		// The current generation, or one younger than the refresh
		// interval while commits keep coming.
		if rd := s.m[key]; rd != nil {
			return rd, nil
		}
	}
	c.mu.Lock()
	if cl := c.inflight[key]; cl != nil && cl.gen == gen {
		c.mu.Unlock()
		<-cl.done
		return cl.rd, cl.err
	}
	cl := &call{gen: gen, done: make(chan struct{})}
	c.inflight[key] = cl
	c.mu.Unlock()

	c.renders <- struct{}{}
	cl.rd, cl.err = render()
	<-c.renders

	c.mu.Lock()
	if cl.err == nil {
		cl.rd = c.store(gen, key, cl.rd)
	}
	if c.inflight[key] == cl {
		delete(c.inflight, key)
	}
	c.mu.Unlock()
	close(cl.done)
	return cl.rd, cl.err
}

// store publishes rd as the response for key in generation gen and returns
// what to serve. Called with c.mu held.
//
// Last-Modified must never go backwards while the content changes, or a
// client asking If-Modified-Since would get a wrong 304: the newest story
// time that a render dates a feed by stays put when, say, an item leaves a
// story. So a changed body dated no later than the previous one is dated
// now; an unchanged body keeps the previous response, date and gzip and all.
func (c *cache) store(gen uint64, key string, rd *rendered) *rendered {
	s := c.snap.Load()
	var m, prev map[string]*rendered
	since := s.since
	switch {
	case gen < s.gen:
		return rd // a newer generation is cached already; serve, don't keep
	case gen > s.gen:
		m, prev, since = make(map[string]*rendered, 16), s.m, c.now()
	default:
		m, prev = make(map[string]*rendered, len(s.m)+1), s.prev
		for k, v := range s.m {
			if len(m) >= maxCached-1 {
				break // drop an arbitrary entry: map order is random
			}
			m[k] = v
		}
	}
	if old := prev[key]; old != nil {
		switch {
		case old.etag == rd.etag:
			rd = old
		case !rd.modTime.After(old.modTime):
			rd.modTime = old.modTime.Add(time.Second)
			if now := c.now().UTC().Truncate(time.Second); now.After(rd.modTime) {
				rd.modTime = now
			}
			rd.headers()
		}
	}
	m[key] = rd
	if since.IsZero() {
		since = c.now() // the first render of all
	}
	c.snap.Store(&snapshot{gen: max(gen, s.gen), since: since, m: m, prev: prev})
	return rd
}

// renderFunc renders one response body for r.
// The context is the request's without its cancellation: other requests may
// be waiting for the same render.
type renderFunc func(ctx context.Context, r *http.Request) (body []byte, ctype string, modTime time.Time, err error)

// keyFunc is the cache key of a request: its path and its parsed, canonical
// query, so that unknown or reordered parameters (and the token) share one
// entry. An error is the client's (400).
type keyFunc func(r *http.Request) (string, error)

// Errors a render or key function returns to choose the status.
var (
	errNotFound = errors.New("not found")
	errBadQuery = errors.New("bad query")
)

// cached serves the response of the current generation for r's key,
// rendering it on a miss, and answers conditional requests with 304.
func (h *handler) cached(key keyFunc, render renderFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		k, err := key(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		gen := h.src.Generation()
		rd, err := h.cache.get(gen, k, func() (*rendered, error) {
			body, ctype, mod, err := render(context.WithoutCancel(r.Context()), r)
			if err != nil {
				return nil, err
			}
			return newRendered(body, ctype, mod), nil
		})
		switch {
		case errors.Is(err, errNotFound):
			http.Error(w, "not found", http.StatusNotFound)
			return
		case errors.Is(err, errBadQuery):
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		case err != nil:
			h.opt.Logger.Error("render", "url", r.URL.Path, "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		h.serve(w, r, rd, h.hdrCache)
	}
}

// serve writes rd, gzipped when the client accepts it, and answers
// If-None-Match and If-Modified-Since with 304 and HEAD without a body.
//
// It does what http.ServeContent does for these, but writes the body with
// one Write instead of copying it through a reader in 32 KiB pieces, and
// sets header values prepared at render time: with both, a cached feed is
// served faster than http.ServeFile serves the same bytes with sendfile
// (see BenchmarkServeFeed). Range requests get the whole body, which
// RFC 9110 allows; feeds are small and rendered whole.
func (h *handler) serve(w http.ResponseWriter, r *http.Request, rd *rendered, cacheControl []string) {
	hd := w.Header()
	hd["Content-Type"] = rd.ctypeH
	hd["Cache-Control"] = cacheControl
	hd["Vary"] = h.hdrVary
	hd["Last-Modified"] = rd.lastModH
	if strings.HasPrefix(rd.ctype, "text/html") {
		hd["Content-Security-Policy"] = h.hdrCSPHTML
	} else {
		hd["Content-Security-Policy"] = h.hdrCSPOther
	}
	body, etag, other, length := rd.body, rd.etagH, rd.gzETagH, rd.lenH
	if rd.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body, etag, other, length = rd.gz, rd.gzETagH, rd.etagH, rd.gzLenH
		hd["Content-Encoding"] = h.hdrGzip
	}
	hd["Etag"] = etag
	// A client that holds the other encoding of the same bytes (it fetched
	// without gzip and now accepts it, say) holds current content: it gets
	// a 304 that confirms the tag it holds.
	switch {
	case notModified(r, etag[0], rd.modTime):
	case rd.gz != nil && notModified(r, other[0], time.Time{}):
		hd["Etag"] = other
	default:
		hd["Content-Length"] = length
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Write(body) // an error here is the client's going away; nothing to do
		return
	}
	delete(hd, "Content-Type")
	delete(hd, "Content-Encoding")
	w.WriteHeader(http.StatusNotModified)
}

// notModified reports whether r's validators match: If-None-Match, by weak
// comparison (RFC 9110 13.1.2), or when it is absent, If-Modified-Since.
func notModified(r *http.Request, etag string, mod time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for inm != "" {
			var tag string
			tag, inm, _ = strings.Cut(inm, ",")
			tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
			if tag == "*" || tag == etag {
				return true
			}
		}
		return false
	}
	ims := r.Header.Get("If-Modified-Since")
	if ims == "" || mod.IsZero() {
		return false
	}
	t, err := http.ParseTime(ims)
	return err == nil && !mod.After(t)
}

// Content security policies. Pages run no script and load nothing but their
// own style sheet; a feed opened in a browser loads nothing at all.
const (
	cspHTML  = "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	cspOther = "default-src 'none'; sandbox; frame-ancestors 'none'"
)

// acceptsGzip reports whether an Accept-Encoding header value accepts gzip
// with a non-zero quality.
func acceptsGzip(header string) bool {
	for header != "" {
		var part string
		part, header, _ = strings.Cut(header, ",")
		name, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := 1.0
		if k, v, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.TrimSpace(k) == "q" {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				q = f
			}
		}
		return q > 0
	}
	return false
}
