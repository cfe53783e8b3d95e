package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the schema this build reads and writes.
const SchemaVersion = 1

var (
	bucketMeta       = []byte("meta")
	bucketSources    = []byte("sources")
	bucketItems      = []byte("items")
	bucketItemTime   = []byte("item_time")
	bucketStories    = []byte("stories")
	bucketStoryTime  = []byte("story_time")
	bucketURLs       = []byte("urls")
	bucketHashes     = []byte("hashes")
	bucketTombstones = []byte("tombstones")

	allBuckets = [][]byte{bucketMeta, bucketSources, bucketItems, bucketItemTime,
		bucketStories, bucketStoryTime, bucketURLs, bucketHashes, bucketTombstones,
		bucketFeatures, bucketOverrides, bucketHosts}

	keySchema     = []byte("schema")
	keyGeneration = []byte("generation")
)

// allocSize is how much bbolt grows the file by, once it is past that size.
const allocSize = 2 << 20

// Options configure Open. The zero value is usable.
type Options struct {
	// Timeout bounds the wait for the file lock; 0 means one second.
	Timeout time.Duration
	// ReadOnly opens the database without write access. The file must exist.
	ReadOnly bool
	// NoSync skips fsync on commit. Only for tests and benchmarks: a crash
	// can then lose or corrupt recent commits.
	NoSync bool
}

// DB is a storyfeed database. It is safe for concurrent use; writes are
// serialised by bbolt.
type DB struct {
	bolt *bolt.DB
	path string
	gen  atomic.Uint64
	// binHashes means every hex content hash is keyed by its binary form
	// (keyBinaryHashes); set by Open.
	binHashes bool
}

// Open opens or creates the database at path. A database held by another
// process gives ErrLocked after opt.Timeout instead of waiting forever.
func Open(path string, opt Options) (*DB, error) {
	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = time.Second
	}
	if opt.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("open database %s: %w", path, err)
		}
	}
	if err := checkMagic(path); err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	var bdb *bolt.DB
	err := safely(func() (err error) {
		bdb, err = bolt.Open(path, 0o600, &bolt.Options{
			Timeout:  timeout,
			ReadOnly: opt.ReadOnly,
			NoSync:   opt.NoSync,
		})
		return err
	})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("open database %s: %w", path, ErrLocked)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch),
		errors.Is(err, bolterrors.ErrChecksum):
		return nil, fmt.Errorf("open database %s: %w (%v)", path, ErrNotDatabase, err)
	case err != nil:
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	// bbolt grows a file past its allocation size 16 MiB at a time; 2 MiB
	// keeps the slack of a growing database small at the cost of a few more
	// truncations.
	bdb.AllocSize = allocSize
	if err := safely(func() error { return checkSize(bdb, path) }); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	db := &DB{bolt: bdb, path: path}
	if err := safely(func() error { return db.init(opt.ReadOnly) }); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return db, nil
}

// safely runs f, turning a panic into ErrDamaged: bbolt panics on pages that
// are not what its meta page says (a truncated or overwritten file), and one
// damaged file must give its name and a way out, not a stack trace. A panic
// inside bolt.Open leaves its file descriptor open; the caller is about to
// exit anyway.
func safely(f func() error) (err error) {
	// A page bbolt reads past the end of a damaged file is a memory fault
	// in its map: make it a panic of this goroutine, recovered below.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v; restore a backup", ErrDamaged, r)
		}
	}()
	return f()
}

// viewTx and updateTx run a bbolt transaction and turn a panic raised by
// bbolt inside it into an error wrapping ErrDamaged that names the file.
// bbolt panics on a page that is not what it should be (a page overwritten
// in the middle of the file, for example); its own deferred rollback has
// run by the time the panic reaches here, so the transaction's lock is
// released and the caller can report and stop. A panic raised by other
// code (a bug in a callback) is not damage and goes on. The cost is one
// deferred call per transaction; the stack is only read on a panic.
func (db *DB) viewTx(fn func(*bolt.Tx) error) (err error) {
	defer db.damaged(&err)
	return db.bolt.View(fn)
}

