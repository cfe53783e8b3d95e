package aggregator

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	xhtml "golang.org/x/net/html"
)

// simpleHTMLCases are fragments for the simple tokenizer: ordinary feed
// markup it must take (simple), and markup it must leave to x/net/html.
var simpleHTMLCases = []struct {
	html   string
	simple bool
}{
	{`<p>Plain <em>words</em> &amp; <strong>more</strong> &quot;quoted&quot; &#39;x&#39; &#x2019; &nbsp;</p>`, true},
	{`<p>See <a href="https://news.example/a?b=1&amp;c=2">this</a> and <a href='/rel/path' title=x>that</a>.</p>`, true},
	{`<P CLASS="Lead">Upper <BR/> case <Img Src="a.png" ALT="">x<br /><hr/></P>`, true},
	{`<input disabled/><a b=c/><a b=c /><a b="x"c='y'><a  b  =  "1" >`, true},
	{`a < b and c <3 d << e <`, true},
	{`&lsquo;&rsquo;&ldquo;&rdquo;&laquo;&raquo;&ndash;&mdash;&hellip;&bull;&middot;&deg;&copy;&reg;&trade;&euro;&pound;&eacute;`, true},
	{`<a title="&lsquo;&rsquo;&ldquo;&rdquo;&laquo;&raquo;&ndash;&mdash;&hellip;&bull;&middot;&deg;&copy;&reg;&trade;&euro;&pound;&eacute;&nbsp;&apos;">`, true},
	{`&#0; &#x80; &#150; &#xD800; &#x110000; &#12345678; &#1234567; &#x41 &#65; &#X41;`, true},
	{`AT&T, Q & A, &; &#; 5 &lt 6`, true},       // Text falls back to x/net/html's unescaping
	{`<a href="?a=1&b=2&c&amp=&d">x</a>`, true}, // entities that attribute values read otherwise
	{`<p>one</p><!-- a comment &amp; more --><p>two</p><!----><!-- wp:paragraph {"x":1} -->`, true},
	{`<!-->x-->`, false},
	{`<!--->x-->`, false},
	{`<!-- a > b -->`, false},
	{`<!-- a --!> b -->`, false},
	{`<!-- cut off`, false},
	{`<!-x-->`, false},
	{`<!DOCTYPE html><p>x</p>`, false},
	{`<p>x</p><script>alert("<p>")</script>`, false},
	{`<STYLE>p{}</STYLE>`, false},
	{`<title>x</title>`, false},
	{`<p>cut <a href="x`, false},
	{`<p>cut <a`, false},
	{`<a href=x href=y>`, false},
	{`<o:p>office</o:p>`, false},
	{"<p\r\nclass=\"a\r\nb\"\r>cr\r\nlf\r\rx &amp;\r\n<!-- c\r\n -->\r</p\r>", true},
	{"<p>nul\x00</p>", false},
	{`</>`, false},
	{`</ p>`, false},
	{`<?xml version="1.0"?>`, false},
	{`<a =b>`, false},
	{`<a b=>`, false},
	{`<p/x>`, false},
}

// TestSimpleTokenizer checks which fragments the simple tokenizer takes,
// and that it gives x/net/html's tokens for them.
func TestSimpleTokenizer(t *testing.T) {
	for _, tc := range simpleHTMLCases {
		simple, problem := compareTokens(tc.html)
		if problem != "" {
			t.Errorf("%q: %s", tc.html, problem)
		}
		if simple != tc.simple {
			t.Errorf("%q: taken by the simple tokenizer = %v, want %v", tc.html, simple, tc.simple)
		}
	}
}

