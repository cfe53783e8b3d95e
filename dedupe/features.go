package dedupe

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/bits"
	"slices"
	"sync"
	"time"
)

// Features are what the index keeps of one doc: its identity, the hashes
// used for exact matching, a SimHash for near-duplicates and its strongest
// weighted terms. Extract computes them from the doc alone, so a caller can
// store them (MarshalBinary) and rebuild an index at start-up without
// reading and tokenising the texts again.
type Features struct {
	ID   string
	URL  uint64    // hash of the canonical URL; 0 when none
	Hash uint64    // hash of the normalised text; 0 when none
	Time time.Time // publication time; zero when unknown
	Sim  uint64    // SimHash of the body's word shingles; 0 when the body is too short
	Long bool      // the body is long enough to be compared as full text
	// Terms are the doc's strongest terms, sorted by text.
	Terms []Term
	// Names are the hashes (hash32) of all the doc's names and figures and
	// headline words, sorted: the entity guard looks a name up in them.
	Names []uint32
}

// Term is one weighted term of a doc.
type Term struct {
	Text   string
	Lead   float32 // weight by position: the headline and the first sentences count most
	Flat   float32 // weight by frequency in the whole text
	Title  bool    // in the headline (or the URL's slug)
	Entity bool    // a name or a figure
}

// Feature extraction settings. News is written as an inverted pyramid: the
// headline and the first sentences say which event a report covers, the
// rest is background that every report on the topic shares. So a term's
// lead weight decays with its position in the text, and the headline
// counts most. Its flat weight ignores position: a rewrite that keeps most
// of the body of its source is recognised by that.
const (
	titleWeight = 3.0
	leadDecay   = 0.9672161004820059 // exp(-1/30): the lead weight falls by e every 30 content words
	tailWeight  = 0.1                // floor of the decay
	maxTerms    = 32                 // terms kept per doc
	minBody     = 50                 // content words a body needs to count as full text
	shingleSize = 3
)

// extractor is the scratch space of one Extract, kept for the next in
// extractors: a decision's text work then allocates little more than the
// features it returns.
type extractor struct {
	tz         tokenizer
	body, head []token
	accs       []acc
	rank       []ranked
	ks         []float64
	byWord     []uint64
	pk, pk2    []uint64 // topRanked: the tied words' prefixes
	dw         []docWord
	lns        [1 << lnMemoBits]lnMemo
	outlets    map[string]map[string]bool // outletWords by outlet name
}

// maxOutlets bounds the outlets an extractor remembers the words of.
const maxOutlets = 1024

// outletWords is the package-level outletWords, remembered: a feed's items
// all name the same outlet. The sets are only read once made.
func (ex *extractor) outletWords(outlet string) map[string]bool {
	if outlet == "" {
		return nil
	}
	if m, ok := ex.outlets[outlet]; ok {
		return m
	}
	if ex.outlets == nil || len(ex.outlets) >= maxOutlets {
		ex.outlets = map[string]map[string]bool{}
	}
	m := outletWords(outlet)
	ex.outlets[outlet] = m
	return m
}

// acc is what Extract gathers on one term: 24 bytes, as a long text's
// accumulators are read in the order of its words.
type acc struct {
	lead          float64
	flat          int32 // occurrences
	entity, lower int32 // capitalised mid-sentence (or a figure); lower case
	title         bool  // in the headline: its lead weight has titleWeight more
}

type ranked struct {
	k          float64 // keep's weight
	id         int32   // term ID
	lead, flat float32
	title      bool
	entity     bool
}

// extractors holds scratch space only: what one Extract leaves there never
// reaches another's result.
var extractors = sync.Pool{New: func() any { return new(extractor) }}

// Extract computes the features of d.
func Extract(d *Doc) Features {
	ex := extractors.Get().(*extractor)
	defer extractors.Put(ex)
	return ex.extract(d)
}

