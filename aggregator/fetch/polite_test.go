package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestReserved(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		public bool
	}{
		{"8.8.8.8", true},
		{"93.184.215.14", true},
		{"2606:4700:4700::1111", true},
		{"::ffff:8.8.8.8", true},
		{"64:ff9b::808:808", true}, // NAT64 of 8.8.8.8
		{"127.0.0.1", false},
		{"127.1.2.3", false},
		{"10.0.0.1", false},
		{"172.16.5.4", false},
		{"172.32.0.1", true},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"100.64.0.1", false},      // CGNAT
		{"100.127.255.254", false},
		{"100.128.0.1", true},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"224.0.0.1", false},
		{"255.255.255.255", false},
		{"240.0.0.1", false},
		{"198.18.0.1", false},
		{"::1", false},
		{"::", false},
		{"fe80::1", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"ff02::1", false},
		{"::ffff:127.0.0.1", false}, // IPv4-mapped
		{"::ffff:10.1.2.3", false},
		{"::127.0.0.1", false},      // IPv4-compatible
		{"64:ff9b::7f00:1", false},  // NAT64 of 127.0.0.1
		{"2002:7f00:1::1", false},   // 6to4 of 127.0.0.1
		{"2002:0808:0808::1", true}, // 6to4 of 8.8.8.8
		{"2001:db8::1", false},      // documentation
		{"fec0::1", false},          // site-local
		{"64:ff9b:1::a00:1", false}, // local-use NAT64
		{"fe80::1%eth0", false},     // zoned link-local
		{"2001:4860:4860::8888", true},
	} {
		a := netip.MustParseAddr(tc.addr)
		if got := Reserved(a); (got == "") != tc.public {
			t.Errorf("Reserved(%s) = %q, want public=%v", tc.addr, got, tc.public)
		}
	}
}

// TestRefusesPrivateAddresses fetches a loopback server by IP, by a name
// that resolves to it, and over IPv6, without allowing private networks:
// each is refused with an error that names the URL, the address and the
// setting that allows it, and the server never sees a request.
func TestRefusesPrivateAddresses(t *testing.T) {
	var hits atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("<rss/>"))
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	urls := []string{srv.URL + "/feed", fmt.Sprintf("http://localhost:%d/feed", port)}
	if ln, err := net.Listen("tcp", "[::1]:0"); err == nil {
		srv6 := httptest.NewUnstartedServer(h)
		srv6.Listener.Close()
		srv6.Listener = ln
		srv6.Start()
		defer srv6.Close()
		urls = append(urls, srv6.URL+"/feed")
	}
	c := New(Options{})
	for _, u := range urls {
		_, err := c.Get(context.Background(), u, Validators{})
		if !errors.Is(err, ErrPrivateAddress) {
			t.Errorf("Get %s = %v, want ErrPrivateAddress", u, err)
			continue
		}
		for _, want := range []string{u, "loopback", "allow_private_networks = true"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the server saw %d requests, want none", n)
	}
	// Allowed, the same URLs work.
	allowed := New(Options{AllowPrivate: true})
	for _, u := range urls {
		if _, err := allowed.Get(context.Background(), u, Validators{}); err != nil {
			t.Errorf("with AllowPrivate, Get %s = %v", u, err)
		}
	}
}

// listenOn starts a server on ip, or skips the test when the machine has no
// such loopback address.
func listenOn(t *testing.T, ip string, h http.Handler) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// TestRedirectToPrivateRefused: a server the client may reach (127.0.0.2,
// allowed through AllowAddrs, standing in for a public host) redirects to
// 127.0.0.1, which it may not: the redirect is refused after resolution.
func TestRedirectToPrivateRefused(t *testing.T) {
	var inside atomic.Int32
	private := listenOn(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inside.Add(1)
		w.Write([]byte("secret"))
	}))
	port := private.Listener.Addr().(*net.TCPAddr).Port
	public := listenOn(t, "127.0.0.2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/feed":
			w.Write([]byte("<rss/>"))
		case "/to-ip":
			http.Redirect(w, r, private.URL+"/admin", http.StatusFound)
		case "/to-name":
			http.Redirect(w, r, fmt.Sprintf("http://localhost:%d/admin", port), http.StatusMovedPermanently)
		}
	}))
	c := New(Options{AllowAddrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}})
	if res, err := c.Get(context.Background(), public.URL+"/feed", Validators{}); err != nil || string(res.Body) != "<rss/>" {
		t.Fatalf("Get of the allowed server = %v, %v", res, err)
	}
	for _, path := range []string{"/to-ip", "/to-name"} {
		_, err := c.Get(context.Background(), public.URL+path, Validators{})
		if !errors.Is(err, ErrPrivateAddress) {
			t.Errorf("Get %s (redirect to loopback) = %v, want ErrPrivateAddress", path, err)
			continue
		}
		for _, want := range []string{public.URL + path, "redirected to", "127.0.0.1:" + fmt.Sprint(port), "allow_private_networks"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	}
	if n := inside.Load(); n != 0 {
		t.Errorf("the private server saw %d requests, want none", n)
	}
}

