// Package dedupe decides which news story an incoming article belongs to.
//
// An [Index] holds the recent articles (the time window) and, for each new
// [Doc], returns a [Decision]: join an existing story, with the level,
// score and shared terms that justify it, or start a new one.
//
// The package is pure and deterministic: no I/O, no clock, no logging, no
// randomness, and no dependence on map iteration order. The same docs in the
// same order give the same decisions on any machine. Time enters only
// through the docs' own dates and the cutoff passed to [Index.Evict].
package dedupe

import (
	"fmt"
	"time"
)

// Doc is one article as the engine sees it.
type Doc struct {
	ID    string    // unique and stable, e.g. derived from source and GUID
	URL   string    // canonical URL; "" when unknown
	Hash  string    // hash of the normalised text; "" when unknown
	Title string    // headline, outlet suffix removed
	Text  string    // plain article text, boilerplate removed
	Time  time.Time // publication time; zero when unknown (no time constraint)
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
	Score     float64  // similarity to the best story (0 when LevelNew and nothing came close)
	Threshold float64  // the score needed at this level
	Shared    []string // strongest terms shared with the story, strongest first
	Reason    string   // one line for people
	Best      string   // best-scoring story even when below threshold ("" if none)
}

// Options tune the engine. The zero value of a field means its default.
type Options struct {
	// Window is how far apart in time a doc and a story may be and still
	// join. Default 72h.
	Window time.Duration
	// Similar is the score a rewritten doc needs to join a story.
	Similar float64
	// MinShared is how many distinct terms a doc must share with a story
	// for a Similar join, at least one of them a name or figure.
	MinShared int
}

// Defaults, measured with `storyfeed eval`; see the README.
const (
	DefaultWindow    = 72 * time.Hour
	DefaultSimilar   = 0.40
	DefaultMinShared = 4
)

func (o Options) withDefaults() Options {
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.Similar <= 0 {
		o.Similar = DefaultSimilar
	}
	if o.MinShared <= 0 {
		o.MinShared = DefaultMinShared
	}
	return o
}
