package aggregator_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/storyfeed/storyfeed/aggregator"
	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

// TestWorkerBodyBufferReuse polls feeds of different sizes with one
// worker, which reads every body into the buffer of the one before: each
// item must keep the text of its own feed, not bytes of a later body.
func TestWorkerBodyBufferReuse(t *testing.T) {
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot"}
	feed := func(i int) string {
		w := words[i%len(words)]
		var b strings.Builder
		b.WriteString(`<?xml version="1.0"?><rss version="2.0"><channel><title>f</title>`)
		for j := range 2 + (i*7)%5 {
			fmt.Fprintf(&b, "<item><guid>%s-%d-%d</guid><title>%s %d %d</title><description>%s</description></item>",
				w, i, j, w, i, j, strings.Repeat(w+" ", 50*(1+(i*3)%4)))
		}
		b.WriteString("</channel></rss>")
		return b.String()
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var i int
		fmt.Sscanf(r.URL.Path, "/%d.xml", &i)
		w.Header().Set("Content-Type", "application/rss+xml")
		if i%2 == 1 {
			w.(http.Flusher).Flush() // no Content-Length
		}
		w.Write([]byte(feed(i)))
	}))
	defer srv.Close()
	var sources []config.Source
	for i := range 12 {
		sources = append(sources, config.Source{Name: fmt.Sprintf("feed %d", i), URL: fmt.Sprintf("%s/%d.xml", srv.URL, i)})
	}
	cfg := config.Default()
	cfg.Sources = sources
	cfg.Poll.AllowPrivateNetworks = true
	cfg.Poll.Workers = 1
	db := storagetest.OpenTemp(t)
	svc, err := aggregator.New(cfg, aggregator.Deps{Store: db, Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	c, err := svc.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.OK != len(sources) {
		t.Fatalf("cycle %+v: want %d sources OK", c, len(sources))
	}
	seen := 0
	for _, sv := range allStories(t, db) {
		for _, it := range sv.Members {
			var i, j int
			if _, err := fmt.Sscanf(it.Feed, "feed %d", &i); err != nil {
				t.Fatalf("item %s of feed %q", it.ID, it.Feed)
			}
			w := words[i%len(words)]
			if want := fmt.Sprintf("%s-%d-", w, i); !strings.HasPrefix(it.GUID, want) {
				t.Errorf("item of %s: GUID %q, want %q...", it.Feed, it.GUID, want)
			}
			fmt.Sscanf(it.GUID[strings.LastIndexByte(it.GUID, '-')+1:], "%d", &j)
			if want := fmt.Sprintf("%s %d %d", w, i, j); it.Title != want {
				t.Errorf("item of %s: title %q, want %q", it.Feed, it.Title, want)
			}
			if strings.Trim(strings.ReplaceAll(it.Text, w, ""), " …") != "" {
				t.Errorf("item of %s: text %.40q..., want %s only", it.Feed, it.Text, w)
			}
			seen++
		}
	}
	if seen == 0 {
		t.Fatal("no items stored")
	}
}
