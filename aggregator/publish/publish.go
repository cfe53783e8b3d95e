// Package publish serves the unified feed over HTTP: RSS 2.0, Atom 1.0 and
// JSON Feed 1.1 documents whose items are stories, per-category feeds, an
// HTML view of the newest stories and of each story, the configured sources
// as OPML, and a health check.
//
// Every response body is rendered once per database generation and cached
// with its gzipped form and a strong ETag, so a feed reader polling an
// unchanged feed costs a map lookup and a 304, and a changed feed costs the
// copy of ready bytes. The package reads storage; it never writes, and it
// holds no state beyond that cache.
package publish

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/storyfeed/storyfeed/storage"
)

// Source is what the publisher reads.
type Source interface {
	// Generation changes whenever what Stories or Story return may change.
	Generation() uint64
	Stories(ctx context.Context, q storage.StoryQuery) ([]storage.StoryView, error)
	Story(id string) (storage.StoryView, error)
}

// SourceInfo is one configured source, as /sources.opml lists it.
type SourceInfo struct {
	Name     string // unique name in the config
	Title    string // display title; "" means Name
	URL      string // feed URL; "" for a local path, which is listed without one
	Site     string // web site, optional
	Category string // "/"-separated folders
}

// Options configure the handler. The zero value serves public feeds of 50
// stories titled "storyfeed" at relative links; set BaseURL.
type Options struct {
	Title   string // feed title; "" means "storyfeed"
	BaseURL string // absolute URL the server is reached at, without a trailing slash
	Limit   int    // stories per feed when ?limit= is absent; 0 means 50
	// MaxAge is the Cache-Control max-age of feeds and pages: how long a
	// client may reuse a response without asking. Set it to the poll
	// interval, since nothing changes faster; 0 means one minute.
	MaxAge time.Duration
	// Refresh is how far behind the database a response may be: a cached
	// response of an older generation is served until it is this old.
	// While a poll commits every few milliseconds, it keeps each feed from
	// being rendered again for every request; a feed reader that polls
	// every few minutes does not notice a second. 0 renders every new
	// generation at once.
	Refresh time.Duration
	// Token, when set, is required on every request but /healthz and the
	// style sheet, as ?token= or Authorization: Bearer. Links the server
	// renders carry it, so that a reader of a private feed can follow them.
	Token string
	// Policy picks the member whose headline and link stand for a story.
	Policy storage.Policy
	// Sources are listed by /sources.opml.
	Sources []SourceInfo
	Logger  *slog.Logger
	// Now is the clock that dates an empty feed, a feed whose content
	// changed without a newer story, and the OPML list; nil means time.Now.
	Now func() time.Time
}

// Limits of the query parameters.
const (
	defaultLimit  = 50
	maxLimit      = 500
	maxMinSources = 100 // more outlets than any story has; keeps cache keys few
	maxCategory   = 200 // bytes
)

type handler struct {
	src     Source
	opt     Options
	mux     *http.ServeMux
	cache   *cache
	tokenQ  string    // "?token=..." appended to links, "" without a token
	opml    *rendered // /sources.opml, fixed at start-up
	css     *rendered
	cssPath string // style sheet URL path, with a content hash for caching

	// Header values set on every response, made once.
	hdrCache, hdrCSSCache, hdrVary, hdrGzip, hdrCSPHTML, hdrCSPOther, hdrNosniff, hdrNoReferrer []string
}

// NewHandler returns the publisher's HTTP handler. It does no I/O.
func NewHandler(src Source, opt Options) http.Handler {
	if opt.Limit <= 0 {
		opt.Limit = defaultLimit
	}
	opt.Limit = min(opt.Limit, maxLimit)
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
	if opt.MaxAge <= 0 {
		opt.MaxAge = time.Minute
	}
	h := &handler{src: src, opt: opt, mux: http.NewServeMux(), cache: newCache(opt.Now, opt.Refresh)}
	scope := "public"
	if opt.Token != "" {
		h.tokenQ = "?token=" + url.QueryEscape(opt.Token)
		scope = "private" // a shared cache must not hand a private feed to others
	}
	h.hdrCache = []string{fmt.Sprintf("%s, max-age=%d", scope, int(opt.MaxAge.Seconds()))}
	// The style sheet's URL carries a hash of its content: keep it for good.
	h.hdrCSSCache = []string{"public, max-age=31536000, immutable"}
	h.hdrVary, h.hdrGzip = []string{"Accept-Encoding"}, []string{"gzip"}
	h.hdrCSPHTML, h.hdrCSPOther = []string{cspHTML}, []string{cspOther}
	h.hdrNosniff, h.hdrNoReferrer = []string{"nosniff"}, []string{"no-referrer"}
	// Both change only with the config or the binary: date them by the start.
	h.opml = newRendered(h.renderOPML(), "text/x-opml; charset=utf-8", opt.Now())
	h.css = newRendered(styleCSS, "text/css; charset=utf-8", opt.Now())
	h.cssPath = "/static/style.css?v=" + strings.Trim(h.css.etag, `"`)[:12]

	for _, f := range []format{formatRSS, formatAtom, formatJSON} {
		h.mux.HandleFunc("GET /feed."+f.ext(), h.cached(h.feedRoute(f)))
		h.mux.HandleFunc("GET /categories/{category}/feed."+f.ext(), h.cached(h.feedRoute(f)))
	}
	h.mux.HandleFunc("GET /stories/{id}", h.cached(h.storyRoute()))
	h.mux.HandleFunc("GET /{$}", h.cached(h.indexRoute()))
	h.mux.HandleFunc("GET /sources.opml", func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, h.opml, h.hdrCache)
	})
	h.mux.HandleFunc("GET /static/style.css", func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, h.css, h.hdrCSSCache)
	})
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintln(w, "ok")
	})
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd["X-Content-Type-Options"] = h.hdrNosniff
	// Pages of a private feed carry the token in their links; no referrer
	// keeps it from the outlets a reader follows a link to.
	hd["Referrer-Policy"] = h.hdrNoReferrer
	if h.opt.Token != "" && r.URL.Path != "/healthz" && r.URL.Path != "/static/style.css" && !h.authorized(r) {
		hd.Set("WWW-Authenticate", `Bearer realm="storyfeed"`)
		hd.Set("Cache-Control", "no-store")
		http.Error(w, "a token is required: add ?token=TOKEN to the URL or send Authorization: Bearer TOKEN", http.StatusUnauthorized)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// authorized reports whether r carries the token, comparing in constant
// time so that response times do not reveal how much of a guess was right.
func (h *handler) authorized(r *http.Request) bool {
	want := []byte(h.opt.Token)
	if auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok &&
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(auth)), want) == 1 {
		return true
	}
	if r.URL.RawQuery == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("token")), want) == 1
}
