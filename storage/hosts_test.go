package storage_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/storage"
)

// Host holds survive the process: a later Open reads them back, with the
// source state committed in the same batch; a zero time deletes a hold.
func TestHolds(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	db, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	until := t0.Add(90 * time.Second)
	st := storage.SourceState{Name: "a", LastStatus: 429}
	if err := db.Commit(ctx, storage.Batch{Source: &st, Holds: map[string]time.Time{"feeds.example:443": until, "b.example:80": t0}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(ctx, storage.Batch{Holds: map[string]time.Time{"b.example:80": {}}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(ctx, storage.Batch{Holds: map[string]time.Time{"": t0}}); !errors.Is(err, storage.ErrInvalidBatch) {
		t.Errorf("a hold without a host: %v, want ErrInvalidBatch", err)
	}
	db.Close()

	db, err = storage.Open(path, storage.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	holds, err := db.Holds()
	if err != nil || len(holds) != 1 || !holds["feeds.example:443"].Equal(until) {
		t.Errorf("Holds after reopening = %v, %v; want feeds.example:443 until %v only", holds, err, until)
	}
	if got, ok, err := db.Source("a"); err != nil || !ok || got.LastStatus != 429 {
		t.Errorf("Source(a) = %+v, %v, %v", got, ok, err)
	}
}
