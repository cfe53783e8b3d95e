package aggregator

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"

	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/storage"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

// The fixtures in testdata/charset hold one item each, in the charset their
// name says; contentType is what a server would send with them.
var charsetCases = []struct {
	file, contentType string
	title, text       string
}{
	{"latin1-decl.xml", "", "Café naïve résumé ©", "Déjà vu"},
	{"latin1-decl.xml", "application/rss+xml", "Café naïve résumé ©", "Déjà vu"},
	{"cp1252-decl.xml", "", "Café – “naïve” résumé", "don’t"},
	{"cp1252-header.xml", "text/xml; charset=windows-1252", "Café – “naïve” résumé", "don’t"},
	{"cp1252-header.xml", "text/xml; charset = 'windows-1252'", "Café – “naïve” résumé", "don’t"},
	{"cp1252-header.xml", "", "Café – “naïve” résumé", "don’t"}, // no label at all: not UTF-8, so Windows-1252
	{"cp1252-header-overrides-decl.xml", "application/xml; charset=windows-1252", "Café – “naïve” résumé", "don’t"},
	{"utf16le-bom.xml", "", "Café – “naïve” résumé", "Ünïcödé"},
	{"utf16le-bom.xml", "text/xml; charset=iso-8859-1", "Café – “naïve” résumé", "Ünïcödé"}, // a BOM beats any label
	{"utf16be-bom.xml", "", "Café – “naïve” résumé", "Ünïcödé"},
	{"utf16le-nobom.xml", "", "Café – “naïve” résumé", "Ünïcödé"},
	{"utf32be-bom.xml", "", "Café – “naïve” résumé", "Ünïcödé"},
	{"utf8-bom.xml", "", "Café – “naïve” résumé", "Ünïcödé"},
	{"big5.xml", "", "中文新聞標題", "台北報導"},
	{"gb2312-header.xml", "application/rss+xml; charset=gb2312", "中文新闻标题", "北京报道"},
	{"utf8-labelled-latin1.xml", "", "Café – “naïve” résumé", "don’t"},
	{"utf8-labelled-latin1.xml", "text/xml; charset=ISO-8859-1", "Café – “naïve” résumé", "don’t"},
	{"latin1-labelled-utf8.xml", "", "Café naïve résumé ©", "Déjà vu"},
	{"koi8r.xml", "", "Новости дня", "Москва сообщает"},
	{"koi8r.xml", "text/xml; charset=koi8-r", "Новости дня", "Москва сообщает"},
	{"utf8-labelled-koi8r.xml", "", "Новости дня", "Москва сообщает"},
	{"utf8-labelled-koi8r.xml", "application/xml; charset=windows-1251", "Новости дня", "Москва сообщает"},
	{"c1-controls.xml", "", "don’t", "it’s “quoted”"},
	{"xml-illegal-controls.xml", "", "Bell and form feed", "ok"},
	// Word writes a manual line break as a vertical tab: a space, not nothing.
	{"xml-vertical-tab.xml", "", "Storm closes harbour", "First line second line"},
}

func TestCharsets(t *testing.T) {
	parser := newFeedParser()
	n := newNormalizer()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range charsetCases {
		t.Run(tc.file+"/"+tc.contentType, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", "charset", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			feed, err := parseFeed(parser, body, tc.contentType)
			if err != nil {
				t.Fatalf("parseFeed(%s, %q): %v", tc.file, tc.contentType, err)
			}
			if len(feed.Items) != 1 {
				t.Fatalf("parseFeed(%s, %q): %d items, want 1", tc.file, tc.contentType, len(feed.Items))
			}
			it := n.fromFeedItem("f", "", nil, feed.Items[0], now)
			if it.Title != tc.title || it.Text != tc.text {
				t.Errorf("%s with %q: title %q, text %q; want %q, %q", tc.file, tc.contentType, it.Title, it.Text, tc.title, tc.text)
			}
		})
	}
}

// A body that needs no conversion is handed to the parser as it is.
func TestFeedUTF8NoCopy(t *testing.T) {
	body := []byte(`<?xml version="1.0" encoding="UTF-8"?><rss><channel><title>Zoë</title></channel></rss>`)
	if got := feedUTF8(body, "application/rss+xml; charset=utf-8"); &got[0] != &body[0] {
		t.Errorf("feedUTF8 copied a clean UTF-8 body")
	}
}

