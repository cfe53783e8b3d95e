package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/storage"
)

// A database file cut short (a full disk, an interrupted copy) must be
// refused with a clear error at Open, not make bbolt panic on the missing
// pages later.
func TestOpenTruncated(t *testing.T) {
	orig := writeDB(t)
	data, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(orig, storage.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	need, err := db.Size() // the bytes its pages take; the file has slack beyond
	db.Close()
	if err != nil || need <= 4*4096 || need > int64(len(data)) {
		t.Fatalf("Size = %d, %v; file %d bytes", need, err, len(data))
	}
	// Every cut: where the freelist and the root land differs from build
	// to build, and a cut before either used to be a fatal memory fault
	// inside bolt.Open rather than an error.
	for _, cut := range []int64{100, 4096 + 100, 3 * 4096, need / 10, need / 3, need / 2, need * 9 / 10, need - 4096} {
		path := filepath.Join(t.TempDir(), "cut.db")
		if err := os.WriteFile(path, data[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		for _, ro := range []bool{true, false} {
			db, err := storage.Open(path, storage.Options{ReadOnly: ro})
			if err == nil {
				db.Close()
				t.Fatalf("Open(ReadOnly=%v) of a file cut at %d of %d bytes: no error", ro, cut, len(data))
			}
			if !errors.Is(err, storage.ErrDamaged) {
				t.Errorf("Open(ReadOnly=%v) of a file cut at %d of %d bytes = %v, want ErrDamaged", ro, cut, len(data), err)
			}
		}
		if after, _ := os.Stat(path); after.Size() != cut {
			t.Errorf("Open changed the size of a damaged file: %d, was %d", after.Size(), cut)
		}
	}
}

// writeDB writes a closed database of 20 commits of 50 items each and
// returns its path.
func writeDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for b := 0; b < 20; b++ {
		var batch storage.Batch
		for i := 0; i < 50; i++ {
			it := item("F", fmt.Sprintf("g%d-%d", b, i), "", t0.Add(time.Duration(b*50+i)*time.Minute))
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
	return path
}

// A page overwritten in the middle of the file (the size is right, so Open
// cannot tell) makes bbolt panic on the first read that reaches it. Every
// read and write must give an error wrapping ErrDamaged that names the
// file and says to restore a backup, and the database must still close.
func TestDamagedPage(t *testing.T) {
	path := writeDB(t)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	page := int64(os.Getpagesize())
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	garbage := bytes.Repeat([]byte{0xA5}, int(page))
	// Overwrite a band of pages in the middle: the items and the indexes
	// of a database this size live there.
	for p := info.Size() / page * 2 / 5; p < info.Size()/page*3/5; p++ {
		if _, err := f.WriteAt(garbage, p*page); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatalf("Open: %v; want it to open (the meta pages and buckets are intact)", err)
	}
	defer db.Close()
	ctx := context.Background()
	reads := map[string]func() error{
		"ForEachIndexEntry": func() error {
			return db.ForEachIndexEntry(ctx, time.Time{}, func(*storage.IndexEntry) error { return nil })
		},
		"Check": db.Check,
		"Commit": func() error {
			var b storage.Batch
			for i := 0; i < 200; i++ {
				b.Items = append(b.Items, item("F", fmt.Sprintf("new-%d", i), "", t0.Add(time.Duration(i)*time.Hour)))
			}
			return db.Commit(ctx, b)
		},
	}
	for name, read := range reads {
		err := read()
		if !errors.Is(err, storage.ErrDamaged) {
			t.Errorf("%s on a damaged page = %v, want ErrDamaged", name, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "restore a backup") {
			t.Errorf("%s: %q does not name the file and the way out", name, msg)
		}
	}
	if err := db.Close(); err != nil {
		t.Errorf("Close after damaged reads: %v", err)
	}
}

// A panic in a caller's callback is a bug, not damage: it goes on as a
// panic instead of telling the user to restore a backup.
func TestCallbackPanicIsNotDamage(t *testing.T) {
	db, err := storage.Open(writeDB(t), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	defer func() {
		if r := recover(); r != "callback bug" {
			t.Errorf("recovered %v, want the callback's own panic", r)
		}
		// The transaction was rolled back: the database still works.
		if _, err := db.Count(); err != nil {
			t.Errorf("Count after a callback panic: %v", err)
		}
	}()
	err = db.ForEachIndexEntry(context.Background(), time.Time{}, func(*storage.IndexEntry) error {
		panic("callback bug")
	})
	t.Errorf("ForEachIndexEntry returned %v after its callback panicked", err)
}
