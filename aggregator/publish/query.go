package publish

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// feedQuery selects the stories of a feed or of the index page.
type feedQuery struct {
	limit      int    // 1..maxLimit
	minSources int    // 1..maxMinSources
	category   string // "" for every category
}

// parseQuery reads ?limit=, ?min_sources= and ?category= (the
// /categories/{category}/ path segment wins over the last). Absent values
// take their defaults; malformed ones are errors wrapping errBadQuery; too
// large ones are clamped.
func (h *handler) parseQuery(r *http.Request) (feedQuery, error) {
	q := feedQuery{limit: h.opt.Limit, minSources: 1}
	var vals url.Values
	if r.URL.RawQuery != "" {
		vals = r.URL.Query()
	}
	num := func(name string, lo, hi int, dst *int) error {
		s := vals.Get(name)
		if s == "" {
			return nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < lo {
			return fmt.Errorf("%w: %s=%q: want a whole number of at least %d", errBadQuery, name, s, lo)
		}
		*dst = min(n, hi)
		return nil
	}
	if err := num("limit", 1, maxLimit, &q.limit); err != nil {
		return q, err
	}
	if err := num("min_sources", 1, maxMinSources, &q.minSources); err != nil {
		return q, err
	}
	q.category = vals.Get("category")
	if c := r.PathValue("category"); c != "" {
		q.category = c
	}
	if len(q.category) > maxCategory {
		return q, fmt.Errorf("%w: category longer than %d bytes", errBadQuery, maxCategory)
	}
	return q, nil
}

// key is the canonical cache key of q on path kind: the same for every
// spelling of the same query.
func (q feedQuery) key(kind string) string {
	var b strings.Builder
	b.WriteString(kind)
	b.WriteString("?limit=")
	b.WriteString(strconv.Itoa(q.limit))
	if q.minSources > 1 {
		b.WriteString("&min_sources=")
		b.WriteString(strconv.Itoa(q.minSources))
	}
	if q.category != "" {
		b.WriteString("&category=")
		b.WriteString(url.QueryEscape(q.category))
	}
	return b.String()
}

// params is q as a query string for links, without the default limit:
// "" or "?min_sources=2" and so on.
func (q feedQuery) params(defaultLimit int, withCategory bool) string {
	v := url.Values{}
	if q.limit != defaultLimit {
		v.Set("limit", strconv.Itoa(q.limit))
	}
	if q.minSources > 1 {
		v.Set("min_sources", strconv.Itoa(q.minSources))
	}
	if withCategory && q.category != "" {
		v.Set("category", q.category)
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// withToken appends the access token, if any, to URL u.
func (h *handler) withToken(u string) string {
	if h.tokenQ == "" {
		return u
	}
	if strings.Contains(u, "?") {
		return u + "&" + h.tokenQ[1:]
	}
	return u + h.tokenQ
}
