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
		s.log.Warn("source failed", keySource, f.src.Name, keyErr, f.err, "streak", st.ErrorStreak)
		return s.store.Commit(ctx, storage.Batch{Source: &st})
	}
	st.ErrorStreak, st.LastError, st.LastSuccess = 0, "", now
	if f.unchanged {
		c.NotModified++
		return s.store.Commit(ctx, storage.Batch{Source: &st})
	}
	c.OK++
	st.Items = len(f.items)

	batch, added, err := s.decide(f.items, now, c)
	if err != nil {
		return err
	}
	if err := s.store.Commit(ctx, storage.Batch{Source: &st, Items: batch}); err != nil {
		for _, id := range added { // the index must not remember what was not stored
			s.index.Remove(id)
		}
		return fmt.Errorf("source %s: %w", f.src.Name, err)
	}
	return nil
}

// decide compares the items of one batch with what is stored: unchanged
// items are dropped, changed ones keep their story, and new ones go through
// dedupe. It returns the items to write and the IDs it added to the index.
func (s *Service) decide(items []storage.Item, now time.Time, c *Cycle) ([]storage.Item, []string, error) {
	ids := make([]string, len(items))
	for i := range items {
		ids[i] = items[i].ID
	}
	stored, tombstoned, err := s.store.Items(ids)
	if err != nil {
		return nil, nil, err
	}
	var out []storage.Item
	var added []string
	seen := make(map[string]bool, len(items))
	for i := range items {
		it := items[i]
		if seen[it.ID] || tombstoned[it.ID] {
			continue // a GUID repeated within one feed, or deleted by retention
		}
		seen[it.ID] = true
		if old, ok := stored[it.ID]; ok {
			if old.Hash == it.Hash && old.Title == it.Title && old.URL == it.URL && old.Outlet == it.Outlet {
				continue // unchanged: never rewritten
			}
			it.FirstSeen, it.Story, it.Match = old.FirstSeen, old.Story, old.Match
			if it.Published.IsZero() {
				it.Published = old.Published
			}
			it.Updated = now
			out = append(out, it)
			c.ItemsUpdate++
			continue
		}
		it.FirstSeen, it.Updated = now, now
		dec, err := s.match(&it)
		if err != nil {
			return nil, nil, err
		}
		if dec.Story == "" {
			c.StoriesNew++
		} else {
			c.Joined++
		}
		assign(&it, &dec)
		s.index.Add(docOf(&it), it.Story, now)
		added = append(added, it.ID)
		out = append(out, it)
		c.ItemsNew++
	}
	return out, added, nil
}

// match asks the index, then storage for exact copies older than the
// window.
func (s *Service) match(it *storage.Item) (dedupe.Decision, error) {
	dec := s.index.Match(docOf(it))
	if dec.Story != "" {
		return dec, nil
	}
	story, by, ok, err := s.store.ExactMatch(it.CanonURL, it.Hash)
	if err != nil {
		return dec, err
	}
	if ok {
		return dedupe.Decision{Story: story, Level: dedupe.LevelExact, Score: 1, Threshold: 1,
			Reason: "same " + by + " as an item of the story (outside the window)"}, nil
	}
	return dec, nil
}
