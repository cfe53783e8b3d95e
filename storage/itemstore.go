package storage

import (
	"bytes"
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
	items := tx.Bucket(bucketItems)
	if old != nil && bytes.Equal(items.Get(k), tk[:8]) {
		return nil // a changed item already points there: its leaf stays as it is
	}
	return items.Put(k, tk[:8:8])
}

// hashKeys are the keys of the hashes bucket under which content hash h may
// be stored: its 16 bytes when it is 32 lower-case hex digits (the form
// written now), then, unless binOnly, its text (the form older builds
// wrote; see keyBinaryHashes).
func hashKeys(h string, binOnly bool) [][]byte {
	if len(h) == 32 && isLowerHex(h) {
		bin, _ := hex.DecodeString(h) // valid: checked above
		if binOnly {
			return [][]byte{bin}
		}
		return [][]byte{bin, []byte(h)}
	}
	return [][]byte{[]byte(h)}
}

// indexKeys are the keys of an exact-match index (urls, hashes) for key;
// binOnly as for hashKeys.
func indexKeys(bucket []byte, key string, binOnly bool) [][]byte {
	if key == "" {
		return nil
	}
	if string(bucket) == string(bucketHashes) {
		return hashKeys(key, binOnly)
	}
	return [][]byte{[]byte(key)}
}

// keyBinaryHashes, in meta, says that the hashes bucket holds no content
// hash of 32 hex digits under its text: a lookup then reads one key, not
// two, and a cold poll touches one random leaf of the bucket per item,
// not two. A new database starts with it; Open gives it to an older one by
// rewriting its text keys in binary (binaryHashes).
var keyBinaryHashes = []byte("binary_hashes")

// binaryHashes rewrites the hashes keys of 32 hex digits to their 16
// bytes and sets keyBinaryHashes. A hash stored under both forms keeps
// the binary entry.
func binaryHashes(tx *bolt.Tx) error {
	b := tx.Bucket(bucketHashes)
	var text [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) == 32 && isLowerHex(string(k)) {
			text = append(text, bytes.Clone(k))
		}
	}
	for _, k := range text {
		id := bytes.Clone(b.Get(k))
		bin, _ := hex.DecodeString(string(k)) // valid: checked above
		if b.Get(bin) == nil {
			if err := b.Put(bin, id); err != nil {
				return err
			}
		}
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketMeta).Put(keyBinaryHashes, []byte{1})
}

// putFirst maps key to id in an exact-match index unless key is empty or
// already mapped, under any of its forms.
func putFirst(b *bolt.Bucket, bucket []byte, key string, id []byte, binOnly bool) error {
	keys := indexKeys(bucket, key, binOnly)
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
func getFirst(b *bolt.Bucket, bucket []byte, key string, binOnly bool) []byte {
	for _, k := range indexKeys(bucket, key, binOnly) {
		if id := b.Get(k); id != nil {
			return id
		}
	}
	return nil
}
