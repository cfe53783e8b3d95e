package aggregator

import (
	"context"
	"fmt"
	"time"

	"github.com/storyfeed/storyfeed/dedupe"
	"github.com/storyfeed/storyfeed/storage"
)

// write is the single writer: it decides the story of every new item of one
// source and commits the source's batch in one transaction. A source error
// is recorded in the source's state and is not returned; only a failure to
// write the database is.
func (s *Service) write(ctx context.Context, f *fetched, c *Cycle) error {
	if f.skipped {
		c.Skipped++ // its host is held: nothing happened, nothing to write
		return nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	now := s.now()
	for _, w := range f.warnings {
		s.log.Warn("skipped file", keySource, f.src.Name, keyErr, w)
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
		return s.commit(ctx, storage.Batch{Source: &st, Holds: f.holds}, nil)
	}
	st.ErrorStreak, st.LastError, st.LastSuccess = 0, "", now
	s.setNextDue(&st, f, now)
	if f.unchanged {
		c.NotModified++
		return s.commit(ctx, storage.Batch{Source: &st}, nil)
	}
	c.OK++
	st.Items = len(f.items)

	d, err := s.decide(f.items, now, c)
	if err != nil {
		return err
	}
	b := storage.Batch{Source: &st, Items: d.items, Features: d.features, Related: d.related, Remove: f.remove}
	if err := s.commit(ctx, b, d.added); err != nil {
		for _, id := range d.added { // the index must not remember what was not stored
			s.index.Remove(id)
		}
		return fmt.Errorf("source %s: %w", f.src.Name, err)
	}
	// Nor what is no longer stored. An index not built yet will be built
	// from storage, without them.
	for _, id := range f.remove {
		if s.index != nil {
			s.index.Remove(id)
		}
	}
	c.ItemsRemoved += len(f.remove)
	if len(f.remove) > 0 {
		s.log.Info("files removed: their items leave the feed", keySource, f.src.Name, "items", len(f.remove))
	}
	return nil
}

// decided is what decide hands the commit.
type decided struct {
	items    []storage.Item
	features map[string][]byte   // dedupe features by item ID, for a fast index rebuild
	related  map[string][]string // story -> stories an item of this batch also matched
	added    []string            // item IDs added to the index
}

// decide compares the items of one batch with what is stored: unchanged
// items are dropped, changed ones keep their story, and new ones go through
// dedupe. It returns the items to write and the IDs it added to the index.
func (s *Service) decide(items []storage.Item, now time.Time, c *Cycle) (*decided, error) {
	ids := make([]string, len(items))
	for i := range items {
		ids[i] = items[i].ID
	}
	stored, tombstoned, err := s.store.Items(ids)
	if err != nil {
		return nil, err
	}
	d := &decided{features: map[string][]byte{}, related: map[string][]string{}}
	seen := make(map[string]bool, len(items))
	for i := range items {
		it := items[i]
		if seen[it.ID] || tombstoned[it.ID] {
			continue // a GUID repeated within one feed, or deleted by retention
		}
		seen[it.ID] = true
		it.Cites = dedupe.Cites(it.Text, it.Outlet)
		if old, ok := stored[it.ID]; ok {
			if old.Hash == it.Hash && old.Title == it.Title && old.URL == it.URL && old.Outlet == it.Outlet {
				continue // unchanged: never rewritten
			}
			// A changed item keeps its story, whatever the engine would
			// say now: stories are never split behind a reader's back, and
			// a manual decision stands.
			it.FirstSeen, it.Story, it.Match = old.FirstSeen, old.Story, old.Match
			if it.Published.IsZero() {
				it.Published = old.Published
			}
			it.Updated = now
			f := dedupe.Extract(new(docOf(&it)))
			s.index.AddFeatures(&f, it.Story, it.FirstSeen)
			if err := d.keep(&it, &f); err != nil {
				return nil, err
			}
			c.ItemsUpdate++
			continue
		}
		it.FirstSeen, it.Updated = now, now
		f := dedupe.Extract(new(docOf(&it)))
		dec, err := s.match(&it, &f)
		if err != nil {
			return nil, err
		}
		if dec.Story == "" {
			c.StoriesNew++
		} else {
			c.Joined++
		}
		assign(&it, &dec)
		if len(dec.Related) > 0 {
			d.related[it.Story] = append(d.related[it.Story], dec.Related...)
		}
		s.index.AddFeatures(&f, it.Story, now)
		d.added = append(d.added, it.ID)
		if err := d.keep(&it, &f); err != nil {
			return nil, err
		}
		c.ItemsNew++
	}
	return d, nil
}

// keep adds an item and its encoded features to the batch.
func (d *decided) keep(it *storage.Item, f *dedupe.Features) error {
	b, err := f.MarshalBinary()
	if err != nil {
		return fmt.Errorf("item %s: features: %w", it.ID, err)
	}
	d.items = append(d.items, *it)
	d.features[it.ID] = b
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
