package aggregator

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/aggregator/fetch"
	"github.com/storyfeed/storyfeed/aggregator/seedfile"
	"github.com/storyfeed/storyfeed/storage"
)

// Cycle counts what one poll cycle did.
type Cycle struct {
	Sources     int // sources polled
	OK          int // answered with new content (200, or a local read)
	NotModified int // answered 304 or unchanged
	Errors      int // failed
	Skipped     int // not fetched: their host asked for a pause (429, 503)
	ItemsNew    int
	ItemsUpdate int
	StoriesNew  int
	Joined      int // new items that joined an existing story
	// ItemsRemoved are items deleted because their file left a directory
	// source.
	ItemsRemoved int
	Duration     time.Duration
}

// errCommit stands for the committer's failure until it reports it.
var errCommit = errors.New("commit failed")

// ErrNoSource means a cycle could poll none of its sources.
var ErrNoSource = errors.New("no source could be polled")

// PollOnce polls every configured source once, due or not, and returns
// what happened. Only sources disabled by 410 Gone and sources of a host
// that asked for a pause (429 or 503 with Retry-After) are left alone. It
// fails only when the context ends, the database cannot be written, or
// every source failed (ErrNoSource); single broken sources are recorded in
// their state and logged.
func (s *Service) PollOnce(ctx context.Context) (Cycle, error) {
	return s.poll(ctx, s.selectSources(ctx, s.cfg.Sources, true))
}

// fetched is what a worker hands the writer for one source.
type fetched struct {
	src   config.Source
	state storage.SourceState
	items []storage.Item
	// unchanged means the source answered but has nothing new to parse.
	unchanged bool
	err       error // the whole source failed
	warnings  []error
	// skipped means the source was not fetched: its host is held.
	skipped bool
	gone    bool                 // the source answered 410 Gone
	holds   map[string]time.Time // host -> hold that this fetch's answer asked for
	fresh   time.Duration        // freshness lifetime the server gave
	// remove are the IDs of items whose files left a directory source.
	remove []string
	// release gives back the CPU slot the worker took to parse, once the
	// items are prepared; nil when it took none (see acquireCPU).
	release func()
	// feats are the dedupe features of items, index for index, computed by
	// the worker (prepare) so that the single writer only matches and
	// commits.
	feats []preparedFeatures
}