func (db *DB) updateTx(fn func(*bolt.Tx) error) (err error) {
	defer db.release()
	defer db.damaged(&err)
	return db.bolt.Update(fn)
}

// scanTx is viewTx for a transaction that reads a whole bucket or more:
// the pages it read leave the resident set when it ends (see release).
func (db *DB) scanTx(fn func(*bolt.Tx) error) (err error) {
	defer db.release()
	return db.viewTx(fn)
}

// damaged, deferred, converts a panic raised in bbolt into ErrDamaged in
// *err, and panics again with any other.
func (db *DB) damaged(err *error) {
	r := recover()
	if r == nil {
		return
	}
	if !panickedIn(bboltPkg) {
		panic(r)
	}
	*err = fmt.Errorf("database %s: %w (%v): restore a backup", db.path, ErrDamaged, r)
}

const bboltPkg = "go.etcd.io/bbolt"

// panickedIn reports whether the function that raised the panic being
// recovered belongs to package pkg or its subpackages. Called from a
// deferred function, the stack still holds the panicking frames: those
// below runtime.gopanic, past the runtime's own (a nil dereference or an
// index out of range passes through runtime.panicmem or goPanicIndex).
func panickedIn(pkg string) bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
	inPanic := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			inPanic = true
		case inPanic && !strings.HasPrefix(f.Function, "runtime."):
			return strings.HasPrefix(f.Function, pkg+".") || strings.HasPrefix(f.Function, pkg+"/")
		}
		if !more {
			return false
		}
	}
}

// checkSize refuses a file shorter than the pages its meta page counts: a
// copy cut short by a full disk or an interrupted cp. bbolt would read the
// missing pages as zeros and panic on the first lookup that reaches them.
func checkSize(bdb *bolt.DB, path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	return bdb.View(func(tx *bolt.Tx) error {
		if need := tx.Size(); info.Size() < need {
			return fmt.Errorf("%w: the file has %d bytes but its pages need %d (cut short?); restore a backup", ErrDamaged, info.Size(), need)
		}
		return nil
	})
}

// init creates the buckets of a new database and checks the schema version
// of an existing one.
func (db *DB) init(readOnly bool) error {
	check := func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return fmt.Errorf("%w: no meta bucket", ErrNotDatabase)
		}
		v := meta.Get(keySchema)
		if len(v) != 8 {
			return fmt.Errorf("%w: no schema version", ErrNotDatabase)
		}
		if n := binary.BigEndian.Uint64(v); n > SchemaVersion {
			return fmt.Errorf("%w: schema %d, this build knows %d", ErrSchema, n, SchemaVersion)
		}
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil && !addedBucket(name) {
				return fmt.Errorf("%w: bucket %s missing", ErrNotDatabase, name)
			}
		}
		if g := meta.Get(keyGeneration); len(g) == 8 {
			db.gen.Store(binary.BigEndian.Uint64(g))
		}
		db.binHashes = meta.Get(keyBinaryHashes) != nil
		return nil
	}
	if readOnly {
		return db.viewTx(check)
	}
	return db.updateTx(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil {
			// A new file: create the schema. A file that has other buckets
			// but no meta bucket is somebody else's bbolt database.
			var foreign bool
			if err := tx.ForEach(func([]byte, *bolt.Bucket) error { foreign = true; return nil }); err != nil {
				return err
			}
			if foreign {
				return fmt.Errorf("%w: bbolt file without storyfeed schema", ErrNotDatabase)
			}
			for _, name := range allBuckets {
				if _, err := tx.CreateBucket(name); err != nil {
					return err
				}
			}
			if err := tx.Bucket(bucketMeta).Put(keySchema, u64(SchemaVersion)); err != nil {
				return err
			}
			if err := tx.Bucket(bucketMeta).Put(keyAllFeatures, []byte{1}); err != nil {
				return err
			}
		}
		if err := createAddedBuckets(tx); err != nil {
			return err
		}
		if tx.Bucket(bucketMeta).Get(keyBinaryHashes) == nil {
			if err := binaryHashes(tx); err != nil {
				return err
			}
		}
		return check(tx)
	})
}

