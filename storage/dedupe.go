package storage

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Buckets added after schema 1 was first released. Open creates them in an
// older file; a read-only open of such a file treats them as empty.
var (
	bucketFeatures     = []byte("features")
	bucketOverrides    = []byte("overrides")
	bucketItemFeatures = []byte("item_features")

	addedBuckets = [][]byte{bucketFeatures, bucketOverrides, bucketHosts, bucketItemFeatures}
)

func addedBucket(name []byte) bool {
	return slices.ContainsFunc(addedBuckets, func(b []byte) bool { return string(b) == string(name) })
}

func createAddedBuckets(tx *bolt.Tx) error {
	for _, name := range addedBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}

// ErrOverride means a manual split or merge cannot be applied as asked.
var ErrOverride = errors.New("cannot apply override")

// putDedupe writes a batch's dedupe features and related-story links.
func (w *writer) putDedupe(b *Batch) error {
	if len(b.Features) > 0 {
		items := make(map[string]*Item, len(b.Items))
		for i := range b.Items {
			items[b.Items[i].ID] = &b.Items[i]
		}
		ids := make([]string, 0, len(b.Features))
		for id := range b.Features {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			it, ok := items[id]
			if !ok {
				return fmt.Errorf("%w: features of item %s, which is not in the batch", ErrInvalidBatch, id)
			}
			if err := putFeatures(w.tx, it, b.Features[id]); err != nil {
				return fmt.Errorf("item %s: %w", id, err)
			}
		}
	}
	ids := make([]string, 0, len(b.Related))
	for id := range b.Related {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		s, err := w.story(id)
		if err != nil {
			return err
		}
		for _, r := range b.Related[id] {
			if r != id && !slices.Contains(s.Related, r) {
				s.Related = append(s.Related, r)
			}
		}
	}
	return nil
}

// A features record is the 8-byte key of the item's story followed by the
// dedupe engine's own encoding of the item's features. It is kept in
// item_features under the item's item_time key, so that, like the item
// records (see itemstore.go), features are appended in first-seen order
// and read in that order at start-up. Older builds kept them in features,
// keyed by item ID; those are still read, and go when the item's features
// are next written.
func putFeatures(tx *bolt.Tx, it *Item, feat []byte) error {
	k, err := idKey(it.ID)
	if err != nil {
		return err
	}
	sk, err := idKey(it.Story)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketFeatures).Delete(k); err != nil {
		return err
	}
	return tx.Bucket(bucketItemFeatures).Put(timeKey(it.FirstSeen, k), append(sk, feat...))
}

// setFeaturesStory points the features record of item it, whose key is k,
// at another story, when an override moves the item.
func setFeaturesStory(tx *bolt.Tx, k []byte, it *Item, story string) error {
	sk, err := idKey(story)
	if err != nil {
		return err
	}
	for _, at := range []struct {
		bucket []byte
		key    []byte
	}{{bucketItemFeatures, timeKey(it.FirstSeen, k)}, {bucketFeatures, k}} {
		b := tx.Bucket(at.bucket)
		if v := b.Get(at.key); len(v) >= idLen {
			return b.Put(at.key, append(sk, v[idLen:]...))
		}
	}
	return nil // no features stored: the index rebuild reads the item
}

// moveFeatures moves the features record of the item with key k from its
// item_time key at time from to the one at time to.
func moveFeatures(tx *bolt.Tx, k []byte, from, to time.Time) error {
	b := tx.Bucket(bucketItemFeatures)
	fk := timeKey(from, k)
	v := b.Get(fk)
	if v == nil {
		return nil
	}
	v = bytes.Clone(v)
	if err := b.Delete(fk); err != nil {
		return err
	}
	return b.Put(timeKey(to, k), v)
}

// IndexEntry is what the dedupe index needs of one stored item at start-up.
type IndexEntry struct {
	ID        string
	Story     string
	FirstSeen time.Time
	// Features is the dedupe engine's encoding, valid only during the
	// callback; nil when none was stored, and then Item is set.
	Features []byte
	Item     *Item
}

