package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Expired is what one Expire call deleted.
type Expired struct {
	Items   []string // IDs of the items deleted (now tombstoned)
	Stories int      // stories deleted because no member was left
	More    bool     // the limit was reached: call Expire again
}

// Expire deletes, in one transaction, at most limit of the oldest items, in
// first-seen order: those first seen before before (zero: none), and in any
// case the first atLeast of them (for a cap on the number of items). Each
// deleted item gets a tombstone dated now, so that its source can never
// bring it back (Commit skips tombstoned items); a story left without
// members is deleted. Small limits keep transactions, and the time the
// writer waits, short: call Expire until More is false.
func (db *DB) Expire(ctx context.Context, before time.Time, atLeast int, now time.Time, limit int) (Expired, error) {
	var out Expired
	if limit <= 0 {
		limit = 500
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	var gen uint64
	err := db.updateTx(func(tx *bolt.Tx) error {
		out = Expired{}
		w := db.newWriter(tx)
		tombs := tx.Bucket(bucketTombstones)
		c := tx.Bucket(bucketItemTime).Cursor()
		var doomed [][]byte // keys to delete; deleting while iterating would skip keys
		for k, _ := c.First(); k != nil && len(doomed) < limit; k, _ = c.Next() {
			if len(k) != 8+idLen {
				return fmt.Errorf("%w: item_time key of %d bytes", ErrCorrupt, len(k))
			}
			seen := time.Unix(0, int64(binary.BigEndian.Uint64(k)))
			if len(doomed) >= atLeast && !seen.Before(before) {
				break // item_time is in first-seen order: the rest are newer
			}
			doomed = append(doomed, bytes.Clone(k[8:]))
		}
		stamp := u64(uint64(now.UnixNano()))
		for _, k := range doomed {
			id := hex.EncodeToString(k)
			if err := w.expireItem(k); err != nil {
				return fmt.Errorf("expire item %s: %w", id, err)
			}
			if err := tombs.Put(k, stamp); err != nil {
				return err
			}
			out.Items = append(out.Items, id)
		}
		out.More = len(doomed) == limit
		for _, s := range w.stories {
			if len(s.Items) == 0 {
				out.Stories++
			}
		}
		if err := w.flushStories(); err != nil {
			return err
		}
		if len(doomed) == 0 {
			return nil
		}
		meta := tx.Bucket(bucketMeta)
		if g := meta.Get(keyGeneration); len(g) == 8 {
			gen = binary.BigEndian.Uint64(g)
		}
		gen++
		return meta.Put(keyGeneration, u64(gen))
	})
	if err != nil {
		return Expired{}, fmt.Errorf("expire: %w", err)
	}
	if gen > 0 {
		db.gen.Store(gen)
	}
	return out, nil
}

// DropTombstones deletes the tombstones of items deleted before cutoff,
// at most limit per transaction, and returns how many it dropped. A
// dropped tombstone lets its item come back should its source still
// deliver it, so cutoff should lie well beyond any feed's memory.
func (db *DB) DropTombstones(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 500
	}
	dropped := 0
	var after []byte
	for {
		if err := ctx.Err(); err != nil {
			return dropped, err
		}
		// Find candidates in a read transaction, which does not hold the
		// writer up, then delete them in a short write transaction.
		var batch [][]byte
		var last []byte
		err := db.viewTx(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketTombstones).Cursor()
			k, v := c.First()
			if after != nil {
				k, v = c.Seek(after)
				if bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for scanned := 0; k != nil && len(batch) < limit && scanned < 50*limit; k, v = c.Next() {
				scanned++
				last = bytes.Clone(k)
				if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) < cutoff.UnixNano() {
					batch = append(batch, bytes.Clone(k))
				}
			}
			return nil
		})
		if err != nil {
			return dropped, fmt.Errorf("drop tombstones: %w", err)
		}
		if len(batch) > 0 {
			err = db.updateTx(func(tx *bolt.Tx) error {
				b := tx.Bucket(bucketTombstones)
				for _, k := range batch {
					// Still old? A tombstone is never renewed today, but
					// check rather than assume.
					if v := b.Get(k); len(v) == 8 && int64(binary.BigEndian.Uint64(v)) < cutoff.UnixNano() {
						if err := b.Delete(k); err != nil {
							return err
						}
					}
				}
				return nil
			})
			if err != nil {
				return dropped, fmt.Errorf("drop tombstones: %w", err)
			}
			dropped += len(batch)
		}
		if last == nil {
			return dropped, nil
		}
		after = last
	}
}

// itemBuckets are buckets that other parts of the schema may add, keyed by
// item ID, whose entry goes with the item.
var itemBuckets = [][]byte{[]byte("features")}

// expireItem deletes the item with key k: its record, its item_time entry
// and body, the urls and hashes entries that point at it, and its ID from
// its story.
func (w *writer) expireItem(k []byte) error {
	items := w.tx.Bucket(bucketItems)
	var it Item
	if ok, err := getItem(w.tx, k, &it); err != nil || !ok {
		return err
	}
	if err := items.Delete(k); err != nil {
		return err
	}
	tk := timeKey(it.FirstSeen, k)
	if err := w.tx.Bucket(bucketItemTime).Delete(tk); err != nil {
		return err
	}
	// Item bodies, when the schema keeps them apart, are keyed like
	// item_time.
	for _, name := range [][]byte{[]byte("texts"), bucketItemFeatures} {
		if b := w.tx.Bucket(name); b != nil {
			if err := b.Delete(tk); err != nil {
				return err
			}
		}
	}
	for _, name := range itemBuckets {
		if b := w.tx.Bucket(name); b != nil {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
	}
	// A manual split of the item is moot once it is gone for good.
	if b := w.tx.Bucket([]byte("overrides")); b != nil {
		if err := b.Delete([]byte("split/" + it.ID)); err != nil {
			return err
		}
	}
	for _, idx := range []struct {
		bucket []byte
		key    string
	}{{bucketURLs, it.CanonURL}, {bucketHashes, it.Hash}} {
		b := w.tx.Bucket(idx.bucket)
		for _, key := range indexKeys(idx.bucket, idx.key, w.binHashes) {
			if bytes.Equal(b.Get(key), k) {
				if err := b.Delete(key); err != nil {
					return err
				}
			}
		}
	}
	if it.Story == "" {
		return nil
	}
	s, err := w.story(it.Story)
	if err != nil {
		return err
	}
	s.Items = slices.DeleteFunc(s.Items, func(id string) bool { return id == it.ID })
	w.emptied = w.emptied || len(s.Items) == 0
	return nil
}

// Tombstoned reports whether the item with the given ID was deleted by
// retention.
func (db *DB) Tombstoned(id string) (bool, error) {
	k, err := idKey(id)
	if err != nil {
		return false, err
	}
	var ok bool
	err = db.viewTx(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bucketTombstones).Get(k) != nil
		return nil
	})
	return ok, err
}