func (s *Service) poll(ctx context.Context, sources []config.Source) (Cycle, error) {
	start := s.now()
	var c Cycle
	// The dedupe index is built (or its window moved on) by the first
	// source that has items to decide: a cycle in which every feed
	// answers 304 never reads it.
	s.writeMu.Lock()
	s.indexFresh = false
	s.writeMu.Unlock()

	// Fetches finish in any order, but the writer decides the sources in
	// the order they were given: dedupe decisions depend on what the index
	// already holds, so this makes a cycle give the same stories on every
	// run, also when it resumes after a crash. Results that arrive early
	// wait in pending; window bounds them, so a slow source holds up the
	// writer but never more than window fetched sources' worth of memory.
	type job struct {
		i   int
		src config.Source
	}
	type result struct {
		i int
		f fetched
	}
	workers := min(s.cfg.Poll.Workers, len(sources))
	window := make(chan struct{}, 4*max(workers, 1))
	jobs := make(chan job)
	results := make(chan result)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &reader{parser: newFeedParser()} // one per worker: a Parser is not safe for concurrent use
			for j := range jobs {
				f := s.read(ctx, w, j.src)
				s.prepare(&f)
				if f.release != nil {
					f.release()
					f.release = nil
				}
				results <- result{j.i, f}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i, src := range sources {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- job{i, src}:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()

	var commitErr error
	cm := s.startCommitter(ctx)
	handle := func(f *fetched) {
		<-window
		c.Sources++
		if commitErr == nil && cm.failed.Load() {
			commitErr = errCommit
		}
		if commitErr != nil {
			return // drain: the workers finish their current source
		}
		p, err := s.write(ctx, f, &c)
		if err != nil {
			commitErr = err
			return
		}
		if p.batch.Source == nil {
			return // skipped: nothing to write
		}
		cm.in <- p
	}
	pending := map[int]*fetched{}
	next := 0
	for r := range results {
		pending[r.i] = &r.f
		for f := pending[next]; f != nil; f = pending[next] {
			delete(pending, next)
			next++
			handle(f)
		}
	}
	// Cancelled: sources never dispatched leave gaps; the rest, in order.
	for _, i := range slices.Sorted(maps.Keys(pending)) {
		handle(pending[i])
	}
	if err := cm.finish(); err != nil && (commitErr == nil || commitErr == errCommit) {
		commitErr = err
	}
	c.Duration = s.now().Sub(start)
	s.log.Info("poll cycle",
		"sources", c.Sources, "ok", c.OK, "not_modified", c.NotModified, "errors", c.Errors, "skipped", c.Skipped,
		"items_new", c.ItemsNew, "items_updated", c.ItemsUpdate,
		"stories_new", c.StoriesNew, "stories_joined", c.Joined, keyDur, c.Duration.Round(time.Millisecond))
	switch {
	case commitErr != nil:
		return c, commitErr
	case ctx.Err() != nil:
		return c, ctx.Err()
	case len(sources) > 0 && c.Errors == c.Sources:
		return c, ErrNoSource
	}
	return c, nil
}

// reader is what a poll worker keeps from one source to the next.
type reader struct {
	parser *gofeed.Parser
	// body is the buffer that the last feed body was read into, handed to
	// the next fetch: a body is parsed, and nothing of it kept, before the
	// worker fetches again.
	body []byte
}

// maxKeptBody bounds the buffer a worker keeps between fetches, so that a
// rare large feed does not stay resident in every worker.
const maxKeptBody = 1 << 20

// read fetches or reads one source and normalises its items. It never
// writes; errors end up in the result.
func (s *Service) read(ctx context.Context, w *reader, src config.Source) fetched {
	f := fetched{src: src}
	st, _, err := s.store.Source(src.Name)
	if err != nil {
		f.err = fmt.Errorf("read state of %s: %w", src.Name, err)
		return f
	}
	st.Name = src.Name
	if src.URL != "" && adopt(&st, src) {
		s.log.Info("source url changed in the config: its fetch state starts afresh", keySource, src.Name, keyURL, src.URL)
	}
	f.state = st
	now := s.now()
	f.state.LastFetch = now
	switch {
	case src.URL != "":
		s.readURL(ctx, w, &f, now)
	default:
		s.readPath(w.parser, &f, now)
	}
	return f
}

func (s *Service) readURL(ctx context.Context, w *reader, f *fetched, now time.Time) {
	target := fetchURL(&f.state, f.src)
	v := fetch.Validators{}
	if f.state.URL == target || f.state.URL == "" {
		// Validators belong to the URL they came from.
		v = fetch.Validators{ETag: f.state.ETag, LastModified: f.state.LastModified}
	}
	start := time.Now()
	res, err := s.fetcher.GetInto(ctx, target, v, w.body)
	if err == nil && res.Body != nil && cap(res.Body) <= maxKeptBody {
		// Given back to the next fetch once this one returns: what is
		// kept of the body (items, state) is copied out of it below.
		w.body = res.Body[:0]
	}
	if he := (*fetch.HeldError)(nil); errors.As(err, &he) {
		f.skipped = true // not fetched, so not observed either
		if s.holdLog.first(he.Host, he.Until) {
			s.log.Info("host asked for a pause: its sources are skipped until then", "host", he.Host, "until", he.Until.Format(time.RFC3339))
		}
		return
	}
	s.observeFetch(f.src.Name, res, err, time.Since(start))
	if err != nil {
		var se *fetch.StatusError
		if errors.As(err, &se) {
			f.state.LastStatus = se.Code
			f.gone = se.Code == http.StatusGone
			// The client now holds the host: keep the hold for later polls.
			host := fetch.HostKeyOf(cmp.Or(se.Final, target))
			if until, held := s.fetcher.Held(host); held && se.HostHold() > 0 {
				f.holds = map[string]time.Time{host: until}
			}
		}
		f.err = err
		return
	}
	s.log.Debug("fetched", keySource, f.src.Name, keyURL, target, keyStatus, res.Status, keyDur, time.Since(start))
	f.state.URL = target
	if res.Moved != "" && res.Moved != target {
		s.log.Info("source moved permanently: fetching its new URL from now on", keySource, f.src.Name, keyURL, target, "to", res.Moved)
		f.state.URL = res.Moved
	}
	f.state.LastStatus = res.Status
	f.state.ETag, f.state.LastModified = res.Validators.ETag, res.Validators.LastModified
	f.fresh = res.Fresh
	if res.Status == 304 {
		f.unchanged = true
		return
	}
	hash := bodyHash(res.Body)
	if hash == f.state.BodyHash {
		f.unchanged = true // a server without validators sent the same bytes
		return
	}
	f.release = s.acquireCPU() // held until the worker has prepared the items
	feed, err := parseFeed(w.parser, res.Body, res.ContentType)
	if err != nil {
		f.err = fmt.Errorf("parse %s: %w", target, err)
		return
	}
	f.state.BodyHash = hash
	f.state.FeedTTL = 0
	if feed.FeedType == "rss" {
		f.state.FeedTTL = rssTTL(res.Body)
	}
	base, _ := url.Parse(res.URL)
	f.items = s.feedItems(f.src, base, feed, now)
}

// bodyHash identifies the bytes of a feed body, for servers that send no
// validators: the same hash means nothing to parse. It hashes the bytes as
// they are, without copying them or normalising their text (which cost a
// copy and a second buffer of every body, ~7% of a cold poll's
// allocations). A hash stored by an older build, which normalised, does
// not match: the source is parsed once more and its unchanged items are
// dropped as usual.
func bodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:16])
}

