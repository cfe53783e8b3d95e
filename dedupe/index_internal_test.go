package dedupe

import (
	"fmt"
	"math"
	"math/rand/v2"
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
	for i, e := range x.docs {
		if e == nil {
			continue
		}
		live++
		s := x.base + int32(i)
		if e.seq != s {
			return fmt.Errorf("doc %s at seq %d has seq %d", e.id, s, e.seq)
		}
		st := e.story
		if x.stories[st.id] != st || x.sts[st.num] != st {
			return fmt.Errorf("doc %s: story %s not registered under its ID and number %d", e.id, st.id, st.num)
		}
		want := uint32(st.num) << 1
		if st.long > 0 {
			want |= tagLong
		}
		if got := x.tags[i]; got != want {
			return fmt.Errorf("doc %s: tag %#x, want %#x (story %s, %d long)", e.id, got, want, st.id, st.long)
		}
		if !slices.Contains(st.members, s) {
			return fmt.Errorf("doc %s not among its story's members", e.id)
		}
		for _, t := range e.terms {
			dfs[t.tid()]++
			if _, ok := slices.BinarySearch(x.terms[t.tid()].post, s); !ok {
				return fmt.Errorf("doc %s not in the postings of %q", e.id, x.terms[t.tid()].text)
			}
		}
	}
	if live != x.ndocs || len(x.tags) != len(x.docs) {
		return fmt.Errorf("%d live docs, ndocs %d; %d tags for %d slots", live, x.ndocs, len(x.tags), len(x.docs))
	}
	for _, st := range x.stories {
		long := 0
		for _, m := range st.members {
			if x.doc(m).long {
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
func TestIndexConsistent(t *testing.T) {
	const seed = 11
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
