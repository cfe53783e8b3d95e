package aggregator

import (
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/storage"
)

// The states of sources with nothing new that wait in the queue are
// written together; a batch with items stops the group and is written on
// its own, next.
func TestCommitterGroupsStates(t *testing.T) {
	cm := &committer{in: make(chan pendingCommit, commitQueue)}
	state := func(name string) pendingCommit {
		return pendingCommit{source: name, batch: storage.Batch{Source: &storage.SourceState{Name: name}}}
	}
	for _, n := range []string{"b", "c"} {
		cm.in <- state(n)
	}
	items := pendingCommit{source: "d", batch: storage.Batch{Source: &storage.SourceState{Name: "d"},
		Items: []storage.Item{{ID: "0000000000000001", Story: "0000000000000001"}}}, added: []string{"0000000000000001"}}
	cm.in <- items
	cm.in <- state("e")
	g, next := cm.group(state("a"))
	if g.batch.Source.Name != "a" || len(g.batch.Sources) != 2 || g.batch.Sources[0].Name != "b" || g.batch.Sources[1].Name != "c" {
		t.Errorf("group: %+v", g.batch)
	}
	if g.source != "a and 2 more" {
		t.Errorf("group named %q", g.source)
	}
	if next == nil || next.source != "d" || next.stateOnly() {
		t.Fatalf("next: %+v, want the batch of d", next)
	}
	g, next = cm.group(state("x"))
	if len(g.batch.Sources) != 1 || next != nil || g.source != "x and 1 more" {
		t.Errorf("second group: %+v %q, next %v", g.batch, g.source, next)
	}
	close(cm.in)
	if g, next := cm.group(state("y")); len(g.batch.Sources) != 0 || next != nil || g.source != "y" {
		t.Errorf("group at the end of the queue: %+v %q, next %v", g.batch, g.source, next)
	}
}

// A batch with a host hold or removed files is more than a state: grouping
// it would write its state and drop the rest.
func TestCommitterDoesNotGroupHoldsOrRemovals(t *testing.T) {
	state := func(name string) pendingCommit {
		return pendingCommit{source: name, batch: storage.Batch{Source: &storage.SourceState{Name: name}}}
	}
	hold := state("held")
	hold.batch.Holds = map[string]time.Time{"example.org:443": time.Unix(1e9, 0)}
	removed := state("dir")
	removed.batch.Remove = []string{"0000000000000001"}
	for _, p := range []pendingCommit{hold, removed} {
		cm := &committer{in: make(chan pendingCommit, commitQueue)}
		cm.in <- p
		g, next := cm.group(state("a"))
		if len(g.batch.Sources) != 0 || next == nil || next.source != p.source {
			t.Errorf("%s: grouped into %+v, next %v; want it written on its own", p.source, g.batch, next)
		}
	}
}
