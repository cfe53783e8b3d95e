package storage_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/storage"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func item(feed, guid, story string, seen time.Time) storage.Item {
	id := storage.ItemID(feed, guid)
	if story == "" {
		story = id
	}
	return storage.Item{ID: id, Feed: feed, GUID: guid, Outlet: feed, Title: "t " + guid,
		FirstSeen: seen, Updated: seen, Story: story, Hash: "h-" + feed + guid,
		Match: storage.Match{Level: "new"}}
}

func TestItemIDStable(t *testing.T) {
	a, b := storage.ItemID("Feed", "guid-1"), storage.ItemID("Feed", "guid-1")
	if a != b || len(a) != 16 {
		t.Fatalf("ItemID not stable or wrong length: %q %q", a, b)
	}
	// The separator keeps ("ab","c") and ("a","bc") apart.
	if storage.ItemID("ab", "c") == storage.ItemID("a", "bc") {
		t.Fatal("ItemID ignores the boundary between feed and guid")
	}
}

func TestCommitStoriesNewestFirst(t *testing.T) {
	ctx := context.Background()
	db := storagetest.OpenTemp(t)

	a := item("A", "1", "", t0)
	b := item("B", "1", "", t0.Add(time.Minute))
	if err := db.Commit(ctx, storage.Batch{Items: []storage.Item{a, b}}); err != nil {
		t.Fatal(err)
	}
	g1 := db.Generation()
	// c joins a's story an hour later, which moves it to the top.
	c := item("C", "1", a.ID, t0.Add(time.Hour))
	c.Match = storage.Match{Level: "similar", Score: 0.5}
	if err := db.Commit(ctx, storage.Batch{Items: []storage.Item{c}}); err != nil {
		t.Fatal(err)
	}
	if db.Generation() <= g1 {
		t.Errorf("generation did not move: %d then %d", g1, db.Generation())
	}
	got, err := db.Stories(ctx, storage.StoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range got {
		ids = append(ids, s.ID)
	}
	if want := []string{a.ID, b.ID}; !slices.Equal(ids, want) {
		t.Fatalf("story order = %v, want %v", ids, want)
	}
	if n := len(got[0].Members); n != 2 || got[0].Outlets() != 2 {
		t.Errorf("story %s has %d members, %d outlets; want 2, 2", a.ID, n, got[0].Outlets())
	}
	if !got[0].Updated.Equal(c.FirstSeen) || !got[0].FirstSeen.Equal(a.FirstSeen) {
		t.Errorf("story times = %v..%v, want %v..%v", got[0].FirstSeen, got[0].Updated, a.FirstSeen, c.FirstSeen)
	}
	merged, err := db.Stories(ctx, storage.StoryQuery{MinSources: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(merged) != 1 || merged[0].ID != a.ID {
		t.Errorf("MinSources 2 gave %d stories, want only %s", len(merged), a.ID)
	}
}

func TestCommitUpdateKeepsStory(t *testing.T) {
	ctx := context.Background()
	db := storagetest.OpenTemp(t)
	a := item("A", "1", "", t0)
	if err := db.Commit(ctx, storage.Batch{Items: []storage.Item{a}}); err != nil {
		t.Fatal(err)
	}
	a.Title = "edited"
	a.Updated = t0.Add(time.Hour)
	if err := db.Commit(ctx, storage.Batch{Items: []storage.Item{a}}); err != nil {
		t.Fatal(err)
	}
	sv, err := db.Story(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sv.Members) != 1 || sv.Members[0].Title != "edited" || !sv.Updated.Equal(a.Updated) {
		t.Errorf("after update: members %d, title %q, updated %v; want 1, edited, %v",
			len(sv.Members), sv.Members[0].Title, sv.Updated, a.Updated)
	}
	c, err := db.Count()
	if err != nil {
		t.Fatal(err)
	}
	if c.Items != 1 || c.Stories != 1 {
		t.Errorf("counts = %+v, want 1 item, 1 story", c)
	}
}

func TestCommitRejectsInvalidBatchWhole(t *testing.T) {
	ctx := context.Background()
	db := storagetest.OpenTemp(t)
	good := item("A", "1", "", t0)
	bad := item("A", "2", "", t0)
	bad.Story = "not-hex"
	err := db.Commit(ctx, storage.Batch{Items: []storage.Item{good, bad}, Source: &storage.SourceState{Name: "A"}})
	if !errors.Is(err, storage.ErrBadID) {
		t.Fatalf("Commit with a bad story ID = %v, want ErrBadID", err)
	}
	c, err := db.Count()
	if err != nil {
		t.Fatal(err)
	}
	if c != (storage.Counts{}) {
		t.Errorf("a failed batch left %+v behind", c)
	}
}

func TestExactMatch(t *testing.T) {
	ctx := context.Background()
	db := storagetest.OpenTemp(t)
	a := item("A", "1", "", t0)
	a.CanonURL = "example.com/a"
	if err := db.Commit(ctx, storage.Batch{Items: []storage.Item{a}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ canon, hash, by string }{
		{"example.com/a", "", "url"},
		{"", a.Hash, "hash"},
		{"example.com/other", a.Hash, "hash"},
	} {
		story, by, ok, err := db.ExactMatch(tc.canon, tc.hash)
		if err != nil || !ok || story != a.ID || by != tc.by {
			t.Errorf("ExactMatch(%q, %q) = %q, %q, %v, %v; want %q, %q", tc.canon, tc.hash, story, by, ok, err, a.ID, tc.by)
		}
	}
	if _, _, ok, err := db.ExactMatch("example.com/b", "other"); ok || err != nil {
		t.Errorf("ExactMatch of unknown keys = %v, %v; want false, nil", ok, err)
	}
}

func TestSourceState(t *testing.T) {
	ctx := context.Background()
	db := storagetest.OpenTemp(t)
	st := storage.SourceState{Name: "A", ETag: `"x"`, ErrorStreak: 2, LastError: "boom"}
	if err := db.Commit(ctx, storage.Batch{Source: &st}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := db.Source("A")
	if err != nil || !ok || got.ETag != st.ETag || got.ErrorStreak != 2 {
		t.Errorf("Source(A) = %+v, %v, %v; want %+v", got, ok, err, st)
	}
	if _, ok, _ := db.Source("B"); ok {
		t.Error("Source(B) found a source never stored")
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	_, err = storage.Open(path, storage.Options{Timeout: 100 * time.Millisecond})
	if !errors.Is(err, storage.ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second Open took %v to fail", d)
	}
}

func TestOpenNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	if err := os.WriteFile(path, []byte("this is not a database, just some text that is long enough"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := storage.Open(path, storage.Options{})
	if !errors.Is(err, storage.ErrNotDatabase) {
		t.Fatalf("Open of a text file = %v, want ErrNotDatabase", err)
	}
	b, _ := os.ReadFile(path)
	if string(b) != "this is not a database, just some text that is long enough" {
		t.Error("Open modified a file that is not a database")
	}
}

func TestReopenKeepsGeneration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(ctx, storage.Batch{Items: []storage.Item{item("A", "1", "", t0)}}); err != nil {
		t.Fatal(err)
	}
	gen := db.Generation()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := storage.Open(path, storage.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if ro.Generation() != gen {
		t.Errorf("generation after reopen = %d, want %d", ro.Generation(), gen)
	}
	if err := ro.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func TestOpenReadOnlyMissing(t *testing.T) {
	_, err := storage.Open(filepath.Join(t.TempDir(), "none.db"), storage.Options{ReadOnly: true})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read-only Open of a missing file = %v, want ErrNotExist", err)
	}
}

func ExampleDB_Commit() {
	dir, err := os.MkdirTemp("", "storyfeed-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	db, err := storage.Open(filepath.Join(dir, "storyfeed.db"), storage.Options{})
	if err != nil {
		panic(err)
	}
	defer db.Close()

	seen := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	first := storage.Item{ID: storage.ItemID("Wire", "w-1"), Feed: "Wire", Outlet: "Wire",
		Title: "Envoy heads to Moscow", FirstSeen: seen, Updated: seen}
	first.Story = first.ID // it founds its story
	second := storage.Item{ID: storage.ItemID("Daily", "d-7"), Feed: "Daily", Outlet: "Daily",
		Title: "US envoy travels to meet Putin", FirstSeen: seen, Updated: seen, Story: first.ID,
		Match: storage.Match{Level: "similar", Score: 0.41}}
	if err := db.Commit(context.Background(), storage.Batch{Items: []storage.Item{first, second}}); err != nil {
		panic(err)
	}
	sv, err := db.Story(first.ID)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(sv.Members), "items from", sv.Outlets(), "outlets")
	// Output: 2 items from 2 outlets
}
