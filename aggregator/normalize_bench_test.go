package aggregator

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

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
		feed, err := parseFeed(newFeedParser(), b, "")
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

// TestContentHash checks contentHash, which feeds the hash from a small
// buffer, against hashing the whole folded text at once, on texts around
// the buffer's size and its flushes.
func TestContentHash(t *testing.T) {
	fold := func(title, text string) string {
		var b strings.Builder
		for _, s := range []string{title, "\x00", text} {
			for _, r := range s {
				if r == 0 || unicode.IsLetter(r) || unicode.IsDigit(r) {
					b.WriteRune(unicode.ToLower(r))
				}
			}
		}
		sum := sha256.Sum256([]byte(b.String()))
		return hex.EncodeToString(sum[:16])
	}
	pieces := []string{"a", "Z", "9", " ", ",", "\x00", "é", "Ⱥ", "ǅ", "日本", "\xff", "İ", "\u00a0"}
	for n := 0; n < 1300; n += 7 {
		var b strings.Builder
		for i := 0; b.Len() < n; i++ {
			b.WriteString(pieces[(i*i+n)%len(pieces)])
		}
		text := b.String()
		for _, title := range []string{"", "Title Ⱥ", text[:len(text)/3]} {
			if got, want := contentHash(title, text), fold(title, text); got != want {
				t.Fatalf("contentHash(%q, %q) = %s, want %s", title, text, got, want)
			}
		}
	}
}
