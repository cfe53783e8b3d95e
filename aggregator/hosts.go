package aggregator

import (
	"context"
	"sync"
	"time"

	"github.com/storyfeed/storyfeed/storage"
)

// Host holds. A host that answers 429, or 503 with Retry-After, is held
// by the fetch client the moment the answer arrives: the sources of the
// host not yet fetched in the cycle, those waiting for the host's turn
// included, are refused without a request and counted as skipped. The hold
// is stored with the batch of the source that got it, and given back to
// the fetch client at the start of every cycle, so that later polls (and
// later processes) skip the host too until the hold ends.

// holdLog remembers which holds were logged, so that each is logged once.
type holdLog struct {
	mu     sync.Mutex
	logged map[string]time.Time // host:port -> the end of the hold last logged
}

// first reports whether the hold of host until the given time is new to
// the log, and records it.
func (l *holdLog) first(host string, until time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.logged == nil {
		l.logged = map[string]time.Time{}
	}
	if l.logged[host].Equal(until) {
		return false
	}
	l.logged[host] = until
	return true
}

// loadHolds gives the holds stored by earlier polls to the fetch client and
// deletes the expired ones from the database.
func (s *Service) loadHolds(ctx context.Context, now time.Time) error {
	stored, err := s.store.Holds()
	if err != nil {
		return err
	}
	expired := map[string]time.Time{}
	for host, until := range stored {
		if until.After(now) {
			s.fetcher.Hold(host, until)
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
