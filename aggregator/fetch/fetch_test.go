package fetch

import (
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestConditionalGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != "test-agent" {
			t.Errorf("User-Agent %q", r.Header.Get("User-Agent"))
		}
		if r.Header.Get("If-None-Match") == `"e1"` || r.Header.Get("If-Modified-Since") == "Mon, 01 Dec 2025 00:00:00 GMT" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"e1"`)
		w.Header().Set("Last-Modified", "Mon, 01 Dec 2025 00:00:00 GMT")
		w.Write([]byte("<rss/>"))
	}))
	defer srv.Close()
	c := New(Options{UserAgent: "test-agent", AllowPrivate: true})
	ctx := context.Background()
	res, err := c.Get(ctx, srv.URL, Validators{})
	if err != nil || res.Status != 200 || string(res.Body) != "<rss/>" || res.Validators.ETag != `"e1"` {
		t.Fatalf("first Get = %+v, %v", res, err)
	}
	for _, v := range []Validators{{ETag: `"e1"`}, {LastModified: "Mon, 01 Dec 2025 00:00:00 GMT"}} {
		res, err = c.Get(ctx, srv.URL, v)
		if err != nil || res.Status != 304 || res.Body != nil {
			t.Errorf("Get with %+v = %+v, %v; want 304", v, res, err)
		}
	}
	// A 304 without validators keeps the ones sent.
	if res.Validators.LastModified != "Mon, 01 Dec 2025 00:00:00 GMT" {
		t.Errorf("validators after 304: %+v", res.Validators)
	}
}

func TestStatusErrorRetryAfter(t *testing.T) {
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/seconds":
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusTooManyRequests)
		case "/date":
			w.Header().Set("Retry-After", date)
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusGone)
		}
	}))
	defer srv.Close()
	for _, tc := range []struct {
		path     string
		code     int
		min, max time.Duration
	}{
		{"/seconds", 429, 120 * time.Second, 120 * time.Second},
		{"/date", 503, 80 * time.Second, 91 * time.Second},
		{"/gone", 410, 0, 0},
	} {
		c := New(Options{AllowPrivate: true}) // a 429 or 503 holds the host
		_, err := c.Get(context.Background(), srv.URL+tc.path, Validators{})
		var se *StatusError
		if !errors.As(err, &se) || se.Code != tc.code || se.RetryAfter < tc.min || se.RetryAfter > tc.max {
			t.Errorf("Get %s = %v (%+v), want status %d, Retry-After in [%v, %v]", tc.path, err, se, tc.code, tc.min, tc.max)
		}
		if err != nil && !strings.Contains(err.Error(), srv.URL+tc.path) {
			t.Errorf("error %q does not name the URL", err)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	big := strings.Repeat("x", 5000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // no Content-Length
		}
		w.Write([]byte(big))
	}))
	defer srv.Close()
	c := New(Options{MaxBodySize: 4096, AllowPrivate: true})
	for _, path := range []string{"/sized", "/chunked"} {
		if _, err := c.Get(context.Background(), srv.URL+path, Validators{}); !errors.Is(err, ErrTooLarge) {
			t.Errorf("Get %s of a 5000-byte body with a 4096 cap = %v, want ErrTooLarge", path, err)
		}
	}
}

func TestGzipBodyLimitAppliesAfterDecoding(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		zw.Write([]byte(strings.Repeat("a", 1<<20))) // 1 MiB of 'a' is a few KB gzipped
		zw.Close()
	}))
	defer srv.Close()
	c := New(Options{MaxBodySize: 64 << 10, AllowPrivate: true})
	if _, err := c.Get(context.Background(), srv.URL, Validators{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Get of a small gzip that inflates to 1 MiB = %v, want ErrTooLarge", err)
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<rss>"))
		w.(http.Flusher).Flush()
		select { // a body that never ends
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := New(Options{Timeout: 200 * time.Millisecond, AllowPrivate: true})
	start := time.Now()
	_, err := c.Get(context.Background(), srv.URL, Validators{})
	if err == nil || !errors.Is(err, ErrTimeout) {
		t.Errorf("Get of a never-ending body = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timeout took %v", d)
	}
}

func TestRedirects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/moved":
			http.Redirect(w, r, "/feed", http.StatusMovedPermanently)
		default:
			w.Write([]byte("<rss/>"))
		}
	}))
	defer srv.Close()
	c := New(Options{AllowPrivate: true})
	res, err := c.Get(context.Background(), srv.URL+"/moved", Validators{})
	if err != nil || res.URL != srv.URL+"/feed" {
		t.Errorf("Get /moved = %+v, %v; want the final URL", res, err)
	}
	if _, err := c.Get(context.Background(), srv.URL+"/loop", Validators{}); err == nil || !strings.Contains(err.Error(), "redirects") {
		t.Errorf("Get of a redirect loop = %v, want a redirect error", err)
	}
}

func TestDefaultUserAgent(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("User-Agent")
	}))
	defer srv.Close()
	if _, err := New(Options{AllowPrivate: true}).Get(context.Background(), srv.URL, Validators{}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, "storyfeed/") || !strings.HasSuffix(got, " (+https://github.com/storyfeed/storyfeed)") || got != UserAgent("") {
		t.Errorf("User-Agent = %q, want storyfeed/VERSION (+https://github.com/storyfeed/storyfeed)", got)
	}
	if got, want := UserAgent("v1.2.3"), "storyfeed/v1.2.3 (+https://github.com/storyfeed/storyfeed)"; got != want {
		t.Errorf("UserAgent(v1.2.3) = %q, want %q", got, want)
	}
}

// TestGetIntoReusesBuffer checks that GetInto reads bodies of every kind
// (sized, chunked, gzipped, empty, exactly at the limit) whole, into the
// buffer given when it has the room, and still stops at the size limit.
func TestGetIntoReusesBuffer(t *testing.T) {
	bodies := map[string]string{
		"/sized":   strings.Repeat("sized body ", 300),
		"/chunked": strings.Repeat("chunked body ", 400),
		"/gzip":    strings.Repeat("gzip body ", 700),
		"/empty":   "",
		"/limit":   strings.Repeat("y", 8192),
		"/over":    strings.Repeat("z", 8193),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := bodies[r.URL.Path]
		switch r.URL.Path {
		case "/chunked":
			w.(http.Flusher).Flush() // no Content-Length
		case "/gzip":
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			zw.Write([]byte(body))
			zw.Close()
			return
		}
		w.Write([]byte(body))
	}))
	defer srv.Close()
	c := New(Options{MaxBodySize: 8192, AllowPrivate: true})
	for _, path := range []string{"/sized", "/chunked", "/gzip", "/empty", "/limit"} {
		for _, room := range []int{0, 100, 16 << 10} {
			buf := make([]byte, 7, room+7)
			copy(buf, "garbage")
			res, err := c.GetInto(context.Background(), srv.URL+path, Validators{}, buf)
			if err != nil {
				t.Fatalf("GetInto %s (buffer of %d): %v", path, room, err)
			}
			if string(res.Body) != bodies[path] {
				t.Errorf("GetInto %s (buffer of %d): body of %d bytes %.20q..., want %d bytes %.20q...",
					path, room, len(res.Body), res.Body, len(bodies[path]), bodies[path])
			}
			if reused := cap(res.Body) > 0 && &res.Body[:1][0] == &buf[:1][0]; reused != (room+7 > len(bodies[path])) {
				t.Errorf("GetInto %s (buffer of %d): read into the buffer given = %v, want %v", path, room, reused, !reused)
			}
		}
	}
	if _, err := c.GetInto(context.Background(), srv.URL+"/over", Validators{}, make([]byte, 0, 16<<10)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("GetInto of 8193 bytes with a limit of 8192 = %v, want ErrTooLarge", err)
	}
}