// compareTokens reads s with the simple tokenizer and x/net/html's, side
// by side: simple says whether the simple one read s to the end itself,
// and problem what differed.
func compareTokens(s string) (simple bool, problem string) {
	z := newSimpleTokenizer(s)
	defer z.release()
	x := xhtml.NewTokenizer(strings.NewReader(s))
	for {
		tt := z.Next()
		if want := x.Next(); tt != want {
			return false, "token " + tt.String() + ", x/net/html gives " + want.String() + " at raw " + string(x.Raw())
		}
		if !bytes.Equal(z.Raw(), x.Raw()) {
			return false, "raw " + string(z.Raw()) + ", x/net/html gives " + string(x.Raw())
		}
		switch tt {
		case xhtml.ErrorToken:
			if z.Err() != x.Err() {
				return false, "error " + z.Err().Error() + ", x/net/html gives " + x.Err().Error()
			}
			return z.x == nil, ""
		case xhtml.TextToken, xhtml.CommentToken, xhtml.DoctypeToken:
			if got, want := z.Text(), x.Text(); !bytes.Equal(got, want) {
				return false, "text " + string(got) + ", x/net/html gives " + string(want)
			}
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken, xhtml.EndTagToken:
			name, more := z.TagName()
			wname, wmore := x.TagName()
			if !bytes.Equal(name, wname) || more != wmore {
				return false, "tag name " + string(name) + ", x/net/html gives " + string(wname)
			}
			for more {
				var key, val []byte
				key, val, more = z.TagAttr()
				wkey, wval, wmore := x.TagAttr()
				if !bytes.Equal(key, wkey) || !bytes.Equal(val, wval) || more != wmore {
					return false, "attribute " + string(key) + "=" + string(val) + ", x/net/html gives " + string(wkey) + "=" + string(wval)
				}
			}
			// The name and attributes given must not have changed the raw tag.
			if !bytes.Equal(z.Raw(), x.Raw()) {
				return false, "raw after attributes " + string(z.Raw()) + ", x/net/html gives " + string(x.Raw())
			}
		}
	}
}

// htmlSeeds are the seeds of the fuzz tests of the tokenizers: the cases
// above, the bodies of the golden feeds and the corpus's sanitiser cases.
func htmlSeeds(f *testing.F) []string {
	var seeds []string
	for _, tc := range simpleHTMLCases {
		seeds = append(seeds, tc.html)
	}
	for _, tc := range quickSanitizeCases {
		seeds = append(seeds, tc.html)
	}
	_, feeds := normaliseFeeds(f)
	for _, feed := range feeds {
		for _, fi := range feed.Items {
			seeds = append(seeds, itemContent(fi), fi.Title)
		}
	}
	more, _ := filepath.Glob(filepath.Join(corpusDir, "wellformed", "sanitize", "*.xml"))
	for _, file := range more {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, xhtml.UnescapeString(string(b)))
	}
	return seeds
}

// FuzzSimpleTokenizer checks that the simple tokenizer gives
// x/net/html's tokens, byte for byte.
func FuzzSimpleTokenizer(f *testing.F) {
	for _, s := range htmlSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, problem := compareTokens(s); problem != "" {
			t.Fatalf("%q: %s", s, problem)
		}
	})
}

// FuzzHTMLTextLead checks that htmlTextLead, htmlLead and quickSanitize,
// which read with the simple tokenizer, give what they give with
// x/net/html's.
func FuzzHTMLTextLead(f *testing.F) {
	for _, s := range htmlSeeds(f) {
		f.Add(s, leadBytes)
		f.Add(s, storedContent)
	}
	n := newNormalizer()
	f.Fuzz(func(t *testing.T, s string, size int) {
		size = max(0, size%(4*leadBytes))
		q := quickSanitizer{n: n}
		text, lead := htmlTextLead(s, size, &q)
		if strings.ContainsAny(s, "<&") {
			wq := quickSanitizer{n: n}
			wtext, wlead := htmlTextLeadWith(xhtml.NewTokenizer(strings.NewReader(s)), s, size, &wq)
			if text != wtext || lead != wlead {
				t.Fatalf("htmlTextLead(%q, %d) = %q, %q; with x/net/html alone %q, %q", s, size, text, lead, wtext, wlead)
			}
			if q.b.String() != wq.b.String() || q.failed != wq.failed || q.separate != wq.separate || q.whole != wq.whole {
				t.Fatalf("htmlTextLead(%q, %d) sanitised %q (failed %v, separate %v, whole %v); with x/net/html alone %q (%v, %v, %v)",
					s, size, q.b.String(), q.failed, q.separate, q.whole, wq.b.String(), wq.failed, wq.separate, wq.whole)
			}
		}
		if size > 0 && strings.IndexByte(s, '<') >= 0 && len(s) > size/4 {
			got := htmlLead(s, size)
			want := htmlLeadWith(xhtml.NewTokenizer(strings.NewReader(s)), size)
			if got != want {
				t.Fatalf("htmlLead(%q, %d) = %q; with x/net/html alone %q", s, size, got, want)
			}
		}
		got, ok := n.quickSanitize(s)
		want, wok := n.quickSanitizeWith(xhtml.NewTokenizer(strings.NewReader(s)), s)
		if got != want || ok != wok {
			t.Fatalf("quickSanitize(%q) = %q, %v; with x/net/html alone %q, %v", s, got, ok, want, wok)
		}
	})
}

