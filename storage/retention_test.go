package storage_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/storage"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

// seedRetention stores ten items seen an hour apart, t0 to t0+9h. Items
// 0-2 are one story, 3 and 8 another; the rest stand alone.
func seedRetention(t *testing.T, db *storage.DB) []storage.Item {
	t.Helper()
	var items []storage.Item
	for i := range 10 {
		it := item("F", string(rune('a'+i)), "", t0.Add(time.Duration(i)*time.Hour))
		it.CanonURL = "https://f.example/" + it.GUID
		switch i {
		case 1, 2:
			it.Story = items[0].ID
		case 8:
			it.Story = items[3].ID
		}
		items = append(items, it)
		if err := db.Commit(context.Background(), storage.Batch{Items: []storage.Item{it}}); err != nil {
			t.Fatal(err)
		}
	}
	return items
}

func TestExpire(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name        string
		before      time.Time
		atLeast     int
		limit       int
		wantGone    []int // indexes into the seeded items
		wantStories int   // stories deleted
		calls       int   // Expire calls until More is false
	}{
		{"nothing old", t0, 0, 10, nil, 0, 1},
		{"by age", t0.Add(4*time.Hour + time.Minute), 0, 100, []int{0, 1, 2, 3, 4}, 2, 1},
		{"by age, two per transaction", t0.Add(4*time.Hour + time.Minute), 0, 2, []int{0, 1, 2, 3, 4}, 2, 3},
		{"by count", time.Time{}, 3, 100, []int{0, 1, 2}, 1, 1},
		{"count and age", t0.Add(time.Hour + time.Minute), 3, 100, []int{0, 1, 2}, 1, 1},
		{"everything", t0.Add(24 * time.Hour), 0, 4, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 7, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := storagetest.OpenTemp(t)
			items := seedRetention(t, db)
			now := t0.Add(48 * time.Hour)
			gen := db.Generation()
			var gone []string
			stories, calls, atLeast := 0, 0, c.atLeast
			for {
				calls++
				res, err := db.Expire(ctx, c.before, atLeast, now, c.limit)
				if err != nil {
					t.Fatal(err)
				}
				gone = append(gone, res.Items...)
				stories += res.Stories
				atLeast = max(atLeast-len(res.Items), 0)
				if !res.More {
					break
				}
				if calls > 20 {
					t.Fatal("Expire never finishes")
				}
			}
			var want []string
			for _, i := range c.wantGone {
				want = append(want, items[i].ID)
			}
			if !slices.Equal(gone, want) {
				t.Errorf("Expire(before %v, atLeast %d) deleted %v, want %v", c.before, c.atLeast, gone, want)
			}
			if stories != c.wantStories || calls != c.calls {
				t.Errorf("deleted %d stories in %d calls, want %d in %d", stories, calls, c.wantStories, c.calls)
			}
			if len(want) > 0 && db.Generation() <= gen {
				t.Errorf("generation %d did not move from %d", db.Generation(), gen)
			}
			counts, err := db.Count()
			if err != nil {
				t.Fatal(err)
			}
			if counts.Items != 10-len(want) {
				t.Errorf("%d items left, want %d", counts.Items, 10-len(want))
			}
			ids := make([]string, len(items))
			for i := range items {
				ids[i] = items[i].ID
			}
			found, tombstoned, err := db.Items(ids)
			if err != nil {
				t.Fatal(err)
			}
			for i, it := range items {
				isGone := slices.Contains(want, it.ID)
				if _, ok := found[it.ID]; ok == isGone {
					t.Errorf("item %d: found %v after expiry, want %v", i, ok, !isGone)
				}
				if tombstoned[it.ID] != isGone {
					t.Errorf("item %d: tombstoned %v, want %v", i, tombstoned[it.ID], isGone)
				}
				// The URL index no longer leads to a deleted item.
				_, _, ok, err := db.ExactMatch(it.CanonURL, "")
				if err != nil || ok == isGone {
					t.Errorf("item %d: ExactMatch by URL = %v, %v; want %v", i, ok, err, !isGone)
				}
			}
			// A story that lost some members keeps the others.
			if slices.Equal(c.wantGone, []int{0, 1, 2}) {
				sv, err := db.Story(items[3].ID)
				if err != nil || len(sv.Members) != 2 {
					t.Errorf("story of items 3 and 8: %v members, %v", len(sv.Members), err)
				}
			}
			if _, err := db.Story(items[0].ID); len(want) > 0 && !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("the emptied story of item 0: %v, want ErrNotFound", err)
			}
		})
	}
}

