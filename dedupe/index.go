package dedupe

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Index holds the docs of the time window and the stories they belong to.
// It is not safe for concurrent use: one writer owns it.
type Index struct {
	opt      Options
	seq      int
	docs     map[int]*entry    // by sequence number
	byID     map[string]int    // doc ID -> sequence number
	postings map[string][]int  // term -> docs containing it, ascending
	stories  map[string][]int  // story -> member docs, ascending
	spans    map[string]span   // story -> dates of its dated members
	byURL    map[string]string // canonical URL -> story
	byHash   map[string]string // text hash -> story
	cache    *entry            // features of the last doc matched, reused by Add
}

type entry struct {
	seq    int
	id     string
	story  string
	url    string
	hash   string
	time   time.Time // zero when unknown
	seen   time.Time // when it was added, for eviction of undated docs
	terms  []weighted
	titled bool // has a non-empty title
}

// weighted is a term with its raw weight in one doc (before idf).
type weighted struct {
	term   string
	w      float64
	entity bool
}

// New returns an empty index.
func New(opt Options) *Index {
	return &Index{
		opt:      opt.withDefaults(),
		docs:     map[int]*entry{},
		byID:     map[string]int{},
		postings: map[string][]int{},
		stories:  map[string][]int{},
		spans:    map[string]span{},
		byURL:    map[string]string{},
		byHash:   map[string]string{},
	}
}

// Options returns the options in force, defaults filled in.
func (x *Index) Options() Options { return x.opt }

// Len is the number of docs in the index.
func (x *Index) Len() int { return len(x.docs) }

// Stories is the number of stories with at least one doc in the index.
func (x *Index) Stories() int { return len(x.stories) }

// Field weights. News is written as an inverted pyramid: the headline and
// the first sentences say which event a report covers, the rest is
// background that every report on the topic shares. So a term's weight
// decays with its position in the text, and the headline counts most.
const (
	titleWeight  = 3.0
	leadTokens   = 30.0 // position scale of the decay, in content words
	tailWeight   = 0.1  // floor of the decay
	maxQueryTerm = 24   // terms of a doc used to find candidates
)

// positionWeight is the weight of one occurrence of a term at content-word
// position i of the body.
func positionWeight(i int) float64 {
	return max(tailWeight, math.Exp(-float64(i)/leadTokens))
}

// features computes the raw term weights of d, sorted by term.
func features(d *Doc) []weighted {
	type acc struct {
		title  bool
		body   float64
		entity int
		n      int
	}
	m := map[string]*acc{}
	get := func(t string) *acc {
		a := m[t]
		if a == nil {
			a = &acc{}
			m[t] = a
		}
		return a
	}
	for _, tk := range tokens(d.Title, true) {
		a := get(tk.term)
		a.title = true
		if tk.entity {
			a.entity++
		}
		a.n++
	}
	for i, tk := range tokens(d.Text, false) {
		a := get(tk.term)
		a.body += positionWeight(i)
		if tk.entity {
			a.entity++
		}
		a.n++
	}
	out := make([]weighted, 0, len(m))
	for t, a := range m {
		w := math.Log1p(a.body)
		if a.title {
			w += titleWeight
		}
		// Names get no extra weight: the names of a topic (the leaders of
		// a war) are shared by all its stories, so boosting them merges
		// different events. They still count for the shared-name guard.
		ent := a.entity*2 > a.n // capitalised in most of its uses
		out = append(out, weighted{term: t, w: w, entity: ent})
	}
	slices.SortFunc(out, func(a, b weighted) int { return strings.Compare(a.term, b.term) })
	return out
}

// idf is the inverse document frequency of a term found in df docs of the
// index, counting the doc being scored as one more doc.
func (x *Index) idf(df int) float64 {
	n := float64(len(x.docs) + 1)
	return math.Log(1 + n/float64(df+1))
}