// feedItems normalizes the items of one feed. A GUID that repeats within
// the feed is told apart: an exact repeat (same link, title and content) is
// dropped, and another article under a GUID already taken gets its ID from
// the GUID and its link, or failing that its link and content hash. The
// first item with a GUID keeps the plain ID, so the same feed gives the
// same IDs on every poll; write then gives the plain ID back to the article
// that holds it in the database (holdPlainIDs), so that a feed that puts
// new articles first does not move the plain ID. write warns about the
// repeats.
func (s *Service) feedItems(src config.Source, base *url.URL, feed *gofeed.Feed, now time.Time) []storage.Item {
	items := make([]storage.Item, 0, len(feed.Items))
	byID := make(map[string]int, len(feed.Items)) // item ID -> index in items
	for _, fi := range feed.Items {
		if fi == nil {
			continue
		}
		it := s.norm.fromFeedItem(src.Name, src.Category, base, fi, now)
		if it.Title == "" && it.URL == "" {
			continue // nothing a reader could show
		}
		if j, taken := byID[it.ID]; taken {
			if sameArticle(&items[j], &it) {
				continue // an exact repeat
			}
			repeat := true
			for _, id := range repeatIDs(src.Name, &it) {
				j, taken := byID[id]
				if !taken {
					it.ID, repeat = id, false
					break
				}
				if sameArticle(&items[j], &it) {
					break
				}
			}
			if repeat {
				continue // nothing left to tell it apart by: a repeat
			}
		}
		byID[it.ID] = len(items)
		items = append(items, it)
	}
	return items
}

// repeatIDs are the IDs an item can take when another article of its feed
// holds the plain ID of its GUID: from the GUID and link, then from the
// GUID, link and content hash.
func repeatIDs(feed string, it *storage.Item) [2]string {
	return [2]string{
		storage.ItemID(feed, it.GUID+"\x00"+it.URL),
		storage.ItemID(feed, it.GUID+"\x00"+it.URL+"\x00"+it.Hash),
	}
}

// sameArticle reports whether two items of one feed are the same article:
// the same link, title and content.
func sameArticle(a, b *storage.Item) bool {
	return a.URL == b.URL && a.Title == b.Title && a.Hash == b.Hash
}