// extract is Extract with ex's scratch space.
func (ex *extractor) extract(d *Doc) Features {
	f := Features{ID: d.ID, URL: hash64(d.URL), Hash: hash64(d.Hash), Time: d.Time}
	if !d.Time.IsZero() {
		f.Time = d.Time.UTC()
	}
	drop := ex.outletWords(d.Outlet)
	title := cleanTitle(d.Title, drop)
	tz := &ex.tz
	tz.reset(drop)
	body := ex.body[:0]
	for line := range bodyLines(d.Text) {
		body = tz.tokens(body, line, false)
	}
	head := tz.tokens(ex.head[:0], title, true)
	ex.body, ex.head = body, head
	accs := slices.Grow(ex.accs[:0], tz.docWords()+16)[:tz.docWords()] // by term ID
	clear(accs)
	for _, tk := range head {
		a := &accs[tk.id]
		a.title = true
		a.flat++
		if tk.entity {
			a.entity++
		}
	}
	w := 1.0
	for i, tk := range body {
		// Two-word names ("Sofia Kowalski", "Solara Motors") are terms of
		// their own: first names and family names alone are shared by
		// many people.
		if tk.follows && tk.name && i > 0 && (tk.entity || body[i-1].entity) {
			tz.buf = append(append(append(tz.buf[:0], tz.word(body[i-1].id)...), '_'), tz.word(tk.id)...)
			id := int(tz.term(tz.buf))
			if id >= len(accs) {
				accs = append(accs, make([]acc, id+1-len(accs))...)
			}
			a := &accs[id]
			a.lead += max(w, tailWeight)
			a.flat++
			a.entity++
		}
		a := &accs[tk.id]
		a.lead += max(w, tailWeight)
		a.flat++
		switch {
		case tk.entity:
			a.entity++
		case !tk.start:
			a.lower++
		}
		w = float64(w * leadDecay)
	}
	ex.accs = accs
	f.Long = len(body) >= minBody
	// Weigh every term, but make the strings of the kept ones only.
	rank := ex.rank[:0]
	nNames := 0
	for id := range accs {
		a := &accs[id]
		if a.flat == 0 {
			continue // a stopword: looked up, never counted
		}
		// A word is a name when it is capitalised in the middle of a
		// sentence more often than it is written in lower case; the first
		// word of a sentence and a headline word say nothing either way.
		ent := a.entity > a.lower
		var bonus float64
		if a.title {
			bonus = titleWeight
		}
		r := ranked{id: int32(id), lead: float32(float64(ex.ln(1+a.lead) + bonus)),
			flat: float32(1 + lnCount(float64(a.flat))), title: a.title, entity: ent}
		r.k = keep(Term{Lead: r.lead, Flat: r.flat, Entity: ent})
		if ent || a.title {
			nNames++
		}
		rank = append(rank, r)
	}
	if nNames > 0 {
		f.Names = make([]uint32, 0, nNames)
	}
	for i := range rank {
		if r := &rank[i]; r.entity || r.title {
			f.Names = append(f.Names, hash32b(tz.word(r.id)))
		}
	}
	slices.Sort(f.Names)
	f.Names = slices.Compact(f.Names)
	ex.rank = rank
	// Keep the strongest terms: headline words, then by weight. Which
	// terms are kept matters, not their order: they are sorted by text.
	top := ex.topRanked(rank, maxTerms)
	order := sortByWord(tz, top, ex.byWord[:0])
	ex.byWord = order
	f.Terms = make([]Term, len(order))
	for i, k := range order {
		r := &top[k&wordIndex]
		f.Terms[i] = Term{Text: tz.text(r.id), Lead: r.lead, Flat: r.flat, Title: r.title, Entity: r.entity}
	}
	if f.Long {
		dw := ex.docWords()
		f.Sim = simhash(dw, tz.arena, body)
	}
	return f
}

// ln is the package-level ln, remembered: the lead weights of the words
// met once or twice far into a text are the same sums of tailWeight in
// every doc.
func (ex *extractor) ln(x float64) float64 {
	b := math.Float64bits(x)
	if b == 0 {
		return ln(x) // an empty entry's argument
	}
	e := &ex.lns[(b^b>>29)*0x9e3779b97f4a7c15>>(64-lnMemoBits)]
	if e.x != b {
		e.x, e.y = b, ln(x)
	}
	return e.y
}

// lnMemoBits sizes an extractor's memo of ln.
const lnMemoBits = 10

type lnMemo struct {
	x uint64 // the argument's bits; 0 when empty
	y float64
}

