// Package fetch is storyfeed's polite HTTP client for feeds: conditional
// GET with the validators of the last fetch, a whole-request timeout, a cap
// on body size, a bounded number of redirects and a descriptive User-Agent.
//
// It fetches bytes and reports what the server said; it does not parse
// feeds or keep state between calls. Callers store the validators.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Options configure a Client.
type Options struct {
	UserAgent   string
	Timeout     time.Duration // whole request, headers and body; default 30s
	MaxBodySize int64         // bytes; default 10 MiB
	// Transport replaces the default transport, for tests.
	Transport http.RoundTripper
}

// MaxRedirects is how many redirects one fetch follows.
const MaxRedirects = 10

// Client fetches feeds. It is safe for concurrent use and shares one
// connection pool among all callers.
type Client struct {
	hc  *http.Client
	opt Options
}

// New returns a Client.
func New(opt Options) *Client {
	if opt.Timeout <= 0 {
		opt.Timeout = 30 * time.Second
	}
	if opt.MaxBodySize <= 0 {
		opt.MaxBodySize = 10 << 20
	}
	if opt.UserAgent == "" {
		opt.UserAgent = "storyfeed"
	}
	tr := opt.Transport
	if tr == nil {
		tr = &http.Transport{
			Proxy: http.ProxyFromEnvironment,
			DialContext: (&net.Dialer{
				Timeout:   10 * time.Second,
				KeepAlive: 30 * time.Second,
			}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: opt.Timeout,
		}
	}
	return &Client{
		opt: opt,
		hc: &http.Client{
			Transport: tr,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) > MaxRedirects {
					return fmt.Errorf("stopped after %d redirects", MaxRedirects)
				}
				return nil
			},
		},
	}
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
}

// StatusError is a response other than 200 or 304.
type StatusError struct {
	URL        string
	Code       int
	RetryAfter time.Duration // from Retry-After on 429 and 503; 0 if absent
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("fetch %s: HTTP %d %s", e.URL, e.Code, http.StatusText(e.Code))
}

// ErrTooLarge is returned for a body bigger than Options.MaxBodySize.
var ErrTooLarge = errors.New("body too large")

// Get fetches url, conditionally when v holds validators.
func (c *Client) Get(ctx context.Context, url string, v Validators) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", url, err)
	}
	req.Header.Set("User-Agent", c.opt.UserAgent)
	req.Header.Set("Accept", "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5")
	if v.ETag != "" {
		req.Header.Set("If-None-Match", v.ETag)
	}
	if v.LastModified != "" {
		req.Header.Set("If-Modified-Since", v.LastModified)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	res := &Result{
		Status:      resp.StatusCode,
		URL:         resp.Request.URL.String(),
		ContentType: resp.Header.Get("Content-Type"),
		Validators: Validators{
			ETag:         resp.Header.Get("ETag"),
			LastModified: resp.Header.Get("Last-Modified"),
		},
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
		return nil, &StatusError{URL: url, Code: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
	if resp.ContentLength > c.opt.MaxBodySize {
		return nil, fmt.Errorf("fetch %s: %w: Content-Length %d > %d", url, ErrTooLarge, resp.ContentLength, c.opt.MaxBodySize)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.opt.MaxBodySize+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: read body: %w", url, err)
	}
	if int64(len(body)) > c.opt.MaxBodySize {
		return nil, fmt.Errorf("fetch %s: %w: more than %d bytes", url, ErrTooLarge, c.opt.MaxBodySize)
	}
	res.Body = body
	return res, nil
}

// retryAfter parses a Retry-After value: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
