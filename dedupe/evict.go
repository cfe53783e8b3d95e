package dedupe

import (
	"slices"
	"time"
)

// EvictSeen removes the docs added (seen) before cutoff, whatever their
// date, and returns how many it removed. A service that rebuilds its index
// from the items first seen since cutoff uses it to hold the same docs
// while it runs as after a restart.
func (x *Index) EvictSeen(cutoff time.Time) int {
	c := cutoff.UnixNano()
	var old []int32
	for s, e := range x.docs {
		if e.seen != noTime && e.seen < c {
			old = append(old, s)
		}
	}
	slices.Sort(old)
	for _, s := range old {
		x.Remove(x.docs[s].id)
	}
	return len(old)
}