// Match decides which story d belongs to. It does not change the index;
// call Add to record the decision once it is stored.
func (x *Index) Match(d Doc) Decision {
	if story, ok := x.exact(&d); ok {
		return Decision{Story: story, Level: LevelExact, Score: 1, Threshold: 1, Best: story,
			Reason: "same canonical URL or same text as an item of the story"}
	}
	q := &entry{id: d.ID, url: d.URL, hash: d.Hash, time: d.Time, terms: features(&d), titled: d.Title != ""}
	x.cache = q
	if len(q.terms) == 0 {
		return Decision{Level: LevelNew, Threshold: x.opt.Similar, Reason: "no usable text"}
	}
	qv, qnorm := x.vector(q.terms)
	best, bestScore, bestDoc := "", 0.0, -1
	for _, c := range x.candidates(q, qv) {
		e := x.docs[c]
		if !x.inWindow(q.time, e.story) {
			continue
		}
		score := x.cosine(qv, qnorm, e)
		if score > bestScore { // ties keep the older doc: candidates are ascending
			best, bestScore, bestDoc = e.story, score, c
		}
	}
	dec := Decision{Level: LevelNew, Score: round(bestScore), Threshold: x.opt.Similar, Best: best}
	if bestDoc < 0 {
		dec.Reason = "no candidate story shares enough terms"
		return dec
	}
	shared, nEntity := x.shared(qv, x.docs[bestDoc])
	dec.Shared = topTerms(shared, 8)
	switch {
	case bestScore < x.opt.Similar:
		dec.Reason = fmt.Sprintf("best story %s scores %.3f, below %.3f", best, bestScore, x.opt.Similar)
	case len(shared) < x.opt.MinShared:
		dec.Reason = fmt.Sprintf("best story %s shares %d terms, fewer than %d", best, len(shared), x.opt.MinShared)
	case nEntity == 0:
		dec.Reason = fmt.Sprintf("best story %s shares no name or figure", best)
	default:
		dec.Story, dec.Level = best, LevelSimilar
		dec.Reason = fmt.Sprintf("similar to %s: score %.3f >= %.3f, %d shared terms", x.docs[bestDoc].id, bestScore, x.opt.Similar, len(shared))
	}
	return dec
}

func (x *Index) exact(d *Doc) (string, bool) {
	for _, c := range []struct {
		key string
		m   map[string]string
	}{{d.URL, x.byURL}, {d.Hash, x.byHash}} {
		if c.key == "" {
			continue
		}
		if s, ok := c.m[c.key]; ok {
			return s, true
		}
	}
	return "", false
}

// inWindow reports whether a doc dated t may join story: it must lie within
// the window of the span of the story's dated members. An undated doc, or a
// story of undated docs only, has no time constraint. Judging the story, not
// the single member that scored best, keeps an undated member from bridging
// a story to an event months away.
func (x *Index) inWindow(t time.Time, story string) bool {
	sp := x.spans[story]
	if t.IsZero() || sp.first.IsZero() {
		return true
	}
	return !t.Before(sp.first.Add(-x.opt.Window)) && !t.After(sp.last.Add(x.opt.Window))
}

// span is the range of the known dates of a story's members.
type span struct{ first, last time.Time }

func (sp span) with(t time.Time) span {
	if t.IsZero() {
		return sp
	}
	if sp.first.IsZero() || t.Before(sp.first) {
		sp.first = t
	}
	if t.After(sp.last) {
		sp.last = t
	}
	return sp
}

// vector applies idf to raw weights; the result is keyed by term.
func (x *Index) vector(terms []weighted) (map[string]float64, float64) {
	v := make(map[string]float64, len(terms))
	var sum float64
	for _, t := range terms { // sorted: fixed summation order
		w := t.w * x.idf(len(x.postings[t.term]))
		v[t.term] = w
		sum += w * w
	}
	return v, math.Sqrt(sum)
}