// nthLargest returns the n-th largest of vals (1 <= n <= len(vals)),
// reordering them: the first n become a heap whose root is the least.
func nthLargest[T cmp.Ordered](vals []T, n int) T {
	h := vals[:n]
	down := func(i int) {
		for {
			c := 2*i + 1
			if c >= n {
				return
			}
			if c+1 < n && h[c+1] < h[c] {
				c++
			}
			if h[i] <= h[c] {
				return
			}
			h[i], h[c] = h[c], h[i]
			i = c
		}
	}
	for i := n/2 - 1; i >= 0; i-- {
		down(i)
	}
	for _, v := range vals[n:] {
		if v > h[0] {
			h[0] = v
			down(0)
		}
	}
	return h[0]
}

// topRanked moves the n terms of rank that rank first to its front, in no
// particular order, and returns them: the higher weight first, then the
// word first in byte order (no two terms tie: their words differ).
func (ex *extractor) topRanked(rank []ranked, n int) []ranked {
	if len(rank) <= n {
		return rank
	}
	ex.ks = ex.ks[:0]
	for i := range rank {
		ex.ks = append(ex.ks, rank[i].k)
	}
	t := nthLargest(ex.ks, n)
	// Those over t go first, then those at t, of which the first by
	// word make up the n.
	over := 0
	for i := range rank {
		if rank[i].k > t {
			rank[over], rank[i] = rank[i], rank[over]
			over++
		}
	}
	at := over
	for i := over; i < len(rank); i++ {
		if rank[i].k == t {
			rank[at], rank[i] = rank[i], rank[at]
			at++
		}
	}
	if at > n {
		ex.firstByWord(rank[over:at], n-over)
	}
	return rank[:n]
}

// firstByWord moves the need terms of ties whose words come first in byte
// order to its front, in no particular order. It selects by the words'
// first 8 bytes, and compares whole words only among those that share
// the prefix of the last one selected: a sort of all the ties by their
// words, which a long text's many words met once or twice make hundreds,
// cost more than the rest of the ranking.
func (ex *extractor) firstByWord(ties []ranked, need int) {
	tz := &ex.tz
	ks := ex.pk[:0]
	for i := range ties {
		ks = append(ks, wordPrefix(tz.word(ties[i].id)))
	}
	// The need-th smallest prefix is the complement of the need-th
	// largest complement.
	sel := ex.pk2[:0]
	for _, k := range ks {
		sel = append(sel, ^k)
	}
	ex.pk, ex.pk2 = ks, sel
	p := ^nthLargest(sel, need)
	lo := 0
	for i := range ties {
		if ks[i] < p {
			ties[lo], ties[i] = ties[i], ties[lo]
			ks[lo], ks[i] = ks[i], ks[lo]
			lo++
		}
	}
	eq := lo
	for i := lo; i < len(ties); i++ {
		if ks[i] == p {
			ties[eq], ties[i] = ties[i], ties[eq]
			ks[eq], ks[i] = ks[i], ks[eq]
			eq++
		}
	}
	if eq > need {
		slices.SortFunc(ties[lo:eq], func(a, b ranked) int { return bytes.Compare(tz.word(a.id), tz.word(b.id)) })
	}
}

// wordPrefix is the first 8 bytes of w, big-endian, padded with zeros:
// words, which hold no zero byte, whose prefixes differ are in the order
// of their prefixes.
func wordPrefix(w []byte) uint64 {
	var p uint64
	for k := range 8 {
		p <<= 8
		if k < len(w) {
			p |= uint64(w[k])
		}
	}
	return p
}

// wordIndex masks the index in a sortByWord key.
const wordIndex = 1<<8 - 1

// sortByWord returns the indexes of rank's terms (at most 256) in byte
// order of their words, in buf. Each is sorted as a key: the first 7
// bytes of its word, big-endian, then the index; words that share those
// bytes are then ordered whole.
func sortByWord(tz *tokenizer, rank []ranked, buf []uint64) []uint64 {
	for i := range rank {
		var p uint64
		b := tz.word(rank[i].id)
		for k := range 7 {
			p <<= 8
			if k < len(b) {
				p |= uint64(b[k])
			}
		}
		buf = append(buf, p<<8|uint64(i))
	}
	slices.Sort(buf)
	for i := 1; i < len(buf); i++ {
		for j := i; j > 0 && buf[j]>>8 == buf[j-1]>>8; j-- {
			if bytes.Compare(tz.word(rank[buf[j]&wordIndex].id), tz.word(rank[buf[j-1]&wordIndex].id)) >= 0 {
				break
			}
			buf[j], buf[j-1] = buf[j-1], buf[j]
		}
	}
	return buf
}