// Close closes the database, waiting for open transactions to finish.
func (db *DB) Close() error {
	return db.bolt.Close()
}

// Path is the file the database lives in.
func (db *DB) Path() string { return db.path }

// Generation is a counter bumped by every commit that changes items or
// stories. Readers cache what they render per generation.
func (db *DB) Generation() uint64 { return db.gen.Load() }

// Batch is a set of changes committed atomically.
type Batch struct {
	// Source, when non-nil, replaces the stored state of Source.Name.
	Source *SourceState
	// Sources replace the stored states of more sources, like Source: the
	// states of sources that delivered nothing new are written together.
	Sources []SourceState
	// Items are new or changed items. Each must have ID and Story set. A new
	// item joins (or founds) its story; a changed item keeps its place and
	// moves its story's Updated time forward.
	Items []Item
	// Features are the dedupe features of items of this batch, by item ID,
	// kept so that the dedupe index is rebuilt without re-reading texts.
	Features map[string][]byte
	// Related are stories to record as related to a story, by story ID:
	// an item that matched both joined one and links the other.
	Related map[string][]string
	// Holds are hosts (host:port) whose sources are not to be fetched
	// before the given time; a zero time deletes the host's hold.
	Holds map[string]time.Time
	// Remove are IDs of items their source no longer delivers (a file
	// deleted from a directory source). They are deleted with their index
	// entries and their place in their story, before Items are written; a
	// story left empty goes too. Unlike retention they get no tombstone:
	// should the source deliver them again, they come back.
	Remove []string
}

// Commit writes b in one transaction: all of it or none of it.
func (db *DB) Commit(ctx context.Context, b Batch) error {
	return db.CommitAll(ctx, []Batch{b})
}

