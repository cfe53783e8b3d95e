package storage

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "t.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// dump returns every key and value of the database but the generation, by
// bucket.
func dump(t *testing.T, db *DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				if string(name) != string(bucketMeta) || string(k) != string(keyGeneration) {
					out[fmt.Sprintf("%s/%x", name, k)] = fmt.Sprintf("%x", v)
				}
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func commitItem(feed, guid, story string, seen time.Time) Item {
	id := ItemID(feed, guid)
	if story == "" {
		story = id
	}
	return Item{ID: id, Feed: feed, GUID: guid, Outlet: feed, Title: "t " + guid, URL: "https://" + feed + ".example/" + guid,
		CanonURL: feed + ".example/" + guid, FirstSeen: seen, Updated: seen, Story: story,
		Hash: fmt.Sprintf("%032x", len(feed)*1000+len(guid)*7+int(guid[0])), Match: Match{Level: "new"}}
}

func withFeatures(items ...Item) map[string][]byte {
	f := map[string][]byte{}
	for _, it := range items {
		f[it.ID] = []byte("features of " + it.ID)
	}
	return f
}

// commitAllBatches are batches that lean on what the batches before them
// wrote: items join stories founded earlier, a removal empties a story
// that a later item puts back, an item moves to another story, and an item
// comes without features.
func commitAllBatches() []Batch {
	t1 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	a1 := commitItem("A", "1", "", t1)
	a2 := commitItem("A", "2", a1.ID, t1.Add(time.Second))
	b1 := commitItem("B", "1", a1.ID, t1.Add(time.Minute))
	b2 := commitItem("B", "2", "", t1.Add(time.Minute))
	d1 := commitItem("D", "1", "", t1.Add(2*time.Minute))
	e1 := commitItem("E", "1", d1.ID, t1.Add(time.Hour)) // joins d1's story once d1 is gone
	a2moved := a2
	a2moved.Story, a2moved.Updated, a2moved.Title = b2.ID, t1.Add(2*time.Hour), "changed"
	c1 := commitItem("C", "1", b2.ID, t1.Add(3*time.Hour))
	state := func(name string, n int) *SourceState {
		return &SourceState{Name: name, Items: n, LastSuccess: t1}
	}
	return []Batch{
		{Source: state("A", 2), Items: []Item{a1, a2}, Features: withFeatures(a1, a2)},
		{Source: state("B", 2), Items: []Item{b1, b2}, Features: withFeatures(b1, b2),
			Related: map[string][]string{a1.ID: {b2.ID}}, Holds: map[string]time.Time{"b.example:443": t1.Add(time.Hour)}},
		{Source: state("C", 0), Sources: []SourceState{*state("X", 0), *state("Y", 0)}},
		{Source: state("D", 1), Items: []Item{d1}, Features: withFeatures(d1), Related: map[string][]string{d1.ID: {a1.ID}}},
		{Source: state("D", 0), Remove: []string{d1.ID}},
		{Source: state("E", 1), Items: []Item{e1}, Features: withFeatures(e1), Holds: map[string]time.Time{"b.example:443": {}}},
		{Source: state("A", 2), Items: []Item{a2moved}, Features: withFeatures(a2moved)},
		{Source: state("C", 1), Items: []Item{c1}}, // no features
	}
}

// CommitAll leaves the database as committing its batches one by one does,
// bar the generation, which it bumps once.
func TestCommitAllAsOneByOne(t *testing.T) {
	ctx := context.Background()
	bs := commitAllBatches()
	one, all := openTest(t), openTest(t)
	for i, b := range bs {
		if err := one.Commit(ctx, b); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	g := all.Generation()
	if err := all.CommitAll(ctx, bs); err != nil {
		t.Fatal(err)
	}
	if all.Generation() != g+1 {
		t.Errorf("generation %d after one transaction from %d", all.Generation(), g)
	}
	for _, db := range []*DB{one, all} {
		if err := db.Check(); err != nil {
			t.Fatal(err)
		}
	}
	want, got := dump(t, one), dump(t, all)
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			t.Errorf("%s: %s, want %s", k, got[k], want[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %s, not written one by one", k, got[k])
		}
	}
	// The story d1 founded went with it; e1 put it back, from its own time.
	d1, e1 := bs[3].Items[0], bs[5].Items[0]
	sv, err := all.Story(d1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sv.Items, []string{e1.ID}) || !sv.FirstSeen.Equal(e1.FirstSeen) || len(sv.Related) != 0 {
		t.Errorf("story %s: %+v; want e1 alone, from its time, with no related story", d1.ID, sv.Story)
	}
}

// A failure in one batch writes none of them, and the error says which.
func TestCommitAllAllOrNothing(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	bs := commitAllBatches()[:2]
	bad := commitItem("B", "3", "", time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC))
	bad.ID = "not hex" // passes the first check, fails at its key
	bs[1].Items = append(bs[1].Items, bad)
	before := dump(t, db)
	err := db.CommitAll(ctx, bs)
	if !errors.Is(err, ErrBadID) || !strings.Contains(err.Error(), "batch 2 of 2") {
		t.Fatalf("CommitAll: %v; want ErrBadID in batch 2 of 2", err)
	}
	if after := dump(t, db); !maps.Equal(before, after) {
		t.Errorf("a failed CommitAll changed the database: %d records, was %d", len(after), len(before))
	}
	bs[1].Items[2].Story = ""
	if err := db.CommitAll(ctx, bs); !errors.Is(err, ErrInvalidBatch) || !strings.Contains(err.Error(), "batch 2 of 2") {
		t.Fatalf("CommitAll: %v; want ErrInvalidBatch in batch 2 of 2", err)
	}
	if err := db.CommitAll(ctx, nil); err != nil {
		t.Fatalf("CommitAll of nothing: %v", err)
	}
}
