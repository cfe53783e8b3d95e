package aggregator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
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
	ItemsNew    int
	ItemsUpdate int
	StoriesNew  int
	Joined      int // new items that joined an existing story
	Duration    time.Duration
}

// errCommit stands for the committer's failure until it reports it.
var errCommit = errors.New("commit failed")

// ErrNoSource means a cycle could poll none of its sources.
var ErrNoSource = errors.New("no source could be polled")

// PollOnce polls every configured source once and returns what happened. It
// fails only when the context ends, the database cannot be written, or
// every source failed (ErrNoSource); single broken sources are recorded in
// their state and logged.
func (s *Service) PollOnce(ctx context.Context) (Cycle, error) {
	return s.poll(ctx, s.cfg.Sources)
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

	jobs := make(chan config.Source)
	results := make(chan fetched)
	var wg sync.WaitGroup
	workers := min(s.cfg.Poll.Workers, len(sources))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parser := gofeed.NewParser() // one per worker: a Parser is not safe for concurrent use
			for src := range jobs {
				f := s.read(ctx, parser, src)
				s.prepare(&f)
				results <- f
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, src := range sources {
			select {
			case jobs <- src:
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
	for f := range results {
		c.Sources++
		if commitErr == nil && cm.failed.Load() {
			commitErr = errCommit
		}
		if commitErr != nil {
			continue // drain: the workers finish their current source
		}
		p, err := s.write(ctx, &f, &c)
		if err != nil {
			commitErr = err
			continue
		}
		cm.in <- p
	}
	if err := cm.finish(); err != nil && (commitErr == nil || commitErr == errCommit) {
		commitErr = err
	}
	c.Duration = s.now().Sub(start)
	s.log.Info("poll cycle",
		"sources", c.Sources, "ok", c.OK, "not_modified", c.NotModified, "errors", c.Errors,
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

// read fetches or reads one source and normalises its items. It never
// writes; errors end up in the result.
func (s *Service) read(ctx context.Context, parser *gofeed.Parser, src config.Source) fetched {
	f := fetched{src: src}
	st, _, err := s.store.Source(src.Name)
	if err != nil {
		f.err = fmt.Errorf("read state of %s: %w", src.Name, err)
		return f
	}
	st.Name = src.Name
	f.state = st
	now := s.now()
	f.state.LastFetch = now
	switch {
	case src.URL != "":
		s.readURL(ctx, parser, &f, now)
	default:
		s.readPath(parser, &f, now)
	}
	return f
}

func (s *Service) readURL(ctx context.Context, parser *gofeed.Parser, f *fetched, now time.Time) {
	target := f.src.URL
	v := fetch.Validators{}
	if f.state.URL == target || f.state.URL == "" {
		// Validators belong to the URL they came from.
		v = fetch.Validators{ETag: f.state.ETag, LastModified: f.state.LastModified}
	}
	start := time.Now()
	res, err := s.fetcher.Get(ctx, target, v)
	s.observeFetch(f.src.Name, res, err, time.Since(start))
	if err != nil {
		var se *fetch.StatusError
		if errors.As(err, &se) {
			f.state.LastStatus = se.Code
		}
		f.err = err
		return
	}
	s.log.Debug("fetched", keySource, f.src.Name, keyURL, target, keyStatus, res.Status, keyDur, time.Since(start))
	f.state.URL = target
	f.state.LastStatus = res.Status
	f.state.ETag, f.state.LastModified = res.Validators.ETag, res.Validators.LastModified
	if res.Status == 304 {
		f.unchanged = true
		return
	}
	hash := contentHash("", string(res.Body))
	if hash == f.state.BodyHash {
		f.unchanged = true // a server without validators sent the same bytes
		return
	}
	feed, err := parser.Parse(bytes.NewReader(res.Body))
	if err != nil {
		f.err = fmt.Errorf("parse %s: %w", target, err)
		return
	}
	f.state.BodyHash = hash
	base, _ := url.Parse(res.URL)
	f.items = s.feedItems(f.src, base, feed, now)
}

func (s *Service) feedItems(src config.Source, base *url.URL, feed *gofeed.Feed, now time.Time) []storage.Item {
	items := make([]storage.Item, 0, len(feed.Items))
	for _, fi := range feed.Items {
		if fi == nil {
			continue
		}
		it := s.norm.fromFeedItem(src.Name, src.Category, base, fi, now)
		if it.Title == "" && it.URL == "" {
			continue // nothing a reader could show
		}
		items = append(items, it)
	}
	return items
}

// readPath reads a directory of article files, or one local feed file.
func (s *Service) readPath(parser *gofeed.Parser, f *fetched, now time.Time) {
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
		feed, err := parser.Parse(bytes.NewReader(body))
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
	for _, p := range files {
		rel, err := filepath.Rel(f.src.Path, p)
		if err != nil {
			rel = p
		}
		a, err := readArticle(p)
		if err != nil {
			f.warnings = append(f.warnings, err)
			continue
		}
		f.items = append(f.items, s.norm.fromArticle(f.src.Name, f.src.Category, filepath.ToSlash(rel), &a, now))
	}
	if len(files) > 0 && len(f.items) == 0 {
		f.err = fmt.Errorf("source %s: none of %d files could be read: %w", f.src.Name, len(files), errors.Join(f.warnings...))
		return
	}
	f.state.LastStatus = 200
}

func readArticle(path string) (seedfile.Article, error) {
	fh, err := os.Open(path)
	if err != nil {
		return seedfile.Article{}, err
	}
	defer fh.Close()
	return seedfile.Parse(path, fh)
}
