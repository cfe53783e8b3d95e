package publish

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/storyfeed/storyfeed/storage"
)

// storyView is a story as the publisher shows it. Every string in it that
// came from a source is clean (see clean); escaping is left to the
// templates and encoders.
type storyView struct {
	ID         string
	GUID       string // never changes; see guid
	Title      string // the representative's headline
	Link       string // the representative's URL, or Page when it has none
	Page       string // absolute URL of the story's own page
	Summary    string
	Author     string    // the representative's author, else its outlet
	Published  time.Time // the earliest member's date, never after Updated
	Updated    time.Time // last time an outlet joined or a member changed
	Categories []string
	CatLinks   []catLink // the categories with their index pages
	Outlets    int
	Rep        memberView
	Others     []memberView // every other member, by date
	Credits    []credit     // outlets the members credit
	Related    []relatedView
}

// Members are the representative, then the others.
func (v *storyView) Members() []memberView {
	return append([]memberView{v.Rep}, v.Others...)
}

type memberView struct {
	ID, Outlet, Author, Title, URL string
	Date                           time.Time
	Level, Reason                  string
	Score, Threshold               float64
	Shared                         []string
	Cites                          []string
}

// credit is an outlet that members of a story credit for their reporting.
type credit struct {
	Outlet  string
	URL     string   // its own report, when it is in the story
	InStory bool     // the outlet's own report is a member
	By      []string // outlets that credit it
}

type relatedView struct{ ID, Page string }

type catLink struct{ Name, Page string }

// guid is a story's feed identifier. It is derived from the story ID alone,
// not from the server's address, so that moving the server or changing
// base_url never makes readers show every story again.
func guid(id string) string { return "urn:storyfeed:story:" + id }

func (h *handler) pageURL(id string) string {
	return h.withToken(h.opt.BaseURL + "/stories/" + url.PathEscape(id))
}

func (h *handler) view(sv *storage.StoryView) storyView {
	rep := sv.RepresentativeBy(h.opt.Policy)
	r := &sv.Members[rep]
	v := storyView{
		ID:         sv.ID,
		GUID:       guid(sv.ID),
		Title:      line(r.Title),
		Page:       h.pageURL(sv.ID),
		Summary:    summary(r),
		Author:     line(r.Author),
		Updated:    sv.Updated,
		Categories: sv.Categories(),
		Outlets:    sv.Outlets(),
		Rep:        member(r),
	}
	for i := range v.Categories {
		v.Categories[i] = line(v.Categories[i])
	}
	v.Categories = slices.DeleteFunc(v.Categories, func(c string) bool { return c == "" })
	for _, c := range v.Categories {
		v.CatLinks = append(v.CatLinks, catLink{Name: c, Page: h.withToken(h.opt.BaseURL + "/?category=" + url.QueryEscape(c))})
	}
	if v.Author == "" {
		v.Author = line(r.Outlet)
	}
	if v.Title == "" {
		v.Title = "(untitled)"
	}
	v.Link = v.Rep.URL
	if v.Link == "" {
		v.Link = v.Page
	}
	v.Published = v.Updated
	for i := range sv.Members {
		if d := sv.Members[i].Date(); d.Before(v.Published) {
			v.Published = d
		}
		if i != rep {
			v.Others = append(v.Others, member(&sv.Members[i]))
		}
	}
	slices.SortStableFunc(v.Others, func(a, b memberView) int { return a.Date.Compare(b.Date) })
	v.Credits = credits(sv)
	for _, id := range sv.Related {
		v.Related = append(v.Related, relatedView{ID: id, Page: h.pageURL(id)})
	}
	return v
}

