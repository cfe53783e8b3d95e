package storage_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/storage"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

// mappedKB is the resident size, in KiB, of this process's maps of the
// file at path (/proc/self/smaps).
func mappedKB(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	defer f.Close()
	kb, in := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) == 0:
		case strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			in = fields[len(fields)-1] == path
		case in && fields[0] == "Rss:":
			n, err := strconv.Atoi(fields[1])
			if err != nil {
				t.Fatalf("smaps: %q", sc.Text())
			}
			kb += n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kb
}

// Pages of the database that bbolt read through its map leave the
// process's resident set after a commit and after a scan, and stay
// readable.
func TestMappedPagesReleased(t *testing.T) {
	ctx := context.Background()
	db := storagetest.OpenTemp(t)
	path := db.Path()
	const n = 3000
	ids := make([]string, 0, n)
	for b := range 10 {
		var batch storage.Batch
		for i := range n / 10 {
			it := item("F", fmt.Sprintf("g%d-%d", b, i), "", t0.Add(time.Duration(b*n+i)*time.Second))
			it.Text = strings.Repeat(fmt.Sprintf("text of %d %d. ", b, i), 20)
			batch.Items = append(batch.Items, it)
			ids = append(ids, it.ID)
		}
		if err := db.Commit(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if kb := mappedKB(t, path); kb > 64 {
		t.Errorf("after the commits, %d KiB of the database's map are resident, want at most 64", kb)
	}
	// A plain read keeps what it read resident: the measure sees it.
	got, _, err := db.Items(ids)
	if err != nil || len(got) != n {
		t.Fatalf("Items: %d of %d, %v", len(got), n, err)
	}
	if kb := mappedKB(t, path); kb < 1024 {
		t.Fatalf("after reading %d items, only %d KiB of the map are resident: the measure is broken", n, kb)
	}
	seen := 0
	if err := db.ForEachItemSince(ctx, t0, func(it *storage.Item) error {
		seen++
		if !strings.HasPrefix(it.Text, "text of ") {
			return fmt.Errorf("item %s: text %q", it.ID, it.Text)
		}
		return nil
	}); err != nil || seen != n {
		t.Fatalf("scan: %d of %d items, %v", seen, n, err)
	}
	if kb := mappedKB(t, path); kb > 64 {
		t.Errorf("after a scan, %d KiB of the database's map are resident, want at most 64", kb)
	}
	// The released pages read back the same.
	again, _, err := db.Items(ids)
	if err != nil || len(again) != n {
		t.Fatalf("Items after release: %d of %d, %v", len(again), n, err)
	}
	for id, it := range got {
		if again[id].Text != it.Text || again[id].Title != it.Title {
			t.Fatalf("item %s changed after release", id)
		}
	}
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
}

// A long scan gives back the pages it read as it goes: what it keeps
// resident stays far below what it reads. It reads ~22 MiB and gives pages
// back every 4 MiB; the bound, half of what it read, leaves room for
// the kernel's fault-around and the branch pages read between releases
// (a bound of 6 MiB failed one run in two under -race).
func TestScanReleasesAsItGoes(t *testing.T) {
	ctx := context.Background()
	db := storagetest.OpenTemp(t)
	const n = 8000
	for b := range 8 {
		var batch storage.Batch
		for i := range n / 8 {
			it := item("F", fmt.Sprintf("g%d-%d", b, i), "", t0.Add(time.Duration(b*n+i)*time.Second))
			it.Text = strings.Repeat(fmt.Sprintf("text of %d %d. ", b, i), 200) // ~3 KB
			batch.Items = append(batch.Items, it)
		}
		if err := db.Commit(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	read, peak, seen := 0, 0, 0
	if err := db.ForEachItemSince(ctx, t0, func(it *storage.Item) error {
		read += len(it.Text)
		if seen++; seen%250 == 0 {
			peak = max(peak, mappedKB(t, db.Path()))
		}
		return nil
	}); err != nil || seen != n {
		t.Fatalf("scan: %d of %d items, %v", seen, n, err)
	}
	if read < 20<<20 {
		t.Fatalf("the scan read only %d bytes: too few to test", read)
	}
	if peak > read>>11 {
		t.Errorf("a scan of %d MiB kept up to %d KiB of the map resident, want at most half of it", read>>20, peak)
	}
}
