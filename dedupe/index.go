package dedupe

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"
)

// Index holds the docs of the time window and the stories they belong to.
// It is not safe for concurrent use: one writer owns it.
//
// Memory per doc is bounded: at most maxTerms terms with two float32
// weights (8 bytes a term when they fit, see doc), one posting per term, a
// SimHash and its band links.
type Index struct {
	opt     Options
	seq     int32
	docs    []doc            // docs[seq-base]; zero once removed
	tags    []uint32         // tags[seq-base]: tagDocLong | the doc's story number<<1 | tagLong
	base    int32            // sequence number of docs[0]; base+len(docs) == seq+1
	ndocs   int              // live docs
	byID    map[uint64]int32 // idHash(doc ID) -> sequence number
	byIDx   map[string]int32 // doc ID -> sequence number, for IDs whose hash byID has for another ID
	vocab   map[string]int32 // term -> term ID
	terms   []termInfo       // by term ID
	stats   []termStats      // by term ID
	free    []int32          // term IDs to reuse
	stories map[string]*story
	sts     []*story         // by story number; nil when free
	sfree   []int32          // story numbers to reuse
	byURL   map[uint64]int32 // canonical URL hash -> a doc with it
	byHash  map[uint64]int32 // text hash -> a doc with it
	bands   *[nBands][1 << bandBits]int32

	low   int32 // no live doc has a smaller sequence number
	short int   // docs without a full text

	// scratch space of one query; empty between queries
	qw   [maxQueryTerms + 1]qweight // the query's weights, by termStats.q
	qids []int32                    // the query's term IDs in qw
	qn   int                        // terms put in qw, counting repeats
	acc  accMap                     // candidate weights by sequence number
	hpos []int32                    // headline: story number -> 1 + index in its accumulators
	kbuf []uint32                   // AddFeatures: the keys of a doc's terms
	// The last query's terms and their IDs (-1: not in the index), valid
	// while no term has left the vocabulary since (freed == lastFreed):
	// a doc is added right after it was matched, and AddFeatures then
	// finds its terms' IDs without looking its texts up again.
	lastTexts []string
	lastIDs   []int32
	freed     uint64 // terms removed from the vocabulary so far
	lastFreed uint64

	sc scratch

	touched uint32 // what touch read, kept so that its loads are not dropped
}

// tagLong marks, in a doc's tag, that its story has a member with full
// text. Scanning postings, headline reads the tags, 4 bytes a doc in one
// array, rather than each doc and story: a scan of hundreds of postings
// would otherwise miss the cache twice a posting.
const tagLong = 1

// tagDocLong marks a doc with a full text, in bit 31 of its tag: similar
// skips short candidates without loading them.
const tagDocLong = 1 << 31

type termInfo struct {
	text string
	post []int32 // the sequence numbers of the docs with the term, ascending
}

// termStats is what scoring reads of a term, apart from its text and
// postings: in an array of its own, 16 bytes a term, as scoring a
// candidate reads it for each of the candidate's terms.
type termStats struct {
	df   int32   // docs containing the term
	idfC uint16  // idfCode of the idfN idf was computed for; noIDF after df changed
	q    uint8   // the term's slot in the query's weights (Index.qw); 0 when not a query term
	_    uint8   //
	idf  float64 // cached
}

// idfCode encodes an idfN, which has at most six significant bits, in 16
// bits: its leading bits and their shift.
func idfCode(n int32) uint16 {
	s := max(0, bits.Len32(uint32(n))-6)
	return uint16(s<<6 | int(n>>s))
}

// noIDF is no idfCode: no idfN has a shift of 1023.
const noIDF = math.MaxUint16

// doc is a doc of the window, held by value in Index.docs. Its terms and
// names share one allocation, data:
//
//	data[:n]        term keys: term ID | termTitle | termEntity, and in a
//	                narrow doc the index of the term's flat weight
//	data[n:2n]      lead weights (float32 bits)
//	data[2n:2n+nf]  flat weights (float32 bits): a narrow doc's distinct
//	                ones, else one a term (nf == n)
//	data[2n+nf:]    names (Features.Names)
//
// A doc is narrow when its term IDs fit in narrowIDBits and it has at most
// 1<<flatBits distinct flat weights, as Extract's docs always do (a flat
// weight is a function of a count) while the vocabulary is under 16M
// terms: a term then takes 8 bytes, not 12, and the weights are kept
// exactly.
//
// What scoring reads of a doc, data to flags, comes first: a doc is 104
// bytes, and those 32 fit in one cache line more often than not.
type doc struct {
	data  []uint32
	seq   int32
	n     uint16 // terms
	nf    uint8  // distinct flat weights of a narrow doc
	flags uint8  // docLive | docLong | docNarrow
	id    string
	url   uint64
	hash  uint64
	sim   uint64
	time  int64 // unix nanos; noTime when unknown
	seen  int64 // when it was added, for eviction of undated docs
	next  [nBands]int32
}

const (
	docLive   = 1
	docLong   = 2 // has a full text
	docNarrow = 4

	narrowIDBits = 24
	flatBits     = 6
	flatMask     = (1<<flatBits - 1) << narrowIDBits
	maxDocTerms  = math.MaxUint16 // terms kept of features not made by Extract
)

func (e *doc) live() bool { return e.flags&docLive != 0 }
func (e *doc) long() bool { return e.flags&docLong != 0 }

// term is e's i-th term.
func (e *doc) term(i int) dterm {
	n := int(e.n)
	key := e.data[i]
	f := 2*n + i
	if e.flags&docNarrow != 0 {
		f = 2*n + int(key&flatMask>>narrowIDBits)
		key &^= flatMask
	}
	return dterm{key: key, lead: math.Float32frombits(e.data[n+i]), flat: math.Float32frombits(e.data[f])}
}

// names are Features.Names of e.
func (e *doc) names() []uint32 {
	nf := int(e.n)
	if e.flags&docNarrow != 0 {
		nf = int(e.nf)
	}
	return e.data[2*int(e.n)+nf:]
}

// dterm is a doc's term: its ID with two flags, and its weights.
type dterm struct {
	key  uint32 // term ID | termTitle | termEntity
	lead float32
	flat float32
}

const (
	termTitle  = 1 << 31
	termEntity = 1 << 30
	termIDMask = termEntity - 1 // term IDs stay below 2^30
)

