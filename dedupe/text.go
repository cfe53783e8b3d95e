package dedupe

import (
	"iter"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// token is one normalised word of a text.
type token struct {
	id     int32 // the term's ID in its tokenizer's doc
	entity bool  // a capitalised name in running text, or a number
	start  bool  // capitalised, but first word of a sentence: may or may not be a name
	name   bool  // capitalised word
	// follows is true when the token is a capitalised word right after
	// another kept capitalised word, with only spaces between: the second
	// word of a name such as "Jerome Powell".
	follows bool
}

// tokens splits s into normalised tokens, dropping stopwords and the words
// in drop (the outlet's own name). A word counts as an entity (a name,
// place, organisation or figure) when it is capitalised and not merely the
// first word of a sentence, or is a number.
func tokens(s string, isTitle bool, drop map[string]bool) []termToken {
	var tz tokenizer
	tz.reset(drop)
	toks := tz.tokens(nil, s, isTitle)
	out := make([]termToken, len(toks))
	for i, tk := range toks {
		out[i] = termToken{string(tz.word(tk.id)), tk}
	}
	return out
}

// termToken is a token with its term.
type termToken struct {
	term string // folded, stemmed form used for matching
	token
}

// tokenizer is the scratch space of tokenising: a buffer in which words
// are normalised, and two tables that make a word met before cost one
// lookup and no allocation:
//   - the vocabulary, the normalised words met so far with what is known
//     of them, their bytes back to back in one arena;
//   - the spellings met so far (the words as written in the text, when
//     they have no joiner inside), each with its normalised word, so that
//     a spelling met again is not normalised again.
//
// Both outlive a doc, so the words every text uses are normalised and
// looked up once per tokenizer, not once per doc, until the tables reach
// their bounds and start again. A doc numbers its words from 0 in the
// order it meets them: the IDs that tokens and term return are these doc
// IDs. The zero value is ready for reset.
type tokenizer struct {
	drop  map[string]bool // words that do not count: the outlet's name
	buf   []byte
	arena []byte
	words []word // the vocabulary, by word ID
	// table is open addressing by hash: word ID + 1 in the low 32 bits,
	// 0 when empty, and the high 32 bits of the word's hash in the high
	// ones, so that a probe past another word rarely reads its entry.
	table []uint64
	// spelt is the spellings, open addressing by hash, each in its slot:
	// a word met again costs one slot, whose flags say whether it is a
	// stopword, and the bytes to compare. rawArena holds their bytes.
	rawArena []byte
	spelt    []spelling
	nspelt   int
	// gen numbers the docs; doc maps this doc's IDs to word IDs; wdoc,
	// by word ID, is the word's doc ID if it was met in doc gen.
	gen  uint32
	doc  []int32
	wdoc []wordDoc
	// dropIDs are the word IDs of the doc's outlet's words.
	dropIDs []int32
}

// wordDoc is a word's doc ID in doc gen, kept apart from the vocabulary
// entry: each token of a doc reads it.
type wordDoc struct {
	gen uint32
	id  int32
}

// word is one distinct normalised word.
type word struct {
	off, end int32  // arena[off:end]
	hash     uint64 // FNV-1a of the bytes
	text     string // the bytes as a string, once a doc keeps the word as a term
	// dropGen == the tokenizer's gen when it is a word of the doc's
	// outlet.
	dropGen uint32
	kind    uint8 // wordStop, wordGeneric
}

// spelling is a word as written, with what tokens needs of it.
type spelling struct {
	hash     uint64 // FNV-1a of the bytes
	off, end int32  // rawArena[off:end]; end is 0 in an empty slot
	word     int32  // word ID of the normalised form; -1 when it is too short to count
	// What tokens needs to know of the word as written: its first
	// letter is a capital or a digit; it is all capitals; and of its
	// word: its kind.
	capital, numeric, acronym bool
	kind                      uint8
}

const (
	wordStop    = 1 << iota // a stopword: dropped
	wordGeneric             // a common capitalised word, never an entity
)

// The bounds of a tokenizer's tables: past them it starts again at the
// next doc: 8k words hold most of what news text uses, in about 1 MB.
const (
	maxWords     = 1 << 13
	maxArena     = 1 << 17
	maxSpellings = 1 << 13
)

// reset starts a doc whose outlet's words are drop.
func (tz *tokenizer) reset(drop map[string]bool) {
	tz.drop = drop
	tz.gen++
	if tz.gen == 0 || len(tz.words) > maxWords || len(tz.arena) > maxArena ||
		tz.nspelt > maxSpellings || len(tz.rawArena) > maxArena {
		tz.arena, tz.words, tz.wdoc, tz.rawArena = tz.arena[:0], tz.words[:0], tz.wdoc[:0], tz.rawArena[:0]
		clear(tz.table)
		clear(tz.spelt)
		tz.nspelt = 0
		tz.gen = 1
	}
	tz.doc = tz.doc[:0]
	tz.dropIDs = tz.dropIDs[:0]
	for w := range drop {
		id := tz.intern([]byte(w))
		tz.words[id].dropGen = tz.gen
		tz.dropIDs = append(tz.dropIDs, id)
	}
}

// docWords is the number of words the doc has met.
func (tz *tokenizer) docWords() int { return len(tz.doc) }

// entry returns the vocabulary entry of the doc's word id.
func (tz *tokenizer) entry(id int32) *word { return &tz.words[tz.doc[id]] }

// word returns the bytes of the doc's word id.
func (tz *tokenizer) word(id int32) []byte {
	w := &tz.words[tz.doc[id]]
	return tz.arena[w.off:w.end]
}

// text returns the doc's word id as a string. A word kept as a term by
// many docs is made a string once: the docs' features share it.
func (tz *tokenizer) text(id int32) string {
	w := &tz.words[tz.doc[id]]
	if w.text == "" {
		w.text = string(tz.arena[w.off:w.end])
	}
	return w.text
}

// dropped reports whether the doc's word id does not count: a stopword
// or a word of the outlet's name.
func (tz *tokenizer) dropped(id int32) bool {
	w := &tz.words[tz.doc[id]]
	return w.kind&wordStop != 0 || w.dropGen == tz.gen
}

// term returns the doc ID of the word spelt b, adding it to the tables.
func (tz *tokenizer) term(b []byte) int32 { return tz.docID(tz.intern(b)) }

// docID returns the doc ID of the vocabulary's word wid, numbering it if
// the doc has not met it yet.
func (tz *tokenizer) docID(wid int32) int32 {
	w := &tz.wdoc[wid]
	if w.gen != tz.gen {
		w.gen, w.id = tz.gen, int32(len(tz.doc))
		tz.doc = append(tz.doc, wid)
	}
	return w.id
}

// intern returns the word ID of b in the vocabulary, adding it.
func (tz *tokenizer) intern(b []byte) int32 {
	h := uint64(fnvOffset)
	for _, c := range b {
		h = (h ^ uint64(c)) * fnvPrime
	}
	if 2*(len(tz.words)+1) > len(tz.table) {
		tz.table = tz.regrow()
	}
	mask := uint64(len(tz.table) - 1)
	i := h & mask
	tag := h &^ (1<<32 - 1)
	for e := tz.table[i]; e != 0; e = tz.table[i] {
		if e&^(1<<32-1) == tag {
			id := int32(uint32(e)) - 1
			if w := &tz.words[id]; w.hash == h && string(tz.arena[w.off:w.end]) == string(b) {
				return id
			}
		}
		i = (i + 1) & mask
	}
	id := int32(len(tz.words))
	off := int32(len(tz.arena))
	tz.arena = append(tz.arena, b...)
	tz.words = append(tz.words, word{off: off, end: int32(len(tz.arena)), hash: h, kind: wordKinds.kind(h, b)})
	tz.wdoc = append(tz.wdoc, wordDoc{})
	tz.table[i] = tag | uint64(id+1)
	return id
}

// spelling returns the spelling s, whose FNV-1a hash is h, adding it.
func (tz *tokenizer) spelling(s string, h uint64) *spelling {
	mask := uint64(len(tz.spelt) - 1)
	i := h & mask
	if len(tz.spelt) > 0 {
		for {
			sp := &tz.spelt[i]
			if sp.end == 0 {
				break
			}
			if sp.hash == h && string(tz.rawArena[sp.off:sp.end]) == s {
				return sp
			}
			i = (i + 1) & mask
		}
	}
	if 2*(tz.nspelt+1) > len(tz.spelt) {
		old := tz.spelt
		tz.spelt = make([]spelling, max(256, 2*len(old)))
		mask = uint64(len(tz.spelt) - 1)
		for k := range old {
			if sp := &old[k]; sp.end != 0 {
				j := sp.hash & mask
				for tz.spelt[j].end != 0 {
					j = (j + 1) & mask
				}
				tz.spelt[j] = *sp
			}
		}
		for i = h & mask; tz.spelt[i].end != 0; i = (i + 1) & mask {
		}
	}
	first, _ := utf8.DecodeRuneInString(s)
	capital, numeric := unicode.IsUpper(first), unicode.IsDigit(first)
	b := normaliseTo(tz.buf[:0], s, capital)
	tz.buf = b
	wid := int32(-1)
	var kind uint8
	if len(b) >= 2 || len(b) == 1 && numeric {
		wid = tz.intern(b)
		kind = tz.words[wid].kind
	}
	off := int32(len(tz.rawArena))
	tz.rawArena = append(tz.rawArena, s...)
	tz.nspelt++
	sp := &tz.spelt[i]
	*sp = spelling{off: off, end: int32(len(tz.rawArena)), hash: h, word: wid,
		capital: capital, numeric: numeric, acronym: isAcronym(s), kind: kind}
	return sp
}

// regrow returns tz.table at twice the size (at least 256), holding the
// vocabulary's words.
func (tz *tokenizer) regrow() []uint64 {
	size := max(256, 2*len(tz.table))
	table := make([]uint64, size)
	mask := uint64(size - 1)
	for id := range tz.words {
		h := tz.words[id].hash
		i := h & mask
		for table[i] != 0 {
			i = (i + 1) & mask
		}
		table[i] = h&^(1<<32-1) | uint64(id+1)
	}
	return table
}

// tokens is the package-level tokens, with tz's scratch space: it appends
// the tokens of s to out.
func (tz *tokenizer) tokens(out []token, s string, isTitle bool) []token {
	out = slices.Grow(out, len(s)/5+1)
	sentenceStart := true
	prev := ' '          // the rune before the current one
	joined := false      // only spaces since the previous word
	prevCapital := false // the previous word was capitalised and kept
	i := 0
	for i < len(s) {
		c := s[i]
		if c == ' ' {
			prev = ' '
			i++
			continue
		}
		r, size := rune(c), 1
		var isWord bool
		if c < utf8.RuneSelf {
			isWord = wordByte[c]
		} else {
			r, size = utf8.DecodeRuneInString(s[i:])
			isWord = isWordRune(r)
		}
		if !isWord {
			switch {
			case r == '.' || r == '!' || r == '?' || r == ':' || r == '\n' || r == '“':
				sentenceStart = true
			case r == '"' && (unicode.IsSpace(prev) || i == 0):
				sentenceStart = true // an opening quote
			}
			joined = false
			prev = r
			i += size
			continue
		}
		// The word: ASCII letters and digits at first, hashed as they
		// are read; other letters and joiners are rarer.
		j := i
		h := uint64(fnvOffset)
		for j < len(s) && wordByte[s[j]] {
			h = (h ^ uint64(s[j])) * fnvPrime
			j++
		}
		plain := true // no joiner inside the word: it is one part
		if j < len(s) && (s[j] >= utf8.RuneSelf || isJoiner(rune(s[j]))) {
			j, h, plain = scanWord(s, j, h)
		}
		word := s[i:j]
		i = j
		prev = 'a'
		start := sentenceStart
		sentenceStart = false
		wasJoined, wasCapital := joined, prevCapital
		joined, prevCapital = true, false
		if plain {
			// The common case: one part, most likely met before as spelt.
			sp := tz.spelling(word, h)
			if sp.word < 0 || sp.kind&wordStop != 0 || len(tz.dropIDs) > 0 && slices.Contains(tz.dropIDs, sp.word) {
				continue
			}
			capital, numeric := sp.capital, sp.numeric
			follows := wasJoined && wasCapital && capital && !numeric
			out = append(out, tz.token(tz.docID(sp.word), sp.kind, capital, numeric, start, isTitle, sp.acronym, follows))
			prevCapital = capital && !numeric
			continue
		}
		first, _ := utf8.DecodeRuneInString(word)
		capital := unicode.IsUpper(first)
		numeric := unicode.IsDigit(first)
		follows := wasJoined && wasCapital && capital && !numeric
		var one [1]string
		parts := one[:]
		if numeric {
			one[0] = strings.TrimRight(strings.ReplaceAll(word, ",", ""), ".")
		} else {
			parts = splitJoined(word)
		}
		for _, part := range parts {
			b := normaliseTo(tz.buf[:0], part, capital)
			tz.buf = b
			if len(b) < 2 && (len(b) == 0 || !numeric) {
				follows = false
				continue
			}
			id := tz.term(b)
			if tz.dropped(id) {
				follows = false
				continue
			}
			out = append(out, tz.token(id, tz.entry(id).kind, capital, numeric, start, isTitle, isAcronym(part), follows))
			follows, prevCapital = capital && !numeric, capital && !numeric
		}
	}
	return out
}

// scanWord reads on from s[j], inside a word whose bytes before j hash
// to h: letters and digits, and joiners between them. It returns the
// word's end, its hash, and whether it had no joiner.
func scanWord(s string, j int, h uint64) (end int, hash uint64, plain bool) {
	plain = true
	for j < len(s) {
		r, size := rune(s[j]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[j:])
		}
		if !isWordRune(r) {
			if !(isJoiner(r) && j+size < len(s) && nextIsWord(s[j+size:])) {
				break
			}
			plain = false
		}
		for k := j; k < j+size; k++ {
			h = (h ^ uint64(s[k])) * fnvPrime
		}
		j += size
	}
	return j, h, plain
}

