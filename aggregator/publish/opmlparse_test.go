package publish_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/storyfeed/storyfeed/aggregator/publish"
)

func TestParseOPML(t *testing.T) {
	const doc = `<?xml version="1.0"?>
<opml version="2.0"><head><title>t</title></head>
<body>
  <outline text="News" title="News">
    <outline text="World">
      <outline type="rss" text="Wire" title="Wire &amp; Co" xmlUrl="https://wire.example/rss" htmlUrl="https://wire.example/"/>
    </outline>
    <outline type="rss" text="Tech" XMLURL="feed:https://tech.example/atom"/>
  </outline>
  <outline text="Empty folder"></outline>
  <outline type="rss" text="  Spaced
     title " xmlUrl="feed://plain.example/x"/>
  <outline text="Local articles"/>
</body></opml>`
	feeds, err := publish.ParseOPML("t.opml", strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(feeds)
	want := "[{Wire & Co https://wire.example/rss https://wire.example/ News/World 6} " +
		"{Tech https://tech.example/atom  News 8} " +
		"{Spaced title http://plain.example/x   11}]"
	if got != want {
		t.Errorf("ParseOPML =\n%s\nwant\n%s", got, want)
	}
}

func TestParseOPMLErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"<opml><body>\n<outline text=\"a\"\n =/></body>\n</opml>", "t.opml:3: not well-formed OPML"},
		{"<?xml version=\"1.0\"?>\n<rss version=\"2.0\"></rss>", "t.opml:2: not an OPML file: the root element is <rss>"},
		{"", "t.opml: not an OPML file: no <opml> element"},
		{"\x00\x01", "t.opml:1: not well-formed OPML"},
	} {
		_, err := publish.ParseOPML("t.opml", strings.NewReader(tc.doc))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("ParseOPML(%q) error = %v, want %q...", tc.doc, err, tc.want)
		}
	}
}

// The OPML the publisher writes reads back as the same feeds.
func TestOPMLRoundTrip(t *testing.T) {
	in := []publish.SourceInfo{
		{Name: "Wire", URL: "https://wire.example/rss", Category: "news/world"},
		{Name: "Local"},
		{Name: "Tech <&> \"quotes\"", URL: "https://tech.example/atom?a=1&b=2", Category: "news"},
		{Name: "Top", URL: "https://top.example/"},
	}
	feeds, err := publish.ParseOPML("x", strings.NewReader(string(publish.OPML("t", in))))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range feeds {
		got = append(got, f.Title+"|"+f.URL+"|"+f.Category)
	}
	want := []string{"Wire|https://wire.example/rss|news/world", "Tech <&> \"quotes\"|https://tech.example/atom?a=1&b=2|news", "Top|https://top.example/|"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("round trip = %q, want %q", got, want)
	}
}

func FuzzParseOPML(f *testing.F) {
	f.Add(string(publish.OPML("t", []publish.SourceInfo{{Name: "a", URL: "https://a.example/", Category: "x/y"}})))
	f.Add(`<opml><body><outline text="f"><outline xmlUrl="feed://h/x"/></outline></body></opml>`)
	f.Fuzz(func(t *testing.T, doc string) {
		feeds, err := publish.ParseOPML("fuzz.opml", strings.NewReader(doc))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.opml") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, fd := range feeds {
			if fd.URL == "" || strings.ContainsAny(fd.Title, "\n\t") {
				t.Fatalf("bad feed %+v", fd)
			}
		}
	})
}