func (t dterm) tid() int32     { return int32(t.key & termIDMask) }
func (t dterm) isTitle() bool  { return t.key&termTitle != 0 }
func (t dterm) isEntity() bool { return t.key&termEntity != 0 }

type story struct {
	id      string
	num     int32   // index in Index.sts
	seq     int32   // sequence number of its first doc in the index: a stable order
	members []int32 // ascending
	long    int     // members with full text
	first   int64   // span of the dated members; noTime when none
	last    int64
}

const (
	noTime = math.MinInt64

	// SimHash banding: 4 bands of 16 bits. Two hashes within 3 bits of each
	// other agree on at least one band, and most within 6 bits do.
	nBands   = 4
	bandBits = 16

	// Candidate search. The query's strongest terms are looked up, and in
	// each posting list only the most recent docs: the cost of a decision
	// does not grow with the window.
	queryTerms      = 8
	postingsTail    = 128
	maxCands        = 32
	selectiveBonus  = 1 << 20        // marks the weight of sharing a term whose whole posting list is read
	selectiveCands  = 4              // candidates found through such terms, kept besides maxCands
	headlineTail    = 512            // posting-list tail read for a headline-only item, which has few words
	backgroundN     = 8              // pseudo-candidates the background score starts from...
	backgroundPrior = 0.05           // ...with this score each
	recencyScale    = 24 * time.Hour // a story quiet this long needs twice the headline evidence
	keyEntities     = 8              // main names compared by the entity guard
	entityOverlap   = 0.6            // share of its main names' weight each side must find in the other
)

// New returns an empty index.
func New(opt Options) *Index {
	return &Index{
		opt:     opt.withDefaults(),
		base:    1,
		low:     1,
		byID:    map[uint64]int32{},
		byIDx:   map[string]int32{},
		vocab:   map[string]int32{},
		stories: map[string]*story{},
		byURL:   map[uint64]int32{},
		byHash:  map[uint64]int32{},
	}
}

// Options returns the options in force, defaults filled in.
func (x *Index) Options() Options { return x.opt }

// Len is the number of docs in the index.
func (x *Index) Len() int { return x.ndocs }

// doc is the doc with sequence number s.
func (x *Index) doc(s int32) *doc { return &x.docs[s-x.base] }

// storyOf is the story of the live doc with sequence number s.
func (x *Index) storyOf(s int32) *story { return x.sts[x.tags[s-x.base]&^tagDocLong>>1] }

// idHash is FNV-1a of a doc ID, for byID.
var idHash = func(id string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h = (h ^ uint64(id[i])) * 1099511628211
	}
	return h
}

// seqOf is the sequence number of the doc with the given ID.
func (x *Index) seqOf(id string) (int32, bool) {
	if s, ok := x.byID[idHash(id)]; ok && x.doc(s).id == id {
		return s, true
	}
	s, ok := x.byIDx[id]
	return s, ok
}

// Stories is the number of stories with at least one doc in the index.
func (x *Index) Stories() int { return len(x.stories) }

// idf is the inverse document frequency of a term found in df docs of the
// index, counting the doc being scored as one more.
func (x *Index) idf(df int32) float64 {
	return ln(1 + float64(x.idfN()+1)/float64(df+1))
}

// idfN is the number of docs idf counts: the window's, rounded down to its
// six leading bits. Every doc added or removed changes the true count, and
// would make every cached idf stale; rounded, it changes once in a while,
// by under 2% (an idf moves by less than 0.02 nats).
func (x *Index) idfN() int32 {
	n := int32(x.ndocs)
	if b := bits.Len32(uint32(n)); b > 6 {
		n &^= 1<<(b-6) - 1
	}
	return n
}

// termIDF is idf for a term of the index, cached until idfN or the term's
// frequency changes.
func (x *Index) termIDF(id int32) float64 {
	n := x.idfN()
	return x.termIDFn(id, n, idfCode(n))
}

// termIDFn is termIDF for n == x.idfN() and c == idfCode(n), which a loop
// computes once.
func (x *Index) termIDFn(id, n int32, c uint16) float64 {
	t := &x.stats[id]
	if t.idfC != c {
		t.idfC, t.idf = c, x.idf(t.df)
	}
	return t.idf
}

// Match decides which story d belongs to. It does not change the index;
// call Add to record the decision once it is stored.
func (x *Index) Match(d Doc) Decision {
	f := Extract(&d)
	return x.MatchFeatures(&f)
}

// MatchFeatures is Match for features already extracted.
func (x *Index) MatchFeatures(f *Features) Decision {
	return x.decide(f, "")
}

// Explain scores d against one story, as Match would if that story were
// the only candidate, and reports the score even below the threshold. It
// does not change the index.
func (x *Index) Explain(d Doc, story string) Decision {
	f := Extract(&d)
	if _, ok := x.stories[story]; !ok {
		return Decision{Level: LevelNew, Best: story, Reason: "story not in the window"}
	}
	return x.decide(&f, story)
}

// query is a doc being decided, with its weights under the current idf.
type query struct {
	f      *Features
	terms  []qterm // as f.Terms
	normL  float64
	normF  float64
	time   int64
	byLead []int  // indexes into terms, strongest lead weight first
	n      int32  // idfN
	code   uint16 // idfCode(n)
}

type qterm struct {
	id         int32 // -1 when the term is not in the index
	idf        float64
	lead, flat float64 // weights times idf
}

// candidate is the best evidence found for one story.
type candidate struct {
	st        *story
	ratio     float64 // score / threshold: >= 1 joins
	score     float64
	raw       float64 // cosine before the background is taken off
	threshold float64
	level     Level
	measure   string
	member    *doc
	shared    []string
	blocked   string  // why a match was refused, if it was
	note      string  // more on how the score came about, for the reason
	counts    []int32 // headline: per query term, the story's docs with it
}

