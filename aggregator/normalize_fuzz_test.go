package aggregator

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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
		parser := newFeedParser()
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
		feed, err := parseFeed(newFeedParser(), []byte(s), "")
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

// quickSanitizeCases are HTML fragments for quickSanitize: ordinary feed
// markup it must handle itself (quick) and markup it must leave to the
// policy.
var quickSanitizeCases = []struct {
	html  string
	quick bool
}{
	{`<p>Plain <em>words</em> &amp; <strong>more</strong></p>`, true},
	{`<p>See <a href="https://news.example/a?b=1&amp;c=2">this</a> and <a href="/rel/path">that</a>.</p>`, true},
	{`<P CLASS="x">Upper<BR/>case</P><hr><img src="https://i.example/x.jpg" alt="An &quot;image&quot;">`, true},
	{"<blockquote><p>\"Quoted\" it's > less\r\n</p></blockquote><!-- comment --><ul><li>a</li></ul>", true},
	{`<a href="mailto:desk@news.example">mail</a><a href="HTTP://Example.COM/%7Efoo">x</a>`, true},
	{`<div class="lead" onclick="x()"><span style="color:red">styled</span></div>`, true},
	{`<A href=0 /><a href="https://x.example/"/>`, true},
	{`<a href="javascript:alert(1)">x</a>`, false},
	{`<a href=" http://x.example/ ">spaced</a>`, true}, // the policy trims it
	{`<a>no href</a>`, false},
	{`<p>a</p><script>alert(1)</script>`, false},
	{`<style>p{}</style><p>x</p>`, false},
	{`<iframe src="https://v.example/"></iframe>`, false},
	{`<p>a</p></p foo="bar">`, true}, // an end tag has no attributes to the tokenizer
	{`<custom-el>x</custom-el>`, false},
	{`<p><img src="https://i.example/x.jpg?a=1&amp;b=2" alt="A photo, (c) 2025" width="640" height="50%"/>x</p>`, true},
	{`<img alt="Café – “quoted” <b>" src="/rel.png"><img src="javascript:alert(1)" alt="x">`, true},
	{`<img src="x.png" onerror="alert(1)"><img src="x.png" width="10px"><img width="10">`, true},
	{`<img src="">`, false}, // the policy drops it, and then its end tag
	{`<svg onload="alert(1)"/>`, false},
}

// TestQuickSanitize: quickSanitize takes ordinary markup itself, leaves the
// rest to the policy, and gives the policy's bytes when it takes it.
func TestQuickSanitize(t *testing.T) {
	n := newNormalizer()
	for _, tc := range quickSanitizeCases {
		got, ok := n.quickSanitize(tc.html)
		if want := n.policy.Sanitize(tc.html); ok && got != want {
			t.Errorf("quickSanitize(%q) = %q, the policy gives %q", tc.html, got, want)
		}
		if ok != tc.quick {
			t.Errorf("quickSanitize(%q) took it: %v, want %v", tc.html, ok, tc.quick)
		}
		if msg := unsafeHTML(n.sanitize(tc.html)); msg != "" {
			t.Errorf("sanitize(%q) = %q: %s", tc.html, n.sanitize(tc.html), msg)
		}
	}
}

// FuzzQuickSanitize checks that the sanitiser's quick paths give the
// policy's bytes whenever they take the input.
func FuzzQuickSanitize(f *testing.F) {
	for _, tc := range quickSanitizeCases {
		f.Add(tc.html)
	}
	more, _ := filepath.Glob(filepath.Join(corpusDir, "wellformed", "sanitize", "*.xml"))
	for _, file := range more {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(xhtml.UnescapeString(string(b)))
	}
	n := newNormalizer()
	f.Fuzz(func(t *testing.T, s string) {
		want := n.policy.Sanitize(s)
		if got := n.sanitize(s); got != want {
			t.Fatalf("sanitize(%q) = %q, the policy gives %q", s, got, want)
		}
	})
}

// TestQuickSanitizeImages compares the sanitiser with the policy on img
// tags made at random of the attributes and values that feeds give them,
// which quickSanitizer.writeImg writes itself when it can.
func TestQuickSanitizeImages(t *testing.T) {
	n := newNormalizer()
	if !n.quickImg {
		t.Fatal("the policy does not keep a plain img tag as writeImg writes it")
	}
	keys := []string{"src", "SRC", "alt", "width", "height", "title", "align", "onerror", "class", "srcset"}
	vals := []string{"https://i.example/a.jpg", "/rel/b.png", "c.gif?x=1&amp;y=2", "javascript:alert(1)", "data:image/png;base64,AAAA",
		"mailto:x@y.example", "http://i.example/a b.jpg", " https://i.example/t.jpg ", "", "640", "50%", "10px", "-1",
		"A photo", "Café, (c) 2025 - it's [x]!", "“quoted”", "a &lt;b&gt; &quot;c&quot;", "a\nb", "left", "x&#13;y"}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	for range 3000 {
		var b strings.Builder
		b.WriteString("<p>")
		for range 1 + rng.IntN(3) {
			b.WriteString("<img")
			for range rng.IntN(4) {
				fmt.Fprintf(&b, " %s=%q", keys[rng.IntN(len(keys))], vals[rng.IntN(len(vals))])
			}
			b.WriteString([]string{">", "/>", " />"}[rng.IntN(3)])
			b.WriteString("text")
		}
		b.WriteString("</p>")
		s := b.String()
		if got, want := n.sanitize(s), n.policy.Sanitize(s); got != want {
			t.Fatalf("sanitize(%q) = %q, the policy gives %q", s, got, want)
		}
	}
}
