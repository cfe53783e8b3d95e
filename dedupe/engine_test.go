package dedupe_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/dedupe"
)

// Two quarterly-results reports share their template; only the company,
// its people and its figures differ. They must stay apart, while two
// outlets' reports of one company's results merge.
func TestSameTemplateDifferentCompany(t *testing.T) {
	results := func(id, company, boss, rev, growth, outlet string) dedupe.Doc {
		return dedupe.Doc{ID: id, Outlet: outlet, Time: day,
			Title: company + " revenue rises " + growth + " to " + rev + " on strong demand, beating estimates",
			Text: company + " reported third-quarter revenue of " + rev + " on Wednesday, up " + growth +
				" from a year earlier and ahead of analysts' estimates, as demand from its largest customers held up. " +
				"Chief executive " + boss + " said orders remained strong and raised the outlook for the full year. " +
				company + " shares rose in extended trading after the results. " + boss + " told analysts on a call that " +
				company + " expected margins to improve next quarter as costs fell. Analysts said the quarter showed " +
				"resilient demand despite tariffs, and several raised their price targets on " + company + " stock. " +
				"The company also announced a new share buyback program and said it would keep investing in new factories."}
	}
	acme := results("a", "Acme", "Jane Porter", "$12.4 billion", "18%", "Wire One")
	acme2 := results("b", "Acme", "Jane Porter", "$12.4 billion", "18%", "Daily Two")
	acme2.Title = "Acme beats estimates as quarterly sales climb 18% to $12.4 billion"
	globex := results("c", "Globex", "Omar Haddad", "$7.9 billion", "9%", "Wire One")
	x := dedupe.New(dedupe.Options{})
	x.Add(acme, "S-acme", day)
	if d := x.Match(globex); d.Story != "" {
		t.Errorf("Match(Globex results) joined %s (%s %.3f: %s), want a new story", d.Story, d.Measure, d.Score, d.Reason)
	}
	if d := x.Match(acme2); d.Story != "S-acme" {
		t.Errorf("Match(second Acme report) = %q (%s), want S-acme", d.Story, d.Reason)
	}
}

// An item that matches two stories joins the better one and names the
// other as related.
func TestBridgeRecordsRelated(t *testing.T) {
	x := dedupe.New(dedupe.Options{Headline: 1})
	x.Add(dedupe.Doc{ID: "1", Title: "Titanfall beta opens to all Xbox players"}, "S1", day)
	x.Add(dedupe.Doc{ID: "2", Title: "Respawn confirms Titanfall beta on Xbox One"}, "S1", day)
	x.Add(dedupe.Doc{ID: "3", Title: "Respawn Entertainment hiring for new studio"}, "S2", day)
	d := x.Match(dedupe.Doc{ID: "4", Title: "Respawn Titanfall beta numbers announced"})
	if d.Story != "S1" || !slices.Equal(d.Related, []string{"S2"}) {
		t.Errorf("bridging item: story %q related %v (%s), want S1 with S2 related", d.Story, d.Related, d.Reason)
	}
}

func TestFeaturesRoundTrip(t *testing.T) {
	for _, d := range []dedupe.Doc{envoyA, envoyB, fed, {ID: "empty"}, {ID: "u", URL: "x.example/a", Hash: "h"}} {
		f := dedupe.Extract(&d)
		b, err := f.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var g dedupe.Features
		if err := g.UnmarshalBinary(b); err != nil {
			t.Fatalf("UnmarshalBinary(MarshalBinary(%s)): %v", d.ID, err)
		}
		if !reflect.DeepEqual(f, g) && !(len(f.Terms) == 0 && len(g.Terms) == 0) {
			t.Errorf("round trip of %s:\n got %+v\nwant %+v", d.ID, g, f)
		}
		if err := g.UnmarshalBinary(b[:len(b)-1]); err == nil && len(b) > 2 {
			t.Errorf("UnmarshalBinary of a truncated record of %s: no error", d.ID)
		}
	}
}

func FuzzFeaturesUnmarshal(f *testing.F) {
	for _, d := range []dedupe.Doc{envoyA, fed} {
		x := dedupe.Extract(&d)
		b, _ := x.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var x dedupe.Features
		if err := x.UnmarshalBinary(b); err != nil {
			return
		}
		again, err := x.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var y dedupe.Features
		if err := y.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoded features do not decode: %v", err)
		}
	})
}

