package aggregator_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/aggregator"
	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/storage"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

// storyGUIDs lists every story as the sorted GUIDs of its items.
func storyGUIDs(t *testing.T, db *storage.DB) []string {
	t.Helper()
	var out []string
	for _, sv := range allStories(t, db) {
		var g []string
		for _, m := range sv.Members {
			g = append(g, m.GUID)
		}
		slices.Sort(g)
		out = append(out, strings.Join(g, "+"))
	}
	slices.Sort(out)
	return out
}

func pollOK(t *testing.T, svc *aggregator.Service) aggregator.Cycle {
	t.Helper()
	c, err := svc.PollOnce(context.Background())
	if err != nil || c.Errors != 0 {
		t.Fatalf("PollOnce = %+v, %v", c, err)
	}
	return c
}

// A directory source follows its files on every poll: a new file adds an
// item, an edited one updates it in its story, a removed one takes its
// item out of the feed (and its story, once empty), without a tombstone,
// so that a restored file comes back. A file that cannot be read for now
// (empty, being written) keeps its item.
func TestDirectorySourceFollowsFiles(t *testing.T) {
	dir := t.TempDir()
	seedFiles := seeds(t)
	copyFiles(t, dir, seedFiles...)
	hurricane := filepath.Join("testdata", "articles", "hurricane_landfall.txt")
	copyFiles(t, dir, hurricane)
	db := storagetest.OpenTemp(t)
	clk := newClock()
	svc := newService(t, db, clk, config.Source{Name: "local", Path: dir})

	const seed0, seed1, storm = "file:000_c9e8a6bff94d1ab9.txt", "file:001_c9e9b25df1c491d6.txt", "file:hurricane_landfall.txt"
	pollOK(t, svc)
	if got, want := storyGUIDs(t, db), []string{seed0 + "+" + seed1, storm}; !slices.Equal(got, want) {
		t.Fatalf("stories = %v, want %v", got, want)
	}
	seedStory := allStories(t, db)[0].ID
	if allStories(t, db)[0].Members[0].GUID == storm {
		seedStory = allStories(t, db)[1].ID
	}

	// Edited: the item changes and keeps its story.
	clk.Add(time.Hour)
	b, err := os.ReadFile(hurricane)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), "Makes Landfall Near Corpus Christi", "Slams Into Corpus Christi", 1)
	writeText(t, filepath.Join(dir, "hurricane_landfall.txt"), edited)
	if c := pollOK(t, svc); c.ItemsUpdate != 1 || c.ItemsNew != 0 || c.ItemsRemoved != 0 {
		t.Errorf("poll after an edit: %+v, want 1 update", c)
	}
	if it := item(t, db, storm); !strings.Contains(it.Title, "Slams Into") {
		t.Errorf("edited title not picked up: %q", it.Title)
	}

	// Being written (empty for now): the item stays.
	clk.Add(time.Hour)
	writeText(t, filepath.Join(dir, "hurricane_landfall.txt"), "")
	if c := pollOK(t, svc); c.ItemsRemoved != 0 {
		t.Errorf("an empty file removed its item: %+v", c)
	}
	writeText(t, filepath.Join(dir, "hurricane_landfall.txt"), edited)

	// Removed: a seed leaves its story, the storm story goes whole.
	clk.Add(time.Hour)
	gen := db.Generation()
	for _, f := range []string{"001_c9e9b25df1c491d6.txt", "hurricane_landfall.txt"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	if c := pollOK(t, svc); c.ItemsRemoved != 2 || c.ItemsNew != 0 {
		t.Errorf("poll after removing 2 files: %+v, want 2 removed", c)
	}
	if db.Generation() == gen {
		t.Errorf("removing items did not change the generation: the publisher would serve them on")
	}
	if got, want := storyGUIDs(t, db), []string{seed0}; !slices.Equal(got, want) {
		t.Errorf("stories after removal = %v, want %v", got, want)
	}
	if allStories(t, db)[0].ID != seedStory {
		t.Errorf("the seed story changed its ID")
	}
	for _, guid := range []string{seed1, storm} {
		id := storage.ItemID("local", guid)
		found, tomb, err := db.Items([]string{id})
		if err != nil || len(found) != 0 || tomb[id] {
			t.Errorf("removed item %s: found %v, tombstoned %v, %v; want gone, no tombstone", guid, found, tomb, err)
		}
	}
	if c := pollOK(t, svc); c.ItemsRemoved != 0 || c.ItemsNew != 0 || c.ItemsUpdate != 0 {
		t.Errorf("poll of the unchanged directory: %+v, want nothing", c)
	}

	// Restored: the seed comes back into its story.
	clk.Add(time.Hour)
	copyFiles(t, dir, seedFiles[1])
	if c := pollOK(t, svc); c.ItemsNew != 1 || c.Joined != 1 {
		t.Errorf("poll after restoring a file: %+v, want 1 new item joining its story", c)
	}
	if got, want := storyGUIDs(t, db), []string{seed0 + "+" + seed1}; !slices.Equal(got, want) {
		t.Errorf("stories after restoring = %v, want %v", got, want)
	}
	if allStories(t, db)[0].ID != seedStory {
		t.Errorf("the restored seed is not back in its story %s", seedStory)
	}

	// Every file unreadable for a while, one of them also removed: the
	// poll fails, and the removal is seen once the others are readable.
	clk.Add(time.Hour)
	writeText(t, filepath.Join(dir, "000_c9e8a6bff94d1ab9.txt"), "")
	if err := os.Remove(filepath.Join(dir, "001_c9e9b25df1c491d6.txt")); err != nil {
		t.Fatal(err)
	}
	writeText(t, filepath.Join(dir, "new.txt"), "")
	if c, _ := svc.PollOnce(context.Background()); c.Errors != 1 || c.ItemsRemoved != 0 {
		t.Errorf("poll of unreadable files: %+v, want an error and nothing removed", c)
	}
	copyFiles(t, dir, seedFiles[0])
	if err := os.Remove(filepath.Join(dir, "new.txt")); err != nil {
		t.Fatal(err)
	}
	if c := pollOK(t, svc); c.ItemsRemoved != 1 {
		t.Errorf("poll once readable again: %+v, want the removed file's item removed", c)
	}
	copyFiles(t, dir, seedFiles[1])
	pollOK(t, svc)

	// The directory itself gone: an error, and nothing removed.
	clk.Add(time.Hour)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	c, err := svc.PollOnce(context.Background())
	if c.Errors != 1 || c.ItemsRemoved != 0 || err == nil {
		t.Errorf("poll of a missing directory: %+v, %v; want an error and nothing removed", c, err)
	}
	if got := storyGUIDs(t, db); len(got) != 1 {
		t.Errorf("stories after the directory vanished: %v", got)
	}
}

func writeText(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func item(t *testing.T, db *storage.DB, guid string) storage.Item {
	t.Helper()
	it, err := db.Item(storage.ItemID("local", guid))
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// Emptying a directory in a process that has not built its dedupe index
// (each `storyfeed poll` is a new process) removes every item.
func TestDirectoryEmptiedInNewProcess(t *testing.T) {
	dir := t.TempDir()
	copyFiles(t, dir, seeds(t)...)
	db := storagetest.OpenTemp(t)
	clk := newClock()
	pollOK(t, newService(t, db, clk, config.Source{Name: "local", Path: dir}))
	for _, f := range seeds(t) {
		if err := os.Remove(filepath.Join(dir, filepath.Base(f))); err != nil {
			t.Fatal(err)
		}
	}
	clk.Add(time.Hour)
	if c := pollOK(t, newService(t, db, clk, config.Source{Name: "local", Path: dir})); c.ItemsRemoved != 2 {
		t.Errorf("poll of the emptied directory: %+v, want 2 removed", c)
	}
	if n, err := db.Count(); err != nil || n.Items != 0 || n.Stories != 0 {
		t.Errorf("counts after emptying the directory: %+v, %v; want none", n, err)
	}
}