// ForEachIndexEntry calls fn for every item first seen at or after since,
// in first-seen order, with its stored dedupe features, or with the whole
// item when it has none (an item stored by an older build). It reads in
// one transaction and stops at the first error fn returns.
func (db *DB) ForEachIndexEntry(ctx context.Context, since time.Time, fn func(*IndexEntry) error) error {
	return db.scanTx(func(tx *bolt.Tx) error {
		items, feats, itemFeats := tx.Bucket(bucketItems), tx.Bucket(bucketFeatures), tx.Bucket(bucketItemFeatures)
		if itemFeats != nil && tx.Bucket(bucketMeta).Get(keyAllFeatures) != nil {
			// Every item has its features in item_features: read that
			// bucket alone, not the item records beside item_time's keys.
			return eachFeatures(ctx, itemFeats, since, &scanRelease{db: db, tx: tx}, fn)
		}
		rel := scanRelease{db: db, tx: tx}
		c := tx.Bucket(bucketItemTime).Cursor()
		var e IndexEntry
		k, rec := c.First()
		if since.After(time.Unix(0, 0)) { // keys are unsigned: earlier times all sort first
			k, rec = c.Seek(timeKey(since, make([]byte, idLen)))
		}
		for ; k != nil; k, rec = c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if len(k) != 8+idLen {
				return fmt.Errorf("%w: item_time key of %d bytes", ErrCorrupt, len(k))
			}
			rel.add(len(k) + len(rec))
			id := k[8:]
			e = IndexEntry{ID: fmt.Sprintf("%x", id), FirstSeen: time.Unix(0, int64(beUint64(k))).UTC()}
			var v []byte
			if itemFeats != nil {
				v = itemFeats.Get(k)
			}
			if len(v) <= idLen && feats != nil {
				v = feats.Get(id)
			}
			if len(v) > idLen {
				e.Story, e.Features = fmt.Sprintf("%x", v[:idLen]), v[idLen:]
			} else {
				iv := rec
				if len(iv) == 0 { // an item of the old layout
					if iv = items.Get(id); iv == nil {
						continue
					}
				}
				var it Item
				if err := decode(iv, &it); err != nil {
					return fmt.Errorf("item %x: %w", id, err)
				}
				e.Story, e.Item = it.Story, &it
			}
			if err := fn(&e); err != nil {
				return err
			}
		}
		return nil
	})
}

// keyAllFeatures, in meta, says that every item has its features in
// item_features (and its record at its item_time entry). A new database
// starts with it; a batch with an item without features removes it for
// good, and the index rebuild then walks item_time.
var keyAllFeatures = []byte("all_features")

// eachFeatures calls fn for every features record of item_features from
// since on, in first-seen order, releasing the pages read as it goes.
func eachFeatures(ctx context.Context, b *bolt.Bucket, since time.Time, rel *scanRelease, fn func(*IndexEntry) error) error {
	c := b.Cursor()
	k, v := c.First()
	if since.After(time.Unix(0, 0)) {
		k, v = c.Seek(timeKey(since, make([]byte, idLen)))
	}
	var e IndexEntry
	for ; k != nil; k, v = c.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(k) != 8+idLen || len(v) <= idLen {
			return fmt.Errorf("%w: item_features entry %x of %d bytes", ErrCorrupt, k, len(v))
		}
		rel.add(len(k) + len(v))
		e = IndexEntry{ID: hex.EncodeToString(k[8:]), FirstSeen: time.Unix(0, int64(beUint64(k))).UTC(),
			Story: hex.EncodeToString(v[:idLen]), Features: v[idLen:]}
		if err := fn(&e); err != nil {
			return err
		}
	}
	return nil
}

func beUint64(b []byte) uint64 {
	var v uint64
	for _, c := range b[:8] {
		v = v<<8 | uint64(c)
	}
	return v
}

// Override is a manual decision recorded in the database: it wins over the
// dedupe engine and is never undone by it.
type Override struct {
	Kind  string    `json:"kind"`           // "split" or "merge"
	Item  string    `json:"item,omitempty"` // split: the item taken out
	From  string    `json:"from"`           // the story it came from / the story merged away
	Into  string    `json:"into"`           // the story it went to
	Moved int       `json:"moved"`          // items moved
	At    time.Time `json:"at"`
}

