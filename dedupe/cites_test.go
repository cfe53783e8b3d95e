package dedupe

import (
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// citesRef is Cites as it was first written: split the whole text into
// words, then look at every word. Cites must give what it gives.
func citesRef(text, outlet string) []string {
	var words []citeWord
	for _, f := range strings.Fields(text) {
		w := strings.TrimFunc(f, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '&' })
		if w == "" {
			if len(words) > 0 {
				words[len(words)-1].stop = true
			}
			continue
		}
		last, _ := utf8.DecodeLastRuneInString(f)
		words = append(words, citeWord{text: w, stop: strings.ContainsRune(".,;:!?)\"”", last)})
	}
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

// citeTexts are credits in the shapes news text writes them, with the
// punctuation, case and spacing that decide where a name ends.
var citeTexts = []string{
	"According to a Bloomberg report, Putin announced late Monday. Bloomberg noted it.",
	"Reuters reported that Kushner would attend. A senior official told the BBC that units were lost.",
	"In an interview with CNN, he said so. CRBC News reported the same.",
	"Ukraine reported significant progress in talks. Officials told reporters it was difficult.",
	"The Gulf Coast Herald reported flooding; according to The Wall Street Journal, refineries shut.",
	"ACCORDING TO THE NEW YORK TIMES the deal is off. He TOLD Sky News — and later told \"the Financial Times\".",
	"“We will not,” she told the the the the Kyiv Independent. The Kyiv Independent reported it first.",
	"In an interview — with Al Jazeera English Service on Tuesday, he spoke. Interview\u00a0with\u00a0NHK World News.",
	"Gulf Coast Herald, reported late; The Daily Star\treporting from Cairo.\nLe Monde reports that ...",
	"according\nto\u2003Deutsche Welle, told Voice of America; Radio Free Europe reported. According to AFP",
	"He was told. Told! with interview with. Reported. reports reports reporting according to according to",
	"Per the Associated Press (which reported the figures) and according to the Times of India, rates rose.",
	"ACCORDİNG to İstanbul Daily News, prices fell; REPORTİNG by Ankara Wire Service Review Weekly Post Gazette.",
	"told \xff\xfeBBC News. \xe2\x80 reported; Caixin reported\u2028again, told\u0085CNBC",
	"Barron's reported a gain; Barron's Weekly Market Wire reported a loss; told Barron's.",
	"Yesterday the Gulf Coast Morning Herald Tribune reported it, and New Bay Area Evening Post reported more.",
	"  The   Kommersant   Daily   reported   , according to  ,  the  Washington Post  .",
}

func TestCitesAsReference(t *testing.T) {
	for _, text := range citeTexts {
		for _, outlet := range []string{"", "Bloomberg", "the kyiv independent", "  CNN  "} {
			if got, want := Cites(text, outlet), citesRef(text, outlet); !slices.Equal(got, want) {
				t.Errorf("Cites(%q, %q) = %q, want %q", text, outlet, got, want)
			}
		}
	}
	// Every cut of the texts joined: a cue near either end of the text,
	// names cut short.
	all := strings.Join(citeTexts, " ")
	for i := 0; i <= len(all); i += 7 {
		for _, j := range []int{i + 40, i + 120, len(all)} {
			s := all[i:min(j, len(all))]
			if got, want := Cites(s, ""), citesRef(s, ""); !slices.Equal(got, want) {
				t.Fatalf("Cites(%q) = %q, want %q", s, got, want)
			}
		}
	}
}

func FuzzCites(f *testing.F) {
	for _, s := range citeTexts {
		f.Add(s, "")
	}
	f.Add("CNN reported it; told CNN.", "CNN")
	f.Fuzz(func(t *testing.T, text, outlet string) {
		if got, want := Cites(text, outlet), citesRef(text, outlet); !slices.Equal(got, want) {
			t.Fatalf("Cites(%q, %q) = %q, want %q", text, outlet, got, want)
		}
	})
}
