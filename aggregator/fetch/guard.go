package fetch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"syscall"
)

// ErrPrivateAddress is wrapped by the error of a fetch that would have
// connected to a loopback, private, link-local or otherwise non-public
// address while Options.AllowPrivate is false.
var ErrPrivateAddress = errors.New("private network address")

// AddrError is a refused connection: the address a host name resolved to
// (or an IP literal) is not a public unicast address.
type AddrError struct {
	Addr   netip.AddrPort
	Reason string // e.g. "a loopback address"
}

func (e *AddrError) Error() string {
	return fmt.Sprintf("refused to connect to %s, %s: storyfeed fetches only from public addresses unless [poll] allow_private_networks = true",
		e.Addr, e.Reason)
}

func (e *AddrError) Unwrap() error { return ErrPrivateAddress }

// Special-purpose blocks that netip's predicates do not name. Sources:
// the IANA IPv4 and IPv6 special-purpose address registries.
var blocked = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), `a "this network" address`},
	{netip.MustParsePrefix("100.64.0.0/10"), "a carrier-grade NAT (shared) address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol assignment"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"}, // includes 255.255.255.255
	{netip.MustParsePrefix("::/96"), "an IPv4-compatible (deprecated) address"},
	{netip.MustParsePrefix("100::/64"), "a discard-only address"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a local-use NAT64 address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local (deprecated) address"},
}

// Address families that carry an IPv4 address inside an IPv6 one: the
// embedded address is what is reached, so it is checked too.
var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

// Reserved reports why a is not a public unicast address, or "" when it is.
// IPv4-mapped IPv6 addresses are judged by their IPv4 address, and so are
// the IPv4 addresses inside NAT64 and 6to4 addresses.
func Reserved(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return "an invalid address"
	case a.IsUnspecified():
		return "an unspecified address"
	case a.IsLoopback():
		return "a loopback address"
	case a.IsPrivate():
		return "a private address"
	case a.IsLinkLocalUnicast():
		return "a link-local address"
	case a.IsMulticast():
		return "a multicast address"
	}
	for _, b := range blocked {
		if b.prefix.Contains(a) {
			return b.reason
		}
	}
	if nat64.Contains(a) || sixTo4.Contains(a) {
		b := a.As16()
		var v4 [4]byte
		if nat64.Contains(a) {
			copy(v4[:], b[12:16])
		} else {
			copy(v4[:], b[2:6])
		}
		if r := Reserved(netip.AddrFrom4(v4)); r != "" {
			return r + " inside an IPv6 translation address"
		}
	}
	return ""
}

// guard refuses connections to non-public addresses. It checks the address
// actually dialled, after DNS resolution, so that neither a host name that
// resolves to 127.0.0.1 (or is re-bound to it between two lookups) nor a
// redirect can reach the host's own network.
type guard struct {
	allow []netip.Prefix // non-public addresses allowed anyway

	// Proxies from the environment are the operator's choice, so the
	// connection to one is not checked. Its host:port is recorded when the
	// transport asks for it, before it dials.
	mu      sync.Mutex
	proxies map[string]bool
}

// control is a net.Dialer Control function: it runs for every address the
// dialer tries, before the connection is made.
func (g *guard) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot check address %q: %v", ErrPrivateAddress, address, err)
	}
	reason := Reserved(ap.Addr())
	if reason == "" {
		return nil
	}
	for _, p := range g.allow {
		if p.Contains(ap.Addr().Unmap()) {
			return nil
		}
	}
	return &AddrError{Addr: ap, Reason: reason}
}

// proxy wraps a Transport.Proxy function, remembering the proxies it names.
func (g *guard) proxy(next func(*http.Request) (*url.URL, error)) func(*http.Request) (*url.URL, error) {
	return func(req *http.Request) (*url.URL, error) {
		u, err := next(req)
		if u != nil && err == nil {
			g.mu.Lock()
			if g.proxies == nil {
				g.proxies = map[string]bool{}
			}
			g.proxies[canonicalAddr(u)] = true
			g.mu.Unlock()
		}
		return u, err
	}
}

// dialContext dials addr, checking the address unless it is a proxy's.
func (g *guard) dialContext(checked, unchecked *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		g.mu.Lock()
		isProxy := g.proxies[addr]
		g.mu.Unlock()
		if isProxy {
			return unchecked.DialContext(ctx, network, addr)
		}
		return checked.DialContext(ctx, network, addr)
	}
}

// canonicalAddr is the host:port the transport dials for u: the port is the
// scheme's default when u has none.
func canonicalAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "socks5", "socks5h":
			port = "1080"
		default:
			port = "80"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}
