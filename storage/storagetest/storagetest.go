// Package storagetest opens throwaway databases for tests and checks their
// consistency when the test ends.
package storagetest

import (
	"path/filepath"
	"testing"

	"github.com/storyfeed/storyfeed/storage"
)

// OpenTemp opens a new database in a temporary directory. At cleanup it runs
// DB.Check, failing the test on any inconsistency, then closes the database.
// Commits skip fsync: a test's database does not need to survive a crash.
func OpenTemp(tb testing.TB) *storage.DB {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "storyfeed.db")
	db, err := storage.Open(path, storage.Options{NoSync: true})
	if err != nil {
		tb.Fatalf("open temp database: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Check(); err != nil {
			tb.Errorf("database consistency check failed:\n%v", err)
		}
		if err := db.Close(); err != nil {
			tb.Errorf("close temp database: %v", err)
		}
	})
	return db
}
