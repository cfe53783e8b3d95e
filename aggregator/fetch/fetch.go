// Package fetch is storyfeed's polite HTTP client for feeds: conditional
// GET with the validators of the last fetch, connect and whole-fetch
// timeouts, a cap on body size (after gzip decompression), at most
// MaxRedirects redirects, a descriptive User-Agent, a limit on concurrent
// requests and a minimum gap between requests to each host, and a refusal
// to connect to loopback, private and other non-public addresses.
//
// It fetches bytes and reports what the server said, including what the
// server asked of its clients (Retry-After, freshness lifetime, permanent
// moves); it does not parse feeds or keep state between calls. Callers
// store the validators and decide what the answers mean for their
// schedule, helped by HostHold, Backoff and HostKey.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"slices"
	"time"
)

// Options configure a Client. The zero value is usable, and refuses
// non-public addresses.
type Options struct {
	UserAgent      string        // default UserAgent("")
	Timeout        time.Duration // whole fetch, from the first request sent to the end of the body; default 30s
	ConnectTimeout time.Duration // one TCP connection (and TLS handshake); default 10s
	MaxBodySize    int64         // bytes, after decompression; default 10 MiB
	// PerHost is how many requests go to one host (host:port) at once; a
	// request keeps its turn until its body is read. 0 means no limit.
	PerHost int
	// HostGap is the minimum time between the starts of two requests to
	// one host; 0 means none.
	HostGap time.Duration
	// AllowPrivate lets fetches connect to loopback, private, link-local
	// and other non-public addresses (see Reserved). Without it only
	// AllowAddrs are allowed among them.
	AllowPrivate bool
	AllowAddrs   []netip.Prefix
	// Proxy picks the proxy of a request; nil means the environment's
	// (HTTP_PROXY, HTTPS_PROXY, NO_PROXY). Connections to a proxy are not
	// checked for private addresses: the operator chose it, and it is the
	// proxy that resolves and connects to the feed's host.
	Proxy func(*http.Request) (*url.URL, error)
	// Transport replaces the default transport, for tests. The host
	// limits apply to it; the private-address check does not.
	Transport http.RoundTripper
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// UserAgent names storyfeed, its version and where to learn about it, so
// that a feed's operator knows who fetches it:
// "storyfeed/v1.2.3 (+https://github.com/storyfeed/storyfeed)". An empty
// version is the main module's, as the go command stamped it into the
// binary, or "dev".
func UserAgent(version string) string {
	if version == "" {
		version = "dev"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version = bi.Main.Version
		}
	}
	return "storyfeed/" + version + " (+https://github.com/storyfeed/storyfeed)"
}

// MaxRedirects is how many redirects one fetch follows.
const MaxRedirects = 10

// Client fetches feeds. It is safe for concurrent use and shares one
// connection pool among all callers.
type Client struct {
	hc     *http.Client
	opt    Options
	polite *politeTransport
}