// CommitAll writes the batches bs in one transaction, in order, as if each
// were committed on its own in turn: a batch sees what those before it
// wrote. All of them are written or none is. One transaction for several
// batches shares its fsync, and the pages of the buckets keyed by hashes
// (items, urls, hashes, stories) that their items touch, among them.
func (db *DB) CommitAll(ctx context.Context, bs []Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for j := range bs {
		for i := range bs[j].Items {
			if bs[j].Items[i].ID == "" || bs[j].Items[i].Story == "" {
				return fmt.Errorf("%w: %sitem %d has no ID or story", ErrInvalidBatch, batchName(j, len(bs)), i)
			}
		}
	}
	var gen uint64
	err := db.updateTx(func(tx *bolt.Tx) error {
		setFill(tx)
		w := db.newWriter(tx)
		changed := false
		for j := range bs {
			w.forgetEmptied()
			if err := w.apply(&bs[j]); err != nil {
				if len(bs) > 1 {
					return fmt.Errorf("%s%w", batchName(j, len(bs)), err)
				}
				return err
			}
			changed = changed || len(bs[j].Items) > 0 || len(bs[j].Remove) > 0
		}
		if err := w.flushStories(); err != nil {
			return err
		}
		if changed {
			meta := tx.Bucket(bucketMeta)
			if g := meta.Get(keyGeneration); len(g) == 8 {
				gen = binary.BigEndian.Uint64(g)
			}
			gen++
			return meta.Put(keyGeneration, u64(gen))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if gen > 0 {
		db.gen.Store(gen)
	}
	return nil
}

// batchName names batch j of n in an error, when there are several.
func batchName(j, n int) string {
	if n == 1 {
		return ""
	}
	return fmt.Sprintf("batch %d of %d: ", j+1, n)
}

// apply writes batch b. The stories it touches stay in w.stories, where
// the batches after it in the transaction find them, until flushStories.
func (w *writer) apply(b *Batch) error {
	tx := w.tx
	if b.Source != nil {
		if err := putRecord(tx.Bucket(bucketSources), []byte(b.Source.Name), b.Source); err != nil {
			return fmt.Errorf("source %s: %w", b.Source.Name, err)
		}
	}
	if err := putHolds(tx, b.Holds); err != nil {
		return err
	}
	for i := range b.Sources {
		st := &b.Sources[i]
		if err := putRecord(tx.Bucket(bucketSources), []byte(st.Name), st); err != nil {
			return fmt.Errorf("source %s: %w", st.Name, err)
		}
	}
	for _, id := range b.Remove {
		k, err := idKey(id)
		if err != nil {
			return fmt.Errorf("remove: %w", err)
		}
		if err := w.expireItem(k); err != nil {
			return fmt.Errorf("remove item %s: %w", id, err)
		}
	}
	for i := range b.Items {
		if err := w.putItem(&b.Items[i]); err != nil {
			return fmt.Errorf("item %s: %w", b.Items[i].ID, err)
		}
	}
	if err := w.putDedupe(b); err != nil {
		return err
	}
	for i := range b.Items {
		if _, ok := b.Features[b.Items[i].ID]; !ok {
			return tx.Bucket(bucketMeta).Delete(keyAllFeatures)
		}
	}
	return nil
}

// setFill fills the pages of the buckets keyed by time when they split:
// their keys grow at the end, so a page split half full (bbolt's default,
// which suits keys that arrive in random order: IDs, hashes, URLs) would
// stay so.
func setFill(tx *bolt.Tx) {
	for _, name := range [][]byte{bucketItemTime, bucketStoryTime, bucketItemFeatures} {
		if b := tx.Bucket(name); b != nil {
			b.FillPercent = 1
		}
	}
}

// writer applies one batch inside a transaction. Stories touched by several
// items are loaded once and written once.
type writer struct {
	tx      *bolt.Tx
	stories map[string]*Story
	oldTime map[string]time.Time // story ID -> Updated as stored
	// emptied means a story of stories was left with no members, which
	// deletes it (flushStories).
	emptied bool
	// binHashes: see DB.binHashes.
	binHashes bool
}

func (db *DB) newWriter(tx *bolt.Tx) *writer {
	return &writer{tx: tx, stories: map[string]*Story{}, binHashes: db.binHashes}
}

// forgetEmptied makes the stories left with no members by the batches
// written so far as good as deleted, as committing those batches would
// have: a later batch that puts an item in one founds it afresh, with
// none of its old times or related stories. flushStories still deletes
// the stored record and time entry of those that stay empty.
func (w *writer) forgetEmptied() {
	if !w.emptied {
		return
	}
	for id, s := range w.stories {
		if len(s.Items) == 0 {
			w.stories[id] = &Story{ID: id}
		}
	}
	w.emptied = false
}

func (w *writer) story(id string) (*Story, error) {
	if s, ok := w.stories[id]; ok {
		return s, nil
	}
	k, err := idKey(id)
	if err != nil {
		return nil, err
	}
	s := &Story{ID: id}
	if v := w.tx.Bucket(bucketStories).Get(k); v != nil {
		if err := decode(v, s); err != nil {
			return nil, err
		}
		if w.oldTime == nil {
			w.oldTime = map[string]time.Time{}
		}
		w.oldTime[id] = s.Updated
	}
	w.stories[id] = s
	return s, nil
}

func (w *writer) putItem(it *Item) error {
	k, err := idKey(it.ID)
	if err != nil {
		return err
	}
	var old Item
	exists, err := getItem(w.tx, k, &old)
	if err != nil {
		return err
	}
	prev := &old
	if !exists {
		prev = nil
	}
	if err := putItemRecord(w.tx, k, it, prev); err != nil {
		return err
	}
	if err := putFirst(w.tx.Bucket(bucketURLs), bucketURLs, it.CanonURL, k, w.binHashes); err != nil {
		return err
	}
	if err := putFirst(w.tx.Bucket(bucketHashes), bucketHashes, it.Hash, k, w.binHashes); err != nil {
		return err
	}
	if exists && old.Story != it.Story {
		prev, err := w.story(old.Story)
		if err != nil {
			return err
		}
		prev.Items = slices.DeleteFunc(prev.Items, func(id string) bool { return id == it.ID })
		w.emptied = w.emptied || len(prev.Items) == 0
	}
	s, err := w.story(it.Story)
	if err != nil {
		return err
	}
	if !slices.Contains(s.Items, it.ID) {
		s.Items = append(s.Items, it.ID)
	}
	if s.FirstSeen.IsZero() || it.FirstSeen.Before(s.FirstSeen) {
		s.FirstSeen = it.FirstSeen
	}
	if it.Updated.After(s.Updated) {
		s.Updated = it.Updated
	}
	return nil
}

// flushStories writes every touched story and keeps story_time in step. A
// story left with no members is deleted.
func (w *writer) flushStories() error {
	stories := w.tx.Bucket(bucketStories)
	times := w.tx.Bucket(bucketStoryTime)
	ids := make([]string, 0, len(w.stories))
	for id := range w.stories {
		ids = append(ids, id)
	}
	slices.Sort(ids) // deterministic write order
	for _, id := range ids {
		s := w.stories[id]
		k, err := idKey(id)
		if err != nil {
			return err
		}
		if old, ok := w.oldTime[id]; ok {
			if err := times.Delete(timeKey(old, k)); err != nil {
				return err
			}
		}
		if len(s.Items) == 0 {
			if err := stories.Delete(k); err != nil {
				return err
			}
			continue
		}
		if err := putRecord(stories, k, s); err != nil {
			return fmt.Errorf("story %s: %w", id, err)
		}
		if err := times.Put(timeKey(s.Updated, k), nil); err != nil {
			return err
		}
	}
	return nil
}

func putRecord(b *bolt.Bucket, k []byte, v any) error {
	enc, err := encode(v)
	if err != nil {
		return err
	}
	return b.Put(k, enc)
}

// Item returns the item with the given ID, or ErrNotFound.
func (db *DB) Item(id string) (Item, error) {
	var it Item
	k, err := idKey(id)
	if err != nil {
		return it, err
	}
	err = db.viewTx(func(tx *bolt.Tx) error {
		ok, err := getItem(tx, k, &it)
		if err == nil && !ok {
			err = fmt.Errorf("item %s: %w", id, ErrNotFound)
		}
		return err
	})
	return it, err
}

// Items returns the items with the given IDs that exist, keyed by ID, in one
// read transaction. Tombstoned IDs are reported in the second result.
func (db *DB) Items(ids []string) (found map[string]Item, tombstoned map[string]bool, err error) {
	found = make(map[string]Item, len(ids))
	tombstoned = map[string]bool{}
	err = db.viewTx(func(tx *bolt.Tx) error {
		tombs := tx.Bucket(bucketTombstones)
		for _, id := range ids {
			k, err := idKey(id)
			if err != nil {
				return err
			}
			if tombs.Get(k) != nil {
				tombstoned[id] = true
				continue
			}
			var it Item
			if ok, err := getItem(tx, k, &it); err != nil {
				return err
			} else if ok {
				found[id] = it
			}
		}
		return nil
	})
	return found, tombstoned, err
}

// ExactMatch returns the ID of the story holding the first item stored with
// the canonical URL canon or, failing that, the content hash hash. It
// reports false when neither is known.
func (db *DB) ExactMatch(canon, hash string) (story string, by string, ok bool, err error) {
	err = db.viewTx(func(tx *bolt.Tx) error {
		for _, c := range []struct {
			bucket []byte
			key    string
			by     string
		}{{bucketURLs, canon, "url"}, {bucketHashes, hash, "hash"}} {
			id := getFirst(tx.Bucket(c.bucket), c.bucket, c.key, db.binHashes)
			if id == nil {
				continue
			}
			var it Item
			if found, err := getItem(tx, id, &it); err != nil {
				return err
			} else if !found {
				continue // item removed by retention; the index entry is stale
			}
			story, by, ok = it.Story, c.by, true
			return nil
		}
		return nil
	})
	return story, by, ok, err
}

// StoryQuery selects stories for Stories.
type StoryQuery struct {
	Limit      int // at most this many; 0 means 50
	MinSources int // only stories with at least this many distinct outlets
	Category   string
}

// Stories returns the most recently updated stories, newest first, with
// their members.
func (db *DB) Stories(ctx context.Context, q StoryQuery) ([]StoryView, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	var out []StoryView
	err := db.viewTx(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketStoryTime).Cursor()
		for k, _ := c.Last(); k != nil && len(out) < q.Limit; k, _ = c.Prev() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if len(k) != 8+idLen {
				return fmt.Errorf("%w: story_time key of %d bytes", ErrCorrupt, len(k))
			}
			sv, err := loadStory(tx, k[8:])
			if err != nil {
				return err
			}
			if sv.Outlets() < q.MinSources || (q.Category != "" && !slices.Contains(sv.Categories(), q.Category)) {
				continue
			}
			out = append(out, sv)
		}
		return nil
	})
	return out, err
}

