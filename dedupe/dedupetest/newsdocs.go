// Package dedupetest makes test data for the dedupe engine: full-text docs
// shaped like news, for the benchmarks of this module.
package dedupetest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/storyfeed/storyfeed/dedupe"
)

// NewsDocs makes n full-text docs shaped like news for the benchmarks:
// bodies of 300 to 1,500 words (log-uniform, median about 670), in
// sentences and paragraphs, about 45% of the words function words; content
// words drawn from a 40k-word vocabulary with Zipf frequencies, so that a
// few words are in most docs and most words in few; people, places and
// organisations from a few thousand capitalised names, also Zipf, written
// as one or two words; figures and quoted speech. Docs come in events of 1
// to 5 reports, which draw their headline and most of their content words
// from the event's own words and names.
//
// Doc i is dated start plus i minutes. The same n and seed give the same
// docs on every run. (The dedupe package's randomDocs has 180-word bodies
// over 3,000 words of equal frequency: its extraction is 4-5 times cheaper
// than a real article's, and its index's vocabulary fits in the cache.)
func NewsDocs(n int, seed uint64, start time.Time) []dedupe.Doc {
	rng := rand.New(rand.NewPCG(seed, 3))
	v := newsVocab()
	zw := rand.NewZipf(rng, 1.07, 8, uint64(len(v.words)-1))
	zn := rand.NewZipf(rng, 1.1, 4, uint64(len(v.names)-1))
	var docs []dedupe.Doc
	var b strings.Builder
	for len(docs) < n {
		// The event: its words, mostly of middling frequency, and its names.
		var topic []string
		for range 40 {
			topic = append(topic, v.words[min(uint64(len(v.words)-1), zw.Uint64()+uint64(rng.IntN(200)))])
		}
		var who []string
		for range 2 + rng.IntN(4) {
			who = append(who, v.names[zn.Uint64()])
		}
		fig := fmt.Sprint(2 + rng.IntN(5000))
		reports := 1 + rng.IntN(5)
		for r := 0; r < reports && len(docs) < n; r++ {
			word := func() string {
				switch k := rng.IntN(100); {
				case k < 45:
					return v.function[rng.IntN(len(v.function))]
				case k < 65:
					return topic[rng.IntN(len(topic))]
				case k < 92:
					return v.words[zw.Uint64()]
				case k < 96:
					return who[rng.IntN(len(who))]
				case k < 98:
					return v.names[zn.Uint64()]
				default:
					return fmt.Sprint(rng.IntN(1000))
				}
			}
			b.Reset()
			b.WriteString(title(who[0]))
			for range 6 + rng.IntN(6) {
				b.WriteByte(' ')
				if rng.IntN(5) == 0 {
					b.WriteString(who[rng.IntN(len(who))])
				} else {
					b.WriteString(topic[rng.IntN(len(topic))])
				}
			}
			head := b.String()
			b.Reset()
			words := int(300 * math.Exp(rng.Float64()*math.Log(5)))
			for w, s := 0, 0; w < words; s++ {
				if s > 0 {
					if s%4 == 0 {
						b.WriteString("\n\n")
					} else {
						b.WriteByte(' ')
					}
				}
				quote := rng.IntN(6) == 0
				if quote {
					b.WriteString("“")
				}
				n := 8 + rng.IntN(20)
				for i := range n {
					t := word()
					if i == 0 {
						t = title(t)
					} else {
						b.WriteByte(' ')
					}
					b.WriteString(t)
					if i == n/2 && rng.IntN(3) == 0 {
						b.WriteByte(',')
					}
					if i == n/3 && rng.IntN(8) == 0 {
						b.WriteString(" " + fig)
					}
				}
				w += n
				if quote {
					b.WriteString(",” said " + who[rng.IntN(len(who))] + ".")
					w += 3
				} else {
					b.WriteByte('.')
				}
			}
			docs = append(docs, dedupe.Doc{ID: fmt.Sprint(len(docs)), Title: head, Text: b.String(),
				Outlet: v.outlets[rng.IntN(len(v.outlets))], Time: start.Add(time.Duration(len(docs)) * time.Minute)})
		}
	}
	return docs
}

// newsVocabulary is the words NewsDocs writes with.
type newsVocabulary struct {
	function []string // function words, stopwords all
	words    []string // lower-case content words, most frequent first
	names    []string // one- and two-word names, most frequent first
	outlets  []string
}

func newsVocab() newsVocabulary {
	rng := rand.New(rand.NewPCG(17, 19))
	var v newsVocabulary
	v.function = strings.Fields(`the the the the of of of to to and and a a in in that is was for on it with as
		he at by from his be have has are an had not but they this which who were been their or its will would
		after about also more than said said she her we up out there when one into over could`)
	onsets := strings.Fields("b c d f g h j k l m n p r s t v w z br cr dr fr gr pr tr st sp sh ch th pl cl bl fl gl sl sc")
	vowels := strings.Fields("a e i o u ea ai ou io ie")
	codas := []string{"", "", "", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "nt", "rt", "ng", "ll"}
	endings := []string{"", "", "", "", "s", "ed", "ing", "er", "ion", "al", "ly", "ment"}
	seen := map[string]bool{}
	word := func(syll int) string {
		var b strings.Builder
		for range syll {
			b.WriteString(onsets[rng.IntN(len(onsets))])
			b.WriteString(vowels[rng.IntN(len(vowels))])
			b.WriteString(codas[rng.IntN(len(codas))])
		}
		return b.String()
	}
	for len(v.words) < 40_000 {
		// Frequent words are short.
		w := word(1+rng.IntN(1+min(2, len(v.words)/5000))) + endings[rng.IntN(len(endings))]
		if !seen[w] && len(w) >= 3 {
			seen[w] = true
			v.words = append(v.words, w)
		}
	}
	for len(v.names) < 4_000 {
		w := title(word(1 + rng.IntN(3)))
		if rng.IntN(2) == 0 {
			w += " " + title(word(2+rng.IntN(2)))
		}
		if !seen[w] {
			seen[w] = true
			v.names = append(v.names, w)
		}
	}
	for range 200 {
		v.outlets = append(v.outlets, title(word(2))+" "+[]string{"News", "Times", "Post", "Herald", "Daily"}[rng.IntN(5)])
	}
	return v
}

func title(w string) string { return strings.ToUpper(w[:1]) + w[1:] }
