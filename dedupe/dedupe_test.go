package dedupe_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/dedupe"
)

var day = time.Date(2025, 12, 2, 9, 0, 0, 0, time.UTC)

// Three reports of one event, and two of other events on the same topic.
var (
	envoyA = dedupe.Doc{ID: "a", Title: "US envoy heads to Moscow for Putin talks on Ukraine peace plan", Time: day,
		Text: "US envoy Steve Witkoff flew to Moscow on Tuesday to meet Vladimir Putin about a plan to end the war in Ukraine, days after talks with Ukrainian negotiators in Florida. The Kremlin said the meeting would take place in the evening."}
	envoyB = dedupe.Doc{ID: "b", Title: "Witkoff arrives in Moscow to discuss Ukraine peace plan with Putin", Time: day.Add(3 * time.Hour),
		Text: "Steve Witkoff, the White House envoy, landed in Moscow for talks with Vladimir Putin on the US peace plan for Ukraine. Ukrainian officials met him in Florida at the weekend to discuss the 28-point draft."}
	envoyCopy = dedupe.Doc{ID: "c", Title: envoyA.Title, Text: envoyA.Text, Time: day.Add(time.Hour), Hash: "h-a"}
	grid      = dedupe.Doc{ID: "d", Title: "Russian drones strike Ukraine power grid as winter nears", Time: day.Add(-12 * 24 * time.Hour),
		Text: "Russia launched hundreds of drones and missiles at Ukraine's energy system overnight, forcing emergency blackouts in Kyiv and Kharkiv, the grid operator Ukrenergo said."}
	fed = dedupe.Doc{ID: "e", Title: "Federal Reserve holds interest rates steady", Time: day,
		Text: "The Federal Reserve left its benchmark rate unchanged on Wednesday as policymakers weighed cooling inflation against a softer labor market. Chair Jerome Powell said the bank could wait."}
)

func TestMatchLevels(t *testing.T) {
	x := dedupe.New(dedupe.Options{})
	a := envoyA
	a.URL, a.Hash = "news.example/envoy", "h-a"
	x.Add(a, "S1", day)
	x.Add(grid, "S2", day)
	x.Add(fed, "S3", day)

	for _, tc := range []struct {
		name  string
		doc   dedupe.Doc
		story string
		level dedupe.Level
	}{
		{"same URL", dedupe.Doc{ID: "u", URL: "news.example/envoy", Title: "Other words entirely"}, "S1", dedupe.LevelExact},
		{"same text", envoyCopy, "S1", dedupe.LevelExact},
		{"rewrite", envoyB, "S1", dedupe.LevelSimilar},
		{"other event, same topic", dedupe.Doc{ID: "g", Title: "Ukraine says Russian missiles hit Odesa port", Time: day,
			Text: "Russian missiles struck the port of Odesa overnight, damaging grain terminals, Ukraine's navy said."}, "", dedupe.LevelNew},
		{"unrelated", dedupe.Doc{ID: "h", Title: "Hurricane makes landfall in Texas", Time: day,
			Text: "Hurricane Delia came ashore near Corpus Christi with winds of 120 mph."}, "", dedupe.LevelNew},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := x.Match(tc.doc)
			if d.Story != tc.story || d.Level != tc.level {
				t.Errorf("Match(%q) = story %q level %v (score %.3f, %s), want %q %v",
					tc.doc.Title, d.Story, d.Level, d.Score, d.Reason, tc.story, tc.level)
			}
			if d.Level == dedupe.LevelSimilar && (d.Score < d.Threshold || len(d.Shared) == 0 || d.Reason == "") {
				t.Errorf("similar decision not explained: %+v", d)
			}
		})
	}
}