func (x *Index) decide(f *Features, only string) Decision {
	if only == "" {
		if st, by, ok := x.exact(f); ok {
			return Decision{Story: st.id, Level: LevelExact, Score: 1, Threshold: 1, Measure: by, Best: st.id,
				Reason: "same " + by + " as an item of the story"}
		}
	}
	q := x.newQuery(f)
	defer x.clearQuery()
	if len(q.terms) == 0 {
		return Decision{Level: LevelNew, Threshold: x.opt.Similar, Reason: "no usable text"}
	}
	cands := x.sc.cands[:0]
	if x.sc.byStory == nil {
		x.sc.byStory = map[*story]*candidate{}
	}
	byStory := x.sc.byStory
	defer func() {
		clear(byStory)
		clear(cands)
		x.sc.cands = cands[:0]
	}()
	consider := func(c *candidate) {
		if only != "" && c.st.id != only {
			return
		}
		old := byStory[c.st]
		if old == nil {
			byStory[c.st] = c
			cands = append(cands, c)
			return
		}
		if better(c, old) {
			*old = *c
		}
	}
	if near := x.near(q); near != nil {
		consider(near)
	}
	if f.Long {
		for _, c := range x.similar(q) {
			consider(c)
		}
	}
	if !f.Long || x.short > 0 {
		for _, c := range x.headline(q, only) {
			consider(c)
		}
	}
	// Stories out of the time window cannot be joined.
	cands = slices.DeleteFunc(cands, func(c *candidate) bool { return !x.inWindow(q.time, c.st) })
	slices.SortFunc(cands, func(a, b *candidate) int {
		switch {
		case better(a, b):
			return -1
		case better(b, a):
			return 1
		}
		return int(a.st.seq - b.st.seq)
	})
	dec := Decision{Level: LevelNew, Threshold: x.opt.Similar}
	if len(cands) == 0 {
		dec.Reason = "no candidate story shares enough terms"
		return dec
	}
	best := cands[0]
	if best.measure == "headline" {
		x.explainHeadline(q, best)
	}
	dec.Best, dec.Score, dec.Threshold, dec.Measure = best.st.id, round(best.score), best.threshold, best.measure
	dec.Shared = best.shared
	if best.member != nil && best.shared == nil {
		dec.Shared = x.sharedTerms(q, best.member)
	}
	if best.member != nil {
		dec.Member = best.member.id
	}
	switch {
	case best.blocked != "":
		dec.Reason = fmt.Sprintf("best story %s: %s", best.st.id, best.blocked)
	case best.ratio < 1:
		dec.Reason = fmt.Sprintf("best story %s: %s score %.3f below %.3f", best.st.id, best.measure, best.score, best.threshold)
	default:
		dec.Story, dec.Level = best.st.id, best.level
		switch {
		case best.member != nil:
			dec.Reason = fmt.Sprintf("%s score %.3f >= %.3f against item %s", best.measure, best.score, best.threshold, best.member.id)
		default:
			dec.Reason = fmt.Sprintf("%s evidence %.3f >= %.3f from the story's items", best.measure, best.score, best.threshold)
		}
		for _, c := range cands[1:] {
			if c.blocked == "" && c.ratio >= 1 && len(dec.Related) < 3 {
				dec.Related = append(dec.Related, c.st.id)
			}
		}
		if len(dec.Related) > 0 {
			dec.Reason += fmt.Sprintf("; also matches %s", strings.Join(dec.Related, ", "))
		}
	}
	if best.note != "" {
		dec.Reason += " (" + best.note + ")"
	}
	return dec
}

// better orders candidates: unblocked before blocked, passing before
// failing, a near-duplicate before a rewrite, then by score/threshold.
func better(a, b *candidate) bool {
	if (a.blocked == "") != (b.blocked == "") {
		return a.blocked == ""
	}
	if (a.ratio >= 1) != (b.ratio >= 1) {
		return a.ratio >= 1
	}
	if a.ratio >= 1 && a.level != b.level {
		return a.level == LevelNear
	}
	return a.ratio > b.ratio
}

func (x *Index) exact(f *Features) (*story, string, bool) {
	if f.URL != 0 {
		if s, ok := x.byURL[f.URL]; ok {
			return x.storyOf(s), "url", true
		}
	}
	if f.Hash != 0 {
		if s, ok := x.byHash[f.Hash]; ok {
			return x.storyOf(s), "text", true
		}
	}
	return nil, "", false
}

func (x *Index) newQuery(f *Features) *query {
	q := &x.sc.q
	*q = query{f: f, terms: slices.Grow(q.terms[:0], len(f.Terms))[:len(f.Terms)],
		byLead: slices.Grow(q.byLead[:0], len(f.Terms))[:len(f.Terms)], time: unixOr(f.Time)}
	q.n = x.idfN()
	q.code = idfCode(q.n)
	x.lastTexts, x.lastIDs, x.lastFreed = x.lastTexts[:0], x.lastIDs[:0], x.freed
	for i, t := range f.Terms {
		id, ok := x.vocab[t.Text]
		if ok {
			x.lastTexts, x.lastIDs = append(x.lastTexts, t.Text), append(x.lastIDs, id)
		}
		var idf float64
		if ok {
			idf = x.termIDFn(id, q.n, q.code)
		} else {
			id, idf = -1, x.idf(0)
		}
		qt := qterm{id: id, idf: idf, lead: float64(float64(t.Lead) * idf), flat: float64(float64(t.Flat) * idf)}
		q.terms[i] = qt
		q.normL = float64(q.normL + float64(qt.lead*qt.lead))
		q.normF = float64(q.normF + float64(qt.flat*qt.flat))
		if id >= 0 {
			x.putQuery(id, qt.lead, qt.flat)
		}
		q.byLead[i] = i
	}
	q.normL, q.normF = math.Sqrt(q.normL), math.Sqrt(q.normF)
	// By lead weight, strongest first, in term order on ties: an insertion
	// sort, as there are at most a few dozen.
	for i := 1; i < len(q.byLead); i++ {
		for j := i; j > 0 && q.terms[q.byLead[j]].lead > q.terms[q.byLead[j-1]].lead; j-- {
			q.byLead[j], q.byLead[j-1] = q.byLead[j-1], q.byLead[j]
		}
	}
	return q
}

// scratch is the memory of one decision, kept for the next: a decision
// allocates little more than the Decision it returns.
type scratch struct {
	q       query
	look    []int
	hs, sel []hit
	slab    []candidate
	out     []*candidate
	cands   []*candidate
	byStory map[*story]*candidate
}

