package dedupe

import (
	"math"
	"math/rand/v2"
	"testing"
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