// TestSimpleTokenizerRandom compares the simple tokenizer with
// x/net/html's on fragments made at random of the pieces of tags, text
// and entities, which reach far more of the tag syntax than the fuzzer's
// byte mutations do.
func TestSimpleTokenizerRandom(t *testing.T) {
	pieces := []string{"<", "</", ">", "/>", "/", "=", " ", "  ", "\n", "\t", "\f", `"`, "'", "`",
		"a", "P", "br", "img", "Div", "h1", "o:p", "x-y", "script", "STYLE", "title", "iframe", "textarea",
		" href", " HREF", " src", " alt", " data-x", " _a", " :b", " c.d", "=\"", "='", "=", "x", "/path/", "?q=1",
		"&", "&amp;", "&amp", "&lt;", "&rsquo;", "&#39;", "&#x2019;", "&#150;", "&#;", "&foo;", "&ampx;", "&nbsp",
		"<!--", "-->", "--", "-", "!", "--!>", "<!", "<?", "<![CDATA[", "]]>", "text", " words ", "é", "\u2019", "\x00", "\r"}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	simple := 0
	n := newNormalizer()
	const runs = 40000
	for range runs {
		var b strings.Builder
		for range 1 + rng.IntN(24) {
			p := pieces[rng.IntN(len(pieces))]
			if p == "\x00" && rng.IntN(8) > 0 {
				continue
			}
			b.WriteString(p)
		}
		s := b.String()
		ok, problem := compareTokens(s)
		if problem != "" {
			t.Fatalf("%q: %s", s, problem)
		}
		if ok {
			simple++
		}
		if strings.ContainsAny(s, "<&") {
			size := []int{0, storedContent, leadBytes}[rng.IntN(3)]
			q, wq := quickSanitizer{n: n}, quickSanitizer{n: n}
			text, lead := htmlTextLead(s, size, &q)
			wtext, wlead := htmlTextLeadWith(xhtml.NewTokenizer(strings.NewReader(s)), s, size, &wq)
			if text != wtext || lead != wlead || q.b.String() != wq.b.String() || q.failed != wq.failed || q.whole != wq.whole {
				t.Fatalf("htmlTextLead(%q, %d) = %q, %q, %q; with x/net/html %q, %q, %q", s, size, text, lead, q.b.String(), wtext, wlead, wq.b.String())
			}
		}
	}
	t.Logf("%d of %d read by the simple tokenizer alone", simple, runs)
}

// FuzzTextCleaner checks that textCleaner, written s in pieces cut at
// random places (inside UTF-8 sequences too), with line breaks between
// some of them, gives cleanText of the same.
func FuzzTextCleaner(f *testing.F) {
	for _, s := range []string{"", "a", " a  b \n\n\n c ", "\ufeffé\u00a0x\u2028y\x01z\xe2\x80", "a\xe2\x80\x99b\xf0\x9f\x98\x80c\xff\xfe",
		"\t\r\nx\u0085y\u3000z \ufffd w"} {
		f.Add(s, uint64(1))
	}
	for _, s := range htmlSeeds(f) {
		f.Add(s, uint64(len(s)))
	}
	f.Fuzz(func(t *testing.T, s string, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, 3))
		var c textCleaner
		var whole strings.Builder
		var cuts []int // a piece's length, or -1 for a line break
		for rest := s; ; {
			n := rng.IntN(min(len(rest), 6) + 1)
			if rng.IntN(4) == 0 {
				n = len(rest)
			}
			c.write([]byte(rest[:n]))
			whole.WriteString(rest[:n])
			cuts = append(cuts, n)
			if rng.IntN(5) == 0 {
				c.newline()
				whole.WriteByte('\n')
				cuts = append(cuts, -1)
			}
			if rest = rest[n:]; rest == "" {
				break
			}
		}
		if got, want := c.String(), cleanText(whole.String()); got != want {
			t.Fatalf("textCleaner of %q in pieces of %v = %q, cleanText gives %q", s, cuts, got, want)
		}
	})
}