// The query's weights: Index.qw[1:] by termStats.q, for the candidates'
// terms to be looked up in the array their idf is read from anyway.
// qw[0] is zero: the weight of a term the query does not have, added
// without a branch. At most maxQueryTerms terms are put: more than Extract
// keeps means features not made by Extract.
type qweight struct {
	lead, flat float64
	has        int // 1 when lead != 0: the term counts as shared
}

const maxQueryTerms = maxTerms

func (x *Index) putQuery(id int32, lead, flat float64) {
	if x.qn == maxQueryTerms {
		return
	}
	x.qn++
	st := &x.stats[id]
	if st.q == 0 {
		x.qids = append(x.qids, id)
		st.q = uint8(len(x.qids))
	}
	w := qweight{lead: lead, flat: flat, has: 1}
	if lead == 0 {
		w = qweight{}
	}
	x.qw[st.q] = w
}

// queryWeights returns the weights of term id in the query, 0 when the
// query does not have it.
func (x *Index) queryWeights(id int32) (lead, flat float64) {
	w := &x.qw[x.stats[id].q]
	return w.lead, w.flat
}

func (x *Index) clearQuery() {
	for _, id := range x.qids {
		x.stats[id].q = 0
	}
	x.qids, x.qn = x.qids[:0], 0
}

// near finds a near-duplicate of a full text through the SimHash bands.
func (x *Index) near(q *query) *candidate {
	if q.f.Sim == 0 || x.bands == nil {
		return nil
	}
	maxBits := int((1 - x.opt.Near) * 64)
	var best *doc
	bestBits := 65
	for b := range nBands {
		v := uint16(q.f.Sim >> (b * bandBits))
		for s := x.bands[b][v]; s != 0; s = x.doc(s).next[b] {
			e := x.doc(s)
			h := hamming(q.f.Sim, e.sim)
			if h <= maxBits && (h < bestBits || h == bestBits && e.seq < best.seq) {
				best, bestBits = e, h
			}
		}
	}
	if best == nil {
		return nil
	}
	score := 1 - float64(bestBits)/64
	c := &candidate{st: x.storyOf(best.seq), score: score, threshold: x.opt.Near, ratio: score / x.opt.Near,
		level: LevelNear, measure: "simhash", member: best}
	if why := x.disagree(q, best); why != "" {
		c.blocked = why
	}
	return c
}

// similar compares a full text with the full texts of its candidate docs.
func (x *Index) similar(q *query) []*candidate {
	// Sum the query's term weights per candidate doc.
	acc := &x.acc
	// Look up the query's strongest terms, selective ones first: a term
	// whose whole posting list fits in the tail finds every doc that has
	// it, whatever order the docs came in (a cold start ingests feed by
	// feed, not in publication order); a common term's tail only finds
	// the most recent docs.
	look := x.sc.look[:0]
	defer func() { x.sc.look = look[:0] }()
	for pass := range 2 {
		for _, i := range q.byLead {
			if t := q.terms[i]; t.id >= 0 && (x.stats[t.id].df <= postingsTail) == (pass == 0) {
				look = append(look, i)
			}
		}
	}
	look = look[:min(len(look), queryTerms)]
	// The tails of the posting lists, as touch does for the candidates.
	var seen int32
	for _, i := range look {
		post := x.terms[q.terms[i].id].post
		for j := max(0, len(post)-postingsTail); j < len(post); j += 16 {
			seen += post[j]
		}
	}
	x.touched += uint32(seen)
	for _, i := range look {
		t := q.terms[i]
		post := x.terms[t.id].post
		w := t.lead
		if len(post) <= postingsTail {
			// A doc sharing a selective term stays a candidate even when
			// docs sharing only common headline words weigh more.
			w = float64(w + selectiveBonus)
		}
		for _, s := range post[max(0, len(post)-postingsTail):] {
			acc.add(s, w)
		}
	}
	// Keep the maxCands strongest by the weight of common terms, and the
	// selectiveCands strongest of the docs that share a selective term
	// (ties: the older doc), each in a min-heap.
	hs, sel := x.sc.hs[:0], x.sc.sel[:0]
	defer func() { x.sc.hs, x.sc.sel = hs[:0], sel[:0] }()
	push := func(hs []hit, h hit, n int) []hit {
		switch {
		case len(hs) < n:
			hs = append(hs, h)
			siftUp(hs, len(hs)-1)
		case weaker(hs[0], h):
			hs[0] = h
			siftDown(hs, 0)
		}
		return hs
	}
	for _, i := range acc.used {
		s, w := acc.slots[i].seq, acc.slots[i].w
		acc.slots[i] = accSlot{}
		// Most docs are weaker than the weakest kept: test that in line.
		if w >= selectiveBonus {
			if h := (hit{s, w}); len(sel) < selectiveCands || weaker(sel[0], h) {
				sel = push(sel, h, selectiveCands)
			}
			w = unselective(w)
		}
		if h := (hit{s, w}); len(hs) < maxCands || weaker(hs[0], h) {
			hs = push(hs, h, maxCands)
		}
	}
	acc.used = acc.used[:0]
	for _, h := range sel {
		if !slices.ContainsFunc(hs, func(o hit) bool { return o.seq == h.seq }) {
			hs = append(hs, hit{h.seq, unselective(h.w)})
		}
	}
	slices.SortFunc(hs, func(a, b hit) int {
		if weaker(a, b) {
			return 1
		}
		return -1
	})
	x.touch(hs)
	slab := slices.Grow(x.sc.slab[:0], len(hs))[:len(hs)]
	clear(slab)
	x.sc.slab = slab
	out := x.sc.out[:0] // what it held points into slab: overwritten
	for _, h := range hs {
		if x.tags[h.seq-x.base]&tagDocLong == 0 {
			continue
		}
		e := x.doc(h.seq)
		lead, body, shared := x.cosines(q, e)
		if shared < 2 {
			continue
		}
		score := (lead + body) / 2
		c := &slab[len(out)]
		*c = candidate{st: x.storyOf(h.seq), level: LevelSimilar, member: e, score: score, measure: "cosine"}
		out = append(out, c)
	}
	x.sc.out = out
	// A report shares some words with every report on its topic; with
	// many such candidates, the best of them can score well by chance. So
	// a candidate is judged by how far it stands out from the rest: its
	// score minus the mean score of the candidates of other stories, and
	// at least minus backgroundPrior: with few candidates (a small index,
	// whose idf says little about which words are common) the bar is not
	// lower.
	var sum float64
	for _, c := range out {
		sum = float64(sum + c.score)
	}
	for _, c := range out {
		var own float64
		var n int
		for _, o := range out {
			if o.st == c.st {
				own = float64(own + o.score)
				n++
			}
		}
		bg := max(backgroundPrior, (sum-own)/float64(max(backgroundN, len(out)-n)))
		c.raw, c.score = c.score, c.score-bg
		c.threshold, c.ratio = x.opt.Similar, c.score/x.opt.Similar
		if c.ratio >= 1 {
			c.blocked = x.disagree(q, c.member)
		}
	}
	return out
}