// lnCounts holds ln(n) for the small counts most terms have.
var lnCounts = func() (t [256]float64) {
	for n := 1; n < len(t); n++ {
		t[n] = ln(float64(n))
	}
	return t
}()

// lnCount is ln(c) for a count c >= 1.
func lnCount(c float64) float64 {
	if c < float64(len(lnCounts)) && c == float64(int(c)) {
		return lnCounts[int(c)]
	}
	return ln(c)
}

// keep ranks the terms of a doc for keeping: by weight, with names and
// figures ahead of common words of the same weight, as the entity guard
// needs them.
func keep(t Term) float64 {
	k := float64(t.Lead) + 0.5*float64(t.Flat)
	if t.Entity {
		k += 2
	}
	return k
}

// simhash is the SimHash of the word shingles of a token sequence: each
// shingle votes on every bit, so texts that share most shingles get hashes
// that differ in few bits.
//
// The votes are counted bit-sliced: plane p holds bit p of the 64
// counters, and adding a shingle's hash is a ripple-carry addition of one
// bit to each counter at once, a couple of word operations on average
// instead of 64 additions.
func simhash(dw []docWord, arena []byte, body []token) uint64 {
	const _ = uint(shingleSize-3) + uint(3-shingleSize) // the loop below reads 3 words
	var planes [32]uint64
	var p0, p1, p2, p3 uint64
	n := 0
	// The hash of shingle i is FNV-1a of its words, each followed by a
	// space. Its first word's FNV-1a is in the tokenizer's table; the
	// other two are folded in as word i+1 and i+2 are read, the two
	// shingles a word belongs to at once.
	var second, third uint64 // the shingles that word j is second and third in
	for j := range body {
		w := &dw[body[j].id]
		t := arena[w.off:w.end]
		a, b := third, second
		for _, c := range t {
			a = (a ^ uint64(c)) * fnvPrime
			b = (b ^ uint64(c)) * fnvPrime
		}
		a = (a ^ ' ') * fnvPrime
		second, third = (w.hash^' ')*fnvPrime, (b^' ')*fnvPrime
		if j < 2 {
			continue
		}
		// Add the shingle's hash to the counters: the low planes in
		// registers, the carry out of them rippling through the rest.
		c := p0 & a
		p0 ^= a
		c, p1 = p1&c, p1^c
		c, p2 = p2&c, p2^c
		c, p3 = p3&c, p3^c
		for p := 4; c != 0; p++ {
			planes[p], c = planes[p]^c, planes[p]&c
		}
		n++
	}
	planes[0], planes[1], planes[2], planes[3] = p0, p1, p2, p3
	// Bit k of the hash is set when counter k is over n/2, that is over
	// half = n>>1: compared for all 64 counters at once, from the top
	// bit of the counts down.
	half := uint64(n >> 1)
	var gt uint64
	eq := ^uint64(0)
	for p := bits.Len(uint(n)) - 1; p >= 0; p-- {
		if half>>p&1 == 0 {
			gt |= eq & planes[p]
			eq &^= planes[p]
		} else {
			eq &= planes[p]
		}
	}
	s := gt
	if s == 0 {
		s = 1 // 0 means "no hash"
	}
	return s
}

// docWord is a word of the doc being extracted, as simhash reads it:
// its bytes, the tokenizer's arena[off:end], and its FNV-1a hash.
type docWord struct {
	off, end int32
	hash     uint64
}

// docWords returns the doc's words by doc ID: 16 bytes a word that stay
// in cache while simhash reads a word for each token, where the
// tokenizer's vocabulary entries are 40 bytes among thousands.
func (ex *extractor) docWords() []docWord {
	tz := &ex.tz
	dw := ex.dw[:0]
	for _, wid := range tz.doc {
		w := &tz.words[wid]
		dw = append(dw, docWord{off: w.off, end: w.end, hash: w.hash})
	}
	ex.dw = dw
	return dw
}

// FNV-1a constants, for hashing without allocating.
const (
	fnvOffset   = 14695981039346656037
	fnvPrime    = 1099511628211
	fnv32Offset = 2166136261
	fnv32Prime  = 16777619
)

