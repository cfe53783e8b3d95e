package aggregator

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/dedupe"
	"github.com/storyfeed/storyfeed/dedupe/dedupetest"
	"github.com/storyfeed/storyfeed/storage"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

// BenchmarkIndexRebuild measures the start-up rebuild of the dedupe index
// from a real bbolt database holding 100k items of the window, with their
// stored features: the daemon's restart cost. The items are news-sized
// articles (dedupetest.NewsDocs), a second apart.
func BenchmarkIndexRebuild(b *testing.B) {
	const n = 100_000
	db, err := storage.Open(filepath.Join(b.TempDir(), "rebuild.db"), storage.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	docs := dedupetest.NewsDocs(n, 1, start) // a fixed seed: the same database every run
	var batch storage.Batch
	for i := range n {
		d := &docs[i]
		it := storage.Item{ID: storage.ItemID("bench", fmt.Sprint(i)), Feed: "bench", GUID: fmt.Sprint(i), Outlet: d.Outlet,
			Title: d.Title, Text: d.Text, FirstSeen: start.Add(time.Duration(i) * time.Second)}
		it.Updated, it.Story, it.Hash = it.FirstSeen, it.ID, fmt.Sprint(i)
		f := dedupe.Extract(new(docOf(&it)))
		trimForStorage(&it) // as the workers store it
		docs[i] = dedupe.Doc{}
		enc, err := f.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		if batch.Features == nil {
			batch.Features = map[string][]byte{}
		}
		batch.Items = append(batch.Items, it)
		batch.Features[it.ID] = enc
		if len(batch.Items) == 2000 || i == n-1 {
			if err := db.Commit(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = storage.Batch{}
		}
	}
	opt := dedupe.Options{Window: 72 * time.Hour}
	b.ReportAllocs()
	for b.Loop() {
		idx, err := buildIndex(ctx, db, opt, start)
		if err != nil {
			b.Fatal(err)
		}
		if idx.Len() != n {
			b.Fatalf("rebuilt %d docs, want %d", idx.Len(), n)
		}
	}
}

// TestBuildIndexMatchesLive rebuilds the index from a database, across
// many of buildIndex's batches and with some items stored without
// features (their text is extracted again), and checks that it decides
// as the index that took the same items live.
func TestBuildIndexMatchesLive(t *testing.T) {
	db := storagetest.OpenTemp(t)
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	docs := dedupetest.NewsDocs(900, 7, start)
	opt := dedupe.Options{Window: 72 * time.Hour}
	live := dedupe.New(opt)
	joined := 0
	for i := range docs[:800] {
		d := &docs[i]
		it := storage.Item{ID: storage.ItemID("t", fmt.Sprint(i)), Feed: "t", GUID: fmt.Sprint(i), Outlet: d.Outlet,
			Title: d.Title, Text: d.Text, FirstSeen: start.Add(time.Duration(i) * time.Second)}
		it.Updated, it.Hash = it.FirstSeen, fmt.Sprint(i)
		f := dedupe.Extract(new(docOf(&it)))
		it.Story = it.ID
		if dec := live.MatchFeatures(&f); dec.Level != dedupe.LevelNew {
			it.Story = dec.Story
			joined++
		}
		live.AddFeatures(&f, it.Story, it.FirstSeen)
		b := storage.Batch{Items: []storage.Item{it}}
		if i%7 != 3 { // every 7th item is stored as builds before features were
			enc, err := f.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			b.Features = map[string][]byte{it.ID: enc}
		}
		if err := db.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if joined == 0 {
		t.Fatal("no item joined a story: the check below would compare nothing but new stories")
	}
	built, err := buildIndex(ctx, db, opt, start)
	if err != nil {
		t.Fatal(err)
	}
	if built.Len() != live.Len() || built.Stories() != live.Stories() {
		t.Fatalf("rebuilt %d docs in %d stories, live %d in %d", built.Len(), built.Stories(), live.Len(), live.Stories())
	}
	for i := range docs[800:] {
		f := dedupe.Extract(&docs[800+i])
		a, b := live.MatchFeatures(&f), built.MatchFeatures(&f)
		if a.Level != b.Level || a.Story != b.Story || a.Score != b.Score || a.Best != b.Best {
			t.Errorf("query %d: live %v %q %.4f (best %q), rebuilt %v %q %.4f (best %q)",
				i, a.Level, a.Story, a.Score, a.Best, b.Level, b.Story, b.Score, b.Best)
		}
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := buildIndex(cancelled, db, opt, start); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled rebuild: %v, want context.Canceled", err)
	}
}
