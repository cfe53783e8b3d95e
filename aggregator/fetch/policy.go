package fetch

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Limits of what a server can ask for.
const (
	// MaxRetryAfter caps a Retry-After: a server cannot silence a host for
	// longer than this.
	MaxRetryAfter = 6 * time.Hour
	// DefaultHold is how long a host is left alone after a 429 that said
	// nothing about when to come back.
	DefaultHold = time.Minute
	// MaxBackoff caps the wait after repeated errors, and MaxFresh the
	// freshness lifetime a server can ask for: every source is fetched at
	// least once a day.
	MaxBackoff = 24 * time.Hour
	MaxFresh   = 24 * time.Hour
)

// retryAfter parses a Retry-After value, seconds or an HTTP date, capped
// at MaxRetryAfter; 0 when absent, malformed or in the past.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		d = time.Duration(min(n, int64(MaxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil && t.After(now) {
		d = t.Sub(now)
	}
	return min(d, MaxRetryAfter)
}

// HostHold is how long every source on the host that gave this answer
// should be left alone: the Retry-After of a 429 or 503, DefaultHold for a
// 429 without one, and 0 for anything else (an ordinary error, backed off
// per source).
func (e *StatusError) HostHold() time.Duration {
	switch e.Code {
	case http.StatusTooManyRequests:
		if e.RetryAfter > 0 {
			return e.RetryAfter
		}
		return DefaultHold
	case http.StatusServiceUnavailable:
		return e.RetryAfter
	}
	return 0
}

// freshness is how long a response says it stays fresh (RFC 9111 section
// 4.2.1): Cache-Control max-age less Age, else Expires less Date (or now);
// 0 for no-store, no-cache or nothing usable. It is capped at MaxFresh.
func freshness(h http.Header, now time.Time) time.Duration {
	var maxAge int64 = -1
	for _, line := range h.Values("Cache-Control") {
		for dir := range strings.SplitSeq(line, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(dir), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store", "no-cache":
				return 0
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(val), `"`), 10, 64)
				if err == nil && n >= 0 && maxAge < 0 {
					maxAge = n
				}
			}
		}
	}
	var d time.Duration
	switch {
	case maxAge >= 0:
		if maxAge > int64(MaxFresh/time.Second) {
			return MaxFresh
		}
		d = time.Duration(maxAge) * time.Second
		if age, err := strconv.ParseInt(strings.TrimSpace(h.Get("Age")), 10, 64); err == nil && age > 0 {
			d -= time.Duration(min(age, math.MaxInt32)) * time.Second
		}
	case h.Get("Expires") != "":
		exp, err := http.ParseTime(h.Get("Expires"))
		if err != nil {
			return 0 // "0" and other invalid dates mean already expired
		}
		base := now
		if date, err := http.ParseTime(h.Get("Date")); err == nil {
			base = date
		}
		d = exp.Sub(base)
	}
	return max(0, min(d, MaxFresh))
}

// Backoff is how long to wait before fetching a source again after its
// streak-th error in a row: base doubled for every error after the first,
// moved by up to ±10 % (jitter in [0, 1) picks where) so that sources that
// failed together do not all retry together, and capped at MaxBackoff.
func Backoff(streak int, base time.Duration, jitter float64) time.Duration {
	if streak < 1 || base <= 0 {
		return 0
	}
	d := MaxBackoff
	if streak <= 32 {
		if b := base << (streak - 1); b > 0 && b < MaxBackoff && b>>(streak-1) == base {
			d = b
		}
	}
	j := (jitter*2 - 1) * 0.1 // -10 % .. +10 %
	return min(time.Duration(float64(d)*(1+j)), MaxBackoff)
}