func TestWindow(t *testing.T) {
	x := dedupe.New(dedupe.Options{Window: 24 * time.Hour})
	x.Add(envoyA, "S1", day)
	late := envoyB
	late.Time = day.Add(48 * time.Hour)
	if d := x.Match(late); d.Story != "" {
		t.Errorf("a report two days later joined with a 24h window: %+v", d)
	}
	undated := envoyB
	undated.Time = time.Time{}
	if d := x.Match(undated); d.Story != "S1" {
		t.Errorf("an undated report did not join on text alone: %+v", d)
	}
	// An undated member does not stretch its story's window: the story's
	// time is its dated members'.
	x.Add(undated, "S1", day)
	if d := x.Match(late); d.Story != "" {
		t.Errorf("an undated member let a report two days later join: %+v", d)
	}
}

func TestEvictAndRemove(t *testing.T) {
	x := dedupe.New(dedupe.Options{})
	x.Add(envoyA, "S1", day)
	x.Add(fed, "S2", day)
	undated := grid
	undated.Time = time.Time{}
	x.Add(undated, "S3", day.Add(-10*24*time.Hour)) // seen long ago
	oldNews := fed
	oldNews.ID, oldNews.Time = "old", day.Add(-300*24*time.Hour) // dated long ago, ingested today
	x.Add(oldNews, "S4", day)
	if n := x.Evict(day.Add(-time.Hour)); n != 1 || x.Len() != 3 {
		t.Fatalf("Evict removed %d, left %d docs; want 1 (the undated doc seen long ago) and 3", n, x.Len())
	}
	x.Remove("old")
	x.Remove("a")
	if d := x.Match(envoyB); d.Story != "" {
		t.Errorf("matched a removed doc: %+v", d)
	}
	if x.Len() != 1 || x.Stories() != 1 {
		t.Errorf("after Remove: %d docs, %d stories; want 1, 1", x.Len(), x.Stories())
	}
	x.Remove("no-such-doc") // no-op
}

// The same docs in the same order give the same decisions, whatever the
// order in which maps happen to iterate.
func TestDeterministic(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	words := strings.Fields("envoy moscow putin ukraine peace plan talks kremlin drones grid winter fed rates inflation storm texas coast port strike union wages market shares chip export rules")
	var docs []dedupe.Doc
	for i := range 300 {
		var title, text []string
		for range 8 {
			title = append(title, words[rng.IntN(len(words))])
		}
		for range 40 {
			text = append(text, words[rng.IntN(len(words))])
		}
		docs = append(docs, dedupe.Doc{ID: fmt.Sprint(i), Title: strings.Join(title, " "), Text: strings.Join(text, " "),
			Time: day.Add(time.Duration(i) * time.Minute)})
	}
	run := func() []string {
		x := dedupe.New(dedupe.Options{})
		var out []string
		for _, d := range docs {
			dec := x.Match(d)
			story := dec.Story
			if story == "" {
				story = d.ID
			}
			x.Add(d, story, d.Time)
			out = append(out, fmt.Sprintf("%s:%s:%v:%.6f:%v", d.ID, story, dec.Level, dec.Score, dec.Shared))
		}
		return out
	}
	first := run()
	for i := range 3 {
		if again := run(); !slices.Equal(first, again) {
			for j := range first {
				if first[j] != again[j] {
					t.Fatalf("run %d differs at doc %d: %s vs %s", i+2, j, first[j], again[j])
				}
			}
		}
	}
}

func TestNoText(t *testing.T) {
	x := dedupe.New(dedupe.Options{})
	x.Add(envoyA, "S1", day)
	if d := x.Match(dedupe.Doc{ID: "z", Title: "the of and", Text: "!!!"}); d.Story != "" || d.Level != dedupe.LevelNew {
		t.Errorf("a doc of stopwords joined a story: %+v", d)
	}
}

func ExampleIndex_Match() {
	x := dedupe.New(dedupe.Options{})
	x.Add(envoyA, "story-1", envoyA.Time)
	d := x.Match(envoyB)
	fmt.Println(d.Story, d.Level, d.Score >= d.Threshold)
	// Output: story-1 similar true
}