// Split takes item itemID out of its story into a story of its own and
// records the override. The story it leaves keeps its ID; the item's new
// story takes the item's ID, or one derived from it when the item founded
// the story it leaves. It returns the new story's ID.
func (db *DB) Split(ctx context.Context, itemID string, now time.Time) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	k, err := idKey(itemID)
	if err != nil {
		return "", err
	}
	var into string
	err = db.update(func(tx *bolt.Tx) error {
		var it Item
		if ok, err := getItem(tx, k, &it); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("item %s: %w", itemID, ErrNotFound)
		}
		w := db.newWriter(tx)
		from, err := w.story(it.Story)
		if err != nil {
			return err
		}
		if len(from.Items) <= 1 {
			return fmt.Errorf("%w: item %s is alone in story %s already", ErrOverride, itemID, it.Story)
		}
		into = it.ID
		if into == it.Story {
			into = ItemID("split", it.ID) // the story it founded keeps the ID
		}
		if ok, err := exists(tx, bucketStories, into); err != nil || ok {
			if err == nil {
				err = fmt.Errorf("%w: story %s exists", ErrOverride, into)
			}
			return err
		}
		it.Match = Match{Level: "manual", Reason: fmt.Sprintf("split from story %s by hand", it.Story)}
		if err := db.move(w, &it, into, now); err != nil {
			return err
		}
		if err := putOverride(tx, "split/"+itemID, Override{Kind: "split", Item: itemID, From: from.ID, Into: into, Moved: 1, At: now}); err != nil {
			return err
		}
		return w.flushStories()
	})
	return into, err
}

// Merge moves every item of story from into story into and records the
// override; story from no longer exists afterwards. It returns how many
// items moved.
func (db *DB) Merge(ctx context.Context, into, from string, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if into == from {
		return 0, fmt.Errorf("%w: cannot merge story %s into itself", ErrOverride, into)
	}
	var moved int
	err := db.update(func(tx *bolt.Tx) error {
		w := db.newWriter(tx)
		for _, id := range []string{into, from} {
			if ok, err := exists(tx, bucketStories, id); err != nil || !ok {
				if err == nil {
					err = fmt.Errorf("story %s: %w", id, ErrNotFound)
				}
				return err
			}
		}
		src, err := w.story(from)
		if err != nil {
			return err
		}
		for _, id := range slices.Clone(src.Items) {
			ik, err := idKey(id)
			if err != nil {
				return err
			}
			var it Item
			if ok, err := getItem(tx, ik, &it); err != nil {
				return err
			} else if !ok {
				return fmt.Errorf("%w: story %s lists missing item %s", ErrCorrupt, from, id)
			}
			it.Match = Match{Level: "manual", Score: it.Match.Score, Shared: it.Match.Shared,
				Reason: fmt.Sprintf("story %s merged into %s by hand", from, into)}
			if err := db.move(w, &it, into, now); err != nil {
				return err
			}
			moved++
		}
		dst, err := w.story(into)
		if err != nil {
			return err
		}
		for _, r := range src.Related {
			if r != into && !slices.Contains(dst.Related, r) {
				dst.Related = append(dst.Related, r)
			}
		}
		dst.Related = slices.DeleteFunc(dst.Related, func(r string) bool { return r == from })
		if err := putOverride(tx, "merge/"+from, Override{Kind: "merge", From: from, Into: into, Moved: moved, At: now}); err != nil {
			return err
		}
		return w.flushStories()
	})
	return moved, err
}

// move puts item it into story into within w's transaction, keeping the
// story records, time indexes and features record in step.
func (db *DB) move(w *writer, it *Item, into string, now time.Time) error {
	k, err := idKey(it.ID)
	if err != nil {
		return err
	}
	it.Story, it.Updated = into, now
	if err := w.putItem(it); err != nil {
		return fmt.Errorf("item %s: %w", it.ID, err)
	}
	if err := setFeaturesStory(w.tx, k, it, into); err != nil {
		return err
	}
	return nil
}

// update runs fn in a read-write transaction, flushes the stories it
// touched through a writer, and bumps the generation.
func (db *DB) update(fn func(tx *bolt.Tx) error) error {
	var gen uint64
	err := db.updateTx(func(tx *bolt.Tx) error {
		if err := createAddedBuckets(tx); err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		if g := meta.Get(keyGeneration); len(g) == 8 {
			gen = beUint64(g)
		}
		gen++
		return meta.Put(keyGeneration, u64(gen))
	})
	if err != nil {
		return err
	}
	db.gen.Store(gen)
	return nil
}

func exists(tx *bolt.Tx, bucket []byte, id string) (bool, error) {
	k, err := idKey(id)
	if err != nil {
		return false, err
	}
	return tx.Bucket(bucket).Get(k) != nil, nil
}

func putOverride(tx *bolt.Tx, key string, o Override) error {
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketOverrides).Put([]byte(key), append([]byte{recordV1}, b...))
}

// Overrides returns every manual override, in key order ("merge/..." then
// "split/...").
func (db *DB) Overrides() ([]Override, error) {
	var out []Override
	err := db.viewTx(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOverrides)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var o Override
			if err := decode(v, &o); err != nil {
				return fmt.Errorf("override %s: %w", k, err)
			}
			out = append(out, o)
			return nil
		})
	})
	return out, err
}
