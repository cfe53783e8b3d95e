package publish

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"golang.org/x/net/html/charset"
)

// OPML 2.0 (opml.org/spec2.opml): a subscription list. Feed sources are
// nested by the "/"-separated parts of their category, as `storyfeed opml
// export` writes them. A local source (a path) has no URL anyone else
// could subscribe to, and its path is nobody's business: it is listed by
// name only, so that the list still shows every configured source.
type opmlDoc struct {
	XMLName xml.Name  `xml:"opml"`
	Version string    `xml:"version,attr"`
	Title   string    `xml:"head>title"`
	Docs    string    `xml:"head>docs"`
	Body    []outline `xml:"body>outline"`
}

type outline struct {
	Text     string    `xml:"text,attr"`
	Title    string    `xml:"title,attr,omitempty"`
	Type     string    `xml:"type,attr,omitempty"`
	XMLURL   string    `xml:"xmlUrl,attr,omitempty"`
	HTMLURL  string    `xml:"htmlUrl,attr,omitempty"`
	Children []outline `xml:"outline"`
}

func (h *handler) renderOPML() []byte {
	return OPML(line(h.opt.Title)+" sources", h.opt.Sources)
}

// OPML renders sources as an OPML 2.0 subscription list titled title:
// nested by category, in the order given, one outline per source. It is
// what /sources.opml serves and what `storyfeed opml export` prints; the
// same sources always give the same bytes (no creation date).
func OPML(title string, sources []SourceInfo) []byte {
	root := &outline{}
	for _, s := range sources {
		node := root
		if s.Category != "" {
			for _, part := range strings.Split(s.Category, "/") {
				if part = line(part); part != "" {
					node = folder(node, part)
				}
			}
		}
		title := line(cmp.Or(s.Title, s.Name))
		o := outline{Text: title, Title: title}
		if u := safeURL(s.URL); u != "" {
			o.Type, o.XMLURL, o.HTMLURL = "rss", u, safeURL(s.Site)
		}
		node.Children = append(node.Children, o)
	}
	if len(root.Children) == 0 {
		// OPML 2.0 wants at least one outline in the body.
		root.Children = []outline{{Text: "no sources configured"}}
	}
	doc := opmlDoc{Version: "2.0", Title: line(title), Docs: "http://opml.org/spec2.opml", Body: root.Children}
	var b bytes.Buffer
	if err := writeXML(&b, doc); err != nil {
		// Only strings and slices of them: encoding cannot fail.
		panic("publish: encode OPML: " + err.Error())
	}
	return b.Bytes()
}

// folder returns the child folder of n named name, adding it if needed.
func folder(n *outline, name string) *outline {
	for i := range n.Children {
		if c := &n.Children[i]; c.XMLURL == "" && c.Children != nil && c.Text == name {
			return c
		}
	}
	n.Children = append(n.Children, outline{Text: name, Title: name, Children: []outline{}})
	return &n.Children[len(n.Children)-1]
}

// OPMLFeed is one feed of an OPML subscription list.
type OPMLFeed struct {
	Title    string // the outline's title, else its text; may be ""
	URL      string // xmlUrl; feed: and feed:// URLs are given as http(s)
	Site     string // htmlUrl
	Category string // the titles of the enclosing folders, outermost first, joined by "/"
	Line     int    // line of the outline in the file
}

// ParseOPML reads an OPML subscription list (1.0 or 2.0), as feed readers
// export them, from r; name names the file in errors. It returns every
// outline that has an xmlUrl, in document order, with the folders that
// enclose it as its category; other outlines (folders, links, the local
// sources that OPML renders by name) carry no feed. Real-world OPML is read
// leniently: HTML entities, unescaped ampersands, any charset the XML
// declaration names, attribute names in any case. An error names the file
// and line.
func ParseOPML(name string, r io.Reader) ([]OPMLFeed, error) {
	d := xml.NewDecoder(r)
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	d.CharsetReader = charset.NewReaderLabel
	var (
		feeds   []OPMLFeed
		folders []string // one entry per open outline: its title, "" for a feed
		depth   int      // open elements
		root    bool     // <opml> seen
		inBody  bool
	)
	for {
		line, _ := d.InputPos()
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, fmt.Errorf("%s:%d: not well-formed OPML: %s", name, se.Line, se.Msg)
			}
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			tag := strings.ToLower(t.Name.Local)
			switch {
			case depth == 1 && tag != "opml":
				return nil, fmt.Errorf("%s:%d: not an OPML file: the root element is <%s>, not <opml>", name, line, t.Name.Local)
			case depth == 1:
				root = true
			case tag == "body":
				inBody = true
			case tag == "outline" && inBody:
				f := OPMLFeed{Line: line, Category: strings.Join(slices.DeleteFunc(slices.Clone(folders), func(s string) bool { return s == "" }), "/")}
				var text string
				for _, a := range t.Attr {
					v := strings.TrimSpace(a.Value)
					switch strings.ToLower(a.Name.Local) {
					case "xmlurl":
						f.URL = feedURL(v)
					case "htmlurl":
						f.Site = v
					case "title":
						f.Title = line1(v)
					case "text":
						text = line1(v)
					}
				}
				f.Title = cmp.Or(f.Title, text)
				if f.URL == "" {
					folders = append(folders, f.Title)
				} else {
					folders = append(folders, "")
					feeds = append(feeds, f)
				}
			}
		case xml.EndElement:
			depth--
			switch strings.ToLower(t.Name.Local) {
			case "outline":
				if inBody && len(folders) > 0 {
					folders = folders[:len(folders)-1]
				}
			case "body":
				inBody = false
			}
		}
	}
	if !root {
		return nil, fmt.Errorf("%s: not an OPML file: no <opml> element", name)
	}
	return feeds, nil
}

// feedURL turns the feed: pseudo-scheme some readers write (feed://host/x,
// feed:https://host/x) into the URL it stands for.
func feedURL(u string) string {
	if rest, ok := strings.CutPrefix(u, "feed:"); ok {
		if strings.HasPrefix(rest, "//") {
			return "http:" + rest
		}
		return rest
	}
	return u
}

// line1 folds the spaces and line breaks of an attribute into one line.
func line1(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