// TestProxyIsTrusted: the connection to a configured proxy on loopback is
// the operator's choice and is not refused.
func TestProxyIsTrusted(t *testing.T) {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Host != "feed.invalid" {
			http.Error(w, "unexpected host "+r.URL.Host, http.StatusBadGateway)
			return
		}
		w.Write([]byte("<rss/>"))
	}))
	defer proxy.Close()
	pu, _ := url.Parse(proxy.URL)
	c := New(Options{Proxy: http.ProxyURL(pu)})
	res, err := c.Get(context.Background(), "http://feed.invalid/rss", Validators{})
	if err != nil || string(res.Body) != "<rss/>" {
		t.Errorf("Get through a loopback proxy = %v, %v", res, err)
	}
}

func TestPermanentRedirects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := map[string]int{"301": 301, "302": 302, "307": 307, "308": 308}
		// /r/301/308/... redirects with each code in turn, then serves.
		rest, ok := strings.CutPrefix(r.URL.Path, "/r/")
		if !ok {
			w.Write([]byte("<rss/>"))
			return
		}
		first, next, _ := strings.Cut(rest, "/")
		if next == "" {
			next = "final"
		} else {
			next = "r/" + next
		}
		http.Redirect(w, r, "/"+next, code[first])
	}))
	defer srv.Close()
	c := New(Options{AllowPrivate: true})
	for _, tc := range []struct {
		chain, moved string
	}{
		{"301", "/final"},
		{"308", "/final"},
		{"302", ""},
		{"307", ""},
		{"301/308", "/final"},
		{"301/302", "/r/302"}, // moved for good to a URL that redirects for now
		{"302/301", ""},
	} {
		res, err := c.Get(context.Background(), srv.URL+"/r/"+tc.chain, Validators{})
		if err != nil {
			t.Errorf("Get %s: %v", tc.chain, err)
			continue
		}
		want := ""
		if tc.moved != "" {
			want = srv.URL + tc.moved
		}
		if res.Moved != want || res.URL != srv.URL+"/final" {
			t.Errorf("Get %s: Moved = %q, URL = %q; want %q, %q", tc.chain, res.Moved, res.URL, want, srv.URL+"/final")
		}
	}
}

func TestFreshness(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	date := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	for _, tc := range []struct {
		h    map[string]string
		want time.Duration
	}{
		{nil, 0},
		{map[string]string{"Cache-Control": "max-age=600"}, 10 * time.Minute},
		{map[string]string{"Cache-Control": "public, max-age=\"300\""}, 5 * time.Minute},
		{map[string]string{"Cache-Control": "max-age=600", "Age": "100"}, 500 * time.Second},
		{map[string]string{"Cache-Control": "max-age=600", "Age": "9000"}, 0},
		{map[string]string{"Cache-Control": "max-age=999999999"}, MaxFresh},
		{map[string]string{"Cache-Control": "no-cache, max-age=600"}, 0},
		{map[string]string{"Cache-Control": "max-age=60", "Expires": date(time.Hour)}, time.Minute},
		{map[string]string{"Expires": date(time.Hour)}, time.Hour},
		{map[string]string{"Expires": date(time.Hour), "Date": date(30 * time.Minute)}, 30 * time.Minute},
		{map[string]string{"Expires": date(-time.Hour)}, 0},
		{map[string]string{"Expires": "0"}, 0},
		{map[string]string{"Expires": date(1000 * time.Hour)}, MaxFresh},
		{map[string]string{"Cache-Control": "max-age=soon"}, 0},
	} {
		h := http.Header{}
		for k, v := range tc.h {
			h.Set(k, v)
		}
		if got := freshness(h, now); got != tc.want {
			t.Errorf("freshness(%v) = %v, want %v", tc.h, got, tc.want)
		}
	}
}

