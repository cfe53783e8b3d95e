package dedupe

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// unselective must give math.Mod's bits: decisions depend on them.
func TestUnselective(t *testing.T) {
	const seed = 3
	rng := rand.New(rand.NewPCG(seed, 4))
	for i := range 200_000 {
		w := rng.Float64() * 60 * float64(1+rng.IntN(1000))
		if i%7 == 0 {
			w = 0
		}
		w += float64(rng.IntN(queryTerms+1)) * selectiveBonus
		if got, want := unselective(w), math.Mod(w, selectiveBonus); math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("seed %d: unselective(%v) = %v, want math.Mod's %v", seed, w, got, want)
		}
	}
}

// check verifies what the index keeps besides the docs against the docs
// themselves: story tags, story numbers, postings and frequencies.
func (x *Index) check() error {
	live := 0
	dfs := map[int32]int32{}
	for i := range x.docs {
		e := &x.docs[i]
		if !e.live() {
			if !reflect.ValueOf(*e).IsZero() {
				return fmt.Errorf("removed doc at seq %d not cleared", x.base+int32(i))
			}
			continue
		}
		live++
		s := x.base + int32(i)
		if e.seq != s {
			return fmt.Errorf("doc %s at seq %d has seq %d", e.id, s, e.seq)
		}
		if got, ok := x.seqOf(e.id); !ok || got != s {
			return fmt.Errorf("doc %s at seq %d: seqOf gives %d, %v", e.id, s, got, ok)
		}
		st := x.storyOf(s)
		if x.stories[st.id] != st || x.sts[st.num] != st {
			return fmt.Errorf("doc %s: story %s not registered under its ID and number %d", e.id, st.id, st.num)
		}
		want := uint32(st.num) << 1
		if st.long > 0 {
			want |= tagLong
		}
		if e.long() {
			want |= tagDocLong
		}
		if got := x.tags[i]; got != want {
			return fmt.Errorf("doc %s: tag %#x, want %#x (story %s, %d long)", e.id, got, want, st.id, st.long)
		}
		if !slices.Contains(st.members, s) {
			return fmt.Errorf("doc %s not among its story's members", e.id)
		}
		for i := range int(e.n) {
			tid := e.term(i).tid()
			dfs[tid]++
			if _, ok := slices.BinarySearch(x.terms[tid].post, s); !ok {
				return fmt.Errorf("doc %s not in the postings of %q", e.id, x.terms[tid].text)
			}
		}
	}
	if live != x.ndocs || len(x.tags) != len(x.docs) {
		return fmt.Errorf("%d live docs, ndocs %d; %d tags for %d slots", live, x.ndocs, len(x.tags), len(x.docs))
	}
	if n := len(x.byID) + len(x.byIDx); n != live {
		return fmt.Errorf("%d live docs, %d in byID and byIDx", live, n)
	}
	for _, st := range x.stories {
		long := 0
		for _, m := range st.members {
			if x.doc(m).long() {
				long++
			}
		}
		if long != st.long {
			return fmt.Errorf("story %s: %d long members, counted %d", st.id, long, st.long)
		}
	}
	for text, id := range x.vocab {
		if x.terms[id].text != text || x.stats[id].df != dfs[id] || len(x.terms[id].post) != int(dfs[id]) {
			return fmt.Errorf("term %q: df %d, %d postings, %d docs have it", text, x.stats[id].df, len(x.terms[id].post), dfs[id])
		}
	}
	return nil
}

// TestIndexConsistent adds, replaces, moves and evicts docs at random and
// checks the index after each step.
func TestIndexConsistent(t *testing.T) { testConsistent(t, 11) }

// TestIndexIDCollisions is TestIndexConsistent with doc IDs whose hashes
// collide: byID must still find each doc by its ID.
func TestIndexIDCollisions(t *testing.T) {
	defer func(h func(string) uint64) { idHash = h }(idHash)
	idHash = func(id string) uint64 { return uint64(len(id)) }
	testConsistent(t, 12)
}

func testConsistent(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	words := strings.Fields("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon")
	text := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteString(" ")
		}
		return b.String()
	}
	x := New(Options{})
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range 4000 {
		now := day.Add(time.Duration(i) * time.Minute)
		switch r := rng.IntN(20); {
		case r == 0:
			x.Evict(now.Add(-time.Duration(100+rng.IntN(400)) * time.Minute))
		case r <= 2:
			x.Remove(fmt.Sprint(rng.IntN(i + 1)))
		default:
			d := Doc{ID: fmt.Sprint(rng.IntN(i + 1)), Title: text(6), Time: now}
			if rng.IntN(2) == 0 {
				d.Text = text(60 + rng.IntN(40))
			}
			x.Add(d, fmt.Sprint("S", rng.IntN(i/4+1)), now)
		}
		if err := x.check(); err != nil {
			t.Fatalf("seed %d, step %d: %v", seed, i, err)
		}
	}
}

