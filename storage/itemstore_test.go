package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A database written before item records moved into item_time holds them
// in items as JSON. It reads, checks, updates (the item moves) and expires
// like a new one.
func TestOldItemLayout(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "old.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(guid string, seen time.Time) Item {
		it := Item{ID: ItemID("old", guid), Feed: "old", GUID: guid, Outlet: "Old", Title: "Title " + guid,
			Text: "text", Hash: "h" + guid, FirstSeen: seen, Updated: seen, Match: Match{Level: "new"}}
		it.Story = it.ID
		return it
	}
	a, b := mk("a", t0), mk("b", t0.Add(time.Minute))
	// Write a and b as the old layout did, by hand, in a database without
	// the all-features mark, as older builds made them.
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketMeta).Delete(keyAllFeatures); err != nil {
			return err
		}
		for _, it := range []Item{a, b} {
			k, _ := idKey(it.ID)
			js, _ := json.Marshal(&it)
			if err := tx.Bucket(bucketItems).Put(k, append([]byte{recordV1}, js...)); err != nil {
				return err
			}
			if err := tx.Bucket(bucketItemTime).Put(timeKey(it.FirstSeen, k), nil); err != nil {
				return err
			}
			st := Story{ID: it.ID, Items: []string{it.ID}, FirstSeen: it.FirstSeen, Updated: it.Updated}
			if err := putRecord(tx.Bucket(bucketStories), k, &st); err != nil {
				return err
			}
			if err := tx.Bucket(bucketStoryTime).Put(timeKey(st.Updated, k), nil); err != nil {
				return err
			}
			if err := tx.Bucket(bucketFeatures).Put(k, append(bytes.Clone(k), "old-"+it.GUID...)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Check(); err != nil {
		t.Fatalf("old layout: %v", err)
	}
	if got, err := db.Item(a.ID); err != nil || got.Title != a.Title {
		t.Fatalf("old item: %+v, %v", got, err)
	}
	features := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		err := db.ForEachIndexEntry(ctx, time.Time{}, func(e *IndexEntry) error {
			if e.Story == "" {
				t.Errorf("index entry %s has no story", e.ID)
			}
			out[e.ID] = string(e.Features)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if f := features(); f[a.ID] != "old-a" || f[b.ID] != "old-b" {
		t.Errorf("features of the old layout: %q", f)
	}
	// An update moves a into item_time; a new item c goes there directly.
	a.Title, a.Updated = "Edited", t0.Add(time.Hour)
	c := mk("c", t0.Add(2*time.Hour))
	if err := db.Commit(ctx, Batch{Items: []Item{a, c}, Features: map[string][]byte{a.ID: []byte("new-a"), c.ID: []byte("new-c")}}); err != nil {
		t.Fatal(err)
	}
	if f := features(); f[a.ID] != "new-a" || f[b.ID] != "old-b" || f[c.ID] != "new-c" {
		t.Errorf("features after an update: %q", f)
	}
	if err := db.Check(); err != nil {
		t.Fatalf("mixed layout: %v", err)
	}
	err = db.bolt.View(func(tx *bolt.Tx) error {
		for _, it := range []Item{a, b, c} {
			k, _ := idKey(it.ID)
			v := tx.Bucket(bucketItems).Get(k)
			if moved := len(v) == 8; moved == (it.ID == b.ID) {
				t.Errorf("item %s: items value of %d bytes", it.GUID, len(v))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	if err := db.ForEachItemSince(ctx, t0, func(it *Item) error { seen = append(seen, it.Title); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 || seen[0] != "Edited" || seen[1] != b.Title || seen[2] != c.Title {
		t.Errorf("items in first-seen order: %q", seen)
	}
	found, _, err := db.Items([]string{a.ID, b.ID, c.ID})
	if err != nil || len(found) != 3 || found[a.ID].Title != "Edited" {
		t.Errorf("Items: %v, %v", found, err)
	}
	if _, err := db.Split(ctx, a.ID, t0); err == nil {
		t.Error("split of a lone item: no error")
	}
	if _, err := db.Merge(ctx, c.ID, b.ID, t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.Check(); err != nil {
		t.Fatalf("after a merge: %v", err)
	}
	if f := features(); f[b.ID] != "old-b" || f[c.ID] != "new-c" {
		t.Errorf("features after a merge: %q", f)
	}
	var stories []string
	_ = db.ForEachIndexEntry(ctx, time.Time{}, func(e *IndexEntry) error { stories = append(stories, e.Story); return nil })
	if len(stories) != 3 || stories[1] != c.ID || stories[2] != c.ID {
		t.Errorf("stories of the index entries after merging b into c: %q", stories)
	}
	ex, err := db.Expire(ctx, t0.Add(90*time.Minute), 0, t0.Add(4*time.Hour), 10)
	if err != nil || len(ex.Items) != 2 {
		t.Fatalf("expire: %+v, %v; want a and b gone", ex, err)
	}
	if err := db.Check(); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if _, err := db.Item(b.ID); err == nil {
		t.Error("expired item still read")
	}
	if f := features(); len(f) != 1 || f[c.ID] != "new-c" {
		t.Errorf("features after expiry: %q", f)
	}
}

// Check reports an items pointer with no record behind it.
func TestCheckDanglingItemPointer(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "x.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	it := Item{ID: ItemID("f", "g"), Feed: "f", GUID: "g", Hash: "h", FirstSeen: time.Unix(100, 0).UTC()}
	it.Story = it.ID
	if err := db.Commit(context.Background(), Batch{Items: []Item{it}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		k, _ := idKey(it.ID)
		return tx.Bucket(bucketItemTime).Delete(timeKey(it.FirstSeen, k))
	})
	if err != nil {
		t.Fatal(err)
	}
	if db.Check() == nil {
		t.Error("Check found nothing wrong with an item whose record is gone")
	}
	if _, err := db.Item(it.ID); err == nil {
		t.Error("Item read an item whose record is gone")
	}
}

// Content hashes are index keys of 16 bytes now. A database whose hashes
// were written as hex text by older builds still matches them read-only,
// and a writable open rewrites them in binary, after which a lookup reads
// one key; the entry is not shadowed by a second one and goes with its
// item.
func TestHashKeyForms(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if !db.binHashes {
		t.Error("a new database does not say its hashes are binary")
	}
	ctx := context.Background()
	const hexHash = "00112233445566778899aabbccddeeff"
	old := Item{ID: ItemID("f", "old"), Feed: "f", GUID: "old", Hash: hexHash, FirstSeen: time.Unix(100, 0).UTC()}
	old.Story = old.ID
	if err := db.Commit(ctx, Batch{Items: []Item{old}}); err != nil {
		t.Fatal(err)
	}
	// Rewrite its hashes entry in the old, textual form, as an older
	// build's database has it.
	keys := hashKeys(hexHash, false)
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHashes)
		id := bytes.Clone(b.Get(keys[0]))
		if id == nil {
			t.Fatal("no binary hashes entry")
		}
		if err := b.Delete(keys[0]); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMeta).Delete(keyBinaryHashes); err != nil {
			return err
		}
		return b.Put(keys[1], id)
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	match := func(db *DB) {
		t.Helper()
		story, by, ok, err := db.ExactMatch("", hexHash)
		if err != nil || !ok || story != old.Story || by != "hash" {
			t.Fatalf("ExactMatch: %q %q %v %v", story, by, ok, err)
		}
	}
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if ro.binHashes {
		t.Error("a database with text hashes says they are binary")
	}
	match(ro)
	ro.Close()

	db, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if !db.binHashes {
		t.Error("a writable open left the text hashes")
	}
	match(db)
	err = db.bolt.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketHashes); b.Get(keys[1]) != nil || b.Get(keys[0]) == nil {
			t.Error("the text key was not rewritten in binary")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	twin := Item{ID: ItemID("g", "twin"), Feed: "g", GUID: "twin", Hash: hexHash, FirstSeen: time.Unix(200, 0).UTC(), Story: old.Story}
	if err := db.Commit(ctx, Batch{Items: []Item{twin}}); err != nil {
		t.Fatal(err)
	}
	count := func() (n int) {
		_ = db.bolt.View(func(tx *bolt.Tx) error { n = tx.Bucket(bucketHashes).Stats().KeyN; return nil })
		return n
	}
	if n := count(); n != 1 {
		t.Errorf("hashes entries after a second item with the same hash: %d, want 1 (the first item's)", n)
	}
	if _, err := db.Expire(ctx, time.Unix(150, 0), 0, time.Unix(300, 0), 10); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Errorf("hashes entries after the first item expired: %d, want 0", n)
	}
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestCommitSources(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b := Batch{Source: &SourceState{Name: "a", LastStatus: 304}, Sources: []SourceState{{Name: "b", LastStatus: 304}, {Name: "c", ETag: `"x"`}}}
	if err := db.Commit(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	all, err := db.Sources()
	if err != nil || len(all) != 3 || all[2].ETag != `"x"` || all[1].LastStatus != 304 {
		t.Errorf("sources: %+v, %v", all, err)
	}
}

// The index rebuild of a database whose items all have features reads
// item_features alone, and finds what the walk of item_time finds; a batch
// with an item without features turns the walk back on.
func TestIndexEntriesFromFeaturesAlone(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "f.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	var batch Batch
	batch.Features = map[string][]byte{}
	for i := range 20 {
		it := Item{ID: ItemID("f", fmt.Sprint(i)), Feed: "f", GUID: fmt.Sprint(i), Hash: fmt.Sprint(i),
			FirstSeen: time.Unix(int64(1000+i%5), 0).UTC()}
		it.Story = ItemID("f", fmt.Sprint(i%3))
		batch.Items = append(batch.Items, it)
		batch.Features[it.ID] = []byte("feat" + fmt.Sprint(i))
	}
	if err := db.Commit(ctx, batch); err != nil {
		t.Fatal(err)
	}
	entries := func(since time.Time) []string {
		var out []string
		if err := db.ForEachIndexEntry(ctx, since, func(e *IndexEntry) error {
			out = append(out, fmt.Sprintf("%s %s %d %s %v", e.ID, e.Story, e.FirstSeen.Unix(), e.Features, e.Item != nil))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	mark := func() (ok bool) {
		_ = db.bolt.View(func(tx *bolt.Tx) error { ok = tx.Bucket(bucketMeta).Get(keyAllFeatures) != nil; return nil })
		return ok
	}
	if !mark() {
		t.Fatal("a new database has no all-features mark")
	}
	fast, fastSince := entries(time.Time{}), entries(time.Unix(1003, 0))
	if len(fast) != 20 || len(fastSince) != 8 {
		t.Fatalf("%d entries, %d since 1003; want 20 and 8", len(fast), len(fastSince))
	}
	if err := db.bolt.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyAllFeatures) }); err != nil {
		t.Fatal(err)
	}
	if walk := entries(time.Time{}); !slices.Equal(walk, fast) {
		t.Errorf("from item_features:\n%q\nfrom item_time:\n%q", fast, walk)
	}
	if walk := entries(time.Unix(1003, 0)); !slices.Equal(walk, fastSince) {
		t.Errorf("since 1003, from item_features:\n%q\nfrom item_time:\n%q", fastSince, walk)
	}
	// On a marked database, an item without features unmarks it.
	db2, err := Open(filepath.Join(t.TempDir(), "g.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	bare := Item{ID: ItemID("g", "x"), Feed: "g", GUID: "x", FirstSeen: time.Unix(5, 0).UTC()}
	bare.Story = bare.ID
	if err := db2.Commit(ctx, Batch{Items: []Item{bare}}); err != nil {
		t.Fatal(err)
	}
	var got []*Item
	_ = db2.ForEachIndexEntry(ctx, time.Time{}, func(e *IndexEntry) error { got = append(got, e.Item); return nil })
	if len(got) != 1 || got[0] == nil || got[0].ID != bare.ID {
		t.Errorf("an item without features: entries %v, want it with its record", got)
	}
}
