package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"html"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gorilla/feeds"
)

type format int

const (
	formatRSS format = iota
	formatAtom
	formatJSON
)

// ext is the file extension of the format's URL.
func (f format) ext() string {
	switch f {
	case formatAtom:
		return "atom"
	case formatJSON:
		return "json"
	}
	return "xml"
}

// label names the format for people.
func (f format) label() string {
	switch f {
	case formatAtom:
		return "Atom"
	case formatJSON:
		return "JSON Feed"
	}
	return "RSS"
}

// mediaType is the format's media type, without parameters.
func (f format) mediaType() string {
	switch f {
	case formatAtom:
		return "application/atom+xml"
	case formatJSON:
		return "application/feed+json"
	}
	return "application/rss+xml"
}

// feedRoute serves one feed format, of every story or (under
// /categories/{category}/) of one category.
func (h *handler) feedRoute(f format) (keyFunc, renderFunc) {
	key := func(r *http.Request) (string, error) {
		q, err := h.parseQuery(r)
		return q.key("feed." + f.ext()), err
	}
	render := func(ctx context.Context, r *http.Request) ([]byte, string, time.Time, error) {
		q, err := h.parseQuery(r)
		if err != nil {
			return nil, "", time.Time{}, err
		}
		doc, mod, err := h.feed(ctx, f, q)
		return doc, f.mediaType() + "; charset=utf-8", mod, err
	}
	return key, render
}

// selfURL is the absolute URL of feed format f for q, as a reader
// subscribes to it.
func (h *handler) selfURL(f format, q feedQuery) string {
	path := "/feed." + f.ext()
	if q.category != "" {
		path = "/categories/" + url.PathEscape(q.category) + path
	}
	return h.withToken(h.opt.BaseURL + path + q.params(h.opt.Limit, false))
}

var contentTmpl = template.Must(template.New("content").Parse(
	`<p>{{.Summary}}</p>
<p>Reported by {{with .Rep}}{{if .URL}}<a href="{{.URL}}">{{.Outlet}}</a>{{else}}{{.Outlet}}{{end}}{{if and .Author (ne .Author .Outlet)}} ({{.Author}}){{end}}, {{.Date.UTC.Format "2 Jan 2006 15:04 MST"}}{{end}}.</p>
{{- if .Credits}}
<p>Original reporting credited to {{range $i, $c := .Credits}}{{if $i}}; {{end}}{{if $c.URL}}<a href="{{$c.URL}}">{{$c.Outlet}}</a>{{else}}{{$c.Outlet}}{{end}} (by {{range $j, $b := $c.By}}{{if $j}}, {{end}}{{$b}}{{end}}){{end}}.</p>
{{- end}}
{{- if .Others}}
<p>Also reported by:</p>
<ul>
{{- range .Others}}
<li>{{if .URL}}<a href="{{.URL}}">{{.Outlet}}</a>{{else}}{{.Outlet}}{{end}}: {{.Title}} <small>({{.Date.UTC.Format "2 Jan 2006 15:04 MST"}})</small>{{if .Cites}} <small>credits {{range $i, $c := .Cites}}{{if $i}}, {{end}}{{$c}}{{end}}</small>{{end}}</li>
{{- end}}
</ul>
{{- end}}
<p><a href="{{.Page}}">Compare the coverage</a> ({{.Outlets}} {{if eq .Outlets 1}}outlet{{else}}outlets{{end}})</p>
`))

