package publish

import (
	"bytes"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/feeds"

	"github.com/storyfeed/storyfeed/storage"
)

// storyView is a story as the publisher shows it.
type storyView struct {
	ID         string
	GUID       string // never changes; see guid
	Title      string // the representative member's headline
	Link       string // the representative member's URL, or Page when it has none
	Page       string // absolute URL of the story's own page
	Summary    string
	Author     string
	Published  time.Time // first seen
	Updated    time.Time // last time an outlet joined or changed
	Categories []string
	Outlets    int
	Members    []memberView // representative first, then the others by date
}

type memberView struct {
	ID, Outlet, Author, Title, URL string
	Date                           time.Time
	Level, Reason                  string
	Score, Threshold               float64
	Shared                         []string
}

// guid is a story's feed identifier. It is derived from the story ID alone,
// not from the server's address, so that moving the server or changing
// base_url never makes readers show every story again.
func guid(id string) string { return "urn:storyfeed:story:" + id }

func (h *handler) view(sv *storage.StoryView) storyView {
	rep := sv.Representative()
	r := &sv.Members[rep]
	v := storyView{
		ID:         sv.ID,
		GUID:       guid(sv.ID),
		Title:      r.Title,
		Page:       h.opt.BaseURL + "/stories/" + sv.ID,
		Summary:    summary(r),
		Author:     r.Author,
		Published:  sv.FirstSeen,
		Updated:    sv.Updated,
		Categories: sv.Categories(),
		Outlets:    sv.Outlets(),
	}
	v.Link = r.URL
	if v.Link == "" {
		v.Link = v.Page
	}
	order := make([]int, 0, len(sv.Members))
	order = append(order, rep)
	rest := make([]int, 0, len(sv.Members))
	for i := range sv.Members {
		if i != rep {
			rest = append(rest, i)
		}
	}
	slices.SortStableFunc(rest, func(a, b int) int { return sv.Members[a].Date().Compare(sv.Members[b].Date()) })
	order = append(order, rest...)
	for _, i := range order {
		m := &sv.Members[i]
		v.Members = append(v.Members, memberView{
			ID: m.ID, Outlet: m.Outlet, Author: m.Author, Title: m.Title, URL: m.URL, Date: m.Date(),
			Level: m.Match.Level, Reason: m.Match.Reason, Score: m.Match.Score, Threshold: m.Match.Threshold,
			Shared: m.Match.Shared,
		})
	}
	return v
}

// summary is the representative's standfirst, or the start of its text.
func summary(it *storage.Item) string {
	s := it.Summary
	if s == "" {
		s = it.Text
	}
	if p, _, ok := strings.Cut(s, "\n\n"); ok {
		s = p
	}
	const max = 600
	if len(s) > max {
		cut := strings.LastIndexByte(s[:max], ' ')
		if cut < max/2 {
			cut = max
		}
		for cut > 0 && !utf8RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// limit reads ?limit=, clamped to [1, maxLimit].
func (h *handler) limit(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if err != nil || n <= 0 {
		return h.opt.Limit
	}
	return min(n, maxLimit)
}

func (h *handler) stories(r *http.Request) ([]storyView, time.Time, error) {
	svs, err := h.src.Stories(r.Context(), storage.StoryQuery{Limit: h.limit(r)})
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

var contentTmpl = template.Must(template.New("content").Parse(
	`<p>{{.Summary}}</p>
<p>Reported by {{.Outlets}} {{if eq .Outlets 1}}outlet{{else}}outlets{{end}}:</p>
<ul>
{{- range .Members}}
<li>{{if .URL}}<a href="{{.URL}}">{{.Outlet}}</a>{{else}}{{.Outlet}}{{end}}: {{.Title}} <small>({{.Date.UTC.Format "2 Jan 2006 15:04 MST"}})</small></li>
{{- end}}
</ul>
<p><a href="{{.Page}}">Compare the coverage</a></p>
`))

// content is a story's feed item body: summary and every outlet with its
// own headline and link. html/template escapes everything that came from a
// source.
func content(v *storyView) (string, error) {
	var b bytes.Buffer
	if err := contentTmpl.Execute(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (h *handler) feed(r *http.Request) (*feeds.Feed, time.Time, error) {
	views, newest, err := h.stories(r)
	if err != nil {
		return nil, newest, err
	}
	f := &feeds.Feed{
		Title:       h.opt.Title,
		Link:        &feeds.Link{Href: h.opt.BaseURL + "/"},
		Description: "Every story once, with every outlet that covered it.",
		Updated:     newest,
	}
	for i := range views {
		v := &views[i]
		body, err := content(v)
		if err != nil {
			return nil, newest, err
		}
		item := &feeds.Item{
			Id:          v.GUID,
			IsPermaLink: "false",
			Title:       v.Title,
			Link:        &feeds.Link{Href: v.Link},
			Description: v.Summary,
			Content:     body,
			Created:     v.Published,
			Updated:     v.Updated,
		}
		if v.Author != "" {
			item.Author = &feeds.Author{Name: v.Author}
		}
		f.Items = append(f.Items, item)
	}
	return f, newest, nil
}

func (h *handler) rss(r *http.Request) ([]byte, string, time.Time, error) {
	f, mod, err := h.feed(r)
	if err != nil {
		return nil, "", mod, err
	}
	var b bytes.Buffer
	err = f.WriteRss(&b)
	return b.Bytes(), "application/rss+xml; charset=utf-8", mod, err
}

func (h *handler) atom(r *http.Request) ([]byte, string, time.Time, error) {
	f, mod, err := h.feed(r)
	if err != nil {
		return nil, "", mod, err
	}
	var b bytes.Buffer
	err = f.WriteAtom(&b)
	return b.Bytes(), "application/atom+xml; charset=utf-8", mod, err
}

func (h *handler) json(r *http.Request) ([]byte, string, time.Time, error) {
	f, mod, err := h.feed(r)
	if err != nil {
		return nil, "", mod, err
	}
	var b bytes.Buffer
	err = f.WriteJSON(&b)
	return b.Bytes(), "application/feed+json; charset=utf-8", mod, err
}