// A doc's terms, weights and names read back exactly as added, whether
// they fit the narrow form or not.
func TestDocTermsExact(t *testing.T) {
	x := New(Options{})
	var fs []Features
	for i, d := range []Doc{
		{ID: "a", Title: "Acme revenue rises 18% to $12.4 billion", Text: strings.Repeat("Acme reported revenue on Wednesday and Jane Porter said orders held up. ", 9)},
		{ID: "b", Title: "Short headline only"},
	} {
		fs = append(fs, Extract(&d))
		if !fs[i].Long && d.Text != "" {
			t.Fatalf("doc %s is not long", d.ID)
		}
	}
	// More distinct flat weights than a narrow doc holds, and more terms
	// than Extract keeps.
	wide := Features{ID: "w", Names: []uint32{1, 5, 9}}
	for i := range 100 {
		wide.Terms = append(wide.Terms, Term{Text: fmt.Sprintf("t%03d", i), Lead: float32(i) / 7, Flat: 1 + float32(i)/3,
			Title: i%3 == 0, Entity: i%5 == 0})
	}
	fs = append(fs, wide)
	for i := range fs {
		x.AddFeatures(&fs[i], "S"+fs[i].ID, time.Time{})
	}
	for _, f := range fs {
		s, ok := x.seqOf(f.ID)
		if !ok {
			t.Fatalf("doc %s not found", f.ID)
		}
		e := x.doc(s)
		if narrow := e.flags&docNarrow != 0; narrow != (f.ID != "w") {
			t.Errorf("doc %s: narrow %v", f.ID, narrow)
		}
		if int(e.n) != len(f.Terms) || !slices.Equal(e.names(), f.Names) {
			t.Fatalf("doc %s: %d terms, names %v; want %d, %v", f.ID, e.n, e.names(), len(f.Terms), f.Names)
		}
		for i, want := range f.Terms {
			got := e.term(i)
			if x.terms[got.tid()].text != want.Text || got.isTitle() != want.Title || got.isEntity() != want.Entity ||
				math.Float32bits(got.lead) != math.Float32bits(want.Lead) || math.Float32bits(got.flat) != math.Float32bits(want.Flat) {
				t.Errorf("doc %s term %d: %q %+v, want %+v", f.ID, i, x.terms[got.tid()].text, got, want)
			}
		}
	}
}

// AddFeatures takes the IDs of the terms of the last query rather than
// look them up: an index whose docs are each matched (or another doc is)
// before they are added must hold the same terms for every doc as one
// that only adds, through removals, evictions and reused term IDs.
func TestAddAfterMatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 1))
	words := strings.Fields("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon")
	text := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(words[rng.IntN(len(words))])
			if rng.IntN(3) == 0 {
				fmt.Fprint(&b, rng.IntN(300)) // rare terms, which come and go
			}
			b.WriteString(" ")
		}
		return b.String()
	}
	x, y := New(Options{}), New(Options{})
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	docTerms := func(x *Index, id string) []string {
		s, ok := x.seqOf(id)
		if !ok {
			return nil
		}
		e := x.doc(s)
		var out []string
		for i := range int(e.n) {
			out = append(out, x.terms[e.term(i).tid()].text)
		}
		return out
	}
	var other Features
	for i := range 3000 {
		now := day.Add(time.Duration(i) * time.Minute)
		id := fmt.Sprint(rng.IntN(i/2 + 1))
		switch r := rng.IntN(20); {
		case r == 0:
			cut := now.Add(-time.Duration(50+rng.IntN(200)) * time.Minute)
			x.Evict(cut)
			y.Evict(cut)
		case r <= 2:
			x.Remove(id)
			y.Remove(id)
		default:
			d := Doc{ID: id, Title: text(6), Text: text(60 + rng.IntN(40)), Time: now}
			f := Extract(&d)
			switch rng.IntN(3) {
			case 0:
				x.MatchFeatures(&f)
			case 1:
				x.MatchFeatures(&other)
			}
			story := fmt.Sprint("S", rng.IntN(i/4+1))
			x.AddFeatures(&f, story, now)
			y.AddFeatures(&f, story, now)
			other = f
			if got, want := docTerms(x, id), docTerms(y, id); !slices.Equal(got, want) {
				t.Fatalf("step %d: doc %s has terms %q, want %q", i, id, got, want)
			}
		}
		if err := x.check(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	for i := range x.docs {
		if e := &x.docs[i]; e.live() {
			if got, want := docTerms(x, e.id), docTerms(y, e.id); !slices.Equal(got, want) {
				t.Fatalf("doc %s has terms %q, want %q", e.id, got, want)
			}
		}
	}
}