// Match is symmetric enough to be useful and never panics on odd text.
func FuzzMatch(f *testing.F) {
	f.Add("US envoy heads to Moscow", "Witkoff flew to Moscow to meet Putin.", "Envoy in Moscow")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, title, text, other string) {
		x := dedupe.New(dedupe.Options{})
		x.Add(dedupe.Doc{ID: "a", Title: title, Text: text}, "S", day)
		d := x.Match(dedupe.Doc{ID: "b", Title: other, Text: text})
		if d.Story != "" && d.Story != "S" {
			t.Fatalf("joined unknown story %q", d.Story)
		}
		if d.Story != "" && d.Score < d.Threshold && d.Level == dedupe.LevelSimilar {
			t.Fatalf("joined below threshold: %+v", d)
		}
	})
}

func TestCites(t *testing.T) {
	for _, tc := range []struct {
		text, outlet string
		want         []string
	}{
		{"According to a Bloomberg report, Putin announced late Monday. Bloomberg noted it.", "", []string{"Bloomberg"}},
		{"Reuters reported that Kushner would attend. A senior official told the BBC that units were lost.", "", []string{"Reuters", "BBC"}},
		{"In an interview with CNN, he said so. CRBC News reported the same.", "CRBC News", []string{"CNN"}},
		{"Ukraine reported significant progress in talks. Officials told reporters it was difficult.", "", nil},
		{"The Gulf Coast Herald reported flooding; according to The Wall Street Journal, refineries shut.", "", []string{"Gulf Coast Herald", "Wall Street Journal"}},
	} {
		if got := dedupe.Cites(tc.text, tc.outlet); !slices.Equal(got, tc.want) {
			t.Errorf("Cites(%q, %q) = %q, want %q", tc.text, tc.outlet, got, tc.want)
		}
	}
}

// An index rebuilt from stored features decides exactly as the index that
// saw the docs: a restart changes nothing.
func TestRebuildFromFeaturesSameDecisions(t *testing.T) {
	docs := randomDocs(200, 7)
	live := dedupe.New(dedupe.Options{})
	var stored []dedupe.Features
	var stories []string
	for _, d := range docs[:150] {
		f := dedupe.Extract(&d)
		dec := live.MatchFeatures(&f)
		st := dec.Story
		if st == "" {
			st = d.ID
		}
		live.AddFeatures(&f, st, d.Time)
		b, _ := f.MarshalBinary()
		var g dedupe.Features
		if err := g.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		stored = append(stored, g)
		stories = append(stories, st)
	}
	rebuilt := dedupe.New(dedupe.Options{})
	for i := range stored {
		rebuilt.AddFeatures(&stored[i], stories[i], docs[i].Time)
	}
	for _, d := range docs[150:] {
		a, b := live.Match(d), rebuilt.Match(d)
		if a.Story != b.Story || a.Score != b.Score || !slices.Equal(a.Shared, b.Shared) {
			t.Fatalf("doc %s: live index says %q %.6f %v, rebuilt says %q %.6f %v", d.ID, a.Story, a.Score, a.Shared, b.Story, b.Score, b.Shared)
		}
	}
}

// randomDocs makes n full-text docs over a shared vocabulary, in groups of
// rewrites of one event. The seed is fixed by the caller.
func randomDocs(n int, seed uint64) []dedupe.Doc {
	rng := rand.New(rand.NewPCG(seed, 2))
	vocab := make([]string, 3000)
	for i := range vocab {
		vocab[i] = fmt.Sprintf("w%dx", i)
	}
	names := make([]string, 400)
	for i := range names {
		names[i] = fmt.Sprintf("Name%c%c", 'A'+i%26, 'a'+i/26)
	}
	var docs []dedupe.Doc
	for len(docs) < n {
		event := make([]string, 0, 40)
		for range 30 {
			event = append(event, vocab[rng.IntN(len(vocab))])
		}
		who := []string{names[rng.IntN(len(names))], names[rng.IntN(len(names))]}
		copies := 1 + rng.IntN(3)
		for c := 0; c < copies && len(docs) < n; c++ {
			var title, body []string
			for range 7 {
				title = append(title, event[rng.IntN(len(event))])
			}
			for s := range 12 {
				var sent []string
				sent = append(sent, "The")
				for range 12 {
					if rng.IntN(3) == 0 {
						sent = append(sent, vocab[rng.IntN(len(vocab))])
					} else {
						sent = append(sent, event[rng.IntN(len(event))])
					}
				}
				sent = append(sent, "said", who[s%2]+".")
				body = append(body, strings.Join(sent, " "))
			}
			docs = append(docs, dedupe.Doc{ID: fmt.Sprint(len(docs)), Title: strings.Join(title, " "),
				Text: strings.Join(body, " "), Time: day.Add(time.Duration(len(docs)) * time.Minute)})
		}
	}
	return docs
}

