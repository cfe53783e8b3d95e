package aggregator_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/storyfeed/storyfeed/aggregator"
	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/storage"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

// failingStore fails its Commit number failAt (1-based), once.
type failingStore struct {
	*storage.DB
	calls, failAt atomic.Int32
}

var errDiskFull = errors.New("disk full")

func (s *failingStore) Commit(ctx context.Context, b storage.Batch) error {
	if s.calls.Add(1) == s.failAt.Load() {
		return errDiskFull
	}
	return s.DB.Commit(ctx, b)
}

// A failed transaction ends the cycle with an error naming its source;
// nothing half-written stays behind, and the next cycle stores every item.
func TestCommitFailureStopsCycleCleanly(t *testing.T) {
	sources := eightFeeds(t)
	db := storagetest.OpenTemp(t)
	st := &failingStore{DB: db}
	st.failAt.Store(3)
	cfg := config.Default()
	cfg.Sources = sources
	svc, err := aggregator.New(cfg, aggregator.Deps{Store: st, Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.PollOnce(context.Background())
	if !errors.Is(err, errDiskFull) || !strings.Contains(err.Error(), "source f") {
		t.Fatalf("poll: %v; want the commit error, naming its source", err)
	}
	if err := db.Check(); err != nil {
		t.Fatalf("after a failed commit: %v", err)
	}
	first, err := db.Count()
	if err != nil || first.Items != 10 {
		t.Fatalf("after a failed third commit: %+v, %v; want the two sources before it stored, 10 items", first, err)
	}
	c, err := svc.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.Count()
	if err != nil || n.Items != 40 || c.ItemsNew != 30 {
		t.Errorf("second poll: %+v, counts %+v, %v; want the other 30 items stored", c, n, err)
	}
}

// eightFeeds writes 8 feed files of 5 distinct stories each and returns
// their sources.
func eightFeeds(t *testing.T) []config.Source {
	t.Helper()
	dir := t.TempDir()
	var sources []config.Source
	for i := range 8 {
		var b strings.Builder
		fmt.Fprintf(&b, "<rss version=\"2.0\"><channel><title>F%d</title>", i)
		for j := range 5 {
			fmt.Fprintf(&b, "<item><title>Feed %d story %d about harbour number %d</title><guid>g%d</guid><link>https://f%d.example/%d</link><description>Text of feed %d item %d, on the harbour %d and its cranes.</description></item>", i, j, i*10+j, j, i, j, i, j, i*10+j)
		}
		b.WriteString("</channel></rss>")
		path := filepath.Join(dir, fmt.Sprintf("f%d.xml", i))
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		sources = append(sources, config.Source{Name: fmt.Sprintf("f%d", i), Path: path})
	}
	return sources
}

// The counts a cycle reports (the poll cycle log line, the items metric)
// are those of the batches committed, not of those decided: a cycle cut
// short by a failed commit reports what the database holds.
func TestCycleCountsOnlyCommitted(t *testing.T) {
	for _, failAt := range []int32{1, 3, 6} {
		db := storagetest.OpenTemp(t)
		st := &failingStore{DB: db}
		st.failAt.Store(failAt)
		cfg := config.Default()
		cfg.Sources = eightFeeds(t)
		svc, err := aggregator.New(cfg, aggregator.Deps{Store: st, Now: newClock().Now})
		if err != nil {
			t.Fatal(err)
		}
		c, err := svc.PollOnce(context.Background())
		if !errors.Is(err, errDiskFull) {
			t.Fatalf("commit %d fails: poll: %v; want the commit error", failAt, err)
		}
		n, err := db.Count()
		if err != nil {
			t.Fatal(err)
		}
		if want := 5 * int(failAt-1); n.Items != want {
			t.Fatalf("commit %d fails: %d items stored, want %d", failAt, n.Items, want)
		}
		if c.ItemsNew != n.Items || c.ItemsUpdate != 0 || c.StoriesNew+c.Joined != n.Items || c.StoriesNew != n.Stories {
			t.Errorf("commit %d fails: cycle counts %+v; the database holds %d items in %d stories", failAt, c, n.Items, n.Stories)
		}
	}
}
