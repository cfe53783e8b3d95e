package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/storage"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

// steadySource moves its generation at most once per interval, and then
// to the database's current one.
func TestSteadySource(t *testing.T) {
	db := storagetest.OpenTemp(t)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src := newSteadySource(db, time.Second, func() time.Time { return clock })
	commit := func(guid string) {
		id := storage.ItemID("f", guid)
		err := db.Commit(context.Background(), storage.Batch{Items: []storage.Item{{ID: id, Story: id, Title: guid, FirstSeen: clock, Updated: clock}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	g0 := src.Generation()
	commit("a")
	if g := src.Generation(); g != g0 {
		t.Errorf("generation moved to %d within the interval, want %d", g, g0)
	}
	clock = clock.Add(time.Second)
	commit("b")
	if g, want := src.Generation(), db.Generation(); g != want {
		t.Errorf("generation after the interval = %d, want the database's %d", g, want)
	}
}

// Sixteen requests that arrive together after a change make the publisher
// render once; each of them gets the publisher's answer.
func TestCoalesce(t *testing.T) {
	var gen atomic.Uint64
	var renders atomic.Int32
	var cached sync.Map // generation -> rendered
	pub := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := gen.Load()
		if _, ok := cached.Load(g); !ok {
			renders.Add(1)
			time.Sleep(20 * time.Millisecond) // rendering takes a while
			cached.Store(g, true)
		}
		w.Write([]byte("feed"))
	})
	c := newCoalesce(pub, gen.Load)
	for round := range 3 {
		gen.Add(1)
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				rec := httptest.NewRecorder()
				c.ServeHTTP(rec, httptest.NewRequest("GET", "/feed.xml", nil))
				if rec.Body.String() != "feed" {
					t.Errorf("body %q, want the publisher's", rec.Body.String())
				}
			})
		}
		wg.Wait()
		if n := renders.Load(); n != int32(round+1) {
			t.Errorf("after %d generations the publisher rendered %d times, want %d", round+1, n, round+1)
		}
	}
	// Other paths and queries are not coalesced.
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest("GET", "/feed.xml?limit=5", nil))
	if rec.Body.String() != "feed" {
		t.Errorf("query request: %q", rec.Body.String())
	}
	if len(c.docs) != 1 {
		t.Errorf("coalesce tracks %d documents, want only /feed.xml", len(c.docs))
	}
}