// Story returns one story with its members, or ErrNotFound.
func (db *DB) Story(id string) (StoryView, error) {
	k, err := idKey(id)
	if err != nil {
		return StoryView{}, err
	}
	var sv StoryView
	err = db.viewTx(func(tx *bolt.Tx) error {
		sv, err = loadStory(tx, k)
		return err
	})
	return sv, err
}

func loadStory(tx *bolt.Tx, k []byte) (StoryView, error) {
	var sv StoryView
	v := tx.Bucket(bucketStories).Get(k)
	if v == nil {
		return sv, fmt.Errorf("story %x: %w", k, ErrNotFound)
	}
	if err := decode(v, &sv.Story); err != nil {
		return sv, fmt.Errorf("story %x: %w", k, err)
	}
	sv.Members = make([]Item, 0, len(sv.Items))
	for _, id := range sv.Items {
		ik, err := idKey(id)
		if err != nil {
			return sv, err
		}
		var it Item
		if ok, err := getItem(tx, ik, &it); err != nil {
			return sv, err
		} else if !ok {
			return sv, fmt.Errorf("%w: story %s lists missing item %s", ErrCorrupt, sv.ID, id)
		}
		sv.Members = append(sv.Members, it)
	}
	return sv, nil
}

// Outlets is the number of distinct outlets among the story's members.
func (sv *StoryView) Outlets() int {
	seen := make(map[string]bool, len(sv.Members))
	for i := range sv.Members {
		seen[sv.Members[i].Outlet] = true
	}
	return len(seen)
}