func TestRetryAfterAndHold(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{" 30 ", 30 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"99999999999", MaxRetryAfter},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{now.Add(100 * time.Hour).Format(http.TimeFormat), MaxRetryAfter},
		{"tomorrow", 0},
	} {
		if got := retryAfter(tc.v, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
	for _, tc := range []struct {
		code  int
		after time.Duration
		want  time.Duration
	}{
		{429, 2 * time.Minute, 2 * time.Minute},
		{429, 0, DefaultHold},
		{503, time.Hour, time.Hour},
		{503, 0, 0}, // an outage without advice: backed off per source
		{500, time.Hour, 0},
		{410, 0, 0},
	} {
		e := &StatusError{Code: tc.code, RetryAfter: tc.after}
		if got := e.HostHold(); got != tc.want {
			t.Errorf("HostHold of HTTP %d with Retry-After %v = %v, want %v", tc.code, tc.after, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	base := 15 * time.Minute
	prev := time.Duration(0)
	for streak := 1; streak <= 12; streak++ {
		mid := Backoff(streak, base, 0.5)
		lo, hi := Backoff(streak, base, 0), Backoff(streak, base, 0.999999)
		want := min(base<<(streak-1), MaxBackoff)
		if mid != want {
			t.Errorf("Backoff(%d, %v, 0.5) = %v, want %v", streak, base, mid, want)
		}
		if lo < want*9/10-time.Second || hi > min(want*11/10, MaxBackoff) || lo > mid || hi < mid {
			t.Errorf("Backoff(%d) jitter range [%v, %v], want within ±10%% of %v, capped at %v", streak, lo, hi, want, MaxBackoff)
		}
		if mid < prev {
			t.Errorf("Backoff(%d) = %v < Backoff(%d) = %v: must not shrink", streak, mid, streak-1, prev)
		}
		prev = mid
	}
	if got := Backoff(1000, base, 0.5); got != MaxBackoff {
		t.Errorf("Backoff(1000) = %v, want the cap %v", got, MaxBackoff)
	}
	if got := Backoff(0, base, 0.5); got != 0 {
		t.Errorf("Backoff(0) = %v, want 0", got)
	}
}

func TestHostKey(t *testing.T) {
	for in, want := range map[string]string{
		"http://Example.COM/feed":       "example.com:80",
		"https://example.com/feed":      "example.com:443",
		"https://example.com:8443/feed": "example.com:8443",
		"http://[::1]:8080/":            "[::1]:8080",
		"not a url":                     "",
	} {
		if got := HostKeyOf(in); got != want {
			t.Errorf("HostKeyOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPerHostLimit: many concurrent fetches of one host never have more
// than PerHost requests in flight there, while another host is not held
// up by the first one's queue.
func TestPerHostLimit(t *testing.T) {
	const perHost = 3
	var inFlight, peak atomic.Int32
	release := make(chan struct{})
	busy := listenOn(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		// Headers first, then the body later: a request keeps its turn
		// until its body is read.
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-release
		w.Write([]byte("<rss/>"))
		inFlight.Add(-1)
	}))
	other := listenOn(t, "127.0.0.2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<rss/>"))
	}))
	c := New(Options{AllowPrivate: true, PerHost: perHost})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			if _, err := c.Get(context.Background(), fmt.Sprintf("%s/f/%d", busy.URL, i), Validators{}); err != nil {
				errs <- err
			}
		})
	}
	// Wait until the busy host's slots are all taken, then fetch the other.
	for deadline := time.Now().Add(10 * time.Second); inFlight.Load() < perHost; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests reached the server", inFlight.Load())
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := c.Get(context.Background(), other.URL+"/f", Validators{}); err != nil {
		t.Errorf("Get of another host while the first is busy: %v", err)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if p := peak.Load(); p != perHost {
		t.Errorf("peak concurrent requests to one host = %d, want %d", p, perHost)
	}
}

// fakeTransport answers every request after a delay, recording when each
// request started; it runs inside a synctest bubble, so time is fake.
type fakeTransport struct {
	delay  time.Duration
	mu     sync.Mutex
	starts []time.Time
}

func (f *fakeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.starts = append(f.starts, time.Now())
	f.mu.Unlock()
	select {
	case <-time.After(f.delay):
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("<rss/>")), Request: req, Header: http.Header{}}, nil
}

