// Package dedupe decides which news story an incoming article belongs to.
//
// An [Index] holds the articles of the time window and the stories they
// belong to. For each new [Doc] it returns a [Decision]: join an existing
// story, with the level, score, threshold and shared terms that justify it,
// or start a new one. The levels, tried in order:
//
//   - exact: the same canonical URL or the same normalised text as an
//     article of the story (a syndicated copy);
//   - near: a SimHash of the body's word shingles within a few bits of an
//     article's (wire copy lightly edited), found by LSH banding;
//   - similar: the same event told in other words. Two full texts are
//     compared by the cosines of their TF-IDF vectors weighted by position
//     (headline and lead count most) and by frequency over the whole text;
//     an item with little text of its own, a
//     headline with perhaps a summary, is compared with a story by how
//     strongly the story owns the headline's words, weighed down the
//     longer the story has been quiet. Candidates come from an inverted
//     index, never from a scan of all stories.
//
// Words of the outlet's own name, " - Outlet" headline suffixes, bylines,
// share buttons and "Related" lists do not count. Two full texts whose
// leading names or figures disagree (two companies' results, two people's
// speeches) are never merged.
//
// The package is pure and deterministic: no I/O, no clock, no logging, no
// randomness, no dependence on map iteration order, a fixed summation
// order and its own logarithm, so the same docs in the same order give the
// same decisions on any machine. Time enters only through the docs' own
// dates and the cutoff passed to [Index.Evict].
package dedupe

import (
	"fmt"
	"time"
)

// Doc is one article as the engine sees it.
type Doc struct {
	ID     string    // unique and stable, e.g. derived from source and GUID
	URL    string    // canonical URL; "" when unknown
	Hash   string    // hash of the normalised text; "" when unknown
	Outlet string    // publication; its name's words do not count as content
	Title  string    // headline
	Text   string    // plain article text
	Time   time.Time // publication time; zero when unknown (no time constraint)
}

// Level says how a doc was matched.
type Level int

// Levels, from the strongest evidence to none.
const (
	LevelNew     Level = iota // no match: the doc starts a new story
	LevelExact                // same canonical URL or same text
	LevelNear                 // near-identical text (wire copy lightly edited)
	LevelSimilar              // same story rewritten: weighted term similarity
)

func (l Level) String() string {
	switch l {
	case LevelNew:
		return "new"
	case LevelExact:
		return "exact"
	case LevelNear:
		return "near"
	case LevelSimilar:
		return "similar"
	}
	return fmt.Sprintf("level(%d)", int(l))
}

// Decision is the engine's answer for one doc.
type Decision struct {
	Story     string   // story to join; "" when Level is LevelNew
	Level     Level    //
	Score     float64  // similarity to the best story by the measure that decided (0 if nothing came close)
	Threshold float64  // the score that measure needs
	Measure   string   // "url", "text", "simhash", "cosine" or "headline"
	Member    string   // ID of the doc of the story that matched best ("" for headline evidence)
	Shared    []string // strongest terms shared with the story, strongest first
	Related   []string // other stories the doc also matched, best first: it bridges them
	Reason    string   // one line for people
	Best      string   // best-scoring story even when below threshold ("" if none)
}

// Options tune the engine. The zero value of a field means its default.
type Options struct {
	// Window is how far apart in time a doc and a story's dated members
	// may be and still join. Default 72h.
	Window time.Duration
	// Similar is the score at which two full texts are the same story:
	// the mean of the cosines of their TF-IDF vectors weighted by position
	// (headline and lead count most) and by frequency over the whole text.
	Similar float64
	// Headline is the evidence an item with little text (a headline,
	// perhaps a summary) needs to join a story: the sum over its words of
	// the word's rarity outside the story (its inverse document frequency
	// among the other items of the window, in nats) times the square root
	// of the share of the story's items that have it; divided by
	// 1 + gap/24h when the doc is dated gap away from the span of the
	// story's dated items (a story quiet for a day needs twice the
	// evidence).
	Headline float64
	// Near is the SimHash similarity (1 - differing bits/64) at which two
	// full texts are near-duplicates.
	Near float64
}

// Defaults, measured with `storyfeed eval`; see the README.
const (
	DefaultWindow   = 72 * time.Hour
	DefaultSimilar  = 0.25
	DefaultHeadline = 5.5
	DefaultNear     = 0.90
)

func (o Options) withDefaults() Options {
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.Similar <= 0 {
		o.Similar = DefaultSimilar
	}
	if o.Headline <= 0 {
		o.Headline = DefaultHeadline
	}
	if o.Near <= 0 {
		o.Near = DefaultNear
	}
	return o
}
