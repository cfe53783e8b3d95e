package dedupe

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Cites returns the outlets an article credits for its information, in the
// order first credited: "according to a Bloomberg report", "Reuters
// reported", "told the BBC", "in an interview with CNN". The article's own
// outlet is left out. A name counts as an outlet when it is a well-known
// news organisation or ends in a word such as News, Times or Post, so that
// "Ukraine reported progress" credits nobody.
//
// Most texts credit nobody, so Cites first looks for the cue words alone,
// without splitting or lower-casing the text, and reads the words around
// each cue only.
func Cites(text, outlet string) []string {
	var out []string
	var own string
	ownDone := false
	var buf [32]citeWord
	for pos := 0; ; {
		s, e, ok := nextCue(text, pos)
		if !ok {
			return out
		}
		pos = e
		if !mayCredit(text, s, e) {
			continue
		}
		from := wordsBack(text, s, citeBack)
		words := appendCiteWords(buf[:0], text[from:wordsAhead(text, e, citeAhead)])
		i := citeIndex(text[from:s])
		name := citeAt(words, i)
		if name == "" || slices.Contains(out, name) {
			continue
		}
		if !ownDone {
			own, ownDone = strings.ToLower(strings.TrimSpace(outlet)), true
		}
		if strings.ToLower(name) != own {
			out = append(out, name)
		}
	}
}

// mayCredit is a quick test of the words next to the cue text[s:e] that
// most cues fail: the outlet's name, before or after the cue, is
// capitalised, and "with" follows "interview".
func mayCredit(text string, s, e int) bool {
	w := trimWord(text[s:e])
	if w[0] >= utf8.RuneSelf {
		return true
	}
	switch w[0] | 0x20 {
	case 'w': // with
		p := wordsBack(text, s, 1)
		ps, pe := nextField(text, p)
		return ps < s && strings.EqualFold(trimWord(text[ps:pe]), "interview")
	case 'r': // reported, reports, reporting
		p := wordsBack(text, s, 1)
		ps, pe := nextField(text, p)
		return ps < s && isCapitalised(trimWord(text[ps:pe]))
	}
	// told, according (to): the first word after that is not an article.
	for skipTo := w[0]|0x20 == 'a'; ; {
		ns, ne := nextField(text, e)
		if ns == ne {
			return false
		}
		e = ne
		switch nw := trimWord(text[ns:ne]); {
		case nw == "":
		case skipTo:
			skipTo = false
		case !isArticle(nw):
			return isCapitalised(nw)
		}
	}
}

// The words Cites reads around a cue: outletBefore reads five words back
// (and the stop mark of the one before the cue), outletAt reads the
// articles after the cue, then five words; the margins are one word wider.
const (
	citeBack  = 6
	citeAhead = 8
)

// citeAt returns the outlet credited by the cue words[i], or "".
func citeAt(words []citeWord, i int) string {
	w := strings.ToLower(words[i].text)
	switch {
	case w == "according" && i+1 < len(words) && strings.EqualFold(words[i+1].text, "to"):
		return outletAt(words, i+2, true)
	case (w == "told" || w == "with" && i > 0 && strings.EqualFold(words[i-1].text, "interview")) && i+1 < len(words):
		return outletAt(words, i+1, true)
	case w == "reported" || w == "reports" || w == "reporting":
		if i > 0 && !words[i-1].stop {
			return outletBefore(words, i)
		}
	}
	return ""
}

// citeIndex is the number of words in before, which ends where a field
// starts: the index of the word after it.
func citeIndex(before string) int {
	n := 0
	for f := range strings.FieldsSeq(before) {
		if trimWord(f) != "" {
			n++
		}
	}
	return n
}

// isCue reports whether w, a field trimmed as citeWords trims it, is one
// of the words Cites looks at.
func isCue(w string) bool {
	switch len(w) {
	case 4, 7, 8, 9:
	default:
		if isASCII(w) {
			return false
		}
	}
	if isASCII(w) {
		return asciiEqualFold(w, "told") || asciiEqualFold(w, "with") || asciiEqualFold(w, "according") ||
			asciiEqualFold(w, "reported") || asciiEqualFold(w, "reports") || asciiEqualFold(w, "reporting")
	}
	switch strings.ToLower(w) {
	case "told", "with", "according", "reported", "reports", "reporting":
		return true
	}
	return false
}

