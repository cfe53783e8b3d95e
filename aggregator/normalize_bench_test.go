package aggregator

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"
)

var updateNormalise = flag.Bool("update", false, "rewrite the golden files in testdata/normalise")

// normaliseFeeds parses the feeds of testdata/normalise: items of the
// shapes feeds send (escaped and CDATA HTML, XHTML, plain text with runs of
// spaces, entities, non-ASCII text, markup-only bodies, hostile markup).
func normaliseFeeds(tb testing.TB) (names []string, feeds []*gofeed.Feed) {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "normalise", "*.xml"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Fatal("no feeds in testdata/normalise")
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		feed, err := parseFeed(gofeed.NewParser(), b, "")
		if err != nil {
			tb.Fatalf("%s: %v", file, err)
		}
		names = append(names, file)
		feeds = append(feeds, feed)
	}
	return names, feeds
}

var normaliseBase, _ = url.Parse("https://feeds.example/news.xml")

// TestNormaliseGolden pins every field the normaliser makes of the items
// of testdata/normalise, so that a faster normaliser is shown to give the
// same bytes. Run with -update to rewrite the golden files after an
// intended change.
func TestNormaliseGolden(t *testing.T) {
	n := newNormalizer()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	names, feeds := normaliseFeeds(t)
	for i, feed := range feeds {
		golden := strings.TrimSuffix(names[i], ".xml") + ".golden.json"
		t.Run(filepath.Base(names[i]), func(t *testing.T) {
			var got bytes.Buffer
			enc := json.NewEncoder(&got)
			enc.SetIndent("", "  ")
			for _, fi := range feed.Items {
				if err := enc.Encode(n.fromFeedItem("Harbour", "news", normaliseBase, fi, now)); err != nil {
					t.Fatal(err)
				}
			}
			if *updateNormalise {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("items of %s differ from %s:\ngot:\n%s\nwant:\n%s", names[i], golden, got.Bytes(), want)
			}
		})
	}
}

// BenchmarkNormalise is the cost of normalising one feed item (text,
// sanitised lead, title, hash, canonical URL) over the testdata items.
func BenchmarkNormalise(b *testing.B) {
	n := newNormalizer()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_, feeds := normaliseFeeds(b)
	var items []*gofeed.Item
	size := 0
	for _, feed := range feeds {
		for _, fi := range feed.Items {
			items = append(items, fi)
			size += len(fi.Title) + len(itemContent(fi))
		}
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		for _, fi := range items {
			if it := n.fromFeedItem("Harbour", "news", normaliseBase, fi, now); it.ID == "" {
				b.Fatalf("item %q has no ID", fi.Title)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(items)), "ns/item")
}
