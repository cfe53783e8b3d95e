package aggregator_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

// A manual split stands: a later edit of the item, a restart and a re-poll
// do not put it back, and the story it left keeps its ID.
func TestSplitWinsOverEngine(t *testing.T) {
	dir := t.TempDir()
	copyFiles(t, dir, seeds(t)...)
	db := storagetest.OpenTemp(t)
	clk := newClock()
	ctx := context.Background()
	src := config.Source{Name: "local", Path: dir}
	if _, err := newService(t, db, clk, src).PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	svs := allStories(t, db)
	if len(svs) != 1 || len(svs[0].Members) != 2 {
		t.Fatalf("want the seeds as one story, got %d stories", len(svs))
	}
	story := svs[0].ID
	var crbc string
	for _, m := range svs[0].Members {
		if m.Outlet == "CRBC News" {
			crbc = m.ID
		}
	}
	if _, err := db.Split(ctx, crbc, clk.Now()); err != nil {
		t.Fatal(err)
	}
	old, err := db.Item(crbc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "001_c9e9b25df1c491d6.txt")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), "killed four people", "killed five people", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	if _, err := newService(t, db, clk, src).PollOnce(ctx); err != nil { // a restart: the index is rebuilt
		t.Fatal(err)
	}
	it, err := db.Item(crbc)
	if err != nil {
		t.Fatal(err)
	}
	if it.Story == story || it.Match.Level != "manual" || it.Hash == old.Hash {
		t.Errorf("after split, edit and restart: item in story %s (level %s), want its own story, level manual, new text", it.Story, it.Match.Level)
	}
	if sv, err := db.Story(story); err != nil || len(sv.Members) != 1 {
		t.Errorf("the story the item left: %v, %v; want it kept with one member", sv.Items, err)
	}
}

// The writer records whom an article credits.
func TestCitesStored(t *testing.T) {
	dir := t.TempDir()
	copyFiles(t, dir, seeds(t)...)
	db := storagetest.OpenTemp(t)
	if _, err := newService(t, db, newClock(), config.Source{Name: "local", Path: dir}).PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, sv := range allStories(t, db) {
		for _, m := range sv.Members {
			var want []string
			if m.Outlet == "Aksah Italo" {
				want = []string{"Bloomberg"}
			}
			if !slices.Equal(m.Cites, want) {
				t.Errorf("item %s (%s) cites %q, want %q", m.ID, m.Outlet, m.Cites, want)
			}
		}
	}
}
