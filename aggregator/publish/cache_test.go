package publish

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestCacheIsBounded(t *testing.T) {
	c := newCache(time.Now, 0)
	renders := 0
	for i := range 3 * maxCached {
		key := fmt.Sprintf("k%d", i)
		rd, err := c.get(1, key, func() (*rendered, error) {
			renders++
			return newRendered([]byte(key), "text/plain", time.Time{}), nil
		})
		if err != nil || string(rd.body) != key {
			t.Fatalf("get(%q) = %q, %v", key, rd.body, err)
		}
	}
	if n := len(c.snap.Load().m); n > maxCached {
		t.Errorf("cache holds %d entries after %d keys, want at most %d", n, 3*maxCached, maxCached)
	}
	if renders != 3*maxCached {
		t.Errorf("%d renders for %d distinct keys", renders, 3*maxCached)
	}
	// An older generation's render is served but not kept.
	if _, err := c.get(0, "old", func() (*rendered, error) { return newRendered([]byte("old"), "text/plain", time.Time{}), nil }); err != nil {
		t.Fatal(err)
	}
	if s := c.snap.Load(); s.gen != 1 || s.m["old"] != nil {
		t.Errorf("a stale render replaced generation 1 (gen %d, kept %v)", s.gen, s.m["old"] != nil)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"", false}, {"gzip", true}, {"deflate, gzip;q=0.5", true}, {"GZIP", true},
		{"gzip;q=0", false}, {"gzip; q=0.0", false}, {"br, identity", false}, {"x-gzip", false},
	} {
		if got := acceptsGzip(tc.header); got != tc.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestClean(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"a\x00b\x01c\x1fd\x7fe", "abcde"},
		{"tab\tnl\ncr\r", "tab\tnl\ncr\r"},
		{"c1\u0085\u009f!", "c1!"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{"non\uFFFEchar\uFFFF", "nonchar"},
		{"emoji 🎉 rtl שלום \u202e", "emoji 🎉 rtl שלום \u202e"},
	} {
		if got := clean(tc.in); got != tc.want {
			t.Errorf("clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got, want := line("  a \n\t b\u00a0 c  "), "a b c"; got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
}

func TestSafeURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://a.example/x?y=1", "https://a.example/x?y=1"},
		{" http://a.example/ ", "http://a.example/"},
		{"javascript:alert(1)", ""},
		{"JavaScript:alert(1)", ""},
		{"data:text/html,x", ""},
		{"/relative", ""},
		{"//host/x", ""},
		{"", ""},
	} {
		if got := safeURL(tc.in); got != tc.want {
			t.Errorf("safeURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNotModified(t *testing.T) {
	mod := time.Date(2025, 12, 2, 10, 0, 0, 0, time.UTC)
	const etag = `"abc"`
	for _, tc := range []struct {
		inm, ims string
		want     bool
	}{
		{"", "", false},
		{`"abc"`, "", true},
		{`W/"abc"`, "", true},
		{`"x", "abc"`, "", true},
		{`"x","y"`, "", false},
		{"*", "", true},
		{`"abc-gz"`, "", false},
		{"", mod.Format(http.TimeFormat), true},
		{"", mod.Add(time.Hour).Format(http.TimeFormat), true},
		{"", mod.Add(-time.Second).Format(http.TimeFormat), false},
		{"", "yesterday", false},
		{`"x"`, mod.Format(http.TimeFormat), false}, // If-None-Match wins
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.inm != "" {
			r.Header.Set("If-None-Match", tc.inm)
		}
		if tc.ims != "" {
			r.Header.Set("If-Modified-Since", tc.ims)
		}
		if got := notModified(r, etag, mod); got != tc.want {
			t.Errorf("notModified(If-None-Match %q, If-Modified-Since %q) = %v, want %v", tc.inm, tc.ims, got, tc.want)
		}
	}
}
