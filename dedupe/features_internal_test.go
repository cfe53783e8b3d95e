package dedupe

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// firstByWord selects the same tied terms as sorting them all by word.
func TestFirstByWord(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 300 {
		var ex extractor
		ex.tz.reset(nil)
		m := 1 + rng.IntN(400)
		var ties []ranked
		seen := map[string]bool{}
		for len(ties) < m {
			// Words sharing long prefixes, some shorter than 8 bytes.
			w := []byte("interna"[:rng.IntN(8)])
			for range rng.IntN(6) {
				w = append(w, "abé_9z"[rng.IntN(6)])
			}
			if len(w) == 0 || seen[string(w)] {
				continue
			}
			seen[string(w)] = true
			ties = append(ties, ranked{id: ex.tz.term(w)})
		}
		need := 1 + rng.IntN(m)
		want := slices.Clone(ties)
		slices.SortFunc(want, func(a, b ranked) int { return bytes.Compare(ex.tz.word(a.id), ex.tz.word(b.id)) })
		ex.firstByWord(ties, need)
		got := ties[:need]
		slices.SortFunc(got, func(a, b ranked) int { return bytes.Compare(ex.tz.word(a.id), ex.tz.word(b.id)) })
		if !slices.Equal(got, want[:need]) {
			t.Fatalf("trial %d: %d of %d: got %v, want %v", trial, need, m, words(&ex.tz, got), words(&ex.tz, want[:need]))
		}
	}
}

func words(tz *tokenizer, rs []ranked) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%q", tz.word(r.id)))
	}
	return out
}