// token is the token of the doc's word id, of the given kind, as tokens
// met it.
func (tz *tokenizer) token(id int32, kind uint8, capital, numeric, start, isTitle, acronym, follows bool) token {
	// In a headline most words are capitalised, so only words that stay
	// capitalised mid-sentence in body text (or all-caps acronyms) count
	// as names there.
	ent := numeric || capital && !start && !isTitle || acronym
	if kind&wordGeneric != 0 {
		ent = false
	}
	return token{id: id, entity: ent, start: capital && start && !ent, name: capital && !numeric, follows: follows}
}

// wordByte marks the ASCII letters and digits.
var wordByte = func() (t [256]bool) {
	for c := range utf8.RuneSelf {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
	}
	return t
}()

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return wordByte[r]
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// isJoiner reports runes that join parts of one word: apostrophes, hyphens,
// and the separators inside numbers such as 19.3 or 1,000.
func isJoiner(r rune) bool {
	return r == '\'' || r == '’' || r == '-' || r == '.' || r == ','
}

func nextIsWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return isWordRune(r)
}

// splitJoined splits a hyphenated word into its parts and strips a
// possessive, keeping numbers such as 19.3 whole.
func splitJoined(w string) []string {
	if r, _ := utf8.DecodeRuneInString(w); unicode.IsDigit(r) {
		return []string{strings.TrimRight(strings.ReplaceAll(w, ",", ""), ".")}
	}
	if !strings.ContainsAny(w, "-'’.,") {
		return []string{w}
	}
	w = strings.TrimSuffix(strings.TrimSuffix(w, "'s"), "’s")
	w = strings.Map(func(r rune) rune {
		if r == '.' || r == ',' {
			return '-'
		}
		return r
	}, w)
	return strings.FieldsFunc(w, func(r rune) bool { return r == '-' || r == '\'' || r == '’' })
}