// content is a story's feed item body: summary, the representative outlet,
// credited original reporting, and every other outlet with its own
// headline, link and time. html/template escapes everything that came from
// a source, and drops links that are not http(s).
func content(v *storyView) (string, error) {
	var b bytes.Buffer
	if err := contentTmpl.Execute(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

// feed renders the feed of q in format f, dated by its newest story.
//
// gorilla/feeds builds each format's document from one feeds.Feed; the
// wrappers below add what it lacks. Its output types are exported structs,
// so embedding them and adding fields at the outer level (which win over
// the embedded ones of the same XML or JSON name) extends them without
// copying its date formatting and element layout.
func (h *handler) feed(ctx context.Context, f format, q feedQuery) ([]byte, time.Time, error) {
	views, newest, err := h.stories(ctx, q)
	if err != nil {
		return nil, newest, err
	}
	title := h.opt.Title
	home := h.opt.BaseURL + "/"
	if q.category != "" {
		title += ": " + line(q.category)
		home += "?category=" + url.QueryEscape(q.category)
	}
	if q.minSources > 1 {
		title += " (" + strconv.Itoa(q.minSources) + "+ outlets)"
	}
	home = h.withToken(home)
	gf := &feeds.Feed{
		Title:       title,
		Link:        &feeds.Link{Href: home},
		Description: "Every story once, with every outlet that covered it.",
		Updated:     newest,
		Author:      &feeds.Author{Name: h.opt.Title},
	}
	bodies := make([]string, len(views))
	for i := range views {
		v := &views[i]
		if bodies[i], err = content(v); err != nil {
			return nil, newest, err
		}
		gf.Items = append(gf.Items, &feeds.Item{
			Id:          v.GUID,
			IsPermaLink: "false",
			Title:       v.Title,
			Link:        &feeds.Link{Href: v.Link},
			Description: v.Summary,
			Content:     bodies[i],
			Created:     v.Published,
			Updated:     v.Updated,
			Author:      &feeds.Author{Name: v.Author},
		})
	}
	self := h.selfURL(f, q)
	var b bytes.Buffer
	switch f {
	case formatRSS:
		err = writeRSS(&b, gf, views, self, q, h.opt.MaxAge)
	case formatAtom:
		err = writeAtom(&b, gf, views, self, q)
	case formatJSON:
		err = writeJSON(&b, gf, views, self)
	}
	return b.Bytes(), newest, err
}

// RSS 2.0. gorilla/feeds falls short in four ways, fixed here: no
// atom:link rel="self" (RSS Best Practices; validators warn without it);
// one <category> per item at most; <author>, which RSS 2.0 defines as an
// e-mail address, filled with a name (so dc:creator carries the name
// instead); and <description> taken as HTML by readers, so the plain
// summary must be escaped once more.
type rssDoc struct {
	XMLName   xml.Name `xml:"rss"`
	Version   string   `xml:"version,attr"`
	NSContent string   `xml:"xmlns:content,attr"`
	NSAtom    string   `xml:"xmlns:atom,attr"`
	NSDC      string   `xml:"xmlns:dc,attr"`
	Channel   *rssChannel
}

type rssChannel struct {
	*feeds.RssFeed
	Self  atomSelfLink `xml:"atom:link"`
	Items []*rssItem   `xml:"item"` // shadows RssFeed.Items
}

type atomSelfLink struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr"`
}

type rssItem struct {
	*feeds.RssItem
	Creator    string   `xml:"dc:creator,omitempty"`
	Categories []string `xml:"category"` // shadows RssItem.Category
}

func writeRSS(b *bytes.Buffer, gf *feeds.Feed, views []storyView, self string, q feedQuery, ttl time.Duration) error {
	ch := (&feeds.Rss{Feed: gf}).RssFeed()
	ch.ManagingEditor = "" // gorilla/feeds writes "(name)", not an e-mail address
	ch.Ttl = max(1, int(ttl.Minutes()))
	ch.Generator = "storyfeed"
	if q.category != "" {
		ch.Category = line(q.category)
	}
	doc := rssDoc{
		Version:   "2.0",
		NSContent: "http://purl.org/rss/1.0/modules/content/",
		NSAtom:    "http://www.w3.org/2005/Atom",
		NSDC:      "http://purl.org/dc/elements/1.1/",
		Channel:   &rssChannel{RssFeed: ch, Self: atomSelfLink{Href: self, Rel: "self", Type: formatRSS.mediaType()}},
	}
	for i, it := range ch.Items {
		it.Author = ""
		it.Description = html.EscapeString(views[i].Summary)
		doc.Channel.Items = append(doc.Channel.Items, &rssItem{RssItem: it, Creator: views[i].Author, Categories: views[i].Categories})
	}
	ch.Items = nil
	return writeXML(b, doc)
}

// Atom 1.0. gorilla/feeds writes one <link> without rel="self", a feed id
// that is the home page URL, <category> as text (RFC 4287 wants a term
// attribute, and allows many), and the summary as type="html" although
// ours is plain text.
type atomFeed struct {
	*feeds.AtomFeed
	Links   []feeds.AtomLink `xml:"link"`  // shadows AtomFeed.Link
	Entries []*atomEntry     `xml:"entry"` // shadows AtomFeed.Entries
}

type atomEntry struct {
	*feeds.AtomEntry
	Categories []atomCategory `xml:"category"` // shadows AtomEntry.Category
}

type atomCategory struct {
	Term string `xml:"term,attr"`
}

func writeAtom(b *bytes.Buffer, gf *feeds.Feed, views []storyView, self string, q feedQuery) error {
	af := (&feeds.Atom{Feed: gf}).AtomFeed()
	doc := atomFeed{AtomFeed: af, Links: []feeds.AtomLink{
		{Href: gf.Link.Href, Rel: "alternate", Type: "text/html"},
		{Href: self, Rel: "self", Type: "application/atom+xml"},
	}}
	// The feed's id must not change with base_url or the token, like the
	// entries' ids; it names what the feed selects.
	af.Id = "urn:storyfeed:feed" + q.params(q.limit, true)
	af.Category = ""
	for i, e := range af.Entries {
		if e.Summary != nil {
			e.Summary.Type = "text"
		}
		ae := &atomEntry{AtomEntry: e}
		for _, c := range views[i].Categories {
			ae.Categories = append(ae.Categories, atomCategory{Term: c})
		}
		doc.Entries = append(doc.Entries, ae)
	}
	af.Entries = nil
	return writeXML(b, doc)
}

// JSON Feed 1.1. gorilla/feeds leaves out feed_url, tags, and the items
// array itself when the feed is empty (the spec requires it).
type jsonFeed struct {
	*feeds.JSONFeed
	Items []*feeds.JSONItem `json:"items"` // shadows JSONFeed.Items, without omitempty
}

func writeJSON(b *bytes.Buffer, gf *feeds.Feed, views []storyView, self string) error {
	jf := (&feeds.JSON{Feed: gf}).JSONFeed()
	jf.FeedUrl = self
	jf.Author = nil // deprecated in 1.1; Authors stays
	doc := jsonFeed{JSONFeed: jf, Items: make([]*feeds.JSONItem, 0, len(jf.Items))}
	for i, it := range jf.Items {
		it.Tags = views[i].Categories
		it.Author = nil
		doc.Items = append(doc.Items, it)
	}
	jf.Items = nil
	enc := json.NewEncoder(b)
	// HTML escaping (\u003c) stays on: it costs bytes, but the document
	// stays harmless should someone paste it into a page.
	enc.SetIndent("", " ")
	return enc.Encode(doc)
}

func writeXML(b *bytes.Buffer, doc any) error {
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(b)
	enc.Indent("", " ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	b.WriteByte('\n')
	return nil
}
