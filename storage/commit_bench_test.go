package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// coldBatches are n batches of 50 new items each, shaped like a cold poll's:
// IDs, URLs and hashes in random order, records of about 800 bytes and
// features of about 650; one item in eight joins a story founded before.
func coldBatches(n int) []Batch {
	rng := rand.New(rand.NewPCG(1, 2))
	t1 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	text := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", 8)
	var stories []string
	bs := make([]Batch, n)
	for j := range bs {
		feed := fmt.Sprintf("Outlet %d - World #%d", j%37, j)
		b := Batch{Source: &SourceState{Name: feed, Items: 50, LastSuccess: t1}, Features: map[string][]byte{}}
		for i := range 50 {
			guid := fmt.Sprintf("https://outlet%d.example/world/%d/story-%d", j%37, j, i)
			it := Item{ID: ItemID(feed, guid), Feed: feed, GUID: guid, Outlet: feed, Title: fmt.Sprintf("Story %d of %d", i, j),
				URL: guid, CanonURL: strings.TrimPrefix(guid, "https://"), Summary: text[:200], Content: "<p>" + text[:300] + "</p>",
				Text: text[:250], TextLen: 3000, FirstSeen: t1.Add(time.Duration(j*50+i) * time.Millisecond),
				Hash: fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64()), Match: Match{Level: "new"}}
			it.Updated = it.FirstSeen
			it.Story = it.ID
			if len(stories) > 0 && rng.IntN(8) == 0 {
				it.Story, it.Match = stories[rng.IntN(len(stories))], Match{Level: "similar", Score: 0.5, Threshold: 0.3, Reason: "shared terms"}
			} else {
				stories = append(stories, it.ID)
			}
			feat := make([]byte, 650)
			for k := range feat {
				feat[k] = byte(rng.Uint32())
			}
			b.Items = append(b.Items, it)
			b.Features[it.ID] = feat
		}
		bs[j] = b
	}
	return bs
}

// BenchmarkColdCommit writes 10,000 new items in batches of 50, as a cold
// poll does, into a new database with fsync on, grouping g batches per
// transaction. Compare the groups within one run: the machine is shared.
func BenchmarkColdCommit(b *testing.B) {
	bs := coldBatches(200)
	for _, g := range []int{1, 2, 5, 10, 20} {
		b.Run(fmt.Sprintf("group=%d", g), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				db, err := Open(filepath.Join(b.TempDir(), "b.db"), Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				for i := 0; i < len(bs); i += g {
					if err := db.CommitAll(context.Background(), bs[i:min(i+g, len(bs))]); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				db.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(bs)*50), "µs/item")
		})
	}
}

// BenchmarkUpdateCommit rewrites changed items (a new title, the same
// first-seen time) of a database of 10,000, 50 per transaction, as a steady
// poll writes edited articles.
func BenchmarkUpdateCommit(b *testing.B) {
	bs := coldBatches(200)
	db, err := Open(filepath.Join(b.TempDir(), "b.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for i := range bs {
		if err := db.Commit(context.Background(), bs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		u := bs[n%len(bs)]
		u.Items = slices.Clone(u.Items)
		for i := range u.Items {
			u.Items[i].Title = fmt.Sprintf("edit %d of %s", n, u.Items[i].Title)
			u.Items[i].Updated = u.Items[i].Updated.Add(time.Duration(n+1) * time.Minute)
		}
		if err := db.Commit(context.Background(), u); err != nil {
			b.Fatal(err)
		}
		n++
	}
}
