package aggregator_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/aggregator"
	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/storage"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

// countingStore counts the dedupe index rebuilds it serves.
type countingStore struct {
	*storage.DB
	rebuilds atomic.Int32
}

func (s *countingStore) ForEachIndexEntry(ctx context.Context, since time.Time, fn func(*storage.IndexEntry) error) error {
	s.rebuilds.Add(1)
	return s.DB.ForEachIndexEntry(ctx, since, fn)
}

// A cycle in which every source answers 304 never builds the dedupe index:
// `storyfeed poll` starts with none, and re-polling unchanged feeds must
// cost one request each and nothing more.
func TestUnchangedCycleBuildsNoIndex(t *testing.T) {
	var version atomic.Int32
	version.Store(1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		etag := `"v` + string(rune('0'+version.Load())) + `"`
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		body := rss
		if version.Load() > 1 {
			body = strings.Replace(rss, "<guid>b</guid>", "<guid>b2</guid>", 1)
		}
		w.Write([]byte(body))
	}))
	defer srv.Close()
	db := storagetest.OpenTemp(t)
	st := &countingStore{DB: db}
	clk := newClock()
	cfg := config.Default()
	cfg.Poll.AllowPrivateNetworks = true // the test server is on loopback
	cfg.Sources = []config.Source{{Name: "Wire", URL: srv.URL + "/feed"}}
	poll := func() aggregator.Cycle { // a new service each time, as `storyfeed poll` runs
		t.Helper()
		svc, err := aggregator.New(cfg, aggregator.Deps{Store: st, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		c, err := svc.PollOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Hour)
		return c
	}
	if c := poll(); c.ItemsNew != 2 || st.rebuilds.Load() != 1 {
		t.Fatalf("first poll: %+v, %d index builds; want 2 new items, 1 build", c, st.rebuilds.Load())
	}
	if c := poll(); c.NotModified != 1 || st.rebuilds.Load() != 1 {
		t.Fatalf("unchanged poll: %+v, %d index builds; want a 304 and no build", c, st.rebuilds.Load())
	}
	version.Store(2)
	if c := poll(); c.ItemsNew != 1 || st.rebuilds.Load() != 2 {
		t.Fatalf("changed poll: %+v, %d index builds; want 1 new item, a second build", c, st.rebuilds.Load())
	}
}

// A server that sends no validators: the same bytes are recognised by
// their hash and not parsed again; a change of one byte is parsed.
func TestSameBodyWithoutValidatorsIsNotParsed(t *testing.T) {
	var body atomic.Value
	body.Store(rss)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(body.Load().(string)))
	}))
	defer srv.Close()
	db := storagetest.OpenTemp(t)
	clk := newClock()
	svc := newService(t, db, clk, config.Source{Name: "Wire", URL: srv.URL + "/feed"})
	poll := func() aggregator.Cycle {
		t.Helper()
		c, err := svc.PollOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Hour)
		return c
	}
	if c := poll(); c.OK != 1 || c.ItemsNew != 2 {
		t.Fatalf("first poll: %+v; want 1 ok, 2 new items", c)
	}
	if c := poll(); c.NotModified != 1 || c.OK != 0 {
		t.Fatalf("same bytes again: %+v; want it unchanged, not parsed", c)
	}
	// Punctuation only: not the same bytes, so parsed (and nothing new).
	body.Store(strings.Replace(rss, "</title>", "!</title>", 1))
	if c := poll(); c.OK != 1 || c.NotModified != 0 {
		t.Fatalf("changed bytes: %+v; want the body parsed", c)
	}
}