// accMap sums weights per doc for one query: a small open-addressing
// table by sequence number, which stays in cache whatever the size of the
// window. It holds at most queryTerms*postingsTail docs, half its slots.
type accMap struct {
	slots []accSlot
	used  []int32 // occupied slots, in the order they were filled
}

// accSlot is a doc's summed weight: key and value in one cache line.
type accSlot struct {
	seq int32 // 0 when the slot is empty
	w   float64
}

const accBits = 11

// The table never fills beyond half.
const _ = uint(1<<accBits - 2*queryTerms*postingsTail)

func (m *accMap) add(seq int32, w float64) {
	if m.slots == nil {
		m.slots = make([]accSlot, 1<<accBits)
	}
	i := uint32(seq) * 0x9E3779B1 >> (32 - accBits) // Fibonacci hashing
	for {
		switch sl := &m.slots[i]; sl.seq {
		case seq:
			sl.w += w
			return
		case 0:
			*sl = accSlot{seq, w}
			m.used = append(m.used, int32(i))
			return
		}
		i = (i + 1) & (1<<accBits - 1)
	}
}

// unselective takes the selectiveBonus marks off a summed weight: it is
// math.Mod(w, selectiveBonus) for w >= 0, exactly (the bonus is a power of
// two, so the division and the product are exact, and the subtraction of a
// number at least half of w is exact), without math.Mod's slow loop.
func unselective(w float64) float64 {
	return w - selectiveBonus*math.Floor(w/selectiveBonus)
}

// hit is a candidate doc and the summed weight of the query terms it has.
type hit struct {
	seq int32
	w   float64
}

// weaker orders hits: lower weight first, and on equal weight the newer
// doc first, so the older one is kept.
func weaker(a, b hit) bool { return a.w < b.w || a.w == b.w && a.seq > b.seq }

