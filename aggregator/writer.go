package aggregator

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/storyfeed/storyfeed/dedupe"
	"github.com/storyfeed/storyfeed/storage"
)

// write is the single writer: it decides the story of every new item of one
// source and returns the source's batch, which the committer writes in one
// transaction. A source error is recorded in the source's state and is not
// returned; only a failure to read the database is. A skipped source (its
// host is held) returns an empty batch, which is not written.
func (s *Service) write(ctx context.Context, f *fetched, c *Cycle) (pendingCommit, error) {
	p := pendingCommit{source: f.src.Name}
	if f.skipped {
		c.Skipped++ // its host is held: nothing happened, nothing to write
		return p, nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	now := s.now()
	for _, w := range f.warnings {
		s.log.Warn("skipped file", keySource, f.src.Name, keyErr, w)
	}
	if errors.Is(f.err, storage.ErrDamaged) {
		// Not this source's fault: the database cannot be read. The cycle
		// stops with an error that names the file.
		return p, f.err
	}
	st := f.state
	if f.err != nil {
		c.Errors++
		st.ErrorStreak++
		st.LastError = f.err.Error()
		s.setNextDue(&st, f, now)
		attrs := []any{keySource, f.src.Name, keyErr, f.err, "streak", st.ErrorStreak}
		if !st.NextDue.IsZero() {
			attrs = append(attrs, "next_due", st.NextDue.Format(time.RFC3339))
		}
		s.log.Warn("source failed", attrs...)
		if f.gone && !st.Disabled {
			st.Disabled = true
			s.log.Warn("source is gone (HTTP 410): disabled; change its url in the config to enable it again", keySource, f.src.Name)
		}
		p.batch = storage.Batch{Source: &st, Holds: f.holds}
		return p, nil
	}
	st.ErrorStreak, st.LastError, st.LastSuccess = 0, "", now
	s.setNextDue(&st, f, now)
	if f.unchanged {
		c.NotModified++
		p.batch = storage.Batch{Source: &st}
		return p, nil
	}
	c.OK++
	var repeated int
	st.Items, repeated = s.countKept(f)
	if (!s.indexFresh || s.index == nil) && len(f.items) > 0 {
		if err := s.loadIndex(ctx); err != nil {
			return p, err
		}
		s.indexFresh = true
	}

	if repeated > 0 {
		if err := s.holdPlainIDs(f); err != nil {
			return p, err
		}
	}
	d, err := s.decide(f.items, f.feats, now)
	if err != nil {
		return p, err
	}
	p.batch = storage.Batch{Source: &st, Items: d.items, Features: d.features, Related: d.related, Remove: f.remove}
	p.added = d.added
	p.counts, p.cycle = d.counts, c
	// The index forgets removed items now: should the commit fail, they
	// are still stored, and the next cycle rebuilds the index from storage.
	if s.index != nil {
		for _, id := range f.remove {
			s.index.Remove(id)
		}
	}
	c.ItemsRemoved += len(f.remove)
	if len(f.remove) > 0 {
		s.log.Info("files removed: their items leave the feed", keySource, f.src.Name, "items", len(f.remove))
	}
	return p, nil
}

// countKept returns the number of distinct items of a fetch and of those
// whose GUID repeats an earlier one's, and warns once
// when some of them share a GUID: feedItems tells the articles of a feed
// apart by their link or content (exact repeats it drops itself); items
// left with the same ID, such as two article files declaring one ID, are
// dropped by decide.
func (s *Service) countKept(f *fetched) (kept, repeated int) {
	if len(f.items) < 2 {
		return len(f.items), 0
	}
	guids := make(map[string]struct{}, len(f.items))
	ids := make(map[string]struct{}, len(f.items))
	dropped := 0
	for i := range f.items {
		it := &f.items[i]
		if _, ok := guids[it.GUID]; ok {
			repeated++
		}
		if _, ok := ids[it.ID]; ok {
			dropped++
		}
		guids[it.GUID] = struct{}{}
		ids[it.ID] = struct{}{}
	}
	if repeated > 0 {
		s.log.Warn("GUID repeated within one fetch: items told apart by their link or content, or dropped",
			keySource, f.src.Name, "items", repeated, "told_apart", repeated-dropped, "dropped", dropped, "kept", len(ids))
	}
	return len(ids), repeated
}

// holdPlainIDs keeps the plain ID of a GUID that repeats within a feed with
// the article stored under it. feedItems gives the plain ID to the first
// article with the GUID; a feed that uses one GUID for every item and puts
// new ones first would otherwise hand the stored article's ID to a new
// article each poll, which would take over its record and its story. The
// article whose link matches the stored one gets the plain ID back; when
// none does (it left the feed), every article of the GUID takes a repeat
// ID. It reads the database only when a GUID repeats.
func (s *Service) holdPlainIDs(f *fetched) error {
	type group struct {
		holder int   // index of the item with the plain ID, or -1
		others []int // items with a repeat ID
	}
	var groups map[string]*group // by plain ID
	for i := range f.items {
		it := &f.items[i]
		plain := storage.ItemID(f.src.Name, it.GUID)
		if it.ID == plain {
			continue
		}
		if groups == nil {
			groups = map[string]*group{}
		}
		g := groups[plain]
		if g == nil {
			g = &group{holder: -1}
			groups[plain] = g
		}
		g.others = append(g.others, i)
	}
	if len(groups) == 0 {
		return nil
	}
	ids := make([]string, 0, len(groups))
	taken := make(map[string]bool, len(f.items))
	for i := range f.items {
		id := f.items[i].ID
		taken[id] = true
		if g := groups[id]; g != nil {
			g.holder = i
			ids = append(ids, id)
		}
	}
	stored, _, err := s.store.Items(ids)
	if err != nil {
		return err
	}
	for plain, g := range groups {
		old, ok := stored[plain]
		if !ok || g.holder < 0 || f.items[g.holder].URL == old.URL {
			continue // nothing stored under it, or its holder is the stored article
		}
		owner := -1
		for _, i := range g.others {
			if f.items[i].URL == old.URL {
				owner = i
				break
			}
		}
		// The holder gives up the plain ID, and the owner, if any, takes it.
		if owner >= 0 {
			delete(taken, f.items[owner].ID)
			s.setID(f, owner, plain)
		} else {
			delete(taken, plain)
		}
		for _, id := range repeatIDs(f.src.Name, &f.items[g.holder]) {
			if !taken[id] {
				taken[id] = true
				s.setID(f, g.holder, id)
				break
			}
		}
	}
	return nil
}

// setID gives item i of a fetch a new ID, in its features too.
func (s *Service) setID(f *fetched, i int, id string) {
	f.items[i].ID = id
	if i < len(f.feats) {
		p := &f.feats[i]
		p.f.ID = id
		p.enc, p.err = p.f.MarshalBinary()
	}
}

// pendingCommit is one source's batch, decided and not yet written.
type pendingCommit struct {
	source string
	batch  storage.Batch
	added  []string // IDs of its new items, which the index already holds
	// counts are the batch's items and stories, which the committer adds
	// to cycle once the batch is stored: a cycle cut short (SIGTERM, a
	// failed commit) reports what the database holds, not what was
	// decided. Only the committer writes these fields of the cycle, and
	// poll reads them after finish.
	counts batchCounts
	cycle  *Cycle
}

// batchCounts are the counts of one batch that a cycle reports.
type batchCounts struct {
	itemsNew, itemsUpdated, storiesNew, joined int
}

// committer writes the batches of one cycle in the order the writer
// decided them, in a goroutine of its own: the fsync of one transaction
// overlaps the dedupe of the next batches. Batches that queue behind a
// transaction (commits are the slowest serial stage of a cold poll) are
// written together in the next one, up to groupItems items: one fsync for
// all of them, and the pages of the buckets keyed by hashes that their
// items touch are read and written once, not once per source. Each batch
// is still all-or-nothing and written in order: when a group fails, its
// batches are written again one by one, so that a bad batch costs only
// itself (and, as below, the batches after it). The states of sources
// that delivered no items (304, unchanged, failed) that are queued
// together are merged into one batch. After a failure it writes nothing
// more and collects the new items of every batch it did not write, which
// the index must forget (finish).
type committer struct {
	s      *Service
	in     chan pendingCommit
	done   chan struct{}
	failed atomic.Bool
	err    error    // the first failure; read after done
	lost   []string // new items not stored; read after done
	// all writes several batches in one transaction; nil writes each on
	// its own. Only the database itself has it: a Store that wraps it
	// sees every batch through its Commit.
	all func(context.Context, []storage.Batch) error
}

const (
	// commitQueue bounds the batches decided and not yet written. Item
	// batches hold trimmed items (about 1 KB each), so it holds a few MB at
	// most.
	commitQueue = 64
	// stateGroup bounds the source states written in one transaction.
	stateGroup = 256
	// groupItems bounds the items of the batches written in one
	// transaction. Each leaf page a transaction changes stays mapped until
	// it ends, with 64 KiB of fault-around (see storage/release.go), and
	// the resident set of the map is what the daemon's peak memory can
	// least afford: in a cold 1000x50 poll, two batches of 50 per
	// transaction raised its peak from 13-14 MB to 16-17 MB, three to
	// 19-21 MB, for a few percent less CPU. At 50, a transaction touches
	// no more pages than one feed of 50 new items did on its own, while
	// the small batches of a steady poll (a few new items per feed) share
	// a transaction and its fsync ten at a time.
	groupItems = 50
)

func (s *Service) startCommitter(ctx context.Context) *committer {
	cm := s.newCommitter()
	go cm.run(ctx)
	return cm
}

func (s *Service) newCommitter() *committer {
	cm := &committer{s: s, in: make(chan pendingCommit, commitQueue), done: make(chan struct{})}
	if db, ok := s.store.(*storage.DB); ok {
		cm.all = db.CommitAll
	}
	return cm
}

// run writes what comes in until in is closed.
func (cm *committer) run(ctx context.Context) {
	defer close(cm.done)
	var next *pendingCommit
	for {
		var p pendingCommit
		if next != nil {
			p, next = *next, nil
		} else {
			var ok bool
			if p, ok = <-cm.in; !ok {
				return
			}
		}
		switch {
		case p.stateOnly():
			p, next = cm.group(p)
			cm.write(ctx, p)
		case cm.all != nil:
			var ps []pendingCommit
			ps, next = cm.gather(p)
			cm.writeAll(ctx, ps)
		default:
			cm.write(ctx, p)
		}
	}
}

// stateOnly means the batch holds a source's state and nothing else (no
// items, host holds or removals), so that it can share a transaction.
func (p *pendingCommit) stateOnly() bool {
	b := &p.batch
	return len(b.Items) == 0 && len(b.Related) == 0 && len(b.Features) == 0 &&
		len(b.Holds) == 0 && len(b.Remove) == 0
}

// group adds to the state-only batch p the state-only batches queued
// behind it. It returns the group and the first other batch it took from
// the queue, if any.
func (cm *committer) group(p pendingCommit) (pendingCommit, *pendingCommit) {
	var next *pendingCommit
	n := 1
loop:
	for n < stateGroup {
		select {
		case q, ok := <-cm.in:
			if !ok {
				break loop
			}
			if !q.stateOnly() {
				next = &q
				break loop
			}
			if q.batch.Source != nil {
				p.batch.Sources = append(p.batch.Sources, *q.batch.Source)
			}
			n++
		default:
			break loop
		}
	}
	if n > 1 {
		p.source = fmt.Sprintf("%s and %d more", p.source, n-1)
	}
	return p, next
}

// gather returns p and the batches queued behind it, as many as fit in
// one transaction (groupItems), and the first batch it took from the
// queue that did not fit, if any.
func (cm *committer) gather(p pendingCommit) ([]pendingCommit, *pendingCommit) {
	ps := []pendingCommit{p}
	items := len(p.batch.Items)
	for len(ps) < commitQueue {
		select {
		case q, ok := <-cm.in:
			if !ok {
				return ps, nil
			}
			if items += len(q.batch.Items); items > groupItems {
				return ps, &q
			}
			ps = append(ps, q)
		default:
			return ps, nil
		}
	}
	return ps, nil
}

// writeAll writes the batches ps in one transaction, or one by one when
// that fails.
func (cm *committer) writeAll(ctx context.Context, ps []pendingCommit) {
	if len(ps) == 1 || cm.err != nil {
		for _, p := range ps {
			cm.write(ctx, p)
		}
		return
	}
	bs := make([]storage.Batch, len(ps))
	for i := range ps {
		bs[i] = ps[i].batch
	}
	start := time.Now()
	if err := cm.all(ctx, bs); err != nil {
		// Which batch failed, and whether it fails alone, is for the
		// transactions of each to tell.
		for _, p := range ps {
			cm.write(ctx, p)
		}
		return
	}
	ev := CommitEvent{Dur: time.Since(start)}
	for _, p := range ps {
		cm.count(&p)
		ev.Levels = appendLevels(ev.Levels, &p.batch, p.added)
	}
	cm.s.obs.Committed(ev)
}

func (cm *committer) write(ctx context.Context, p pendingCommit) {
	if cm.err == nil {
		if err := cm.s.commit(ctx, p.batch, p.added); err != nil {
			cm.err = fmt.Errorf("source %s: %w", p.source, err)
			cm.failed.Store(true)
		} else {
			cm.count(&p)
		}
	}
	if cm.err != nil {
		cm.lost = append(cm.lost, p.added...)
	}
}

// count adds the counts of a batch written to its cycle.
func (cm *committer) count(p *pendingCommit) {
	if c := p.cycle; c != nil {
		c.ItemsNew += p.counts.itemsNew
		c.ItemsUpdate += p.counts.itemsUpdated
		c.StoriesNew += p.counts.storiesNew
		c.Joined += p.counts.joined
	}
}

// appendLevels appends the dedupe levels of the items of b that are new
// (added), as CommitEvent reports them.
func appendLevels(levels []string, b *storage.Batch, added []string) []string {
	if len(added) == 0 {
		return levels
	}
	isNew := make(map[string]bool, len(added))
	for _, id := range added {
		isNew[id] = true
	}
	for i := range b.Items {
		if it := &b.Items[i]; isNew[it.ID] {
			levels = append(levels, it.Match.Level)
		}
	}
	return levels
}

// finish waits for the last batch to be written and returns the first
// failure. The index forgets what was not stored.
func (cm *committer) finish() error {
	close(cm.in)
	<-cm.done
	if len(cm.lost) > 0 {
		cm.s.writeMu.Lock()
		if cm.s.index != nil {
			for _, id := range cm.lost {
				cm.s.index.Remove(id)
			}
		}
		cm.s.writeMu.Unlock()
	}
	return cm.err
}

// decided is what decide hands the commit.
type decided struct {
	items    []storage.Item
	features map[string][]byte   // dedupe features by item ID, for a fast index rebuild
	related  map[string][]string // story -> stories an item of this batch also matched
	added    []string            // item IDs added to the index
	counts   batchCounts
}

// preparedFeatures are an item's dedupe features and their encoding.
type preparedFeatures struct {
	f   dedupe.Features
	enc []byte
	err error // the features could not be encoded
}

// prepare does the per-item work that needs no shared state, in the
// worker: each item's credits, dedupe features and their encoding, from
// its full text. It then trims what is stored of the text and the HTML to
// their leads (see trimForStorage): the features stand for the text from
// here on.
func (s *Service) prepare(f *fetched) {
	if f.err != nil || len(f.items) == 0 {
		return
	}
	f.feats = make([]preparedFeatures, len(f.items))
	for i := range f.items {
		it, p := &f.items[i], &f.feats[i]
		it.Cites = dedupe.Cites(it.Text, it.Outlet)
		p.f = dedupe.Extract(new(docOf(it)))
		p.enc, p.err = p.f.MarshalBinary()
		trimForStorage(it)
	}
}

// decide compares the items of one batch with what is stored: unchanged
// items are dropped, changed ones keep their story, and new ones go through
// dedupe. feats are the items' features (prepare). It returns the items to
// write, the IDs it added to the index and their counts, which count only
// once the batch is committed.
func (s *Service) decide(items []storage.Item, feats []preparedFeatures, now time.Time) (*decided, error) {
	ids := make([]string, len(items))
	for i := range items {
		ids[i] = items[i].ID
	}
	stored, tombstoned, err := s.store.Items(ids)
	if err != nil {
		return nil, err
	}
	d := &decided{features: make(map[string][]byte, len(items)), related: map[string][]string{}}
	seen := make(map[string]bool, len(items))
	for i := range items {
		it, p := items[i], &feats[i]
		if seen[it.ID] || tombstoned[it.ID] {
			continue // a GUID repeated within one feed, or deleted by retention
		}
		seen[it.ID] = true
		if old, ok := stored[it.ID]; ok {
			if old.Hash == it.Hash && old.Title == it.Title && old.URL == it.URL && old.Outlet == it.Outlet {
				continue // unchanged: never rewritten
			}
			// A changed item keeps its story, whatever the engine would
			// say now: stories are never split behind a reader's back, and
			// a manual decision stands.
			it.FirstSeen, it.Story, it.Match = old.FirstSeen, old.Story, old.Match
			if it.Published.IsZero() && !old.Published.IsZero() {
				it.Published = old.Published
				p.f.Time = it.Published // the only part of the features that depends on it
				p.enc, p.err = p.f.MarshalBinary()
			}
			it.Updated = now
			s.index.AddFeatures(&p.f, it.Story, it.FirstSeen)
			if err := d.keep(&it, p); err != nil {
				return nil, err
			}
			d.counts.itemsUpdated++
			continue
		}
		it.FirstSeen, it.Updated = now, now
		dec, err := s.match(&it, &p.f)
		if err != nil {
			return nil, err
		}
		if dec.Story == "" {
			d.counts.storiesNew++
		} else {
			d.counts.joined++
		}
		assign(&it, &dec)
		if len(dec.Related) > 0 {
			d.related[it.Story] = append(d.related[it.Story], dec.Related...)
		}
		s.index.AddFeatures(&p.f, it.Story, now)
		d.added = append(d.added, it.ID)
		if err := d.keep(&it, p); err != nil {
			return nil, err
		}
		d.counts.itemsNew++
	}
	return d, nil
}

// keep adds an item and its encoded features to the batch.
func (d *decided) keep(it *storage.Item, p *preparedFeatures) error {
	if p.err != nil {
		return fmt.Errorf("item %s: features: %w", it.ID, p.err)
	}
	d.items = append(d.items, *it)
	d.features[it.ID] = p.enc
	return nil
}

// match asks the index, then storage for exact copies older than the
// window.
func (s *Service) match(it *storage.Item, f *dedupe.Features) (dedupe.Decision, error) {
	dec := s.index.MatchFeatures(f)
	if dec.Story != "" {
		return dec, nil
	}
	story, by, ok, err := s.store.ExactMatch(it.CanonURL, it.Hash)
	if err != nil {
		return dec, err
	}
	if ok {
		return dedupe.Decision{Story: story, Level: dedupe.LevelExact, Score: 1, Threshold: 1, Measure: by,
			Reason: "same " + by + " as an item of the story (outside the window)"}, nil
	}
	return dec, nil
}