func isAcronym(w string) bool {
	n := 0
	for _, r := range w {
		if !unicode.IsUpper(r) {
			return false
		}
		n++
	}
	return n >= 2
}

// normalise folds case and accents and applies light stemming, so plurals
// and common transliteration variants of names meet: "Zelenskiy" and
// "Zelensky" both give "zelensky", "talks" gives "talk".
//
// Capitalised words lose only a plural or transliteration ending: a name
// such as "Kaling" or "Mining" is not a verb form.
func normalise(w string, capital bool) string {
	return string(normaliseTo(nil, w, capital))
}

// normaliseTo appends the normalised form of w to b.
func normaliseTo(b []byte, w string, capital bool) []byte {
	if isASCII(w) {
		for i := 0; i < len(w); i++ {
			c := w[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
		}
	} else {
		// Lower-casing may turn a rune into ASCII (the Kelvin sign), so
		// the accents are folded only if some remain.
		lw := strings.ToLower(w)
		if !isASCII(lw) {
			lw = foldAccents(lw)
		}
		b = append(b, lw...)
	}
	if len(b) == 0 {
		return b
	}
	if r, _ := utf8.DecodeRune(b); unicode.IsDigit(r) {
		return b
	}
	if capital {
		return stemNameTo(b)
	}
	return stemTo(b)
}

// stemNameTo is stemTo restricted to the endings a name can vary by.
func stemNameTo(w []byte) []byte {
	n := len(w)
	switch {
	case n > 4 && (hasSuffix(w, "iy") || hasSuffix(w, "yi") || hasSuffix(w, "ii")):
		return append(w[:n-2], 'y')
	case n > 4 && hasSuffix(w, "ies"):
		return append(w[:n-3], 'y')
	case n > 3 && hasSuffix(w, "s") && !hasSuffix(w, "ss") && !hasSuffix(w, "us") && !hasSuffix(w, "is"):
		return w[:n-1]
	}
	return w
}

func hasSuffix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[len(b)-len(s):]) == s
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func foldAccents(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// stem is a light English stemmer: plurals, a few verb endings, and the
// -iy/-yi/-ii endings of transliterated names. It is deliberately
// conservative: merging two different words costs precision.
func stem(w string) string { return string(stemTo([]byte(w))) }

// stemTo stems w in place.
func stemTo(w []byte) []byte {
	n := len(w)
	switch {
	case n > 4 && (hasSuffix(w, "iy") || hasSuffix(w, "yi") || hasSuffix(w, "ii")):
		return append(w[:n-2], 'y')
	case n > 4 && hasSuffix(w, "ies"):
		return append(w[:n-3], 'y')
	case n > 4 && (hasSuffix(w, "sses") || hasSuffix(w, "shes") || hasSuffix(w, "ches") || hasSuffix(w, "xes")):
		return w[:n-2]
	case n > 3 && hasSuffix(w, "s") && !hasSuffix(w, "ss") && !hasSuffix(w, "us") && !hasSuffix(w, "is"):
		return w[:n-1]
	case n > 5 && hasSuffix(w, "ing"):
		return undouble(w[:n-3])
	case n > 4 && hasSuffix(w, "ied"):
		return append(w[:n-3], 'y')
	case n > 4 && hasSuffix(w, "ed") && !hasSuffix(w, "eed"):
		return undouble(w[:n-2])
	}
	return w
}

// undouble turns "stopp" (from "stopped") into "stop".
func undouble(w []byte) []byte {
	n := len(w)
	if n >= 3 && w[n-1] == w[n-2] && strings.IndexByte("aeiouls", w[n-1]) < 0 {
		return w[:n-1]
	}
	return w
}

// outletWords are the normalised words of an outlet's name: they say who
// published a text, not what it is about.
func outletWords(outlet string) map[string]bool {
	if outlet == "" {
		return nil
	}
	m := map[string]bool{}
	for _, t := range tokens(outlet, true, nil) {
		if !strings.ContainsFunc(t.term, unicode.IsDigit) {
			m[t.term] = true
		}
	}
	return m
}

// cleanTitle removes a trailing " - Outlet" or " | Outlet" credit from a
// headline: when it names the outlet, or is a short run of capitalised
// words after a headline long enough to stand alone.
func cleanTitle(title string, outlet map[string]bool) string {
	if !hasCreditSep(title) {
		return title
	}
	for _, sep := range []string{" - ", " | ", " — ", " – "} {
		i := strings.LastIndex(title, sep)
		if i <= 0 {
			continue
		}
		head, tail := strings.TrimSpace(title[:i]), strings.TrimSpace(title[i+len(sep):])
		words := strings.Fields(tail)
		if len(words) == 0 || len(strings.Fields(head)) < 4 {
			continue
		}
		named := len(outlet) > 0
		for _, t := range tokens(tail, true, nil) {
			if !outlet[t.term] {
				named = false
			}
		}
		credit := len(words) <= 3
		for _, w := range words {
			if r, _ := utf8.DecodeRuneInString(w); !unicode.IsUpper(r) && !unicode.IsDigit(r) {
				credit = false
			}
		}
		if named || credit {
			return head
		}
	}
	return title
}

// hasCreditSep reports whether title holds one of the separators
// cleanTitle looks for: " - ", " | ", " — " or " – ".
func hasCreditSep(title string) bool {
	for i := 0; i+2 < len(title); i++ {
		if title[i] != ' ' {
			continue
		}
		switch t := title[i+1:]; t[0] {
		case '-', '|':
			if t[1] == ' ' {
				return true
			}
		case 0xe2: // the first byte of — and –
			if strings.HasPrefix(t, "— ") || strings.HasPrefix(t, "– ") {
				return true
			}
		}
	}
	return false
}

// boilerplate are lines that are page furniture, not article text. A line
// that is one of them (case folded, punctuation trimmed) is dropped; a
// line in endMarkers ends the article.
var (
	boilerplate = setOf(`share tweet email print comment comments advertisement advertising subscribe newsletter
		follow`)
	endMarkers = []string{"similar articles", "related articles", "related stories", "related", "read more",
		"more on this story", "more from", "you may also like", "recommended", "most read", "trending now"}
)

// cleanBody drops page furniture from article text: share-button and
// byline lines, and everything from a trailing "Related"/"Similar
// Articles" list on.
func cleanBody(text string) string {
	var b strings.Builder
	for line := range bodyLines(text) {
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// bodyLines yields the lines of text that cleanBody keeps, trimmed, blank
// ones included; cleanBody is them joined, each ended by a newline.
// Tokenising them one by one gives the tokens of cleanBody's text: a
// newline ends a sentence and joins no words, as the start of a text does.
func bodyLines(text string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for more := text != ""; more; {
			var line string
			line, text, more = strings.Cut(text, "\n")
			l := strings.TrimSpace(line)
			if len(l) > 80 { // a paragraph, not a button or a list heading
				if !yield(l) {
					return
				}
				continue
			}
			low := strings.ToLower(strings.Trim(l, " .:!*#-–—|•·"))
			if low == "" {
				if !yield("") {
					return
				}
				continue
			}
			if isEndMarker(low) {
				return
			}
			if isFurniture(low) {
				continue
			}
			if !yield(l) {
				return
			}
		}
	}
}

func isEndMarker(low string) bool {
	for _, m := range endMarkers {
		if !strings.HasPrefix(low, m) {
			continue
		}
		if len(low) == len(m) || low[len(m)] == ':' || low[len(m)] == ' ' && len(strings.Fields(low)) <= 6 {
			return true
		}
	}
	return false
}

// isFurniture reports a short line made of share-button words ("Share this
// article", "Tweet · Email") or a byline ("By Jane Doe").
func isFurniture(low string) bool {
	if countWords(low, 6) > 5 {
		return false // neither a byline nor buttons
	}
	words := strings.FieldsFunc(low, func(r rune) bool { return !isWordRune(r) })
	if len(words) == 0 {
		return true
	}
	if strings.HasPrefix(low, "by ") && len(words) <= 5 {
		return true
	}
	if len(words) > 5 {
		return false
	}
	furniture := 0
	for _, w := range words {
		if boilerplate[w] || w == "this" || w == "article" || w == "on" || w == "facebook" || w == "twitter" ||
			w == "x" || w == "linkedin" || w == "whatsapp" || w == "story" || w == "to" || w == "us" {
			furniture++
		}
	}
	return furniture == len(words) && boilerplate[words[0]]
}

// countWords counts the words of s (runs of letters and digits), up to max.
func countWords(s string, max int) int {
	n := 0
	in := false
	for _, r := range s {
		w := isWordRune(r)
		if w && !in {
			n++
			if n == max {
				return n
			}
		}
		in = w
	}
	return n
}

// slugWords returns the words of the last slug-like segment of a URL path
// ("/business/fed-holds-rates-steady-2025" gives "fed holds rates steady"):
// many outlets put the original headline there.
func slugWords(canon string) string {
	if i := strings.IndexAny(canon, "?#"); i >= 0 {
		canon = canon[:i]
	}
	segs := strings.Split(canon, "/")
	for i := len(segs) - 1; i >= 1; i-- { // segs[0] is the host
		seg := segs[i]
		if dot := strings.LastIndexByte(seg, '.'); dot > 0 {
			seg = seg[:dot]
		}
		parts := strings.FieldsFunc(seg, func(r rune) bool { return r == '-' || r == '_' || r == '+' })
		if len(parts) < 3 {
			continue
		}
		var words []string
		for _, p := range parts {
			if isAlpha(p) {
				words = append(words, p)
			}
		}
		if len(words) >= 2 {
			return strings.Join(words, " ")
		}
	}
	return ""
}

func isAlpha(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return true
}

// stopwords are function words plus the words every news report uses,
// which say nothing about which event it covers. Terms are stemmed.
var stopwords = setOf(`a about above after again against ago all almost also although always am among an and another any
are aren around as at away back be became because become been before being below between both but by can cannot could
couldn did didn do doe doesn don done down during each either else even ever every few for from further get got had
hadn has hasn have haven having he her here here's hers herself him himself his how however i if in into is isn it it's
its itself just last least less let like made make many may me might more most much must my myself near need neither
never new next no nor not now of off often on once one only onto or other others our ours ourselves out over own per
perhaps put quite rather really same several shall she should shouldn since so some still such than that the their
theirs them themselves then there these they thing this those though through thus till to too toward under until up upon
us very via was wasn we well were weren what when where whether which while who whom whose why will with within without
won would wouldn yet you your yours yourself
said say says saying told tell according report reported reporting reports news article story stories read update
updated published posted via photo image video watch click share subscribe advertisement copyright reserved rights
mr mrs ms dr also including include includes includ week weeks month months year years today yesterday tomorrow day
days time times monday tuesday wednesday thursday friday saturday sunday morning afternoon evening night
http https www com html htm php aspx index
`)

// generic are common capitalised words that are not names of anything in
// particular: they stay terms but get no entity weight.
var generic = setOf(`the a an this that these those it he she they we i in on at for but and or if as after before when while
however meanwhile president minister prime official officials government state states city country people
january february march april may june july august september october november december
mr mrs ms dr sir lord
`)

// wordKinds are the kinds of the stopwords and generic words, found by the
// FNV-1a hash the tokenizer has already computed: a new word costs one
// probe, not two map lookups that hash it again.
var wordKinds = newKindTable(map[uint8]map[string]bool{wordStop: stopwords, wordGeneric: generic})

// kindTable is an open-addressing set of words with their kinds.
type kindTable struct {
	slots []kindSlot // a power of two, at most half full
}

type kindSlot struct {
	hash uint64
	word string
	kind uint8 // 0: empty
}

func newKindTable(sets map[uint8]map[string]bool) kindTable {
	kinds := map[string]uint8{}
	for k, set := range sets {
		for w := range set {
			kinds[w] |= k
		}
	}
	n := 1
	for n < 2*len(kinds) {
		n *= 2
	}
	t := kindTable{slots: make([]kindSlot, n)}
	for w, k := range kinds {
		h := fnv64(w)
		i := h & uint64(n-1)
		for t.slots[i].kind != 0 {
			i = (i + 1) & uint64(n-1)
		}
		t.slots[i] = kindSlot{h, w, k}
	}
	return t
}

// kind returns the kind of the word b, whose FNV-1a hash is h.
func (t *kindTable) kind(h uint64, b []byte) uint8 {
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		sl := &t.slots[i]
		if sl.kind == 0 {
			return 0
		}
		if sl.hash == h && sl.word == string(b) {
			return sl.kind
		}
	}
}

// fnv64 is FNV-1a of s, as the tokenizer hashes a word.
func fnv64(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return h
}

func setOf(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
		m[stem(w)] = true
	}
	return m
}

// ln is the natural logarithm computed with + - * / only, so that it gives
// the same bits on every machine: math.Log uses assembly on some, and the
// engine's decisions must not depend on the machine. The float64
// conversions keep the compiler from fusing multiply-adds.
func ln(x float64) float64 {
	if x <= 0 {
		return math.Inf(-1)
	}
	f, e := math.Frexp(x) // x = f * 2^e, f in [0.5, 1)
	if f < math.Sqrt2/2 {
		f *= 2
		e--
	}
	// ln f = 2 atanh(s) with s = (f-1)/(f+1), |s| < 0.172.
	s := (f - 1) / (f + 1)
	s2 := float64(s * s)
	sum, term := 0.0, s
	for k := 1.0; k < 40; k += 2 {
		next := float64(sum + float64(term/k))
		if next == sum {
			// The terms shrink: none of the rest can change the sum
			// either, so stopping here gives the same bits.
			break
		}
		sum = next
		term = float64(term * s2)
	}
	return float64(2*sum) + float64(float64(e)*math.Ln2)
}
