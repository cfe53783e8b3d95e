package fetch

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// HostKey is the key under which a URL's host is limited and held:
// the lower-cased host name and the port, the scheme's default port when
// the URL has none ("example.com:443").
func HostKey(u *url.URL) string {
	v := *u
	v.Host = strings.ToLower(u.Host)
	if v.Scheme == "" {
		v.Scheme = "http"
	}
	return canonicalAddr(&v)
}

// HostKeyOf is HostKey of a URL string; "" when it does not parse.
func HostKeyOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return HostKey(u)
}

// politeTransport limits the requests to each host: at most perHost at once
// (a request holds its slot until its body is closed), request starts at
// least gap apart, and none while the host is held. Redirects go through it
// too, each counted against the host it goes to.
type politeTransport struct {
	base    http.RoundTripper
	perHost int           // 0: no limit
	gap     time.Duration // 0: none
	now     func() time.Time

	mu    sync.Mutex
	hosts map[string]*hostLimit
}

type hostLimit struct {
	slots chan struct{} // nil without a concurrency limit

	mu   sync.Mutex
	next time.Time // earliest start of the next request
	hold time.Time // no request before this
}

func newPoliteTransport(base http.RoundTripper, perHost int, gap time.Duration, now func() time.Time) *politeTransport {
	return &politeTransport{base: base, perHost: perHost, gap: gap, now: now, hosts: map[string]*hostLimit{}}
}

// HeldError is a request refused without being sent: its host asked for a
// pause (see Client.Hold).
type HeldError struct {
	Host  string // host:port
	Until time.Time
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("not fetched: %s asked for a pause until %s", e.Host, e.Until.UTC().Format(time.RFC3339))
}

// setHold holds host until the given time, or longer if it already is.
func (t *politeTransport) setHold(host string, until time.Time) {
	h := t.host(host)
	h.mu.Lock()
	if until.After(h.hold) {
		h.hold = until
	}
	h.mu.Unlock()
}

// held returns the error of a request to host now, nil if it is not held.
func (t *politeTransport) held(key string, h *hostLimit) *HeldError {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hold.After(t.now()) {
		return &HeldError{Host: key, Until: h.hold}
	}
	return nil
}

// heldUntil reports until when host is held; ok is false when it is not.
func (t *politeTransport) heldUntil(host string) (until time.Time, ok bool) {
	if err := t.held(host, t.host(host)); err != nil {
		return err.Until, true
	}
	return time.Time{}, false
}

func (t *politeTransport) host(key string) *hostLimit {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.hosts[key]
	if h == nil {
		h = &hostLimit{}
		if t.perHost > 0 {
			h.slots = make(chan struct{}, t.perHost)
		}
		t.hosts[key] = h
	}
	return h
}

func (t *politeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	key := HostKey(req.URL)
	h := t.host(key)
	if err := t.held(key, h); err != nil {
		return nil, err
	}
	if h.slots != nil {
		select {
		case h.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	release := sync.OnceFunc(func() {
		if h.slots != nil {
			<-h.slots
		}
	})
	// A request that waited for its turn is refused if the host asked for
	// a pause meanwhile.
	if err := t.held(key, h); err != nil {
		release()
		return nil, err
	}
	if t.gap > 0 {
		h.mu.Lock()
		now := t.now()
		start := h.next
		if start.Before(now) {
			start = now
		}
		h.next = start.Add(t.gap)
		h.mu.Unlock()
		if wait := start.Sub(now); wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				release()
				return nil, context.Cause(ctx)
			}
		}
	}
	resp, err := startTimer{t.base}.RoundTrip(req)
	if err != nil {
		release()
		return nil, err
	}
	resp.Body = &releaseBody{ReadCloser: resp.Body, release: release}
	return resp, nil
}

// releaseBody gives the host slot back when the body is closed.
type releaseBody struct {
	io.ReadCloser
	release func()
}

func (b *releaseBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}

// startTimer starts the whole-fetch timeout of the request's Get, if not
// yet started, when the request is about to be sent: time spent waiting
// for a host's turn does not count against it.
type startTimer struct{ base http.RoundTripper }

func (t startTimer) RoundTrip(req *http.Request) (*http.Response, error) {
	if d, ok := req.Context().Value(deadlineKey{}).(*deadline); ok {
		d.start()
	}
	return t.base.RoundTrip(req)
}

type deadlineKey struct{}

// deadline cancels a fetch's context once timeout has passed since the
// first request of the fetch was sent.
type deadline struct {
	timeout time.Duration
	cancel  context.CancelCauseFunc

	once  sync.Once
	mu    sync.Mutex
	timer *time.Timer
}

// errTimeout is the cause of a fetch cancelled by its deadline.
type errTimeout struct{ d time.Duration }

func (e errTimeout) Error() string { return "timed out after " + e.d.String() }

func (d *deadline) start() {
	d.once.Do(func() {
		d.mu.Lock()
		d.timer = time.AfterFunc(d.timeout, func() { d.cancel(errTimeout{d.timeout}) })
		d.mu.Unlock()
	})
}

func (d *deadline) stop() {
	d.mu.Lock()
	if d.timer != nil {
		d.timer.Stop()
	}
	d.mu.Unlock()
}
