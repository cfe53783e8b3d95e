// Package publish serves the unified feed over HTTP: RSS 2.0, Atom 1.0 and
// JSON Feed 1.1 documents whose items are stories, an HTML view of the
// newest stories and of each story, and a health check.
//
// Every response body is rendered once per database generation and cached
// with a strong ETag, so a feed reader polling an unchanged feed costs a
// map lookup and a 304. The package reads storage; it never writes.
package publish

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/storyfeed/storyfeed/storage"
)

// Source is what the publisher reads.
type Source interface {
	Generation() uint64
	Stories(ctx context.Context, q storage.StoryQuery) ([]storage.StoryView, error)
	Story(id string) (storage.StoryView, error)
}

// Options configure the handler.
type Options struct {
	Title   string // feed title
	BaseURL string // absolute URL the server is reached at, no trailing slash
	Limit   int    // stories per feed; default 50
	Logger  *slog.Logger
	// Now is the clock used for an empty feed's dates; nil means time.Now.
	Now func() time.Time
}

// Limits of the ?limit= parameter.
const (
	defaultLimit = 50
	maxLimit     = 500
)

type handler struct {
	src Source
	opt Options
	mux *http.ServeMux

	mu    sync.Mutex
	gen   uint64
	cache map[string]*rendered // by request path and query
}

// rendered is one response body, ready to serve.
type rendered struct {
	body    []byte
	gz      []byte // gzipped body, nil when not worth it
	ctype   string
	etag    string
	modTime time.Time
}

// NewHandler returns the publisher's HTTP handler.
func NewHandler(src Source, opt Options) http.Handler {
	if opt.Limit <= 0 {
		opt.Limit = defaultLimit
	}
	if opt.Title == "" {
		opt.Title = "storyfeed"
	}
	opt.BaseURL = strings.TrimRight(opt.BaseURL, "/")
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	h := &handler{src: src, opt: opt, mux: http.NewServeMux(), cache: map[string]*rendered{}}
	h.mux.HandleFunc("GET /feed.xml", h.cached(h.rss))
	h.mux.HandleFunc("GET /feed.atom", h.cached(h.atom))
	h.mux.HandleFunc("GET /feed.json", h.cached(h.json))
	h.mux.HandleFunc("GET /stories/{id}", h.cached(h.storyPage))
	h.mux.HandleFunc("GET /{$}", h.cached(h.indexPage))
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintln(w, "ok")
	})
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h.mux.ServeHTTP(w, r)
}

// renderFunc renders one response body for r.
type renderFunc func(r *http.Request) (body []byte, ctype string, modTime time.Time, err error)

// errNotFound makes a render answer 404.
var errNotFound = errors.New("not found")

// cached serves a rendered body from the cache of the current generation,
// rendering it on a miss, and answers conditional requests with 304.
func (h *handler) cached(render renderFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.URL.Path + "?" + r.URL.RawQuery
		gen := h.src.Generation()
		h.mu.Lock()
		if gen != h.gen {
			clear(h.cache)
			h.gen = gen
		}
		rd := h.cache[key]
		h.mu.Unlock()
		if rd == nil {
			body, ctype, mod, err := render(r)
			switch {
			case errors.Is(err, errNotFound):
				http.Error(w, "not found", http.StatusNotFound)
				return
			case err != nil:
				h.opt.Logger.Error("render", "path", r.URL.Path, "err", err)
				http.Error(w, "internal error", http.StatusInternalServerError)
				return
			}
			rd = newRendered(body, ctype, mod)
			h.mu.Lock()
			if h.gen == gen && len(h.cache) < maxCached {
				h.cache[key] = rd
			}
			h.mu.Unlock()
		}
		serve(w, r, rd)
	}
}

// maxCached bounds the cache: query strings are chosen by clients.
const maxCached = 256

func newRendered(body []byte, ctype string, mod time.Time) *rendered {
	sum := sha256.Sum256(body)
	rd := &rendered{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, modTime: mod.UTC().Truncate(time.Second)}
	if len(body) > 1024 {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		if b.Len() < len(body) {
			rd.gz = b.Bytes()
		}
	}
	return rd
}

func serve(w http.ResponseWriter, r *http.Request, rd *rendered) {
	hd := w.Header()
	hd.Set("Content-Type", rd.ctype)
	hd.Set("Vary", "Accept-Encoding")
	hd.Set("Cache-Control", "public, max-age=60")
	body, etag := rd.body, rd.etag
	if rd.gz != nil && acceptsGzip(r) {
		body = rd.gz
		etag = rd.etag[:len(rd.etag)-1] + `-gz"` // a different representation needs its own tag
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("ETag", etag)
	if strings.HasPrefix(rd.ctype, "text/html") {
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	}
	http.ServeContent(w, r, "", rd.modTime, bytes.NewReader(body))
}

// acceptsGzip reports whether the request accepts gzip with a non-zero
// quality.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
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