// New returns a Client.
func New(opt Options) *Client {
	if opt.Timeout <= 0 {
		opt.Timeout = 30 * time.Second
	}
	if opt.ConnectTimeout <= 0 {
		opt.ConnectTimeout = 10 * time.Second
	}
	if opt.MaxBodySize <= 0 {
		opt.MaxBodySize = 10 << 20
	}
	if opt.UserAgent == "" {
		opt.UserAgent = UserAgent("")
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Proxy == nil {
		opt.Proxy = http.ProxyFromEnvironment
	}
	tr := opt.Transport
	if tr == nil {
		idle := opt.PerHost
		if idle <= 0 {
			idle = 16
		}
		dialer := &net.Dialer{Timeout: opt.ConnectTimeout, KeepAlive: 30 * time.Second}
		t := &http.Transport{
			Proxy:                 opt.Proxy,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   idle,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   opt.ConnectTimeout,
			ResponseHeaderTimeout: opt.Timeout,
		}
		if !opt.AllowPrivate {
			g := &guard{allow: opt.AllowAddrs}
			checked := *dialer
			checked.Control = g.control
			t.Proxy = g.proxy(opt.Proxy)
			t.DialContext = g.dialContext(&checked, dialer)
		}
		tr = t
	}
	polite := newPoliteTransport(tr, opt.PerHost, opt.HostGap, opt.Now)
	return &Client{
		opt:    opt,
		polite: polite,
		hc: &http.Client{
			Transport:     polite,
			CheckRedirect: checkRedirect,
		},
	}
}

// Hold makes the client refuse every request to host (a HostKey) until
// the given time, with a *HeldError, or longer if it is already held
// longer. Get holds a host by itself when it answers with a HostHold;
// callers use Hold to restore holds they stored.
func (c *Client) Hold(host string, until time.Time) { c.polite.setHold(host, until) }

// Held reports until when host is held; ok is false when it is not.
func (c *Client) Held(host string) (until time.Time, ok bool) { return c.polite.heldUntil(host) }

// checkRedirect stops after MaxRedirects and records in the fetch's trace
// whether every redirect so far was permanent.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > MaxRedirects {
		return fmt.Errorf("stopped after %d redirects", MaxRedirects)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("redirect to %q: not an http or https URL", req.URL.Redacted())
	}
	if tr, ok := req.Context().Value(redirectKey{}).(*redirects); ok && req.Response != nil {
		switch code := req.Response.StatusCode; {
		case tr.broken:
		case code == http.StatusMovedPermanently || code == http.StatusPermanentRedirect:
			tr.permanent = req.URL.String()
		default:
			tr.broken = true
		}
	}
	return nil
}

type redirectKey struct{}

// redirects follows one fetch's chain of redirects: permanent is the last
// URL reached through permanent redirects only, from the start.
type redirects struct {
	permanent string
	broken    bool // a temporary redirect came first
}

// Validators are what the last successful fetch of a URL returned, sent back
// so that an unchanged feed costs a 304 and no body.
type Validators struct {
	ETag         string
	LastModified string
}

// Result is a completed fetch: 200 with a body, or 304 without one.
type Result struct {
	Status      int    // http.StatusOK or http.StatusNotModified
	URL         string // final URL after redirects
	Body        []byte // nil on 304
	ContentType string
	Validators  Validators // as sent by the server; on 304 the previous ones are kept where it sent none
	// Moved is the feed's new address: where the permanent redirects (301,
	// 308) at the start of the redirect chain led, before any temporary one
	// (302, 307). "" when the chain did not start with a permanent one.
	Moved string
	// Fresh is how long the server says the response stays fresh
	// (Cache-Control max-age, or Expires), capped at MaxFresh; 0 when it
	// said nothing.
	Fresh time.Duration
}

// StatusError is a response other than 200 or 304.
type StatusError struct {
	URL        string // the URL asked for
	Final      string // the URL that answered, after redirects
	Code       int
	RetryAfter time.Duration // from Retry-After, capped at MaxRetryAfter; 0 if absent
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("fetch %s: HTTP %d %s", e.URL, e.Code, http.StatusText(e.Code))
	if e.Final != "" && e.Final != e.URL {
		msg += " from " + e.Final
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %v)", e.RetryAfter.Round(time.Second))
	}
	return msg
}

// ErrTooLarge is returned for a body bigger than Options.MaxBodySize.
var ErrTooLarge = errors.New("body too large")

// ErrTimeout is wrapped by the error of a fetch that took longer than
// Options.Timeout.
var ErrTimeout = errors.New("timed out")

// Get fetches rawURL, conditionally when v holds validators. Every error
// names rawURL.
func (c *Client) Get(ctx context.Context, rawURL string, v Validators) (*Result, error) {
	return c.GetInto(ctx, rawURL, v, nil)
}

