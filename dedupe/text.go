package dedupe

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// token is one normalised word of a text.
type token struct {
	term   string // folded, stemmed form used for matching
	entity bool   // a capitalised name in running text, or a number
}

// tokens splits s into normalised tokens, dropping stopwords. A word counts
// as an entity (a name, place, organisation or figure) when it is
// capitalised and not merely the first word of a sentence, or is a number.
func tokens(s string, isTitle bool) []token {
	var out []token
	sentenceStart := true
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isWordRune(r) {
			if r == '.' || r == '!' || r == '?' || r == ':' || r == '\n' || r == '"' || r == '“' {
				sentenceStart = true
			}
			i += size
			continue
		}
		j := i
		for j < len(s) {
			r2, size2 := utf8.DecodeRuneInString(s[j:])
			if !isWordRune(r2) && !(isJoiner(r2) && j+size2 < len(s) && nextIsWord(s[j+size2:])) {
				break
			}
			j += size2
		}
		word := s[i:j]
		i = j
		first, _ := utf8.DecodeRuneInString(word)
		capital := unicode.IsUpper(first)
		numeric := unicode.IsDigit(first)
		start := sentenceStart
		sentenceStart = false
		for _, part := range splitJoined(word) {
			term := normalise(part)
			if term == "" || stopwords[term] || (len(term) < 2 && !numeric) {
				continue
			}
			// In a headline most words are capitalised, so only words that
			// stay capitalised mid-sentence in body text (or all-caps
			// acronyms) count as names there.
			ent := numeric || capital && !start && !isTitle || isAcronym(part)
			if generic[term] {
				ent = false
			}
			out = append(out, token{term: term, entity: ent})
		}
	}
	return out
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

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
func normalise(w string) string {
	w = strings.ToLower(w)
	if !isASCII(w) {
		w = foldAccents(w)
	}
	if w == "" {
		return ""
	}
	if r, _ := utf8.DecodeRuneInString(w); unicode.IsDigit(r) {
		return w
	}
	return stem(w)
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
		b.WriteRune(r)
	}
	return b.String()
}

// stem is a light English stemmer: plurals, a few verb endings, and the
// -iy/-yi/-ii endings of transliterated names. It is deliberately
// conservative: merging two different words costs precision.
func stem(w string) string {
	n := len(w)
	switch {
	case n > 4 && strings.HasSuffix(w, "iy"), n > 4 && strings.HasSuffix(w, "yi"), n > 4 && strings.HasSuffix(w, "ii"):
		return w[:n-2] + "y"
	case n > 4 && strings.HasSuffix(w, "ies"):
		return w[:n-3] + "y"
	case n > 4 && (strings.HasSuffix(w, "sses") || strings.HasSuffix(w, "shes") || strings.HasSuffix(w, "ches") || strings.HasSuffix(w, "xes")):
		return w[:n-2]
	case n > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is"):
		return w[:n-1]
	case n > 5 && strings.HasSuffix(w, "ing"):
		return undouble(w[:n-3])
	case n > 4 && strings.HasSuffix(w, "ied"):
		return w[:n-3] + "y"
	case n > 4 && strings.HasSuffix(w, "ed") && !strings.HasSuffix(w, "eed"):
		return undouble(w[:n-2])
	}
	return w
}

// undouble turns "stopp" (from "stopped") into "stop".
func undouble(w string) string {
	n := len(w)
	if n >= 3 && w[n-1] == w[n-2] && !strings.ContainsRune("aeiouls", rune(w[n-1])) {
		return w[:n-1]
	}
	return w
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
`)

// generic are common capitalised words that are not names of anything in
// particular: they stay terms but get no entity weight.
var generic = setOf(`the a an this that these those it he she they we i in on at for but and or if as after before when while
however meanwhile president minister prime official officials government state states city country people
january february march april may june july august september october november december
mr mrs ms dr sir lord
`)

func setOf(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
		m[stem(w)] = true
	}
	return m
}
