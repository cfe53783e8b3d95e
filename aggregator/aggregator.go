// Package aggregator is the storyfeed service: it schedules polls, fetches
// and reads sources, normalises what they deliver, asks dedupe which story
// each new item belongs to, and commits one batch per source to storage.
//
// Data flows one way. Fetches fan out over a bounded pool of workers and fan
// in to a single writer, which owns the dedupe index and the write path.
// One broken source never stops the others: its error goes into its
// SourceState and the cycle goes on.
package aggregator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/aggregator/fetch"
	"github.com/storyfeed/storyfeed/dedupe"
	"github.com/storyfeed/storyfeed/storage"
)

// Store is what the service needs of the database.
type Store interface {
	Commit(ctx context.Context, b storage.Batch) error
	Items(ids []string) (found map[string]storage.Item, tombstoned map[string]bool, err error)
	Source(name string) (storage.SourceState, bool, error)
	Sources() ([]storage.SourceState, error)
	Holds() (map[string]time.Time, error)
	ExactMatch(canon, hash string) (story, by string, ok bool, err error)
	ForEachIndexEntry(ctx context.Context, since time.Time, fn func(*storage.IndexEntry) error) error
}

// Deps are the service's collaborators.
type Deps struct {
	Store  Store
	Logger *slog.Logger     // nil discards logs
	Now    func() time.Time // nil means time.Now
	Fetch  *fetch.Client    // nil builds one from the config
	// Version is the build's version, for the default User-Agent
	// (fetch.UserAgent); "" reads it from the binary's build info.
	Version string
	// Observer is told about fetches, transactions and cycles, for
	// metrics; nil observes nothing.
	Observer Observer
}

// Service polls sources and stores what they deliver.
type Service struct {
	cfg     config.Config
	store   Store
	log     *slog.Logger
	now     func() time.Time
	fetcher *fetch.Client
	norm    *normalizer
	cpu     chan struct{} // CPU slots for parsing and preparing items; see acquireCPU
	obs     Observer
	holdLog holdLog // host holds already logged (hosts.go)
	// intervals caches the interval of each cron spec: spec ->
	// time.Duration (due.go).
	intervals sync.Map

	// sched is the scheduler's state: polls started by Run hold its read
	// lock, Reload its write lock (see reload.go).
	sched scheduler

	// writeMu is held by the single writer while it matches and commits a
	// batch; it guards index.
	writeMu sync.Mutex
	index   *dedupe.Index
	// indexFresh means index is built and its window moved on this cycle.
	indexFresh bool
}

// Log attribute keys, shared so that logs can be searched by them.
const (
	keySource = "source"
	keyURL    = "url"
	keyErr    = "err"
	keyDur    = "dur"
	keyStatus = "status"
)

// New returns a service for cfg. It does no I/O: the dedupe index is built
// from storage on the first poll.
func New(cfg config.Config, deps Deps) (*Service, error) {
	if deps.Store == nil {
		return nil, errors.New("aggregator: no store")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Observer == nil {
		deps.Observer = nopObserver{}
	}
	if deps.Fetch == nil {
		deps.Fetch = fetch.New(fetch.Options{
			UserAgent:      cmp.Or(cfg.Poll.UserAgent, fetch.UserAgent(deps.Version)),
			Timeout:        cfg.Poll.Timeout,
			ConnectTimeout: cfg.Poll.ConnectTimeout,
			MaxBodySize:    cfg.Poll.MaxBodySize,
			PerHost:        cfg.Poll.PerHost,
			HostGap:        cfg.Poll.HostGap,
			AllowPrivate:   cfg.Poll.AllowPrivateNetworks,
			Now:            deps.Now,
		})
	}
	return &Service{
		cfg:     cfg,
		store:   deps.Store,
		log:     deps.Logger,
		now:     deps.Now,
		fetcher: deps.Fetch,
		norm:    newNormalizer(),
		obs:     deps.Observer,
		cpu:     make(chan struct{}, max(1, runtime.GOMAXPROCS(0))),
	}, nil
}

// dedupeOptions are the engine settings from the config.
func (s *Service) dedupeOptions() dedupe.Options {
	return dedupeOptionsOf(s.cfg.Dedupe)
}

// dedupeOptionsOf maps the [dedupe] config table to engine options. The
// daemon and `storyfeed eval` both use it, so eval measures the daemon's
// settings.
func dedupeOptionsOf(c config.Dedupe) dedupe.Options {
	return dedupe.Options{Window: c.Window, Similar: c.Similar, Headline: c.Headline, Near: c.Near}
}

// loadIndex builds the dedupe index from the items of the window. Called
// with writeMu held.
func (s *Service) loadIndex(ctx context.Context) error {
	start := s.now()
	cutoff := start.Add(-s.cfg.Dedupe.Window)
	if s.index != nil {
		if n := s.index.Evict(cutoff); n > 0 {
			s.log.Debug("dedupe index evicted", "docs", n)
		}
		return nil
	}
	idx, err := buildIndex(ctx, s.store, s.dedupeOptions(), cutoff)
	if err != nil {
		return err
	}
	s.index = idx
	s.log.Debug("dedupe index built", "docs", idx.Len(), "stories", idx.Stories(), keyDur, time.Since(start))
	return nil
}

// buildIndex rebuilds the dedupe index from the items first seen since
// cutoff, from their stored features (or their text, for items stored
// before features were). A goroutine reads and decodes the entries while
// this one adds them, in the stored order: decoding is a third of the
// work, and the index can only be filled by one goroutine.
func buildIndex(ctx context.Context, st Store, opt dedupe.Options, cutoff time.Time) (*dedupe.Index, error) {
	type entry struct {
		f     dedupe.Features
		story string
		seen  time.Time
	}
	const batch = 256
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full := make(chan []entry, 4)
	empty := make(chan []entry, 5) // batches the adder is done with, for reuse
	errc := make(chan error, 1)
	go func() {
		defer close(full)
		var b []entry
		err := st.ForEachIndexEntry(ctx, cutoff, func(e *storage.IndexEntry) error {
			if b == nil {
				select {
				case b = <-empty:
				default:
					b = make([]entry, 0, batch)
				}
			}
			b = b[:len(b)+1]
			x := &b[len(b)-1]
			if e.Item != nil {
				x.f = dedupe.Extract(new(docOf(e.Item)))
			} else if err := x.f.UnmarshalBinary(e.Features); err != nil {
				return fmt.Errorf("item %s: %w", e.ID, err)
			}
			x.story, x.seen = e.Story, e.FirstSeen
			if len(b) == batch {
				select {
				case full <- b:
				case <-ctx.Done():
					return ctx.Err()
				}
				b = nil
			}
			return nil
		})
		if err == nil && len(b) > 0 {
			full <- b // the adder reads until full is closed
		}
		errc <- err
	}()
	idx := dedupe.New(opt)
	for b := range full {
		for i := range b {
			idx.AddFeatures(&b[i].f, b[i].story, b[i].seen)
		}
		select {
		case empty <- b[:0]:
		default:
		}
	}
	if err := <-errc; err != nil {
		return nil, fmt.Errorf("build dedupe index: %w", err)
	}
	idx.Evict(cutoff)
	return idx, nil
}

// docOf is the dedupe view of an item.
func docOf(it *storage.Item) dedupe.Doc {
	return dedupe.Doc{
		ID:     it.ID,
		URL:    it.CanonURL,
		Hash:   it.Hash,
		Outlet: it.Outlet,
		Title:  it.Title,
		Text:   it.Text,
		Time:   it.Published,
	}
}