func siftUp(h []hit, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !weaker(h[i], h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func siftDown(h []hit, i int) {
	for {
		l, m := 2*i+1, i
		if l < len(h) && weaker(h[l], h[m]) {
			m = l
		}
		if r := l + 1; r < len(h) && weaker(h[r], h[m]) {
			m = r
		}
		if m == i {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// touch reads the candidates' docs and stories, then their terms and the terms'
// statistics, in passes of loads that do not depend on one another. With a
// large window most of them miss the cache; so their misses overlap,
// rather than each candidate's waiting for the previous one's to be
// scored.
func (x *Index) touch(hs []hit) {
	var sum uint32
	for _, h := range hs {
		if x.tags[h.seq-x.base]&tagDocLong != 0 { // the others are not scored
			sum += uint32(x.doc(h.seq).n) + uint32(x.storyOf(h.seq).long)
		}
	}
	for _, h := range hs {
		if x.tags[h.seq-x.base]&tagDocLong == 0 {
			continue
		}
		e := x.doc(h.seq)
		// A line of 64 bytes at a time; not the names, which only a doc
		// that passes needs.
		d := e.data[:len(e.data)-len(e.names())]
		for j := 0; j < len(d); j += 16 {
			sum += d[j]
		}
	}
	for _, h := range hs {
		if x.tags[h.seq-x.base]&tagDocLong == 0 {
			continue
		}
		e := x.doc(h.seq)
		for _, k := range e.data[:e.n] {
			id := k & termIDMask
			if e.flags&docNarrow != 0 {
				id = k &^ flatMask & termIDMask
			}
			sum += uint32(x.stats[id].df)
		}
	}
	x.touched = sum
}

// cosines returns the cosines of q and e under lead and flat weights, and
// how many terms they share. Sums run in e's term order: fixed.
func (x *Index) cosines(q *query, e *doc) (lead, body float64, shared int) {
	var dotL, dotF, nL, nF float64
	for i := range int(e.n) {
		t := e.term(i)
		st := &x.stats[t.tid()]
		idf := st.idf
		if st.idfC != q.code {
			idf = x.termIDFn(t.tid(), q.n, q.code)
		}
		wl, wf := float64(float64(t.lead)*idf), float64(float64(t.flat)*idf)
		nL = float64(nL + float64(wl*wl))
		nF = float64(nF + float64(wf*wf))
		// A term the query does not have adds 0*w, +0 or -0, which leaves
		// the sum as it is: no branch to mispredict.
		w := &x.qw[st.q]
		dotL = float64(dotL + float64(w.lead*wl))
		dotF = float64(dotF + float64(w.flat*wf))
		shared += w.has
	}
	if nL > 0 && q.normL > 0 {
		lead = dotL / (q.normL * math.Sqrt(nL))
	}
	if nF > 0 && q.normF > 0 {
		body = dotF / (q.normF * math.Sqrt(nF))
	}
	return lead, body, shared
}

// headline scores an item with little text (or a full text against
// stories of such items) by how strongly each story owns the item's words:
// for each word, the share of the story's items that have it (square
// root, so that a broad story's keywords still count) times the word's
// rarity outside the story. A word found in many stories says little; one
// found only in this story's items says much.
func (x *Index) headline(q *query, only string) []*candidate {
	// Count per story and query term the docs in the tails of the terms'
	// posting lists. The counts of the story found k-th are
	// counts[k*nt:(k+1)*nt].
	type acc struct {
		st     *story
		counts []int32 // per query term
	}
	nt := len(q.terms)
	var order []acc
	var counts []int32
	if len(x.hpos) < len(x.sts) {
		x.hpos = make([]int32, len(x.sts)+len(x.sts)/4)
	}
	pos := x.hpos
	skip := uint32(0)
	if q.f.Long {
		skip = tagLong // full texts are compared as such
	}
	for i, t := range q.terms {
		if t.id < 0 || (q.f.Long && !q.f.Terms[i].Title) {
			continue
		}
		post := x.terms[t.id].post
		for _, s := range post[max(0, len(post)-headlineTail):] {
			tag := x.tags[s-x.base]
			if tag&skip != 0 {
				continue
			}
			n := tag &^ tagDocLong >> 1
			k := pos[n]
			if k == 0 {
				st := x.sts[n]
				if only != "" && st.id != only {
					continue
				}
				order = append(order, acc{st: st})
				counts = append(counts, make([]int32, nt)...)
				k = int32(len(order))
				pos[n] = k
			}
			counts[int(k-1)*nt+i]++
		}
	}
	for k := range order {
		pos[order[k].st.num] = 0
		order[k].counts = counts[k*nt : (k+1)*nt]
	}
	slices.SortFunc(order, func(a, b acc) int { return int(a.st.seq - b.st.seq) })
	n := x.idfN()
	var out []*candidate
	for _, a := range order {
		var ev float64
		shared := 0
		for i, k := range a.counts {
			if k == 0 {
				continue
			}
			ev = float64(ev + x.headlineWeight(q, i, k, a.st, n))
			shared++
		}
		if shared < 1 {
			continue
		}
		raw := ev
		r, _ := recency(q.time, a.st)
		ev = float64(ev * r)
		out = append(out, &candidate{st: a.st, level: LevelSimilar, measure: "headline", score: ev, raw: raw,
			threshold: x.opt.Headline, ratio: ev / x.opt.Headline, counts: a.counts})
	}
	return out
}

// headlineWeight is the evidence query term i, found in k of the story's
// docs, gives for the story.
func (x *Index) headlineWeight(q *query, i int, k int32, st *story, n int32) float64 {
	t := q.terms[i]
	wq := min(1, float64(q.f.Terms[i].Lead)/titleWeight)
	share := math.Sqrt(float64(k) / float64(len(st.members)))
	outside := x.stats[t.id].df - k
	return float64(float64(wq*share) * ln(1+float64(n+1)/float64(outside+1)))
}

// explainHeadline fills in what only the decision's best candidate needs
// of headline evidence: the strongest shared terms, and a note when the
// story's quiet weighed the evidence down.
func (x *Index) explainHeadline(q *query, c *candidate) {
	type contrib struct {
		term string
		w    float64
	}
	var cs []contrib
	n := x.idfN()
	for i, k := range c.counts {
		if k > 0 {
			cs = append(cs, contrib{q.f.Terms[i].Text, x.headlineWeight(q, i, k, c.st, n)})
		}
	}
	if r, gap := recency(q.time, c.st); r < 1 {
		c.note = fmt.Sprintf("%.3f weighed by %.2f: the story has been quiet for %s", c.raw, r, gap.Round(time.Minute))
	}
	slices.SortStableFunc(cs, func(a, b contrib) int { return cmpDesc(a.w, b.w) })
	for _, s := range cs[:min(len(cs), 8)] {
		c.shared = append(c.shared, s.term)
	}
}

// disagree is the guard against same-template, different-event merges:
// two reports that share wording but whose main names or figures differ
// (two companies' results, two people's speeches, two days' death tolls)
// are about different events. Each side's most frequent names and figures
// are looked up in the other; when either side finds too little of its
// own, the merge is refused.
func (x *Index) disagree(q *query, e *doc) string {
	qk := x.keyEntitiesQ(q)
	ek := x.keyEntitiesD(e)
	if len(qk) == 0 || len(ek) == 0 {
		return ""
	}
	var qIn, qAll, eIn, eAll float64
	var qMiss, eMiss []string
	for _, k := range qk {
		qAll = float64(qAll + k.w)
		if hasName(e.names(), k.text) {
			qIn = float64(qIn + k.w)
		} else {
			qMiss = append(qMiss, k.text)
		}
	}
	for _, k := range ek {
		eAll = float64(eAll + k.w)
		if hasName(q.f.Names, k.text) {
			eIn = float64(eIn + k.w)
		} else {
			eMiss = append(eMiss, k.text)
		}
	}
	ov := min(qIn/qAll, eIn/eAll)
	if ov >= entityOverlap {
		return ""
	}
	return fmt.Sprintf("main names disagree (only %.0f%% shared; %s here, %s there)", 100*ov,
		strings.Join(qMiss[:min(3, len(qMiss))], " "), strings.Join(eMiss[:min(3, len(eMiss))], " "))
}

// keyEntity is one of a doc's main names or figures.
type keyEntity struct {
	id   int32
	text string
	w    float64
}

func (x *Index) keyEntitiesQ(q *query) []keyEntity {
	var ks []keyEntity
	for i, t := range q.f.Terms {
		if w := keyWeight(t.Text, t.Entity, t.Title, float64(t.Flat)); w > 0 {
			ks = append(ks, keyEntity{q.terms[i].id, t.Text, float64(w * q.terms[i].idf)})
		}
	}
	return topKeys(ks)
}

func (x *Index) keyEntitiesD(e *doc) []keyEntity {
	var ks []keyEntity
	for i := range int(e.n) {
		t := e.term(i)
		text := x.terms[t.tid()].text
		if w := keyWeight(text, t.isEntity(), t.isTitle(), float64(t.flat)); w > 0 {
			ks = append(ks, keyEntity{t.tid(), text, float64(w * x.termIDF(t.tid()))})
		}
	}
	return topKeys(ks)
}

// keyWeight is how much a term counts among a doc's main names and
// figures: a name in the headline or named at least twice (a name
// mentioned once in passing is not what the report is about); figures
// count half, and years not at all, as reports of one event cite different
// incidental numbers.
func keyWeight(text string, entity, title bool, flat float64) float64 {
	if !entity || (!title && flat < 1.6) {
		return 0
	}
	if c := text[0]; c >= '0' && c <= '9' {
		if len(text) == 4 && (strings.HasPrefix(text, "19") || strings.HasPrefix(text, "20")) {
			return 0
		}
		return flat / 1
	}
	return flat
}

func topKeys(ks []keyEntity) []keyEntity {
	slices.SortStableFunc(ks, func(a, b keyEntity) int { return cmpDesc(a.w, b.w) })
	return ks[:min(len(ks), keyEntities)]
}

// sharedTerms lists the terms q and e share, strongest contribution first.
func (x *Index) sharedTerms(q *query, e *doc) []string {
	type st struct {
		term string
		w    float64
	}
	var s []st
	for i := range int(e.n) {
		t := e.term(i)
		ql, qf := x.queryWeights(t.tid())
		if ql == 0 {
			continue
		}
		w := float64(ql*float64(t.lead)) + float64(qf*float64(t.flat))
		s = append(s, st{x.terms[t.tid()].text, w})
	}
	slices.SortStableFunc(s, func(a, b st) int { return cmpDesc(a.w, b.w) })
	var out []string
	for i := 0; i < len(s) && i < 8; i++ {
		out = append(out, s[i].term)
	}
	return out
}

// inWindow reports whether a doc dated t may join st: it must lie within
// the window of the span of the story's dated members. An undated doc, or a
// story of undated docs only, has no time constraint. Judging the story,
// not the single member that scored best, keeps an undated member from
// bridging a story to an event months away.
func (x *Index) inWindow(t int64, st *story) bool {
	if t == noTime || st.first == noTime {
		return true
	}
	w := int64(x.opt.Window)
	return t >= st.first-w && t <= st.last+w
}

// recency weighs headline evidence by how long the story has been quiet:
// 1 while the doc falls within the span of the story's dated members,
// then 1/(1 + gap/recencyScale). Coverage of one event comes in a burst;
// a headline that shares words with a story that went quiet a day ago is
// as likely to be the next development, or another event on the same
// topic, as a report of the same one, so it needs stronger evidence. An
// undated doc or story is not weighed.
func recency(t int64, st *story) (float64, time.Duration) {
	if t == noTime || st.first == noTime {
		return 1, 0
	}
	var gap int64
	switch {
	case t > st.last:
		gap = t - st.last
	case t < st.first:
		gap = st.first - t
	default:
		return 1, 0
	}
	return 1 / (1 + float64(gap)/float64(recencyScale)), time.Duration(gap)
}

func unixOr(t time.Time) int64 {
	if t.IsZero() {
		return noTime
	}
	return t.UnixNano()
}

func round(f float64) float64 { return math.Round(f*1000) / 1000 }

// Add records that d belongs to story. seen is when d was ingested; it
// drives eviction of docs whose own date is unknown. Adding a doc ID that is
// already present replaces it.
func (x *Index) Add(d Doc, storyID string, seen time.Time) {
	f := Extract(&d)
	x.AddFeatures(&f, storyID, seen)
}

// AddFeatures is Add for features already extracted (or read back from
// storage).
func (x *Index) AddFeatures(f *Features, storyID string, seen time.Time) {
	x.Remove(f.ID)
	x.seq++
	if x.ndocs == 0 {
		x.low = x.seq
	}
	terms := f.Terms[:min(len(f.Terms), maxDocTerms)]
	n := len(terms)
	// The keys, the flat weights a narrow doc would have and the index of
	// each term's among them.
	keys := x.kbuf[:0]
	var flats [1 << flatBits]uint32
	nf, narrow := 0, true
	last, lastIDs := x.lastTexts, x.lastIDs
	if x.lastFreed != x.freed {
		last = nil
	}
	for _, t := range terms {
		// The last query's terms come in the same order: a term found in
		// it is next in last. Strings compare by pointer first: the same
		// features cost no byte comparison.
		var id int32
		ok := false
		if len(last) > 0 && last[0] == t.Text {
			id, ok = lastIDs[0], true
			last, lastIDs = last[1:], lastIDs[1:]
		} else {
			id, ok = x.vocab[t.Text]
		}
		if !ok {
			if n := len(x.free); n > 0 {
				id = x.free[n-1]
				x.free = x.free[:n-1]
				x.terms[id] = termInfo{text: t.Text}
			} else {
				id = int32(len(x.terms))
				x.terms = append(x.terms, termInfo{text: t.Text})
				x.stats = append(x.stats, termStats{idfC: noIDF})
			}
			x.vocab[t.Text] = id
		}
		ti := &x.terms[id]
		ti.post = appendPosting(ti.post, x.seq)
		x.stats[id].df++
		x.stats[id].idfC = noIDF
		key := uint32(id)
		if t.Title {
			key |= termTitle
		}
		if t.Entity {
			key |= termEntity
		}
		keys = append(keys, key)
		if !narrow {
			continue
		}
		fb := math.Float32bits(t.Flat)
		j := slices.Index(flats[:nf], fb)
		switch {
		case id >= 1<<narrowIDBits:
			narrow = false
		case j >= 0:
		case nf < len(flats):
			flats[nf] = fb
			j = nf
			nf++
		default:
			narrow = false
		}
		if narrow {
			keys[len(keys)-1] |= uint32(j) << narrowIDBits // taken off if the doc turns out wide
		}
	}
	x.kbuf = keys
	e := doc{seq: x.seq, id: f.ID, url: f.URL, hash: f.Hash, sim: f.Sim, time: unixOr(f.Time),
		seen: unixOr(seen), n: uint16(n), flags: docLive}
	if f.Long {
		e.flags |= docLong
	}
	if narrow {
		e.flags |= docNarrow
		e.nf = uint8(nf)
	} else {
		nf = n
	}
	if size := 2*n + nf + len(f.Names); size > 0 {
		e.data = make([]uint32, size)
	}
	for i, k := range keys {
		if !narrow {
			k &^= flatMask
			e.data[2*n+i] = math.Float32bits(terms[i].Flat)
		}
		e.data[i] = k
		e.data[n+i] = math.Float32bits(terms[i].Lead)
	}
	if narrow {
		copy(e.data[2*n:], flats[:nf])
	}
	copy(e.data[2*n+nf:], f.Names)
	st := x.stories[storyID]
	if st == nil {
		st = &story{id: storyID, seq: e.seq, first: noTime, last: noTime}
		if n := len(x.sfree); n > 0 {
			st.num = x.sfree[n-1]
			x.sfree = x.sfree[:n-1]
			x.sts[st.num] = st
		} else {
			st.num = int32(len(x.sts))
			x.sts = append(x.sts, st)
		}
		x.stories[storyID] = st
	}
	st.members = append(st.members, e.seq)
	tag := uint32(st.num) << 1
	if e.long() {
		tag |= tagDocLong
		st.long++
		x.tagStory(st)
	} else {
		x.short++
	}
	if st.long > 0 {
		tag |= tagLong
	}
	st.widen(e.time)
	x.ndocs++
	if h := idHash(e.id); x.byID[h] == 0 {
		x.byID[h] = e.seq
	} else {
		x.byIDx[e.id] = e.seq // another doc's ID has the same hash
	}
	if e.url != 0 {
		if _, ok := x.byURL[e.url]; !ok {
			x.byURL[e.url] = e.seq
		}
	}
	if e.hash != 0 {
		if _, ok := x.byHash[e.hash]; !ok {
			x.byHash[e.hash] = e.seq
		}
	}
	if e.sim != 0 {
		if x.bands == nil {
			x.bands = new([nBands][1 << bandBits]int32)
		}
		for b := range nBands {
			v := uint16(e.sim >> (b * bandBits))
			e.next[b] = x.bands[b][v]
			x.bands[b][v] = e.seq
		}
	}
	x.docs = append(x.docs, e)
	x.tags = append(x.tags, tag)
}

// appendPosting appends s to a posting list, growing it by an eighth, not
// by append's quarter to double: posting lists are most of the index.
func appendPosting(post []int32, s int32) []int32 {
	if len(post) == cap(post) {
		post = append(make([]int32, 0, len(post)+len(post)/8+2), post...)
	}
	return append(post, s)
}

// tagStory sets or clears tagLong on the members of st as it gains its
// first or loses its last full text.
func (x *Index) tagStory(st *story) {
	if st.long > 1 {
		return
	}
	for _, m := range st.members {
		if i := int(m - x.base); i < len(x.tags) { // the doc being added has no tag yet
			x.tags[i] = x.tags[i]&^tagLong | uint32(st.long)
		}
	}
}

func (st *story) widen(t int64) {
	if t == noTime {
		return
	}
	if st.first == noTime || t < st.first {
		st.first = t
	}
	if st.last == noTime || t > st.last {
		st.last = t
	}
}

// Remove forgets the doc with the given ID, if present.
func (x *Index) Remove(id string) {
	seq, ok := x.seqOf(id)
	if !ok {
		return
	}
	e := *x.doc(seq) // its slot is cleared, and may move, below
	st := x.storyOf(seq)
	for i := range int(e.n) {
		tid := e.term(i).tid()
		ti := &x.terms[tid]
		ts := &x.stats[tid]
		ts.df--
		ts.idfC = noIDF
		if i, found := slices.BinarySearch(ti.post, seq); found {
			ti.post = slices.Delete(ti.post, i, i+1)
		}
		if ts.df == 0 {
			delete(x.vocab, ti.text)
			x.freed++
			x.terms[tid] = termInfo{}
			x.free = append(x.free, tid)
		}
	}
	if e.sim != 0 {
		for b := range nBands {
			v := uint16(e.sim >> (b * bandBits))
			if x.bands[b][v] == seq {
				x.bands[b][v] = e.next[b]
				continue
			}
			for s := x.bands[b][v]; s != 0; s = x.doc(s).next[b] {
				if p := x.doc(s); p.next[b] == seq {
					p.next[b] = e.next[b]
					break
				}
			}
		}
	}
	*x.doc(seq) = doc{}
	x.ndocs--
	x.unlinkID(id, seq)
	for x.low < x.seq && !x.doc(x.low).live() {
		x.low++
	}
	if x.ndocs == 0 {
		x.low = x.seq + 1
	}
	if k := int(x.low - x.base); k > 1024 && 2*k > len(x.docs) {
		// Most of the slice is removed docs: drop them.
		n := copy(x.docs, x.docs[k:])
		clear(x.docs[n:])
		x.docs = x.docs[:n]
		x.tags = x.tags[:copy(x.tags, x.tags[k:])]
		x.base = x.low
	}
	st.members = slices.DeleteFunc(st.members, func(s int32) bool { return s == seq })
	if e.long() {
		st.long--
		if st.long == 0 {
			x.tagStory(st)
		}
	} else {
		x.short--
	}
	if len(st.members) == 0 {
		delete(x.stories, st.id)
		x.sts[st.num] = nil
		x.sfree = append(x.sfree, st.num)
	} else {
		st.first, st.last = noTime, noTime
		for _, m := range st.members {
			st.widen(x.doc(m).time)
		}
	}
	x.unlinkExact(x.byURL, e.url, seq, st, func(o *doc) uint64 { return o.url })
	x.unlinkExact(x.byHash, e.hash, seq, st, func(o *doc) uint64 { return o.hash })
}

// unlinkID takes the doc with the given ID and sequence number out of
// byID, or byIDx.
func (x *Index) unlinkID(id string, seq int32) {
	h := idHash(id)
	if x.byID[h] != seq {
		delete(x.byIDx, id)
		return
	}
	delete(x.byID, h)
	// An ID with the same hash, kept aside, takes its place. Which one does
	// not matter: lookups check the ID.
	for o, s := range x.byIDx {
		if idHash(o) == h {
			x.byID[h] = s
			delete(x.byIDx, o)
			return
		}
	}
}

// unlinkExact keeps an exact-match map pointing at a doc that is still in
// the index: another member of the story with the same key, if any.
func (x *Index) unlinkExact(m map[uint64]int32, key uint64, seq int32, st *story, get func(*doc) uint64) {
	if key == 0 || m[key] != seq {
		return
	}
	delete(m, key)
	for _, s := range st.members {
		if get(x.doc(s)) == key {
			m[key] = s
			return
		}
	}
}

// Evict removes docs both dated and added before cutoff (docs without a
// date: added before cutoff) and returns how many it removed.
func (x *Index) Evict(cutoff time.Time) int {
	c := cutoff.UnixNano()
	var old []int32
	for i := range x.docs[x.low-x.base:] {
		e := &x.docs[int(x.low-x.base)+i]
		// A doc stays while its date or its ingestion is in the window:
		// an article dated long ago but ingested today must still be
		// there for the reports that arrive in the next polls. Matching
		// itself is constrained by dates (inWindow), not by this.
		if e.live() && max(e.time, e.seen) < c {
			old = append(old, e.seq)
		}
	}
	for _, s := range old {
		x.Remove(x.doc(s).id)
	}
	return len(old)
}