// GetInto is Get reading the body into buf, from its start: Result.Body is
// buf[:0] with the body appended, in buf's array when it has the room. A
// caller that fetches one feed after another passes the Body of the last
// fetch (once done with it) to read the next one without a new buffer:
// io.ReadAll would allocate about twice each body, growing as it reads.
func (c *Client) GetInto(ctx context.Context, rawURL string, v Validators, buf []byte) (*Result, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	dl := &deadline{timeout: c.opt.Timeout, cancel: cancel}
	defer dl.stop()
	rd := &redirects{}
	ctx = context.WithValue(context.WithValue(ctx, deadlineKey{}, dl), redirectKey{}, rd)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	req.Header.Set("User-Agent", c.opt.UserAgent)
	req.Header.Set("Accept", "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5")
	// Accept-Encoding is left to the transport, which then asks for gzip
	// and decompresses transparently; the size cap applies to what comes
	// out, so a gzip bomb stops at MaxBodySize.
	if v.ETag != "" {
		req.Header.Set("If-None-Match", v.ETag)
	}
	if v.LastModified != "" {
		req.Header.Set("If-Modified-Since", v.LastModified)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.fail(ctx, rawURL, err)
	}
	defer resp.Body.Close()
	now := c.opt.Now()
	res := &Result{
		Status:      resp.StatusCode,
		URL:         resp.Request.URL.String(),
		ContentType: resp.Header.Get("Content-Type"),
		Validators: Validators{
			ETag:         resp.Header.Get("ETag"),
			LastModified: resp.Header.Get("Last-Modified"),
		},
		Moved: rd.permanent,
		Fresh: freshness(resp.Header, now),
	}
	switch resp.StatusCode {
	case http.StatusNotModified:
		if res.Validators.ETag == "" {
			res.Validators.ETag = v.ETag
		}
		if res.Validators.LastModified == "" {
			res.Validators.LastModified = v.LastModified
		}
		return res, nil
	case http.StatusOK:
	default:
		se := &StatusError{URL: rawURL, Final: res.URL, Code: resp.StatusCode,
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"), now)}
		if d := se.HostHold(); d > 0 {
			c.Hold(HostKey(resp.Request.URL), now.Add(d))
		}
		return nil, se
	}
	if resp.ContentLength > c.opt.MaxBodySize {
		return nil, fmt.Errorf("fetch %s: %w: Content-Length %d is more than the limit of %d bytes ([poll] max_body_size)",
			rawURL, ErrTooLarge, resp.ContentLength, c.opt.MaxBodySize)
	}
	body, err := readBody(resp.Body, buf[:0], resp.ContentLength, c.opt.MaxBodySize+1)
	if err != nil {
		return nil, c.fail(ctx, rawURL, fmt.Errorf("read body: %w", err))
	}
	if int64(len(body)) > c.opt.MaxBodySize {
		what := "more than"
		if resp.Uncompressed {
			what = "decompressed to more than"
		}
		return nil, fmt.Errorf("fetch %s: %w: %s the limit of %d bytes ([poll] max_body_size)", rawURL, ErrTooLarge, what, c.opt.MaxBodySize)
	}
	res.Body = body
	return res, nil
}

// readBody appends to buf what r gives until EOF, at most limit bytes.
// size is the length announced (Content-Length), -1 when unknown: the
// buffer is made that large at once, with a byte more to see EOF without
// growing it.
func readBody(r io.Reader, buf []byte, size, limit int64) ([]byte, error) {
	if size > 0 && int64(cap(buf)-len(buf)) <= size {
		buf = slices.Grow(buf, int(min(size, limit))+1)
	}
	lr := io.LimitedReader{R: r, N: limit}
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, max(512, cap(buf)/2)) // as io.ReadAll grows it
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// fail words the error of a fetch that got no usable response.
func (c *Client) fail(ctx context.Context, rawURL string, err error) error {
	var he *HeldError
	if errors.As(err, &he) {
		return fmt.Errorf("fetch %s: %w", rawURL, he)
	}
	if cause := context.Cause(ctx); errors.As(cause, new(errTimeout)) {
		return fmt.Errorf("fetch %s: %w after %v ([poll] timeout)", rawURL, ErrTimeout, c.opt.Timeout)
	}
	var ae *AddrError
	if errors.As(err, &ae) {
		var ue *url.Error
		if errors.As(err, &ue) && ue.URL != rawURL {
			return fmt.Errorf("fetch %s: redirected to %s: %w", rawURL, ue.URL, ae)
		}
		return fmt.Errorf("fetch %s: %w", rawURL, ae)
	}
	return fmt.Errorf("fetch %s: %w", rawURL, err)
}