// asciiEqualFold reports whether the ASCII w is the lower-case word lw in
// any case.
func asciiEqualFold(w, lw string) bool {
	if len(w) != len(lw) {
		return false
	}
	for i := 0; i < len(w); i++ {
		if w[i]|0x20 != lw[i] {
			return false
		}
	}
	return true
}

// nextCue finds the first field of text at or after pos (a field start or
// a space) that is a cue word, and returns its bounds.
func nextCue(text string, pos int) (start, end int, ok bool) {
	for {
		s, e := nextField(text, pos)
		if s == e {
			return 0, 0, false
		}
		pos = e
		// A cue is at most 9 letters; what trimming removes is rarely
		// long, so a long field is looked at only when it holds non-ASCII
		// or more than a few bytes of punctuation.
		if f := text[s:e]; mayBeCue(f) && isCue(trimWord(f)) {
			return s, e, true
		}
	}
}

// mayBeCue is a quick test that the field f might trim to a cue word: its
// first letter, after any punctuation, is the first letter of one.
func mayBeCue(f string) bool {
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c >= utf8.RuneSelf {
			return true
		}
		if wordByte[c] || c == '&' {
			switch c | 0x20 {
			case 'a', 't', 'w', 'r':
				return true
			}
			return false
		}
	}
	return false
}

// nextField returns the bounds of the first field of text at or after pos,
// as strings.Fields splits it; start == end when there is none.
func nextField(text string, pos int) (start, end int) {
	i := pos
	for i < len(text) {
		switch fieldByte[text[i]] {
		case byteSpace:
			i++
			continue
		case byteMulti:
			r, size := utf8.DecodeRuneInString(text[i:])
			if unicode.IsSpace(r) {
				i += size
				continue
			}
		}
		break
	}
	start = i
	for i < len(text) {
		// Most fields are ASCII words: step over them byte by byte.
		for i < len(text) && fieldByte[text[i]] == byteOther {
			i++
		}
		if i == len(text) || fieldByte[text[i]] == byteSpace {
			break
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		if unicode.IsSpace(r) {
			break
		}
		i += size
	}
	return start, i
}

// fieldByte sorts bytes for nextField: ASCII spaces as strings.Fields
// splits at, the bytes of multi-byte runes, and the others.
var fieldByte = func() (t [256]uint8) {
	for _, c := range "\t\n\v\f\r " {
		t[c] = byteSpace
	}
	for c := utf8.RuneSelf; c < 256; c++ {
		t[c] = byteMulti
	}
	return t
}()

const (
	byteOther = iota
	byteSpace
	byteMulti
)

// wordsBack returns the start of the field that begins n words (fields
// that trim to something) before the field starting at pos, or 0.
func wordsBack(text string, pos, n int) int {
	i := pos
	for n > 0 && i > 0 {
		// Skip the spaces before the field, then the field.
		for i > 0 {
			r, size := utf8.DecodeLastRuneInString(text[:i])
			if !unicode.IsSpace(r) {
				break
			}
			i -= size
		}
		e := i
		for i > 0 {
			r, size := utf8.DecodeLastRuneInString(text[:i])
			if unicode.IsSpace(r) {
				break
			}
			i -= size
		}
		if trimWord(text[i:e]) != "" {
			n--
		}
	}
	return i
}

// wordsAhead returns the end of text to read after a cue ending at pos: n
// words that are not articles, and the fields that trim to nothing after
// them, which mark the last word's end.
func wordsAhead(text string, pos, n int) int {
	for {
		s, e := nextField(text, pos)
		if s == e {
			return len(text)
		}
		w := trimWord(text[s:e])
		if w != "" {
			if n == 0 {
				return s
			}
			if !isArticle(w) {
				n--
			}
		}
		pos = e
	}
}

type citeWord struct {
	text string
	stop bool // punctuation follows the word
}

// appendCiteWords appends the words of text, trimmed of punctuation, to
// out.
func appendCiteWords(out []citeWord, text string) []citeWord {
	for f := range strings.FieldsSeq(text) {
		w := trimWord(f)
		if w == "" {
			if len(out) > 0 {
				out[len(out)-1].stop = true
			}
			continue
		}
		last, _ := utf8.DecodeLastRuneInString(f)
		out = append(out, citeWord{text: w, stop: strings.ContainsRune(".,;:!?)\"”", last)})
	}
	return out
}

// trimWord trims a field of everything but letters, digits and '&' at
// both ends.
func trimWord(f string) string {
	// ASCII ends are trimmed here; a rune of more bytes at an end goes
	// to the general trim.
	i, j := 0, len(f)
	for i < j && f[i] < utf8.RuneSelf && !wordByte[f[i]] && f[i] != '&' {
		i++
	}
	for j > i && f[j-1] < utf8.RuneSelf && !wordByte[f[j-1]] && f[j-1] != '&' {
		j--
	}
	if i < j && (f[i] >= utf8.RuneSelf || f[j-1] >= utf8.RuneSelf) {
		return strings.TrimFunc(f[i:j], func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '&' })
	}
	return f[i:j]
}

