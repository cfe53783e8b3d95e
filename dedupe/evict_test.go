package dedupe_test

import (
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/dedupe"
)

// EvictSeen goes by when a doc was added, not by its date: an old report
// added today stays, a recent one added long ago goes.
func TestEvictSeen(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	x := dedupe.New(dedupe.Options{Window: 72 * time.Hour})
	x.Add(dedupe.Doc{ID: "old-dated", URL: "dam.example/1", Title: "Dam breaks after heavy rain", Text: "The dam broke after days of rain.", Time: now.AddDate(-1, 0, 0)}, "s1", now)
	x.Add(dedupe.Doc{ID: "new-dated", Title: "Port strike ends", Text: "Dockworkers accepted the contract.", Time: now}, "s2", now.Add(-100*time.Hour))
	if n := x.EvictSeen(now.Add(-72 * time.Hour)); n != 1 || x.Len() != 1 {
		t.Fatalf("EvictSeen removed %d, left %d docs; want 1 and 1", n, x.Len())
	}
	d := x.Match(dedupe.Doc{ID: "copy", URL: "dam.example/1", Title: "Dam breaks after heavy rain", Text: "The dam broke after days of rain.", Time: now.AddDate(-1, 0, 0)})
	if d.Story != "s1" {
		t.Errorf("a copy of the old-dated doc matched %q (%v), want s1: it was added within the window", d.Story, d.Level)
	}
}