// candidates returns the docs that share at least two of the query's
// strongest terms, ascending. It reads posting lists only: the cost does
// not grow with the number of stories that share nothing with the doc.
func (x *Index) candidates(q *entry, qv map[string]float64) []int {
	top := make([]weighted, len(q.terms))
	copy(top, q.terms)
	slices.SortStableFunc(top, func(a, b weighted) int {
		return cmpDesc(qv[a.term], qv[b.term])
	})
	if len(top) > maxQueryTerm {
		top = top[:maxQueryTerm]
	}
	hits := map[int]int{}
	for _, t := range top {
		for _, d := range x.postings[t.term] {
			hits[d]++
		}
	}
	out := make([]int, 0, len(hits))
	for d, n := range hits {
		if n >= 2 {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out
}

func (x *Index) cosine(qv map[string]float64, qnorm float64, e *entry) float64 {
	var dot, norm float64
	for _, t := range e.terms {
		w := t.w * x.idf(len(x.postings[t.term]))
		norm += w * w
		dot += w * qv[t.term]
	}
	if dot == 0 || norm == 0 || qnorm == 0 {
		return 0
	}
	return dot / (qnorm * math.Sqrt(norm))
}

type sharedTerm struct {
	term string
	w    float64
}

// shared lists the terms q and e have in common with their contribution to
// the score, and counts those that are names or figures in e.
func (x *Index) shared(qv map[string]float64, e *entry) ([]sharedTerm, int) {
	var out []sharedTerm
	entities := 0
	for _, t := range e.terms {
		if w, ok := qv[t.term]; ok {
			out = append(out, sharedTerm{t.term, w * t.w * x.idf(len(x.postings[t.term]))})
			if t.entity {
				entities++
			}
		}
	}
	return out, entities
}

func topTerms(s []sharedTerm, n int) []string {
	slices.SortStableFunc(s, func(a, b sharedTerm) int { return cmpDesc(a.w, b.w) })
	var out []string
	for i := 0; i < len(s) && i < n; i++ {
		out = append(out, s[i].term)
	}
	return out
}

func cmpDesc(a, b float64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

func round(f float64) float64 { return math.Round(f*1000) / 1000 }

// Add records that d belongs to story. seen is when d was ingested; it
// drives eviction of docs whose own date is unknown. Adding a doc ID that is
// already present replaces it.
func (x *Index) Add(d Doc, story string, seen time.Time) {
	x.Remove(d.ID)
	e := x.cache
	if e == nil || e.id != d.ID {
		e = &entry{id: d.ID, url: d.URL, hash: d.Hash, time: d.Time, terms: features(&d), titled: d.Title != ""}
	}
	x.cache = nil
	x.seq++
	e.seq, e.story, e.seen = x.seq, story, seen
	x.docs[e.seq] = e
	x.byID[e.id] = e.seq
	for _, t := range e.terms {
		x.postings[t.term] = append(x.postings[t.term], e.seq)
	}
	x.stories[story] = append(x.stories[story], e.seq)
	x.spans[story] = x.spans[story].with(e.time)
	if e.url != "" {
		if _, ok := x.byURL[e.url]; !ok {
			x.byURL[e.url] = story
		}
	}
	if e.hash != "" {
		if _, ok := x.byHash[e.hash]; !ok {
			x.byHash[e.hash] = story
		}
	}
}

// Remove forgets the doc with the given ID, if present.
func (x *Index) Remove(id string) {
	seq, ok := x.byID[id]
	if !ok {
		return
	}
	e := x.docs[seq]
	delete(x.docs, seq)
	delete(x.byID, id)
	for _, t := range e.terms {
		p := slices.DeleteFunc(x.postings[t.term], func(s int) bool { return s == seq })
		if len(p) == 0 {
			delete(x.postings, t.term)
		} else {
			x.postings[t.term] = p
		}
	}
	members := slices.DeleteFunc(x.stories[e.story], func(s int) bool { return s == seq })
	if len(members) == 0 {
		delete(x.stories, e.story)
		delete(x.spans, e.story)
	} else {
		x.stories[e.story] = members
		var sp span
		for _, m := range members {
			sp = sp.with(x.docs[m].time)
		}
		x.spans[e.story] = sp
	}
	if x.byURL[e.url] == e.story && !x.storyHas(e.story, func(o *entry) bool { return o.url == e.url }) {
		delete(x.byURL, e.url)
	}
	if x.byHash[e.hash] == e.story && !x.storyHas(e.story, func(o *entry) bool { return o.hash == e.hash }) {
		delete(x.byHash, e.hash)
	}
}

func (x *Index) storyHas(story string, pred func(*entry) bool) bool {
	for _, s := range x.stories[story] {
		if pred(x.docs[s]) {
			return true
		}
	}
	return false
}

// Evict removes docs dated before cutoff (docs without a date: added before
// cutoff) and returns how many it removed.
func (x *Index) Evict(cutoff time.Time) int {
	var old []string
	for _, e := range x.docs {
		t := e.time
		if t.IsZero() {
			t = e.seen
		}
		if t.Before(cutoff) {
			old = append(old, e.id)
		}
	}
	slices.Sort(old)
	for _, id := range old {
		x.Remove(id)
	}
	return len(old)
}

// Explain scores d against one story, as Match would if that story were the
// only candidate. It does not change the index.
func (x *Index) Explain(d Doc, story string) Decision {
	q := &entry{id: d.ID, time: d.Time, terms: features(&d)}
	dec := Decision{Level: LevelNew, Threshold: x.opt.Similar, Best: story}
	if len(q.terms) == 0 {
		dec.Reason = "no usable text"
		return dec
	}
	qv, qnorm := x.vector(q.terms)
	bestDoc := -1
	for _, c := range x.stories[story] {
		if s := x.cosine(qv, qnorm, x.docs[c]); s > dec.Score || bestDoc < 0 {
			dec.Score, bestDoc = s, c
		}
	}
	if bestDoc < 0 {
		dec.Reason = "story not in the window"
		return dec
	}
	shared, _ := x.shared(qv, x.docs[bestDoc])
	dec.Shared = topTerms(shared, 8)
	dec.Score = round(dec.Score)
	dec.Reason = fmt.Sprintf("best member %s scores %.3f", x.docs[bestDoc].id, dec.Score)
	return dec
}