// readPath reads a directory of article files, or one local feed file.
func (s *Service) readPath(parser *gofeed.Parser, f *fetched, now time.Time) {
	f.release = s.acquireCPU() // reading local files is parsing, mostly
	info, err := os.Stat(f.src.Path)
	if err != nil {
		f.err = fmt.Errorf("source %s: %w", f.src.Name, err)
		return
	}
	if !info.IsDir() {
		body, err := os.ReadFile(f.src.Path)
		if err != nil {
			f.err = fmt.Errorf("source %s: %w", f.src.Name, err)
			return
		}
		feed, err := parseFeed(parser, body, "")
		if err != nil {
			f.err = fmt.Errorf("parse %s: %w", f.src.Path, err)
			return
		}
		base, _ := url.Parse(feed.Link)
		f.items = s.feedItems(f.src, base, feed, now)
		f.state.LastStatus = 200
		return
	}
	var files []string
	err = filepath.WalkDir(f.src.Path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			f.warnings = append(f.warnings, err)
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			if p != f.src.Path && strings.HasPrefix(name, ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") || !d.Type().IsRegular() {
			return nil
		}
		files = append(files, p)
		return nil
	})
	if err != nil {
		f.err = fmt.Errorf("source %s: %w", f.src.Name, err)
		return
	}
	slices.Sort(files) // stable order: stable decisions
	walkClean := len(f.warnings) == 0
	old := f.state.Files
	f.state.Files = make(map[string]string, len(files))
	for _, p := range files {
		rel, err := filepath.Rel(f.src.Path, p)
		if err != nil {
			rel = p
		}
		rel = filepath.ToSlash(rel)
		a, err := readArticle(p)
		if err != nil {
			f.warnings = append(f.warnings, err)
			if id, ok := old[rel]; ok {
				f.state.Files[rel] = id // unreadable for now, not removed
			}
			continue
		}
		it := s.norm.fromArticle(f.src.Name, f.src.Category, rel, &a, now)
		f.state.Files[rel] = it.ID
		f.items = append(f.items, it)
	}
	if len(files) > 0 && len(f.items) == 0 {
		f.err = fmt.Errorf("source %s: none of %d files could be read: %w", f.src.Name, len(files), errors.Join(f.warnings...))
		f.state.Files = old // a failed poll learns nothing about removals
		return
	}
	f.remove = removedFiles(old, f.state.Files, walkClean)
	f.state.LastStatus = 200
}

// removedFiles returns the IDs of the items whose files were in the
// directory last time (old) and are gone now (cur), in a stable order. A
// walk that met errors may have missed files that are still there: after
// one, nothing is removed and the files it did not see are remembered.
func removedFiles(old, cur map[string]string, walkClean bool) []string {
	kept := make(map[string]bool, len(cur))
	for _, id := range cur {
		kept[id] = true
	}
	var gone []string
	for rel, id := range old {
		if _, seen := cur[rel]; seen || kept[id] {
			continue // still there, or its item now comes from another file
		}
		if !walkClean {
			cur[rel] = id
			continue
		}
		gone = append(gone, id)
	}
	slices.Sort(gone)
	return slices.Compact(gone)
}

func readArticle(path string) (seedfile.Article, error) {
	fh, err := os.Open(path)
	if err != nil {
		return seedfile.Article{}, err
	}
	defer fh.Close()
	return seedfile.Parse(path, fh)
}

// acquireCPU waits for one of the service's CPU slots and returns the
// function that gives it back. Parsing, normalising and feature extraction
// are CPU-bound: with 16 workers on 2 cores, 16 goroutines would queue for
// the processors, and every HTTP request to the feeds would wait behind
// them (p99 over 100 ms during a cold poll of 1000 feeds). With as many slots as
// processors, the cores stay as busy and the run queue short. Fetching
// (network waits) is not limited by it.
func (s *Service) acquireCPU() func() {
	s.cpu <- struct{}{}
	return func() { <-s.cpu }
}
