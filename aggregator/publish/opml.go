package publish

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"strings"
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
	root := &outline{}
	for _, s := range h.opt.Sources {
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
	doc := opmlDoc{Version: "2.0", Title: line(h.opt.Title) + " sources", Docs: "http://opml.org/spec2.opml", Body: root.Children}
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
