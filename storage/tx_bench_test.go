package storage

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkReadTx compares a bare bbolt read transaction with viewTx,
// which adds the deferred recover that turns damage into ErrDamaged. Run
// both in one go and compare the ratio: the machine is shared.
func BenchmarkReadTx(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "b.db"), Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	read := func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta).Get(keySchema) == nil {
			b.Fatal("no schema key")
		}
		return nil
	}
	b.Run("bolt.View", func(b *testing.B) {
		for b.Loop() {
			if err := db.bolt.View(read); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("viewTx", func(b *testing.B) {
		for b.Loop() {
			if err := db.viewTx(read); err != nil {
				b.Fatal(err)
			}
		}
	})
}