func member(m *storage.Item) memberView {
	mv := memberView{
		ID: m.ID, Outlet: line(m.Outlet), Author: line(m.Author), Title: line(m.Title), URL: safeURL(m.URL),
		Date: m.Date(), Level: m.Match.Level, Reason: line(m.Match.Reason), Score: m.Match.Score,
		Threshold: m.Match.Threshold,
	}
	if mv.Outlet == "" {
		mv.Outlet = line(m.Feed)
	}
	for _, s := range m.Match.Shared {
		mv.Shared = append(mv.Shared, line(s))
	}
	for _, c := range m.Cites {
		mv.Cites = append(mv.Cites, line(c))
	}
	return mv
}

// credits lists the outlets that members credit, in the order first
// credited, naming an outlet that is itself in the story as it names
// itself and linking its report.
func credits(sv *storage.StoryView) []credit {
	var out []credit
	for i := range sv.Members {
		m := &sv.Members[i]
		for _, cited := range m.Cites {
			c := credit{Outlet: line(cited)}
			if c.Outlet == "" {
				continue
			}
			for j := range sv.Members {
				o := &sv.Members[j]
				if j != i && storage.SameOutlet(o.Outlet, cited) && !storage.SameOutlet(o.Outlet, m.Outlet) {
					c = credit{Outlet: line(o.Outlet), URL: safeURL(o.URL), InStory: true}
					break
				}
			}
			k := slices.IndexFunc(out, func(x credit) bool { return storage.SameOutlet(x.Outlet, c.Outlet) })
			if k < 0 {
				out = append(out, c)
				k = len(out) - 1
			}
			if by := line(m.Outlet); !slices.Contains(out[k].By, by) {
				out[k].By = append(out[k].By, by)
			}
		}
	}
	return out
}

// summary is the representative's standfirst, or the start of its text,
// clean and at most about 600 bytes.
func summary(it *storage.Item) string {
	s := it.Summary
	if strings.TrimSpace(s) == "" {
		s = it.Text
	}
	s = strings.TrimSpace(s)
	if p, _, ok := strings.Cut(s, "\n\n"); ok {
		s = p
	}
	s = line(s)
	const max = 600
	if len(s) > max {
		cut := strings.LastIndexByte(s[:max], ' ')
		if cut < max/2 {
			cut = max
		}
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// clean removes what no feed or page may carry: invalid UTF-8 (replaced),
// C0 and C1 control characters other than tab and newlines, DEL, and the
// non-characters U+FFFE and U+FFFF. XML 1.0 forbids most of them outright,
// and encoding/xml passes them through in CDATA sections; the rest are
// invisible garbage, usually of a wrong charset.
func clean(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t', r == '\n', r == '\r':
			return r
		case r < 0x20, r >= 0x7f && r < 0xa0, r == 0xFFFE, r == 0xFFFF:
			return -1
		}
		return r
	}, s)
}

// line is clean(s) on one line: runs of white space become one space.
func line(s string) string {
	s = clean(s)
	if !strings.ContainsAny(s, "\t\n\r\u00a0\u2028\u2029") && !strings.Contains(s, "  ") {
		return strings.TrimSpace(s)
	}
	return strings.Join(strings.Fields(s), " ")
}

// safeURL is u when it is an absolute http(s) URL, else "": a link from a
// source must not become a javascript: or data: URL in a reader.
func safeURL(u string) string {
	u = strings.TrimSpace(clean(u))
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return p.String()
}

// stories reads the stories q selects as views, with the newest time among
// them (now for none).
func (h *handler) stories(ctx context.Context, q feedQuery) ([]storyView, time.Time, error) {
	svs, err := h.src.Stories(ctx, storage.StoryQuery{Limit: q.limit, MinSources: q.minSources, Category: q.category})
	if err != nil {
		return nil, time.Time{}, err
	}
	out := make([]storyView, len(svs))
	var newest time.Time
	for i := range svs {
		out[i] = h.view(&svs[i])
		if out[i].Updated.After(newest) {
			newest = out[i].Updated
		}
	}
	if newest.IsZero() {
		newest = h.opt.Now()
	}
	return out, newest, nil
}