func TestHostGap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ft := &fakeTransport{}
		c := New(Options{Transport: ft, HostGap: 2 * time.Second})
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				if _, err := c.Get(context.Background(), fmt.Sprintf("http://a.example/%d", i), Validators{}); err != nil {
					t.Error(err)
				}
			})
		}
		if _, err := c.Get(context.Background(), "http://b.example/", Validators{}); err != nil {
			t.Error(err)
		}
		wg.Wait()
		// Four starts on a.example at least 2 s apart span 6 s; b.example
		// went at once.
		first, last := ft.starts[0], ft.starts[0]
		for _, s := range ft.starts {
			if s.Before(first) {
				first = s
			}
			if s.After(last) {
				last = s
			}
		}
		if got := last.Sub(first); got != 6*time.Second {
			t.Errorf("four requests to one host with a 2s gap spanned %v, want 6s", got)
		}
		at := map[time.Duration]int{}
		for _, s := range ft.starts {
			at[s.Sub(first)]++
		}
		want := map[time.Duration]int{0: 2, 2 * time.Second: 1, 4 * time.Second: 1, 6 * time.Second: 1}
		if fmt.Sprint(at) != fmt.Sprint(want) {
			t.Errorf("request starts (offset: count) = %v, want %v", at, want)
		}
	})
}

// TestTimeoutExcludesHostWait: a fetch queued behind others for its host's
// turn is not timed out by the wait; the timeout counts from its first
// request.
func TestTimeoutExcludesHostWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ft := &fakeTransport{delay: 2 * time.Second}
		c := New(Options{Transport: ft, PerHost: 1, Timeout: 3 * time.Second})
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				if _, err := c.Get(context.Background(), fmt.Sprintf("http://a.example/%d", i), Validators{}); err != nil {
					t.Errorf("fetch %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		// And the timeout still applies to a slow answer.
		ft.delay = 5 * time.Second
		_, err := c.Get(context.Background(), "http://a.example/slow", Validators{})
		if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "http://a.example/slow") {
			t.Errorf("Get of a 5s answer with a 3s timeout = %v, want ErrTimeout naming the URL", err)
		}
	})
}

// TestHolds: a 429 holds its host: later requests to it, and requests that
// were waiting for their turn there, are refused with a HeldError without
// reaching the server, until the hold ends; other hosts are not affected.
func TestHolds(t *testing.T) {
	var hits atomic.Int32
	release := make(chan struct{})
	busy := listenOn(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/slow" {
			<-release
		}
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	other := listenOn(t, "127.0.0.2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<rss/>"))
	}))
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c := New(Options{AllowPrivate: true, PerHost: 1, Now: clock})

	// /slow takes the host's only slot; /queued waits for it.
	slow := make(chan error, 1)
	go func() { _, err := c.Get(context.Background(), busy.URL+"/slow", Validators{}); slow <- err }()
	for hits.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	queued := make(chan error, 1)
	go func() { _, err := c.Get(context.Background(), busy.URL+"/queued", Validators{}); queued <- err }()
	// Let it queue for the slot. (Should it start only after the 429, it is
	// refused all the same; queued, it is refused by the check made when
	// its turn comes, which the hold is set before.)
	time.Sleep(20 * time.Millisecond)
	close(release)
	var se *StatusError
	if err := <-slow; !errors.As(err, &se) || se.Code != 429 {
		t.Fatalf("Get /slow = %v, want a 429", err)
	}
	var he *HeldError
	if err := <-queued; !errors.As(err, &he) || !strings.Contains(err.Error(), busy.URL+"/queued") {
		t.Errorf("Get of a request queued behind the 429 = %v, want a HeldError naming its URL", err)
	}
	host := HostKeyOf(busy.URL)
	if until, ok := c.Held(host); !ok || !until.Equal(now.Add(2*time.Minute)) {
		t.Errorf("Held(%s) = %v, %v; want until %v", host, until, ok, now.Add(2*time.Minute))
	}
	if _, err := c.Get(context.Background(), busy.URL+"/later", Validators{}); !errors.As(err, &he) || he.Host != host {
		t.Errorf("Get of the held host = %v, want a HeldError for %s", err, host)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("the held host saw %d requests, want 1", n)
	}
	if _, err := c.Get(context.Background(), other.URL+"/f", Validators{}); err != nil {
		t.Errorf("Get of another host: %v", err)
	}
	// A stored hold given back with Hold, and the end of a hold.
	c.Hold(HostKeyOf(other.URL), now.Add(time.Hour))
	if _, err := c.Get(context.Background(), other.URL+"/f", Validators{}); !errors.As(err, &he) {
		t.Errorf("Get after Hold = %v, want a HeldError", err)
	}
	mu.Lock()
	now = now.Add(2*time.Minute + time.Second)
	mu.Unlock()
	if _, ok := c.Held(host); ok {
		t.Error("the hold did not end after its Retry-After")
	}
	if _, err := c.Get(context.Background(), busy.URL+"/again", Validators{}); !errors.As(err, &se) || hits.Load() != 2 {
		t.Errorf("Get after the hold = %v, want it sent (and answered 429)", err)
	}
}
