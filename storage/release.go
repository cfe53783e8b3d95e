package storage

import bolt "go.etcd.io/bbolt"

// Pages of the map. bbolt reads the database through a read-only shared
// map of the file, and every page a transaction reads stays in the
// process's resident set (RssFile) until the map is replaced, which
// happens only when the file outgrows it. A cold poll of 50,000 items
// touches the B+tree pages of the buckets keyed by hashes (items, urls,
// hashes, stories) all over the file, and ~60 MB of them were resident at
// its end on top of the Go heap. The kernel could drop them at any time,
// but it does so only under memory pressure, and until then they count
// against the daemon's memory.
//
// release gives them back after every read-write transaction and after
// the scans that read a whole bucket: the pages stay in the page cache,
// so the next transaction that needs one takes a minor fault (well under a
// microsecond), not a disk read. Nothing is lost: the map is read-only
// (bbolt writes with pwrite), so no page of it is ever dirty.
func (db *DB) release() {
	_ = db.viewTx(func(tx *bolt.Tx) error {
		// A read transaction holds bbolt's map lock: the map cannot be
		// replaced (and its address change) while it is open. Every page
		// up to the high-water mark the transaction sees is inside the map.
		n := tx.Size()
		if n <= 0 {
			return nil
		}
		return madviseDontNeed(db.bolt.Info().Data, uintptr(n))
	})
}