// Items that share a story keep the story's newest-first position right.
func TestExpirePartOfStory(t *testing.T) {
	ctx := context.Background()
	db := storagetest.OpenTemp(t)
	items := seedRetention(t, db)
	res, err := db.Expire(ctx, t0.Add(90*time.Minute), 0, t0.Add(48*time.Hour), 10)
	if err != nil || len(res.Items) != 2 || res.Stories != 0 {
		t.Fatalf("Expire = %+v, %v; want items 0 and 1, no story", res, err)
	}
	sv, err := db.Story(items[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sv.Members) != 1 || sv.Members[0].ID != items[2].ID {
		t.Errorf("story %s members after expiry: %v, want only item 2", sv.ID, sv.Items)
	}
}

func TestDropTombstones(t *testing.T) {
	ctx := context.Background()
	db := storagetest.OpenTemp(t)
	items := seedRetention(t, db)
	// Items 0-4 die at t1, 5-9 at t2.
	t1, t2 := t0.Add(100*time.Hour), t0.Add(200*time.Hour)
	if _, err := db.Expire(ctx, t0.Add(5*time.Hour-time.Minute), 0, t1, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Expire(ctx, t0.Add(24*time.Hour), 0, t2, 100); err != nil {
		t.Fatal(err)
	}
	n, err := db.DropTombstones(ctx, t1.Add(time.Hour), 2)
	if err != nil || n != 5 {
		t.Fatalf("DropTombstones = %d, %v; want the 5 of t1", n, err)
	}
	for i, it := range items {
		dead, err := db.Tombstoned(it.ID)
		if err != nil {
			t.Fatal(err)
		}
		if dead != (i >= 5) {
			t.Errorf("item %d tombstoned = %v, want %v", i, dead, i >= 5)
		}
	}
	if n, err := db.DropTombstones(ctx, t1.Add(time.Hour), 2); err != nil || n != 0 {
		t.Errorf("second DropTombstones = %d, %v; want 0", n, err)
	}
}

func TestBackupAndCompact(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "s.db")
	db, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	items := seedRetention(t, db)
	// Free pages: expire most of it.
	if _, err := db.Expire(ctx, t0.Add(8*time.Hour), 0, t0.Add(48*time.Hour), 100); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "backup.db")
	err = storage.WriteFileAtomic(backup, 0o600, func(w io.Writer) error {
		_, err := db.WriteTo(w)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := storage.Compact(path); !errors.Is(err, storage.ErrLocked) {
		t.Errorf("Compact of an open database = %v, want ErrLocked", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before, after, err := storage.Compact(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("compact: %d -> %d bytes", before, after)
	if after > before {
		t.Errorf("Compact grew the file from %d to %d bytes", before, after)
	}
	for _, p := range []string{path, backup} {
		db, err := storage.Open(p, storage.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Check(); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		it, err := db.Item(items[9].ID)
		if err != nil || it.Title != items[9].Title {
			t.Errorf("%s: item 9 = %q, %v", p, it.Title, err)
		}
		if dead, err := db.Tombstoned(items[0].ID); err != nil || !dead {
			t.Errorf("%s: item 0 tombstoned = %v, %v", p, dead, err)
		}
		db.Close()
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

func TestOpenNotDatabase(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"short": "hello\n",
		"text":  strings.Repeat("not a database at all\n", 1000),
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, ro := range []bool{false, true} {
			_, err := storage.Open(p, storage.Options{ReadOnly: ro})
			if !errors.Is(err, storage.ErrNotDatabase) || !strings.Contains(err.Error(), p) {
				t.Errorf("Open(%s, read-only %v) = %v, want ErrNotDatabase naming the file", name, ro, err)
			}
		}
		if b, _ := os.ReadFile(p); string(b) != content {
			t.Errorf("Open changed %s", name)
		}
	}
}