// Categories are the distinct non-empty categories of the members, sorted.
func (sv *StoryView) Categories() []string {
	var cs []string
	for i := range sv.Members {
		if c := sv.Members[i].Category; c != "" && !slices.Contains(cs, c) {
			cs = append(cs, c)
		}
	}
	slices.Sort(cs)
	return cs
}

// ForEachItemSince calls fn for every item first seen at or after since, in
// first-seen order. It stops at the first error fn returns.
func (db *DB) ForEachItemSince(ctx context.Context, since time.Time, fn func(*Item) error) error {
	return db.scanTx(func(tx *bolt.Tx) error {
		items := tx.Bucket(bucketItems)
		rel := scanRelease{db: db, tx: tx}
		c := tx.Bucket(bucketItemTime).Cursor()
		for k, v := c.Seek(timeKey(since, make([]byte, idLen))); k != nil; k, v = c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			rel.add(len(k) + len(v))
			if len(v) == 0 { // an item of the old layout
				if v = items.Get(k[8:]); v == nil {
					continue
				}
			}
			var it Item
			if err := decode(v, &it); err != nil {
				return fmt.Errorf("item %x: %w", k[8:], err)
			}
			if err := fn(&it); err != nil {
				return err
			}
		}
		return nil
	})
}

// Source returns the stored state of the named source; ok is false when the
// source was never fetched.
func (db *DB) Source(name string) (st SourceState, ok bool, err error) {
	err = db.viewTx(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSources).Get([]byte(name))
		if v == nil {
			return nil
		}
		ok = true
		return decode(v, &st)
	})
	return st, ok, err
}

// Sources returns the state of every source ever fetched, by name.
func (db *DB) Sources() ([]SourceState, error) {
	var out []SourceState
	err := db.viewTx(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSources).ForEach(func(k, v []byte) error {
			var st SourceState
			if err := decode(v, &st); err != nil {
				return fmt.Errorf("source %s: %w", k, err)
			}
			out = append(out, st)
			return nil
		})
	})
	return out, err
}

