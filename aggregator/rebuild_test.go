package aggregator

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/dedupe"
	"github.com/storyfeed/storyfeed/storage"
)

// BenchmarkIndexRebuild measures the start-up rebuild of the dedupe index
// from a real bbolt database holding 100k items of the window, with their
// stored features: the daemon's restart cost.
func BenchmarkIndexRebuild(b *testing.B) {
	const n = 100_000
	db, err := storage.Open(filepath.Join(b.TempDir(), "rebuild.db"), storage.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2)) // fixed seed: the same database every run
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	words := make([]string, 5000)
	for i := range words {
		words[i] = fmt.Sprintf("w%dq", i)
	}
	sentence := func(k int) string {
		var s []string
		for range k {
			s = append(s, words[rng.IntN(len(words))])
		}
		return strings.Join(s, " ")
	}
	var batch storage.Batch
	for i := range n {
		it := storage.Item{ID: storage.ItemID("bench", fmt.Sprint(i)), Feed: "bench", GUID: fmt.Sprint(i), Outlet: "Bench",
			Title: sentence(8), Text: sentence(120), FirstSeen: start.Add(time.Duration(i) * time.Second)}
		it.Updated, it.Story, it.Hash = it.FirstSeen, it.ID, fmt.Sprint(i)
		f := dedupe.Extract(new(docOf(&it)))
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
