package aggregator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"
	xhtml "golang.org/x/net/html"

	"github.com/storyfeed/storyfeed/aggregator/config"
)

// hostileSeeds are feeds that try to smuggle script into the published
// HTML.
var hostileSeeds = []string{
	`<rss version="2.0"><channel><item><title>t</title><description>&lt;script&gt;alert(1)&lt;/script&gt;&lt;a href="javascript:alert(1)" onclick="x()"&gt;a&lt;/a&gt;</description></item></channel></rss>`,
	`<feed xmlns="http://www.w3.org/2005/Atom"><entry><title type="html">&lt;img src=x onerror=alert(1)&gt;</title><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><a href=" JaVaScRiPt:alert(1)">x</a><svg onload="alert(1)"/></div></content></entry></feed>`,
	`<rss><channel><item><description><![CDATA[<iframe src="javascript:alert(1)"></iframe><a href="&#106;avascript:alert(1)">y</a><object data="x"></object><style>body{}</style>]]></description></item></channel></rss>`,
	`{"version":"https://jsonfeed.org/version/1.1","items":[{"id":"1","content_html":"<script>x</script><a href=\"java\tscript:alert(1)\" onmouseover=\"y\">z</a>","title":"\u0000\u0007t"}]}`,
	"<rss><channel><item><title>\xff\xfe bad \xc3\x28 utf8</title><link>http://a.example/\x01</link></item></channel></rss>",
}

// FuzzNormalize feeds arbitrary bytes through the feed path of a poll
// (charset, gofeed, normaliser): it must not panic, and every item it makes
// is valid UTF-8 whose published HTML runs no script.
func FuzzNormalize(f *testing.F) {
	for _, s := range hostileSeeds {
		f.Add([]byte(s), "")
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "charset", "*.xml"))
	// The corpus's sanitiser cases, when it is there (../shared/corpus).
	more, _ := filepath.Glob(filepath.Join(corpusDir, "wellformed", "sanitize", "*_script*.xml"))
	for _, file := range append(files, more...) {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "")
	}
	n := newNormalizer()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		parser := gofeed.NewParser()
		feed, err := parseFeed(parser, body, contentType)
		if err != nil {
			return
		}
		for _, it := range (&Service{norm: n}).feedItems(config.Source{Name: "fuzz"}, nil, feed, now) {
			for name, v := range map[string]string{"title": it.Title, "text": it.Text, "content": it.Content,
				"url": it.URL, "author": it.Author, "guid": it.GUID} {
				if !utf8.ValidString(v) {
					t.Fatalf("item %s: %s is not valid UTF-8: %q", it.ID, name, v)
				}
			}
			if msg := unsafeHTML(it.Content); msg != "" {
				t.Fatalf("published HTML %q: %s", it.Content, msg)
			}
			if it.Published.After(now) {
				t.Fatalf("date %v after the fetch time", it.Published)
			}
		}
	})
}

// unsafeHTML says what in s could run script in a reader: a script
// element, an event handler attribute, or a javascript: (or vbscript:,
// data:text/html) URL; "" when there is nothing.
func unsafeHTML(s string) string {
	z := xhtml.NewTokenizer(strings.NewReader(s))
	for {
		switch z.Next() {
		case xhtml.ErrorToken:
			return ""
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken:
			name, more := z.TagName()
			switch string(name) {
			case "script", "iframe", "object", "embed", "style", "frame", "applet", "base", "meta", "link", "svg", "math":
				return "element <" + string(name) + ">"
			}
			for more {
				var k, v []byte
				k, v, more = z.TagAttr()
				key := strings.ToLower(string(k))
				if strings.HasPrefix(key, "on") || key == "style" || key == "formaction" {
					return "attribute " + key
				}
				// Browsers ignore spaces and control characters in a
				// URL's scheme.
				val := strings.ToLower(strings.Map(func(r rune) rune {
					if r <= ' ' {
						return -1
					}
					return r
				}, string(v)))
				for _, bad := range []string{"javascript:", "vbscript:", "data:text/html"} {
					if strings.HasPrefix(val, bad) {
						return "URL " + string(v)
					}
				}
			}
		}
	}
}

func TestUnsafeHTML(t *testing.T) {
	for _, tc := range []struct {
		html string
		bad  bool
	}{
		{`<p>fine <a href="https://x.example/">x</a></p>`, false},
		{`<script>x</script>`, true},
		{`<a href=" JAVA&#x09;script:x">x</a>`, true},
		{`<img src="x" onerror="y">`, true},
		{`&lt;script&gt;`, false},
	} {
		if got := unsafeHTML(tc.html) != ""; got != tc.bad {
			t.Errorf("unsafeHTML(%q) = %v, want %v", tc.html, got, tc.bad)
		}
	}
}

// The hostile seeds do reach the sanitiser: each gives an item, with what
// was dangerous taken out.
func TestHostileFeeds(t *testing.T) {
	n := newNormalizer()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, s := range hostileSeeds {
		feed, err := parseFeed(gofeed.NewParser(), []byte(s), "")
		if err != nil {
			t.Errorf("seed %d: %v", i, err)
			continue
		}
		items := (&Service{norm: n}).feedItems(config.Source{Name: "h"}, nil, feed, now)
		if len(items) != 1 {
			t.Errorf("seed %d: %d items, want 1", i, len(items))
			continue
		}
		if msg := unsafeHTML(items[0].Content); msg != "" || !utf8.ValidString(items[0].Title) || strings.ContainsAny(items[0].Title, "\x00\x07") {
			t.Errorf("seed %d: content %q (%s), title %q", i, items[0].Content, msg, items[0].Title)
		}
	}
}
