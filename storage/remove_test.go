package storage_test

import (
	"context"
	"testing"

	"github.com/storyfeed/storyfeed/storage"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

// Batch.Remove deletes items for good but without a tombstone, takes them
// out of their stories, deletes stories left empty, and may be followed in
// the same batch by an item that takes a removed one's place.
func TestCommitRemove(t *testing.T) {
	db := storagetest.OpenTemp(t)
	ctx := context.Background()
	a := item("f", "a", "", t0)
	b := item("f", "b", a.ID, t0)
	c := item("f", "c", "", t0)
	if err := db.Commit(ctx, storage.Batch{Items: []storage.Item{a, b, c}}); err != nil {
		t.Fatal(err)
	}
	gen := db.Generation()
	// b's file was renamed: b goes, d (same text) joins the story in its place.
	d := item("f", "d", a.ID, t0.Add(1))
	d.Hash = b.Hash
	if err := db.Commit(ctx, storage.Batch{Remove: []string{b.ID, c.ID, storage.ItemID("f", "never")}, Items: []storage.Item{d}}); err != nil {
		t.Fatal(err)
	}
	if db.Generation() == gen {
		t.Error("a commit that removes items did not change the generation")
	}
	sv, err := db.Story(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := sv.Items; len(got) != 2 || got[0] != a.ID || got[1] != d.ID {
		t.Errorf("story items = %v, want [a d]", got)
	}
	if _, err := db.Story(c.ID); err == nil {
		t.Errorf("story of c, left empty, still there")
	}
	found, tomb, err := db.Items([]string{b.ID, c.ID})
	if err != nil || len(found) != 0 || len(tomb) != 0 {
		t.Errorf("removed items: found %v, tombstoned %v, %v; want neither", found, tomb, err)
	}
	// The hash index now points at d, which took b's place.
	if story, _, ok, err := db.ExactMatch("", b.Hash); err != nil || !ok || story != a.ID {
		t.Errorf("ExactMatch(hash of b and d) = %q, %v, %v", story, ok, err)
	}
	if _, _, ok, _ := db.ExactMatch("", c.Hash); ok {
		t.Errorf("the hash of a removed item still matches")
	}
	// Delivered again, c comes back.
	if err := db.Commit(ctx, storage.Batch{Items: []storage.Item{c}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Item(c.ID); err != nil {
		t.Errorf("c did not come back: %v", err)
	}
	if err := db.Commit(ctx, storage.Batch{Remove: []string{"not-an-id"}}); err == nil {
		t.Errorf("Remove of a malformed ID: no error")
	}
}
