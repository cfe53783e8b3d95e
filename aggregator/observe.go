package aggregator

import (
	"context"
	"errors"
	"time"

	"github.com/storyfeed/storyfeed/aggregator/fetch"
	"github.com/storyfeed/storyfeed/storage"
)

// Observer is told what the service does, for metrics. Its methods are
// called from the fetch workers and the writer, concurrently; they must be
// cheap and must not block or call back into the service.
type Observer interface {
	// Fetched reports one fetch of a URL source.
	Fetched(FetchEvent)
	// Committed reports one write transaction.
	Committed(CommitEvent)
	// CycleDone reports the end of a poll cycle and its error, if any.
	CycleDone(c Cycle, err error)
}

// FetchEvent is one fetch of a URL source.
type FetchEvent struct {
	Source string
	Status int // HTTP status; 0 when no response came (network error, timeout)
	Bytes  int // body bytes received
	Dur    time.Duration
	Err    error
}

// CommitEvent is one write transaction.
type CommitEvent struct {
	Dur time.Duration
	Err error
	// Levels are the dedupe levels of the new items the transaction stored:
	// "new" for an item that founded a story, else the level at which it
	// joined one ("exact", "near", "similar", ...).
	Levels []string
	// Removed counts items deleted by retention.
	Removed int
}

// nopObserver is the Observer of a service without metrics.
type nopObserver struct{}

func (nopObserver) Fetched(FetchEvent)     {}
func (nopObserver) Committed(CommitEvent)  {}
func (nopObserver) CycleDone(Cycle, error) {}

// observeFetch reports a fetch; res is nil when err is not.
func (s *Service) observeFetch(source string, res *fetch.Result, err error, dur time.Duration) {
	ev := FetchEvent{Source: source, Dur: dur, Err: err}
	if res != nil {
		ev.Status, ev.Bytes = res.Status, len(res.Body)
	}
	if se := (*fetch.StatusError)(nil); errors.As(err, &se) {
		ev.Status = se.Code
	}
	s.obs.Fetched(ev)
}

// commit writes one batch for the writer, timing the transaction. added
// are the IDs of the batch's new items, whose dedupe levels are reported
// once the transaction succeeded.
func (s *Service) commit(ctx context.Context, b storage.Batch, added []string) error {
	start := time.Now()
	err := s.store.Commit(ctx, b)
	ev := CommitEvent{Dur: time.Since(start), Err: err}
	if err == nil {
		ev.Levels = appendLevels(nil, &b, added)
	}
	s.obs.Committed(ev)
	return err
}
