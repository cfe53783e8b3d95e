package aggregator

import (
	"context"
	"fmt"
	"time"

	"github.com/storyfeed/storyfeed/storage"
)

// Retention's pace: items are deleted expireBatch per transaction, so the
// writer never waits long for a retention transaction, and the run repeats
// every retentionEvery.
const (
	expireBatch    = 500
	retentionEvery = "@every 1h"
	// tombstoneLife is how long a deleted item's tombstone is kept at
	// least: far longer than any feed carries an item, and never less than
	// [storage] keep.
	tombstoneLife = 365 * 24 * time.Hour
)

// expirer is what retention needs of the store, beyond Store.
type expirer interface {
	Count() (storage.Counts, error)
	Expire(ctx context.Context, before time.Time, atLeast int, now time.Time, limit int) (storage.Expired, error)
	DropTombstones(ctx context.Context, cutoff time.Time, limit int) (int, error)
}

// Expired counts what one retention run deleted.
type Expired struct {
	Items, Stories, Tombstones int
	Duration                   time.Duration
}

// Expire applies the retention of the config ([storage] keep and
// max_items): it deletes the oldest items in transactions of a few hundred,
// leaving tombstones so they never return, deletes the stories left
// empty, and drops tombstones older than a year. A store that cannot expire
// items is left alone.
func (s *Service) Expire(ctx context.Context) (Expired, error) {
	var out Expired
	ex, ok := s.store.(expirer)
	if !ok {
		return out, nil
	}
	s.sched.cycle.RLock()
	keep, maxItems := s.cfg.Storage.Keep, s.cfg.Storage.MaxItems
	s.sched.cycle.RUnlock()
	if keep <= 0 && maxItems <= 0 {
		return out, nil
	}
	start := s.now()
	var before time.Time
	if keep > 0 {
		before = start.Add(-keep)
	}
	atLeast := 0
	if maxItems > 0 {
		n, err := ex.Count()
		if err != nil {
			return out, fmt.Errorf("retention: %w", err)
		}
		atLeast = max(n.Items-maxItems, 0)
	}
	for {
		more, err := s.expireBatch(ctx, ex, before, atLeast, start, &out)
		if err != nil {
			return out, err
		}
		if !more {
			break
		}
		atLeast = max(atLeast-expireBatch, 0)
	}
	n, err := ex.DropTombstones(ctx, start.Add(-max(tombstoneLife, keep)), expireBatch)
	out.Tombstones = n
	out.Duration = s.now().Sub(start)
	if err != nil {
		return out, fmt.Errorf("retention: %w", err)
	}
	if out.Items+out.Tombstones > 0 {
		s.log.Info("retention", "items_deleted", out.Items, "stories_deleted", out.Stories,
			"tombstones_dropped", out.Tombstones, keyDur, out.Duration.Round(time.Millisecond))
	}
	return out, nil
}

// expireBatch runs one retention transaction, as the writer: the dedupe
// index forgets the deleted items at once.
func (s *Service) expireBatch(ctx context.Context, ex expirer, before time.Time, atLeast int, now time.Time, out *Expired) (bool, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	t := time.Now()
	res, err := ex.Expire(ctx, before, atLeast, now, expireBatch)
	s.obs.Committed(CommitEvent{Dur: time.Since(t), Err: err, Removed: len(res.Items)})
	if err != nil {
		return false, fmt.Errorf("retention: %w", err)
	}
	if s.index != nil {
		for _, id := range res.Items {
			s.index.Remove(id)
		}
	}
	out.Items += len(res.Items)
	out.Stories += res.Stories
	return res.More, nil
}