// A wire copy lightly edited by another outlet (new headline, a word
// changed) is a near-duplicate.
func TestNearDuplicate(t *testing.T) {
	docs := randomDocs(3, 11)
	orig := docs[0]
	x := dedupe.New(dedupe.Options{})
	x.Add(orig, "S", day)
	x.Add(docs[1], "T", day)
	x.Add(docs[2], "U", day)
	edited := orig
	edited.ID, edited.Title = "copy", "Edited headline for the same wire story"
	edited.Text = strings.Replace(orig.Text, "said", "told reporters", 1)
	d := x.Match(edited)
	if d.Story != "S" || d.Level != dedupe.LevelNear || d.Measure != "simhash" {
		t.Errorf("Match(lightly edited copy) = %q %v %s %.3f (%s), want S near", d.Story, d.Level, d.Measure, d.Score, d.Reason)
	}
}

// A headline that would join a story reporting right now needs stronger
// evidence to join one that went quiet days ago: by then it is as likely
// the next development, or another event on the topic.
func TestHeadlineRecency(t *testing.T) {
	build := func(opt dedupe.Options) *dedupe.Index {
		x := dedupe.New(opt)
		for i, h := range []string{
			"Titanfall beta opens to all Xbox One players",
			"Respawn opens Titanfall beta to every Xbox One owner",
			"Fed holds interest rates steady as inflation cools",
			"Hurricane Delia makes landfall near Corpus Christi",
			"Nvidia revenue beats estimates on data center demand",
		} {
			story := "S-titanfall"
			if i >= 2 {
				story = fmt.Sprint("S", i)
			}
			x.Add(dedupe.Doc{ID: fmt.Sprint(i), Title: h, Time: day}, story, day)
		}
		return x
	}
	q := dedupe.Doc{ID: "q", Title: "Titanfall beta now open to Xbox One players", Time: day}
	s0 := build(dedupe.Options{}).Explain(q, "S-titanfall").Score
	if s0 <= 0 {
		t.Fatalf("evidence for the Titanfall headline at the same time: %.3f, want > 0", s0)
	}
	x := build(dedupe.Options{Headline: 0.6 * s0})
	for _, tc := range []struct {
		after time.Duration
		want  string
	}{
		{time.Hour, "S-titanfall"},
		{60 * time.Hour, ""}, // within the 72h window, but the story has been quiet for 2.5 days
	} {
		d := q
		d.Time = day.Add(tc.after)
		if got := x.Match(d); got.Story != tc.want {
			t.Errorf("Match(headline %v after the story) = %q (%s %.3f: %s), want %q", tc.after, got.Story, got.Measure, got.Score, got.Reason, tc.want)
		}
	}
}

// Evicting most of a large window, step by step, keeps every remaining
// doc findable (the index drops the space of removed docs as it goes).
func TestEvictLargeWindow(t *testing.T) {
	docs := randomDocs(3000, 7)
	x := dedupe.New(dedupe.Options{})
	for i := range docs {
		docs[i].Hash = "h" + docs[i].ID
		x.Add(docs[i], "S"+docs[i].ID, docs[i].Time)
	}
	for _, keep := range []int{2500, 1200, 1199, 10, 0} {
		cutoff := docs[len(docs)-keep-1].Time.Add(time.Second)
		x.Evict(cutoff)
		if x.Len() != keep {
			t.Fatalf("after evicting up to %v: %d docs, want %d", cutoff, x.Len(), keep)
		}
		for _, i := range []int{len(docs) - keep, len(docs) - 1} {
			if i >= len(docs) || keep == 0 {
				continue
			}
			copy := docs[i]
			copy.ID = "copy-" + copy.ID
			if d := x.Match(copy); d.Story != "S"+docs[i].ID || d.Level != dedupe.LevelExact {
				t.Errorf("with %d docs left, a copy of doc %d matched %q (%v), want S%s exact", keep, i, d.Story, d.Level, docs[i].ID)
			}
		}
	}
	x.Add(docs[0], "again", day)
	if x.Len() != 1 || x.Stories() != 1 {
		t.Errorf("after emptying and adding one: %d docs, %d stories; want 1, 1", x.Len(), x.Stories())
	}
}

// Features with more terms than Extract keeps (read back from a damaged
// or foreign record) are scored, not looped over forever.
func TestMatchFeaturesManyTerms(t *testing.T) {
	x := dedupe.New(dedupe.Options{})
	var f dedupe.Features
	f.ID, f.Long = "many", true
	for i := range 200 {
		f.Terms = append(f.Terms, dedupe.Term{Text: fmt.Sprintf("t%03d", i), Lead: 1, Flat: 1})
	}
	x.AddFeatures(&f, "S", day)
	g := f
	g.ID = "many-2"
	if d := x.MatchFeatures(&g); d.Level == dedupe.LevelNew && d.Best == "" {
		t.Errorf("MatchFeatures(200 shared terms) found no candidate: %+v", d)
	}
}