func FuzzFeedUTF8(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "charset", "*.xml"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "")
		f.Add(b, "text/xml; charset=iso-8859-1")
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		out := feedUTF8(body, contentType)
		if !utf8.Valid(out) {
			t.Fatalf("feedUTF8(%q, %q) = %q: invalid UTF-8", body, contentType, out)
		}
		for i := range out {
			if badXMLByte(out, i) {
				t.Fatalf("feedUTF8(%q, %q) = %q: character not allowed in XML at %d", body, contentType, out, i)
			}
		}
	})
}

// Both ways in use the charset code: a fetched feed with its Content-Type,
// and a local feed file.
func TestPollCharsets(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "charset", "cp1252-header.xml"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml; charset=windows-1252")
		w.Write(body)
	}))
	defer srv.Close()
	db := storagetest.OpenTemp(t)
	cfg := config.Default()
	cfg.Poll.AllowPrivateNetworks = true
	cfg.Sources = []config.Source{
		{Name: "http", URL: srv.URL + "/feed.xml"},
		{Name: "file", Path: filepath.Join("testdata", "charset", "big5.xml")},
	}
	svc, err := New(cfg, Deps{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	c, err := svc.PollOnce(context.Background())
	if err != nil || c.Errors != 0 || c.ItemsNew != 2 {
		t.Fatalf("PollOnce = %+v, %v; want 2 new items, no errors", c, err)
	}
	want := map[string]string{"http": "Café – “naïve” résumé", "file": "中文新聞標題"}
	for feed, title := range want {
		got, err := db.Item(storage.ItemID(feed, "http://example.com/1"))
		if err != nil {
			t.Fatalf("item of %s: %v", feed, err)
		}
		if got.Title != title {
			t.Errorf("source %s stored title %q, want %q", feed, got.Title, title)
		}
	}
}

// benchFeed is a feed of n items of the size and shape of the feedfarm's,
// with non-ASCII text, as most feeds are.
func benchFeed(n int) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<rss version=\"2.0\"><channel><title>Bench</title><link>https://bench.example/</link>\n")
	para := strings.Repeat("Zoë’s café reported that the “naïve” plan — costing €2.5bn — would pass. ", 28)
	for i := range n {
		fmt.Fprintf(&b, "<item><title>Item %d: ministers meet in Zürich</title><link>https://bench.example/%d</link><guid>g%d</guid>"+
			"<pubDate>Mon, 02 Feb 2026 10:00:00 GMT</pubDate><description><![CDATA[<p>%s</p>]]></description></item>\n", i, i, i, para)
	}
	b.WriteString("</channel></rss>\n")
	return []byte(b.String())
}

// BenchmarkParseFeed compares gofeed alone with the charset step in front
// of it, on a clean UTF-8 feed (the common case): the step should cost a
// few per cent of the parse.
func BenchmarkParseFeed(b *testing.B) {
	body := benchFeed(50)
	for _, bc := range []struct {
		name  string
		parse func(*gofeed.Parser) error
	}{
		{"gofeed", func(p *gofeed.Parser) error { _, err := p.Parse(bytes.NewReader(body)); return err }},
		{"parseFeed", func(p *gofeed.Parser) error {
			_, err := parseFeed(p, body, "application/rss+xml; charset=utf-8")
			return err
		}},
		{"feedUTF8", func(*gofeed.Parser) error { feedUTF8(body, "application/rss+xml; charset=utf-8"); return nil }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := newFeedParser()
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.parse(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestFeedParserSkipsImageScan checks that the workers' parser does not
// parse an item's HTML for an image (which storyfeed never reads), and
// still gives the HTML itself and the images the feed names.
func TestFeedParserSkipsImageScan(t *testing.T) {
	body := []byte(`<rss version="2.0"><channel><title>t</title>
<item><title>a</title><description>&lt;p&gt;&lt;img src="https://x.example/a.jpg"&gt;text&lt;/p&gt;</description></item>
<item><title>b</title><enclosure url="https://x.example/b.jpg" type="image/jpeg" length="1"/></item>
</channel></rss>`)
	feed, err := parseFeed(newFeedParser(), body, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(feed.Items) != 2 {
		t.Fatalf("%d items, want 2", len(feed.Items))
	}
	if img := feed.Items[0].Image; img != nil {
		t.Errorf("item a: Image = %+v, want nil (no scan of its HTML)", img)
	}
	if want := `<p><img src="https://x.example/a.jpg">text</p>`; feed.Items[0].Description != want {
		t.Errorf("item a: Description = %q, want %q", feed.Items[0].Description, want)
	}
	if img := feed.Items[1].Image; img == nil || img.URL != "https://x.example/b.jpg" {
		t.Errorf("item b: Image = %+v, want the enclosure's URL", img)
	}
}
