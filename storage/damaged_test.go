package storage_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/storyfeed/storyfeed/storage"
)

// A database file cut short (a full disk, an interrupted copy) must be
// refused with a clear error at Open, not make bbolt panic on the missing
// pages later.
func TestOpenTruncated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for b := 0; b < 20; b++ {
		var batch storage.Batch
		for i := 0; i < 50; i++ {
			it := item("F", fmt.Sprintf("g%d-%d", b, i), "", t0)
			it.Text = fmt.Sprintf("%0500d", i)
			batch.Items = append(batch.Items, it)
		}
		if err := db.Commit(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, info.Size()/3); err != nil {
		t.Fatal(err)
	}
	for _, ro := range []bool{true, false} {
		db, err := storage.Open(path, storage.Options{ReadOnly: ro})
		if err == nil {
			db.Close()
			t.Fatalf("Open(ReadOnly=%v) of a truncated file: no error", ro)
		}
		if !errors.Is(err, storage.ErrDamaged) {
			t.Errorf("Open(ReadOnly=%v) of a truncated file = %v, want ErrDamaged", ro, err)
		}
	}
	if after, _ := os.Stat(path); after.Size() != info.Size()/3 {
		t.Errorf("Open changed the size of a damaged file: %d, was %d", after.Size(), info.Size()/3)
	}
}