// outletAt reads a capitalised name starting at words[i], skipping "a",
// "an" and "the" first.
func outletAt(words []citeWord, i int, skipArticle bool) string {
	for skipArticle && i < len(words) && isArticle(words[i].text) {
		i++
	}
	var name []string
	for j := i; j < len(words) && len(name) < 5; j++ {
		w := words[j].text
		if !isCapitalised(w) && !(len(name) > 0 && (w == "of" || w == "&")) {
			break
		}
		name = append(name, w)
		if words[j].stop {
			break
		}
	}
	for len(name) > 0 && !isCapitalised(name[len(name)-1]) {
		name = name[:len(name)-1]
	}
	return outletName(name)
}

// outletBefore reads a capitalised name ending just before words[i].
func outletBefore(words []citeWord, i int) string {
	j := i
	for j > 0 && i-j < 5 && isCapitalised(words[j-1].text) && (j == i || !words[j-1].stop) {
		j--
	}
	var name []string
	for k := j; k < i; k++ {
		name = append(name, words[k].text)
	}
	return outletName(name)
}

// outletName returns name as an outlet, or "" when it does not look like one.
func outletName(name []string) string {
	for len(name) > 0 && (isArticle(name[0]) || strings.EqualFold(name[0], "first")) {
		name = name[1:]
	}
	if len(name) == 0 {
		return ""
	}
	full := strings.Join(name, " ")
	if knownOutlets[strings.ToLower(full)] {
		return full
	}
	if len(name) >= 2 && outletEndings[strings.ToLower(name[len(name)-1])] {
		return full
	}
	// "the Bloomberg report": the last word is "report", the outlet before.
	return ""
}

func isArticle(w string) bool {
	switch strings.ToLower(w) {
	case "a", "an", "the":
		return true
	}
	return false
}

func isCapitalised(w string) bool {
	r, _ := utf8.DecodeRuneInString(w)
	return unicode.IsUpper(r)
}

// knownOutlets are news organisations commonly credited by name alone.
var knownOutlets = setOfLower(`reuters|bloomberg|bloomberg news|associated press|ap|afp|agence france-presse|bbc|bbc news|cnn|cnbc|
abc news|nbc news|cbs news|fox news|npr|pbs|axios|politico|semafor|the information|the verge|techcrunch|wired|
new york times|the new york times|wall street journal|the wall street journal|washington post|the washington post|
financial times|the financial times|the guardian|guardian|the economist|economist|the times|the telegraph|
al jazeera|xinhua|tass|interfax|ria novosti|kyodo|nikkei|yonhap|dpa|ansa|efe|le monde|der spiegel|spiegel|
los angeles times|usa today|the atlantic|vox|bild|kommersant|ukrainska pravda|kyiv independent|the kyiv independent|
sky news|itv news|channel 4 news|deutsche welle|dw|france 24|euronews|radio free europe|rfe/rl|voice of america|
nhk|caixin|south china morning post|straits times|the hindu|times of india|haaretz|arab news|cbc|cbc news|abc|
marketwatch|barron's|fortune|forbes|business insider|insider|the hill|newsweek|time|propublica`)

// outletEndings end the names of many outlets: "Kyiv Independent Wire",
// "Gulf Coast Herald".
var outletEndings = setOfLower(`news|times|post|journal|herald|tribune|press|wire|agency|telegraph|gazette|daily|radio|
tv|television|network|magazine|observer|chronicle|bulletin|standard|independent|examiner|register|review|
dispatch|courier|ledger|sentinel|monitor|report|reporter|express|mail|star|globe|record|insider|week|weekly|service`)

func setOfLower(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == '|' || r == '\n' }) {
		if w = strings.TrimSpace(w); w != "" {
			m[w] = true
		}
	}
	return m
}
