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
// A read fault maps more than the page read: Linux maps the cached pages
// around it too (fault-around, 64 KiB by default, MADV_RANDOM or not), so
// each random leaf a transaction reads can cost 64 KiB of RSS.
//
// release gives them back after every read-write transaction and after
// the scans that read a whole bucket: the pages stay in the page cache,
// so the next transaction that needs one takes a minor fault, not a disk
// read. Nothing is lost: the map is read-only (bbolt writes with pwrite),
// so no page of it is ever dirty.
func (db *DB) release() {
	_ = db.viewTx(func(tx *bolt.Tx) error {
		db.releaseIn(tx)
		return nil
	})
}

// releaseIn gives back the mapped pages from inside transaction tx. An
// open transaction holds bbolt's map lock: the map cannot be replaced (and
// its address change) meanwhile, and every page up to the high-water mark
// the transaction sees is inside it. The transaction's own cursors stay
// valid: a page they read again faults back in with the same content,
// since bbolt never overwrites a page that an open transaction can reach.
func (db *DB) releaseIn(tx *bolt.Tx) {
	if n := tx.Size(); n > 0 {
		_ = madviseDontNeed(db.bolt.Info().Data, uintptr(n))
	}
}

// scanRelease bounds the mapped pages that a long scan keeps resident: a
// start-up index rebuild reads every features record (~45 MB for 50,000
// items), which would otherwise all be resident at the scan's end, on top
// of the index it built.
type scanRelease struct {
	db   *DB
	tx   *bolt.Tx
	read int
}

// scanReleaseEvery is how many bytes of records a scan reads between two
// releases.
const scanReleaseEvery = 4 << 20

// add counts n bytes read, and releases the pages once enough were.
func (r *scanRelease) add(n int) {
	if r.read += n; r.read >= scanReleaseEvery {
		r.db.releaseIn(r.tx)
		r.read = 0
	}
}
