package aggregator_test

import (
	"context"
	"fmt"
	"html"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/aggregator"
	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/storage"
)

// benchFeeds renders n RSS feeds of m items each, ~2 KB of HTML per item
// like ../shared/tools/feedfarm, with one item in five copied verbatim from
// another feed so that dedupe has joins to make. Fixed seed: same bytes
// every run.
func benchFeeds(n, m int) [][]byte {
	rng := rand.New(rand.NewPCG(5, 5))
	words := make([]string, 4000)
	for i := range words {
		var b strings.Builder
		for range 3 + rng.IntN(7) {
			b.WriteByte(byte('a' + rng.IntN(26)))
		}
		words[i] = b.String()
	}
	sentence := func() string {
		k := 8 + rng.IntN(14)
		s := make([]string, k)
		for i := range s {
			s[i] = words[int(rng.ExpFloat64()*600)%len(words)]
		}
		return strings.ToUpper(s[0][:1]) + strings.Join(s, " ")[1:] + "."
	}
	type article struct{ title, body string }
	art := func() article {
		var b strings.Builder
		for range 4 + rng.IntN(4) {
			b.WriteString("<p>")
			for range 2 + rng.IntN(3) {
				b.WriteString(html.EscapeString(sentence()))
				b.WriteString(" ")
			}
			b.WriteString(`<a href="/more?id=1&amp;utm_source=x" onclick="evil()">more</a></p>`)
		}
		return article{strings.TrimSuffix(sentence(), "."), b.String()}
	}
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var shared []article
	feeds := make([][]byte, n)
	for f := range feeds {
		var b strings.Builder
		fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Bench %d</title><link>http://bench.example/%d</link><description>bench</description>
`, f, f)
		for i := range m {
			a := art()
			if rng.IntN(5) == 0 && len(shared) > 0 {
				a = shared[rng.IntN(len(shared))]
			} else if rng.IntN(5) == 0 {
				shared = append(shared, a)
			}
			fmt.Fprintf(&b, "<item><title>%s</title><link>http://bench.example/%d/%d</link><guid>b-%d-%d</guid><pubDate>%s</pubDate><description>%s</description></item>\n",
				html.EscapeString(a.title), f, i, f, i, epoch.Add(-time.Duration(f*m+i)*time.Minute).Format(time.RFC1123Z), html.EscapeString(a.body))
		}
		b.WriteString("</channel></rss>\n")
		feeds[f] = []byte(b.String())
	}
	return feeds
}

// BenchmarkPollOnce measures a cold poll of 100 feeds x 50 items through
// the whole pipeline: HTTP on loopback, gofeed, normalising, dedupe and
// durable bbolt commits into a new database. It reports items/s; the
// figures against the full farm come from .ci/bench-ingest.
func BenchmarkPollOnce(b *testing.B) {
	const nFeeds, nItems = 100, 50
	feeds := benchFeeds(nFeeds, nItems)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var i int
		if _, err := fmt.Sscanf(r.URL.Path, "/f/%d.xml", &i); err != nil || i < 0 || i >= len(feeds) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write(feeds[i])
	}))
	defer srv.Close()
	cfg := config.Default()
	cfg.Poll.AllowPrivateNetworks = true
	cfg.Sources = nil
	for i := range nFeeds {
		cfg.Sources = append(cfg.Sources, config.Source{Name: fmt.Sprintf("bench %d", i), URL: fmt.Sprintf("%s/f/%d.xml", srv.URL, i)})
	}
	ctx := context.Background()
	b.ReportAllocs()
	var items int
	for n := range b.N {
		b.StopTimer()
		db, err := storage.Open(filepath.Join(b.TempDir(), fmt.Sprintf("poll%d.db", n)), storage.Options{})
		if err != nil {
			b.Fatal(err)
		}
		svc, err := aggregator.New(cfg, aggregator.Deps{Store: db})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c, err := svc.PollOnce(ctx)
		b.StopTimer()
		if err != nil || c.Errors > 0 || c.ItemsNew != nFeeds*nItems {
			b.Fatalf("poll: %+v, %v", c, err)
		}
		items += c.ItemsNew
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "items/s")
}
