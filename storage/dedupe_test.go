package storage_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/storyfeed/storyfeed/storage"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

func storyItems(t *testing.T, db *storage.DB, id string) []string {
	t.Helper()
	sv, err := db.Story(id)
	if err != nil {
		t.Fatalf("Story(%s): %v", id, err)
	}
	return sv.Items
}

func TestSplitAndMerge(t *testing.T) {
	db := storagetest.OpenTemp(t)
	ctx := context.Background()
	a := item("f", "a", "", t0)
	b := item("f", "b", a.ID, t0.Add(time.Minute))
	c := item("f", "c", a.ID, t0.Add(2*time.Minute))
	feat := map[string][]byte{a.ID: []byte("fa"), b.ID: []byte("fb"), c.ID: []byte("fc")}
	if err := db.Commit(ctx, storage.Batch{Items: []storage.Item{a, b, c}, Features: feat}); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Hour)

	// Splitting a member gives it a story of its own under its own ID.
	got, err := db.Split(ctx, b.ID, now)
	if err != nil || got != b.ID {
		t.Fatalf("Split(%s) = %q, %v; want %q", b.ID, got, err, b.ID)
	}
	if items := storyItems(t, db, a.ID); !slices.Equal(items, []string{a.ID, c.ID}) {
		t.Errorf("story %s after split holds %v, want [a c]", a.ID, items)
	}
	it, err := db.Item(b.ID)
	if err != nil || it.Story != b.ID || it.Match.Level != "manual" {
		t.Errorf("split item: story %q level %q (%v); want its own story, level manual", it.Story, it.Match.Level, err)
	}
	// Splitting the founder leaves the story its ID; the founder moves.
	got, err = db.Split(ctx, a.ID, now)
	if err != nil || got == a.ID || got == "" {
		t.Fatalf("Split(founder) = %q, %v; want a new story ID", got, err)
	}
	if items := storyItems(t, db, a.ID); !slices.Equal(items, []string{c.ID}) {
		t.Errorf("story %s after its founder left holds %v, want [c]", a.ID, items)
	}
	founderStory := got
	// A lone item cannot be split further.
	if _, err := db.Split(ctx, c.ID, now); !errors.Is(err, storage.ErrOverride) {
		t.Errorf("Split(lone item) = %v, want ErrOverride", err)
	}
	// Merge brings them back together; the merged-away story is gone.
	n, err := db.Merge(ctx, a.ID, b.ID, now)
	if err != nil || n != 1 {
		t.Fatalf("Merge = %d, %v; want 1 item moved", n, err)
	}
	if _, err := db.Story(b.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("merged-away story still there: %v", err)
	}
	if _, err := db.Merge(ctx, a.ID, a.ID, now); !errors.Is(err, storage.ErrOverride) {
		t.Errorf("Merge(x, x) = %v, want ErrOverride", err)
	}
	if _, err := db.Merge(ctx, a.ID, "0000000000000000", now); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Merge with a missing story = %v, want ErrNotFound", err)
	}
	ovs, err := db.Overrides()
	if err != nil || len(ovs) != 3 {
		t.Fatalf("Overrides = %d, %v; want 3", len(ovs), err)
	}
	if ovs[0].Kind != "merge" || ovs[0].From != b.ID || ovs[0].Into != a.ID {
		t.Errorf("first override %+v, want the merge of %s into %s", ovs[0], b.ID, a.ID)
	}

	// The index rebuild sees every item with its current story and features.
	stories := map[string]string{}
	err = db.ForEachIndexEntry(ctx, t0, func(e *storage.IndexEntry) error {
		if e.Features == nil || e.Item != nil {
			t.Errorf("entry %s: features %q item %v; want the stored features", e.ID, e.Features, e.Item)
		}
		if want := feat[e.ID]; string(e.Features) != string(want) {
			t.Errorf("entry %s: features %q, want %q", e.ID, e.Features, want)
		}
		stories[e.ID] = e.Story
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{a.ID: founderStory, b.ID: a.ID, c.ID: a.ID}
	for id, st := range want {
		if stories[id] != st {
			t.Errorf("index entry %s in story %s, want %s", id, stories[id], st)
		}
	}
}

func TestRelatedAndItemsWithoutFeatures(t *testing.T) {
	db := storagetest.OpenTemp(t)
	ctx := context.Background()
	a, b := item("f", "a", "", t0), item("f", "b", "", t0)
	if err := db.Commit(ctx, storage.Batch{Items: []storage.Item{a, b}}); err != nil {
		t.Fatal(err)
	}
	c := item("f", "c", a.ID, t0.Add(time.Minute))
	if err := db.Commit(ctx, storage.Batch{Items: []storage.Item{c}, Related: map[string][]string{a.ID: {b.ID, a.ID}}}); err != nil {
		t.Fatal(err)
	}
	sv, err := db.Story(a.ID)
	if err != nil || !slices.Equal(sv.Related, []string{b.ID}) {
		t.Errorf("story related = %v (%v), want [%s]", sv.Related, err, b.ID)
	}
	var items int
	err = db.ForEachIndexEntry(ctx, time.Time{}, func(e *storage.IndexEntry) error {
		if e.Item == nil || e.Item.ID != e.ID || e.Story != e.Item.Story {
			t.Errorf("entry %s without features: item %v story %q", e.ID, e.Item, e.Story)
		}
		items++
		return nil
	})
	if err != nil || items != 3 {
		t.Errorf("ForEachIndexEntry saw %d items (%v), want 3", items, err)
	}
	bad := storage.Batch{Items: []storage.Item{item("f", "d", "", t0)}, Features: map[string][]byte{a.ID: []byte("x")}}
	if err := db.Commit(ctx, bad); !errors.Is(err, storage.ErrInvalidBatch) {
		t.Errorf("features for an item not in the batch: %v, want ErrInvalidBatch", err)
	}
}

// A database written before the features and overrides buckets existed
// still opens: read-only it reads as before, read-write it gains them.
func TestOpenDatabaseWithoutAddedBuckets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a := item("f", "a", "", t0)
	if err := db.Commit(ctx, storage.Batch{Items: []storage.Item{a}}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Update(func(tx *bolt.Tx) error {
		for _, b := range []string{"features", "overrides", "hosts"} {
			if err := tx.DeleteBucket([]byte(b)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	ro, err := storage.Open(path, storage.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open of an older database: %v", err)
	}
	if ovs, err := ro.Overrides(); err != nil || len(ovs) != 0 {
		t.Errorf("Overrides on an older database = %v, %v", ovs, err)
	}
	if holds, err := ro.Holds(); err != nil || len(holds) != 0 {
		t.Errorf("Holds on an older database = %v, %v", holds, err)
	}
	n := 0
	if err := ro.ForEachIndexEntry(ctx, t0, func(e *storage.IndexEntry) error { n++; return nil }); err != nil || n != 1 {
		t.Errorf("ForEachIndexEntry on an older database: %d entries, %v", n, err)
	}
	ro.Close()

	rw, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatalf("read-write open of an older database: %v", err)
	}
	defer rw.Close()
	b := item("f", "b", a.ID, t0.Add(time.Minute))
	if err := rw.Commit(ctx, storage.Batch{Items: []storage.Item{b}, Features: map[string][]byte{b.ID: []byte("x")}}); err != nil {
		t.Fatalf("commit with features after upgrade: %v", err)
	}
	if err := rw.Check(); err != nil {
		t.Error(err)
	}
}
