package dedupe

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestNormalise(t *testing.T) {
	for _, tc := range []struct {
		in      string
		capital bool
		want    string
	}{
		{"Zelenskiy", true, "zelensky"},
		{"Zelensky", true, "zelensky"},
		{"Zelenskyi", true, "zelensky"},
		{"talks", false, "talk"},
		{"stopped", false, "stop"},
		{"Valparaíso", true, "valparaiso"},
		{"Kaling", true, "kaling"}, // a name keeps its -ing
		{"Mining", true, "mining"},
		{"mining", false, "min"},
		{"19.3", false, "19.3"},
	} {
		if got := normalise(tc.in, tc.capital); got != tc.want {
			t.Errorf("normalise(%q, %v) = %q, want %q", tc.in, tc.capital, got, tc.want)
		}
	}
}

func TestTokensNamesAndPhrases(t *testing.T) {
	toks := tokens(`The talks in Moscow began. "We agree," Steve Witkoff said, and Bloomberg reported it.`, false, nil)
	var ents, phrases []string
	for i, tk := range toks {
		if tk.entity {
			ents = append(ents, tk.term)
		}
		if tk.follows && i > 0 {
			phrases = append(phrases, toks[i-1].term+"_"+tk.term)
		}
	}
	if want := []string{"moscow", "steve", "witkoff", "bloomberg"}; !slices.Equal(ents, want) {
		t.Errorf("entities = %v, want %v (a capitalised word after a closing quote is a name)", ents, want)
	}
	if want := []string{"steve_witkoff"}; !slices.Equal(phrases, want) {
		t.Errorf("two-word names = %v, want %v", phrases, want)
	}
}

func TestCleanTitle(t *testing.T) {
	outlet := outletWords("CRBC News")
	for _, tc := range []struct{ in, want string }{
		{"US Says It Can Advance Peace Plan - CRBC News", "US Says It Can Advance Peace Plan"},
		{"Fed holds rates steady as inflation cools | Reuters", "Fed holds rates steady as inflation cools"},
		{"Apple vs Samsung - the rematch nobody wanted to see", "Apple vs Samsung - the rematch nobody wanted to see"},
		{"Short - Title", "Short - Title"},
	} {
		if got := cleanTitle(tc.in, outlet); got != tc.want {
			t.Errorf("cleanTitle(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCleanBody(t *testing.T) {
	in := "By Jane Doe\n\nThe storm hit the coast.\n\nShare this article\n\nIt weakened inland.\n\nRelated\n\nOther storm news here\n"
	want := "\nThe storm hit the coast.\n\n\nIt weakened inland.\n\n"
	if got := cleanBody(in); got != want {
		t.Errorf("cleanBody(%q) =\n%q, want\n%q", in, got, want)
	}
}

func TestSlugWords(t *testing.T) {
	for in, want := range map[string]string{
		"example.com/business/fed-holds-rates-steady-2025.html": "fed holds rates steady",
		"example.com/a/123": "",
		"example.com/news/2025/12/02/envoy_heads_to_moscow": "envoy heads to moscow",
	} {
		if got := slugWords(in); got != want {
			t.Errorf("slugWords(%q) = %q, want %q", in, got, want)
		}
	}
}

// ln must agree with the math package to the last bits that matter and be
// exact for 1.
func TestLn(t *testing.T) {
	for _, x := range []float64{1, 2, 0.5, 3.5, 1e-6, 1e6, 123456.789} {
		got := ln(x)
		want := lnRef(x)
		if d := got - want; d > 1e-12*max(1, want) || d < -1e-12*max(1, -want) {
			t.Errorf("ln(%g) = %.17g, want %.17g", x, got, want)
		}
	}
	if ln(1) != 0 {
		t.Errorf("ln(1) = %g, want 0", ln(1))
	}
}

// What an extractor keeps from doc to doc (its vocabulary, spellings,
// outlets and ln memo) changes no doc's features, also when its tables
// fill up and start again: a long-lived extractor gives what a new one
// gives, doc by doc.
func TestExtractorStateDoesNotLeak(t *testing.T) {
	var long extractor
	outlets := []string{"", "Harbour Ledger", "Gulf Coast Herald - World", "CNN"}
	flushes := 0
	for i := range 3000 {
		// Each doc brings new words and spellings (8 a sentence), so the
		// tables reach their bounds several times.
		var b strings.Builder
		for s := range 6 {
			fmt.Fprintf(&b, "The Envoy%d met officials in Kyiv%d on day %d, said reports-%d. ", i, s, i%40, i*7+s)
			fmt.Fprintf(&b, "Talks with Stephen%d's team stalled; prices rose %d.%d%%, unlike%d in Zürich. ", i%300, i%9, s, i)
		}
		d := Doc{ID: fmt.Sprint(i), Outlet: outlets[i%len(outlets)], Title: fmt.Sprintf("Envoy%d in Kyiv - %s", i%500, outlets[i%len(outlets)]),
			Text: b.String()}
		before := len(long.tz.words)
		got := long.extract(&d)
		if len(long.tz.words) < before {
			flushes++
		}
		want := new(extractor).extract(&d)
		gb, _ := got.MarshalBinary()
		wb, _ := want.MarshalBinary()
		if !bytes.Equal(gb, wb) {
			t.Fatalf("doc %d: a long-lived extractor gives\n%+v\na new one\n%+v", i, got, want)
		}
	}
	if flushes < 2 {
		t.Errorf("the tables started again %d times, want the test to make them fill up", flushes)
	}
}

// fuzzEx is the extractor FuzzExtractorState keeps across its inputs.
var fuzzEx struct {
	sync.Mutex
	extractor
}

// FuzzExtractorState is TestExtractorStateDoesNotLeak on arbitrary docs:
// one extractor sees every input in turn, and must give what a new one
// gives.
func FuzzExtractorState(f *testing.F) {
	f.Add("US envoy heads to Moscow - CRBC News", "Witkoff flew to Moscow. Steve Witkoff's talks (19.3%) ended.", "CRBC News")
	f.Add("Zelenskiy meets envoys", "Zelenskiy  met U.S.-led envoys in Kyiv’s centre; “no deal”, said Zelensky.\nRelated\nmore", "")
	f.Add("", "\xff\xfeÉLYSÉE \u212a 1,000.5 rock'n'roll", "Élysée")
	f.Fuzz(func(t *testing.T, title, text, outlet string) {
		d := Doc{ID: "x", Title: title, Text: text, Outlet: outlet}
		fuzzEx.Lock()
		got := fuzzEx.extract(&d)
		fuzzEx.Unlock()
		want := new(extractor).extract(&d)
		gb, _ := got.MarshalBinary()
		wb, _ := want.MarshalBinary()
		if !bytes.Equal(gb, wb) {
			t.Fatalf("a long-lived extractor gives\n%+v\na new one\n%+v", got, want)
		}
	})
}