// Counts are the numbers of records in the database.
type Counts struct {
	Items, Stories, Sources int
}

// Count returns the number of items, stories and sources.
func (db *DB) Count() (Counts, error) {
	var c Counts
	err := db.scanTx(func(tx *bolt.Tx) error {
		c.Items = tx.Bucket(bucketItems).Stats().KeyN
		c.Stories = tx.Bucket(bucketStories).Stats().KeyN
		c.Sources = tx.Bucket(bucketSources).Stats().KeyN
		return nil
	})
	return c, err
}

// Check verifies the database: bbolt's own page-level consistency check,
// then storyfeed's invariants (every story member exists and points back at
// its story, every item's story exists, the time indexes match the records).
// It returns every problem found, joined.
func (db *DB) Check() error {
	var errs []error
	err := db.scanTx(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		stories := tx.Bucket(bucketStories)
		items := tx.Bucket(bucketItems)
		storyTimes := map[string]bool{}
		if err := tx.Bucket(bucketStoryTime).ForEach(func(k, _ []byte) error {
			storyTimes[string(k)] = true
			return nil
		}); err != nil {
			return err
		}
		if err := stories.ForEach(func(k, v []byte) error {
			var s Story
			if err := decode(v, &s); err != nil {
				errs = append(errs, fmt.Errorf("story %x: %w", k, err))
				return nil
			}
			if !storyTimes[string(timeKey(s.Updated, k))] {
				errs = append(errs, fmt.Errorf("story %s: no story_time entry", s.ID))
			}
			delete(storyTimes, string(timeKey(s.Updated, k)))
			if len(s.Items) == 0 {
				errs = append(errs, fmt.Errorf("story %s: no members", s.ID))
			}
			for _, id := range s.Items {
				ik, err := idKey(id)
				if err != nil {
					errs = append(errs, fmt.Errorf("story %s: %w", s.ID, err))
					continue
				}
				var it Item
				if ok, err := getItem(tx, ik, &it); err != nil {
					errs = append(errs, fmt.Errorf("item %s: %w", id, err))
					continue
				} else if !ok {
					errs = append(errs, fmt.Errorf("story %s: member %s missing", s.ID, id))
					continue
				}
				if it.Story != s.ID {
					errs = append(errs, fmt.Errorf("story %s: member %s belongs to story %s", s.ID, id, it.Story))
				}
			}
			return nil
		}); err != nil {
			return err
		}
		for k := range storyTimes {
			errs = append(errs, fmt.Errorf("story_time entry %x has no story", k))
		}
		itemTimes := tx.Bucket(bucketItemTime)
		if err := itemTimes.ForEach(func(k, v []byte) error {
			if len(v) > 0 && len(k) == 8+idLen && !bytes.Equal(items.Get(k[8:]), k[:8]) {
				errs = append(errs, fmt.Errorf("item_time entry %x: items does not point at it", k))
			}
			return nil
		}); err != nil {
			return err
		}
		return items.ForEach(func(k, v []byte) error {
			rec := v
			if len(v) == 8 {
				if rec = itemTimes.Get(pointerKey(v, k)); len(rec) == 0 {
					errs = append(errs, fmt.Errorf("item %x: no record at its item_time entry", k))
					return nil
				}
			}
			var it Item
			if err := decode(rec, &it); err != nil {
				errs = append(errs, fmt.Errorf("item %x: %w", k, err))
				return nil
			}
			sk, err := idKey(it.Story)
			if err != nil || stories.Get(sk) == nil {
				errs = append(errs, fmt.Errorf("item %s: story %q missing", it.ID, it.Story))
			}
			tk := timeKey(it.FirstSeen, k)
			if itemTimes.Get(tk) == nil || (len(v) == 8 && !bytes.Equal(tk, pointerKey(v, k))) {
				errs = append(errs, fmt.Errorf("item %s: no item_time entry at its first-seen time", it.ID))
			}
			return nil
		})
	})
	if err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
