package storage

import (
	"encoding/hex"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Where an item record lives. Item IDs are hashes, so records keyed by ID
// arrive in random order and leave bbolt's pages a third empty, and every
// commit rewrites pages all over the bucket. Item records therefore live in
// the values of item_time, whose keys (first-seen time, then ID) grow at
// their end: its pages are filled, and a commit appends to its last ones.
// items maps an ID to the 8-byte time half of that key.
//
// Databases written by older builds hold the record itself in items (and
// nothing in item_time's values). Both are read; an item moves to the new
// place when it is next written. A record is never 8 bytes long, so the
// two cannot be confused.

// itemRecord returns the encoded record of the item with key k, nil when
// there is none. The slice is valid during the transaction only.
func itemRecord(tx *bolt.Tx, k []byte) ([]byte, error) {
	v := tx.Bucket(bucketItems).Get(k)
	if len(v) != 8 {
		return v, nil // none, or a record in the old place
	}
	rec := tx.Bucket(bucketItemTime).Get(pointerKey(v, k))
	if len(rec) == 0 {
		return nil, fmt.Errorf("%w: item %x: no record at its item_time entry", ErrCorrupt, k)
	}
	return rec, nil
}

// pointerKey is the item_time key that an items value of 8 bytes points at.
func pointerKey(v, k []byte) []byte {
	tk := make([]byte, 0, 8+len(k))
	return append(append(tk, v...), k...)
}

// getItem decodes the item with key k into it; ok is false when there is
// none.
func getItem(tx *bolt.Tx, k []byte, it *Item) (ok bool, err error) {
	v, err := itemRecord(tx, k)
	if err != nil || v == nil {
		return false, err
	}
	if err := decode(v, it); err != nil {
		return false, fmt.Errorf("item %x: %w", k, err)
	}
	return true, nil
}

// putItemRecord stores it, whose key is k, at its item_time entry, and
// points items at it. old is the item as stored (nil when new): its
// item_time entry goes when the first-seen time changed.
func putItemRecord(tx *bolt.Tx, k []byte, it, old *Item) error {
	enc, err := encode(it)
	if err != nil {
		return err
	}
	times := tx.Bucket(bucketItemTime)
	if old != nil && !old.FirstSeen.Equal(it.FirstSeen) {
		if err := times.Delete(timeKey(old.FirstSeen, k)); err != nil {
			return err
		}
		if err := moveFeatures(tx, k, old.FirstSeen, it.FirstSeen); err != nil {
			return err
		}
	}
	tk := timeKey(it.FirstSeen, k)
	if err := times.Put(tk, enc); err != nil {
		return err
	}
	return tx.Bucket(bucketItems).Put(k, tk[:8:8])
}

// hashKeys are the keys of the hashes bucket under which content hash h may
// be stored: its 16 bytes when it is 32 lower-case hex digits (the form
// written now), then its text (the form older builds wrote).
func hashKeys(h string) [][]byte {
	if len(h) == 32 && isLowerHex(h) {
		bin, _ := hex.DecodeString(h) // valid: checked above
		return [][]byte{bin, []byte(h)}
	}
	return [][]byte{[]byte(h)}
}

// indexKeys are the keys of an exact-match index (urls, hashes) for key.
func indexKeys(bucket []byte, key string) [][]byte {
	if key == "" {
		return nil
	}
	if string(bucket) == string(bucketHashes) {
		return hashKeys(key)
	}
	return [][]byte{[]byte(key)}
}

// putFirst maps key to id in an exact-match index unless key is empty or
// already mapped, under any of its forms.
func putFirst(b *bolt.Bucket, bucket []byte, key string, id []byte) error {
	keys := indexKeys(bucket, key)
	if len(keys) == 0 {
		return nil
	}
	for _, k := range keys {
		if b.Get(k) != nil {
			return nil
		}
	}
	return b.Put(keys[0], id)
}

// getFirst returns the ID that an exact-match index maps key to, or nil.
func getFirst(b *bolt.Bucket, bucket []byte, key string) []byte {
	for _, k := range indexKeys(bucket, key) {
		if id := b.Get(k); id != nil {
			return id
		}
	}
	return nil
}
