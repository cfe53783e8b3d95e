package aggregator

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/storage"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

// commitLog records the commit events of a service.
type commitLog struct {
	nopObserver
	mu     sync.Mutex
	events []CommitEvent
}

func (l *commitLog) Committed(ev CommitEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, ev)
}

// sourceBatch is the decided batch of source src: n new items, each
// founding its story, or joining story join when it is not "".
func sourceBatch(src string, n int, join string, c *Cycle) pendingCommit {
	t := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	p := pendingCommit{source: src, cycle: c, batch: storage.Batch{Source: &storage.SourceState{Name: src, Items: n}}}
	for i := range n {
		guid := string(rune('a' + i))
		id := storage.ItemID(src, guid)
		it := storage.Item{ID: id, Feed: src, GUID: guid, Outlet: src, Title: src + " " + guid, FirstSeen: t, Updated: t,
			Story: id, Hash: storage.ItemID("hash", src+guid), Match: storage.Match{Level: "new"}}
		if join != "" {
			it.Story, it.Match.Level = join, "similar"
			p.counts.joined++
		} else {
			p.counts.storiesNew++
		}
		p.counts.itemsNew++
		p.batch.Items = append(p.batch.Items, it)
		p.added = append(p.added, id)
	}
	return p
}

// run queues ps, then lets a committer write them: they wait in its queue
// together, as batches do behind a slow transaction.
func runCommitter(s *Service, ps ...pendingCommit) *committer {
	cm := s.newCommitter()
	for _, p := range ps {
		cm.in <- p
	}
	go cm.run(context.Background())
	return cm
}

// Batches queued together are written in one transaction, in order: an
// item joins a story founded by the batch before it; a state-only batch
// among them goes in too. The cycle counts them all.
func TestGroupCommitOneTransaction(t *testing.T) {
	db := storagetest.OpenTemp(t)
	log := &commitLog{}
	s := &Service{store: db, obs: log}
	var c Cycle
	a := sourceBatch("A", 2, "", &c)
	b := sourceBatch("B", 1, a.added[0], &c)
	state := pendingCommit{source: "C", batch: storage.Batch{Source: &storage.SourceState{Name: "C"}}}
	d := sourceBatch("D", 1, "", &c)
	if err := runCommitter(s, a, b, state, d).finish(); err != nil {
		t.Fatal(err)
	}
	if len(log.events) != 1 {
		t.Fatalf("%d transactions, want 1", len(log.events))
	}
	if levels := log.events[0].Levels; !slices.Equal(levels, []string{"new", "new", "similar", "new"}) {
		t.Errorf("levels %v, want those of the 4 new items in order", levels)
	}
	if c.ItemsNew != 4 || c.StoriesNew != 3 || c.Joined != 1 {
		t.Errorf("cycle counts %+v, want 4 new items, 3 new stories, 1 joined", c)
	}
	sv, err := db.Story(a.added[0])
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{a.added[0], b.added[0]}; !slices.Equal(sv.Items, want) {
		t.Errorf("story members %v, want %v", sv.Items, want)
	}
	if _, ok, err := db.Source("C"); err != nil || !ok {
		t.Errorf("state of C: stored %v, %v", ok, err)
	}
}

// When a group fails, its batches are written one by one: those before
// the bad batch are stored, the bad batch alone fails, and, as after any
// failed commit, nothing after it is written (a later batch may join a
// story of the failed one) and the index forgets their new items.
func TestGroupCommitFailure(t *testing.T) {
	db := storagetest.OpenTemp(t)
	log := &commitLog{}
	s := &Service{store: db, obs: log}
	var c Cycle
	a := sourceBatch("A", 2, "", &c)
	bad := sourceBatch("B", 2, "", &c)
	bad.batch.Items[1].ID = "not hex" // fails at its key, inside the transaction
	d := sourceBatch("D", 1, bad.added[0], &c)
	cm := runCommitter(s, a, bad, d)
	err := cm.finish()
	if !errors.Is(err, storage.ErrBadID) || err.Error()[:len("source B")] != "source B" {
		t.Fatalf("finish: %v; want the bad ID, naming source B", err)
	}
	if c.ItemsNew != 2 || c.StoriesNew != 2 || c.Joined != 0 {
		t.Errorf("cycle counts %+v, want A's 2 items alone", c)
	}
	if want := append(slices.Clone(bad.added), d.added...); !slices.Equal(cm.lost, want) {
		t.Errorf("lost %v, want %v", cm.lost, want)
	}
	n, err := db.Count()
	if err != nil || n.Items != 2 || n.Stories != 2 {
		t.Errorf("stored %+v, %v; want A's 2 items", n, err)
	}
	var failed int
	for _, ev := range log.events {
		if ev.Err != nil {
			failed++
		}
	}
	if len(log.events) != 2 || failed != 1 {
		t.Errorf("%d commit events, %d failed; want A's, then B's failure", len(log.events), failed)
	}
}

// A group holds at most groupItems items; the batch that would overflow it
// starts the next one.
func TestGroupCommitBound(t *testing.T) {
	db := storagetest.OpenTemp(t)
	log := &commitLog{}
	s := &Service{store: db, obs: log}
	var c Cycle
	n := groupItems/2 + 1
	if err := runCommitter(s, sourceBatch("A", n, "", &c), sourceBatch("B", n, "", &c), sourceBatch("C", 1, "", &c)).finish(); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, ev := range log.events {
		sizes = append(sizes, len(ev.Levels))
	}
	if !slices.Equal(sizes, []int{n, n + 1}) {
		t.Errorf("items per transaction %v, want %v", sizes, []int{n, n + 1})
	}
	if c.ItemsNew != 2*n+1 {
		t.Errorf("cycle counts %+v, want %d new items", c, 2*n+1)
	}
}

// A Store that wraps the database sees every batch through its Commit.
func TestGroupCommitOnlyOnTheDatabase(t *testing.T) {
	wrapped := struct{ Store }{storagetest.OpenTemp(t)}
	if cm := (&Service{store: wrapped}).newCommitter(); cm.all != nil {
		t.Error("a wrapped store's batches are grouped past its Commit")
	}
	if cm := (&Service{store: storagetest.OpenTemp(t)}).newCommitter(); cm.all == nil {
		t.Error("the database's batches are not grouped")
	}
}
