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
func Cites(text, outlet string) []string {
	words := citeWords(text)
	own := strings.ToLower(strings.TrimSpace(outlet))
	var out []string
	add := func(name string) {
		if name == "" || strings.ToLower(name) == own || slices.Contains(out, name) {
			return
		}
		out = append(out, name)
	}
	for i := range words {
		w := strings.ToLower(words[i].text)
		switch {
		case w == "according" && i+1 < len(words) && strings.EqualFold(words[i+1].text, "to"):
			add(outletAt(words, i+2, true))
		case (w == "told" || w == "with" && i > 0 && strings.EqualFold(words[i-1].text, "interview")) && i+1 < len(words):
			add(outletAt(words, i+1, true))
		case w == "reported" || w == "reports" || w == "reporting":
			if i > 0 && !words[i-1].stop {
				add(outletBefore(words, i))
			}
		}
	}
	return out
}

type citeWord struct {
	text string
	stop bool // punctuation follows the word
}

func citeWords(text string) []citeWord {
	var out []citeWord
	for _, f := range strings.Fields(text) {
		w := strings.TrimFunc(f, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '&' })
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
