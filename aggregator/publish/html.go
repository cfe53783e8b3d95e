package publish

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/storyfeed/storyfeed/storage"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/style.css
var styleCSS []byte

var pages = template.Must(template.ParseFS(templateFS, "templates/*.html"))

type pageData struct {
	PageTitle string
	Site      string
	Home      string // URL of the index page, with the token
	CSS       string // URL of the style sheet
	Feeds     []feedLink
	Stories   []storyView
	Story     *storyView
	Filter    string // what the index shows, e.g. "world, 2+ outlets"
}

type feedLink struct {
	// TypeAttr is the type attribute, written as is: html/template would
	// escape the "+" of application/rss+xml, which naive autodiscovery
	// code in readers does not decode. The value is one of our constants.
	TypeAttr           template.HTMLAttr
	Title, Href, Label string
}

// feedLinks are the autodiscovery links of the three formats for q.
func (h *handler) feedLinks(q feedQuery, title string) []feedLink {
	out := make([]feedLink, 0, 3)
	for _, f := range []format{formatRSS, formatAtom, formatJSON} {
		out = append(out, feedLink{TypeAttr: template.HTMLAttr(`type="` + f.mediaType() + `"`), Title: title + " (" + f.label() + ")", Href: h.selfURL(f, q), Label: f.label()})
	}
	return out
}

func (h *handler) indexRoute() (keyFunc, renderFunc) {
	key := func(r *http.Request) (string, error) {
		q, err := h.parseQuery(r)
		return q.key("/"), err
	}
	render := func(ctx context.Context, r *http.Request) ([]byte, string, time.Time, error) {
		q, err := h.parseQuery(r)
		if err != nil {
			return nil, "", time.Time{}, err
		}
		views, newest, err := h.stories(ctx, q)
		if err != nil {
			return nil, "", newest, err
		}
		d := pageData{PageTitle: h.opt.Title, Stories: views, Feeds: h.feedLinks(q, h.opt.Title)}
		if q.category != "" {
			d.Filter = line(q.category)
		}
		if q.minSources > 1 {
			if d.Filter != "" {
				d.Filter += ", "
			}
			d.Filter += strconv.Itoa(q.minSources) + "+ outlets"
		}
		if d.Filter != "" {
			d.PageTitle = d.Filter + " · " + h.opt.Title
		}
		return h.page("index.html", d, newest)
	}
	return key, render
}

func (h *handler) storyRoute() (keyFunc, renderFunc) {
	key := func(r *http.Request) (string, error) { return "/stories/" + r.PathValue("id"), nil }
	render := func(_ context.Context, r *http.Request) ([]byte, string, time.Time, error) {
		sv, err := h.src.Story(r.PathValue("id"))
		switch {
		case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrBadID):
			return nil, "", time.Time{}, errNotFound
		case err != nil:
			return nil, "", time.Time{}, err
		case len(sv.Members) == 0:
			return nil, "", time.Time{}, errNotFound
		}
		v := h.view(&sv)
		d := pageData{PageTitle: v.Title + " · " + h.opt.Title, Story: &v, Feeds: h.feedLinks(feedQuery{limit: h.opt.Limit, minSources: 1}, h.opt.Title)}
		return h.page("story.html", d, v.Updated)
	}
	return key, render
}

func (h *handler) page(name string, d pageData, mod time.Time) ([]byte, string, time.Time, error) {
	d.Site, d.Home, d.CSS = h.opt.Title, h.withToken(h.opt.BaseURL+"/"), h.opt.BaseURL+h.cssPath
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, d); err != nil {
		return nil, "", mod, err
	}
	return b.Bytes(), "text/html; charset=utf-8", mod, nil
}
