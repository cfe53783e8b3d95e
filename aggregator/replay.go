package aggregator

import (
	"net/url"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/dedupe"
	"github.com/storyfeed/storyfeed/storage"
)

// Replayer runs the daemon's dedupe decisions over items held in memory,
// without a database: `storyfeed eval` uses it to measure the engine on
// labelled data. It normalises records exactly as feed items are
// normalised and decides their stories with the same code the writer uses,
// so what eval measures is what the daemon does.
type Replayer struct {
	cfg   config.Dedupe
	norm  *normalizer
	index *dedupe.Index
}

// NewReplayer returns a replayer with the dedupe settings of cfg.
func NewReplayer(cfg config.Dedupe) *Replayer {
	return &Replayer{cfg: cfg, norm: newNormalizer(), index: dedupe.New(dedupeOptionsOf(cfg))}
}

// Record is one labelled item as eval reads it: a feed item reduced to the
// fields a feed gives.
type Record struct {
	Source    string
	Title     string
	Content   string // HTML or plain text; may be empty
	URL       string
	Published time.Time // zero when unknown
	Category  string
}

// Item normalises r as a feed item of source r.Source would be. now caps
// future dates, as at fetch time.
func (r *Replayer) Item(rec Record, guid string, now time.Time) storage.Item {
	fi := &gofeed.Item{Title: rec.Title, Content: rec.Content, Link: rec.URL, GUID: guid}
	if !rec.Published.IsZero() {
		p := rec.Published
		fi.PublishedParsed = &p
	}
	var base *url.URL
	return r.norm.fromFeedItem(rec.Source, rec.Category, base, fi, now)
}

// Decide decides the story of a new item, records it in the index, and
// returns the decision. it.Story and it.Match are set as the writer sets
// them.
func (r *Replayer) Decide(it *storage.Item, now time.Time) dedupe.Decision {
	f := dedupe.Extract(new(docOf(it)))
	dec := r.index.MatchFeatures(&f)
	assign(it, &dec)
	it.Cites = dedupe.Cites(it.Text, it.Outlet)
	r.index.AddFeatures(&f, it.Story, now)
	return dec
}

// Explain scores it against story, whatever the decision was: eval uses it
// to explain a missed merge.
func (r *Replayer) Explain(it *storage.Item, story string) dedupe.Decision {
	return r.index.Explain(docOf(it), story)
}

// Evict forgets the items that left the window ending at now.
func (r *Replayer) Evict(now time.Time) {
	r.index.Evict(now.Add(-r.cfg.Window))
}

// assign applies a decision to a new item: it joins the decided story, or
// founds one that takes its ID for good.
func assign(it *storage.Item, dec *dedupe.Decision) {
	if dec.Story == "" {
		it.Story = it.ID
	} else {
		it.Story = dec.Story
	}
	it.Match = storage.Match{
		Level: dec.Level.String(), Score: dec.Score, Threshold: dec.Threshold,
		Shared: dec.Shared, Reason: dec.Reason,
	}
}