func hamming(a, b uint64) int { return bits.OnesCount64(a ^ b) }

// hash32 is FNV-1a of s.
func hash32(s string) uint32 {
	h := uint32(fnv32Offset)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * fnv32Prime
	}
	return h
}

// hash32b is hash32 of the string b.
func hash32b(b []byte) uint32 {
	h := uint32(fnv32Offset)
	for _, c := range b {
		h = (h ^ uint32(c)) * fnv32Prime
	}
	return h
}

// hasName reports whether the sorted name hashes hold the hash of name.
func hasName(names []uint32, name string) bool {
	_, ok := slices.BinarySearch(names, hash32(name))
	return ok
}

// hash64 is FNV-1a of s, 0 for "".
func hash64(s string) uint64 {
	if s == "" {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(s))
	if v := h.Sum64(); v != 0 {
		return v
	}
	return 1
}

// featuresV1 marks the binary encoding of Features.
const featuresV1 = 1

// ErrFeatures is returned by UnmarshalBinary for data it cannot read.
var ErrFeatures = errors.New("dedupe: bad features encoding")

// MarshalBinary encodes f compactly; UnmarshalBinary reads it back.
func (f *Features) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 48+len(f.ID)+len(f.Terms)*16)
	b = append(b, featuresV1)
	var flags byte
	if f.Long {
		flags |= 1
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(len(f.ID)))
	b = append(b, f.ID...)
	b = binary.LittleEndian.AppendUint64(b, f.URL)
	b = binary.LittleEndian.AppendUint64(b, f.Hash)
	b = binary.LittleEndian.AppendUint64(b, f.Sim)
	var t int64
	if !f.Time.IsZero() {
		t = f.Time.UnixNano()
	}
	b = binary.AppendVarint(b, t)
	b = binary.AppendUvarint(b, uint64(len(f.Terms)))
	for _, tm := range f.Terms {
		b = binary.AppendUvarint(b, uint64(len(tm.Text)))
		b = append(b, tm.Text...)
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(tm.Lead))
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(tm.Flat))
		var tf byte
		if tm.Title {
			tf |= 1
		}
		if tm.Entity {
			tf |= 2
		}
		b = append(b, tf)
	}
	b = binary.AppendUvarint(b, uint64(len(f.Names)))
	for _, h := range f.Names {
		b = binary.LittleEndian.AppendUint32(b, h)
	}
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary encoded. It copies what it
// keeps, so b may be reused afterwards.
func (f *Features) UnmarshalBinary(b []byte) error {
	r := reader{b: b}
	if v := r.byte(); v != featuresV1 {
		return fmt.Errorf("%w: version %d", ErrFeatures, v)
	}
	flags := r.byte()
	*f = Features{Long: flags&1 != 0}
	f.ID = r.str()
	f.URL, f.Hash, f.Sim = r.u64(), r.u64(), r.u64()
	if t := r.varint(); t != 0 {
		f.Time = time.Unix(0, t).UTC()
	}
	n := r.uvarint()
	if n > uint64(len(b)) {
		return fmt.Errorf("%w: %d terms in %d bytes", ErrFeatures, n, len(b))
	}
	f.Terms = make([]Term, 0, n)
	for range n {
		var tm Term
		tm.Text = r.str()
		tm.Lead = math.Float32frombits(r.u32())
		tm.Flat = math.Float32frombits(r.u32())
		tf := r.byte()
		tm.Title, tm.Entity = tf&1 != 0, tf&2 != 0
		f.Terms = append(f.Terms, tm)
	}
	if n = r.uvarint(); n > uint64(len(b)) {
		return fmt.Errorf("%w: %d names in %d bytes", ErrFeatures, n, len(b))
	}
	f.Names = make([]uint32, 0, n)
	for range n {
		f.Names = append(f.Names, r.u32())
	}
	if r.err || len(r.b) != 0 {
		return fmt.Errorf("%w: truncated or trailing bytes", ErrFeatures)
	}
	return nil
}

type reader struct {
	b   []byte
	err bool
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.err = true
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u64() uint64 {
	if len(r.b) < 8 {
		r.err = true
		r.b = nil
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) u32() uint32 {
	if len(r.b) < 4 {
		r.err = true
		r.b = nil
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = true
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = true
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = true
		r.b = nil
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
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
