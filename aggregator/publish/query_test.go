package publish

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzQuery feeds arbitrary query strings to the query parser: it never
// panics, accepts or rejects with errBadQuery, keeps values in range, and
// the canonical cache key is the same for the query re-spelt from params.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{"", "limit=5", "limit=0", "limit=99999999999999999999", "min_sources=2&category=world",
		"category=%C3%BC%20x&limit=3", "token=x&utm_source=y", "limit=5&limit=6", "category=" + strings.Repeat("x", 300), "%zz"} {
		f.Add(s)
	}
	h := NewHandler(nil, Options{BaseURL: "http://x.example"}).(*handler)
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest("GET", "/feed.xml", nil)
		r.URL.RawQuery = raw
		q, err := h.parseQuery(r)
		if err != nil {
			return
		}
		if q.limit < 1 || q.limit > maxLimit || q.minSources < 1 || q.minSources > maxMinSources || len(q.category) > maxCategory {
			t.Fatalf("parseQuery(%q) = %+v: out of range", raw, q)
		}
		again := httptest.NewRequest("GET", "/feed.xml", nil)
		again.URL.RawQuery = strings.TrimPrefix(q.params(-1, true), "?")
		q2, err := h.parseQuery(again)
		if err != nil || q2.key("feed.xml") != q.key("feed.xml") {
			t.Fatalf("parseQuery(%q) = %+v, key %q; re-spelt as %q: %+v, key %q, %v", raw, q, q.key("feed.xml"), again.URL.RawQuery, q2, q2.key("feed.xml"), err)
		}
		if _, err := url.ParseQuery(strings.TrimPrefix(q.key(""), "?")); err != nil {
			t.Fatalf("key %q of %q is not a query string: %v", q.key(""), raw, err)
		}
	})
}
