package aggregator

import (
	"context"
	"sync"
	"time"

	"github.com/storyfeed/storyfeed/storage"
)

// holds are the hosts that answered 429 or 503 with Retry-After: none of
// their sources is fetched until the hold ends. A hold is set in memory the
// moment the answer arrives, so that the sources of the host not yet
// fetched in the same cycle are skipped, and stored with the batch of the
// source that got it, so that later polls (and later processes) skip them
// too.
type holds struct {
	mu     sync.Mutex
	until  map[string]time.Time // host:port -> end of the hold
	logged map[string]time.Time // host:port -> the hold last logged
}

// set holds host until the given time, or longer if it is already held
// longer.
func (h *holds) set(host string, until time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.until == nil {
		h.until = map[string]time.Time{}
	}
	if until.After(h.until[host]) {
		h.until[host] = until
	}
}

// held reports whether host is held at now, and until when. first is true
// the first time a given hold is reported, so that it is logged once.
func (h *holds) held(host string, now time.Time) (until time.Time, first, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	until, ok = h.until[host]
	if !ok || !until.After(now) {
		return time.Time{}, false, false
	}
	if h.logged == nil {
		h.logged = map[string]time.Time{}
	}
	first = !h.logged[host].Equal(until)
	h.logged[host] = until
	return until, first, true
}

// loadHolds merges the holds stored by earlier polls into memory and
// deletes the expired ones from the database.
func (s *Service) loadHolds(ctx context.Context, now time.Time) error {
	stored, err := s.store.Holds()
	if err != nil {
		return err
	}
	expired := map[string]time.Time{}
	for host, until := range stored {
		if until.After(now) {
			s.holds.set(host, until)
		} else {
			expired[host] = time.Time{}
		}
	}
	if len(expired) == 0 {
		return nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.commit(ctx, storage.Batch{Holds: expired}, nil)
}
