package aggregator_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

// The full-text set: articles written for this test, several outlets per
// event, with same-topic different-event articles mixed in (two days of
// one war, two central banks, two companies' results, two storms). A
// file's event is the part of its name before "__". It is ingested as a
// `path` source, the way a user's article directory is, and the stories
// are scored with B-cubed precision and recall against the events.
func TestFullTextSet(t *testing.T) {
	files, err := filepath.Glob("testdata/fulltext/*.txt")
	if err != nil || len(files) < 25 {
		t.Fatalf("want the full-text set in testdata/fulltext, got %d files (%v)", len(files), err)
	}
	dir := t.TempDir()
	copyFiles(t, dir, files...)
	db := storagetest.OpenTemp(t)
	svc := newService(t, db, newClock(), config.Source{Name: "local", Path: dir})
	c, err := svc.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.ItemsNew != len(files) {
		t.Fatalf("cycle %+v: want %d new items", c, len(files))
	}
	var gold, pred []string
	var report strings.Builder
	for _, sv := range allStories(t, db) {
		var names []string
		for _, m := range sv.Members {
			name := strings.TrimPrefix(m.GUID, "file:")
			event, _, _ := strings.Cut(name, "__")
			gold = append(gold, event)
			pred = append(pred, sv.ID)
			names = append(names, fmt.Sprintf("%s (%s %.3f: %s)", name, m.Match.Level, m.Match.Score, m.Match.Reason))
		}
		slices.Sort(names)
		fmt.Fprintf(&report, "  story %s: %s\n", sv.ID, strings.Join(names, ", "))
	}
	p, r, f := bcubed(gold, pred)
	t.Logf("full-text set: %d items, B-cubed P %.3f R %.3f F1 %.3f\n%s", len(gold), p, r, f, report.String())
	if p < 0.95 || f < 0.85 {
		t.Errorf("B-cubed P %.3f F1 %.3f, want P >= 0.95 and F1 >= 0.85; stories:\n%s", p, f, report.String())
	}
}

// bcubed returns B-cubed precision, recall and F1 of a clustering; gold and
// pred give each item's cluster.
func bcubed(gold, pred []string) (p, r, f float64) {
	type pair struct{ g, p string }
	gs, ps, both := map[string]int{}, map[string]int{}, map[pair]int{}
	for i := range gold {
		gs[gold[i]]++
		ps[pred[i]]++
		both[pair{gold[i], pred[i]}]++
	}
	for i := range gold {
		k := float64(both[pair{gold[i], pred[i]}])
		p += k / float64(ps[pred[i]])
		r += k / float64(gs[gold[i]])
	}
	n := float64(len(gold))
	p, r = p/n, r/n
	return p, r, 2 * p * r / (p + r)
}
