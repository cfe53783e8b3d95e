package storage

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Representative policies: which member of a story speaks for it, giving the
// story its headline and link.
const (
	// RuleEarliest picks the earliest published member. It is the default.
	RuleEarliest = "earliest"
	// RulePreferred picks the first member from the most preferred source
	// of Policy.Preferred, and the earliest when none of them covered it.
	RulePreferred = "preferred"
	// RuleLongest picks the member with the longest text: usually the most
	// complete report.
	RuleLongest = "longest"
)

// Policy chooses a story's representative member. The zero value is
// RuleEarliest.
//
// Whatever the rule, an original is preferred over a rewrite: a member that
// credits another outlet of the same story ("according to a Bloomberg
// report", see Item.Cites) gives way to that outlet's own report. The rule
// then chooses among the originals; when every member credits another one
// (a loop), among all members.
type Policy struct {
	Rule string // RuleEarliest (or ""), RulePreferred or RuleLongest
	// Preferred are source names (a config [[source]] name, Item.Feed) or
	// outlet names (Item.Outlet), most preferred first, compared without
	// regard to case. Only RulePreferred reads it.
	Preferred []string
}

// Representative is the index in Members of the item that speaks for the
// story under the default policy (RuleEarliest).
func (sv *StoryView) Representative() int {
	return sv.RepresentativeBy(Policy{})
}

// RepresentativeBy is the index in Members of the item that speaks for the
// story under p. Ties go to the earliest published, then to the first to
// join, so the choice is deterministic. A story without members gives 0.
func (sv *StoryView) RepresentativeBy(p Policy) int {
	cand := make([]int, 0, len(sv.Members))
	for i := range sv.Members {
		if _, rewrite := sv.CreditedMember(i); !rewrite {
			cand = append(cand, i)
		}
	}
	if len(cand) == 0 {
		for i := range sv.Members {
			cand = append(cand, i)
		}
	}
	if len(cand) == 0 {
		return 0
	}
	earliest := func(c []int) int {
		best := c[0]
		for _, i := range c[1:] {
			if sv.Members[i].Date().Before(sv.Members[best].Date()) {
				best = i
			}
		}
		return best
	}
	switch p.Rule {
	case RulePreferred:
		for _, name := range p.Preferred {
			var from []int
			for _, i := range cand {
				m := &sv.Members[i]
				if strings.EqualFold(m.Feed, name) || strings.EqualFold(m.Outlet, name) {
					from = append(from, i)
				}
			}
			if len(from) > 0 {
				return earliest(from)
			}
		}
	case RuleLongest:
		var longest []int
		most := -1
		for _, i := range cand {
			switch n := max(sv.Members[i].TextLen, utf8.RuneCountInString(sv.Members[i].Text)); {
			case n > most:
				longest, most = []int{i}, n
			case n == most:
				longest = append(longest, i)
			}
		}
		return earliest(longest)
	}
	return earliest(cand)
}

// CreditedMember reports whether member i credits another outlet that is
// itself a member of the story (Item.Cites), and if so the index of that
// outlet's earliest member. Member i is then a rewrite of that report.
func (sv *StoryView) CreditedMember(i int) (int, bool) {
	m := &sv.Members[i]
	for _, cited := range m.Cites {
		found := -1
		for j := range sv.Members {
			o := &sv.Members[j]
			if j == i || SameOutlet(o.Outlet, m.Outlet) || !SameOutlet(o.Outlet, cited) {
				continue
			}
			if found < 0 || o.Date().Before(sv.Members[found].Date()) {
				found = j
			}
		}
		if found >= 0 {
			return found, true
		}
	}
	return 0, false
}

// SameOutlet reports whether two outlet names name the same outlet as an
// article credits it: case, punctuation, a leading "The" and a trailing
// generic word ("News", "Agency", ...) do not count, and a name matches a
// longer one that it starts (so "Bloomberg" credits "Bloomberg News" and
// "Reuters" credits "Reuters Television"). Empty names match nothing.
func SameOutlet(a, b string) bool {
	wa, wb := outletWords(a), outletWords(b)
	if len(wa) == 0 || len(wb) == 0 {
		return false
	}
	if len(wa) > len(wb) {
		wa, wb = wb, wa
	}
	return slices.Equal(wa, wb[:len(wa)])
}

func outletWords(s string) []string {
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '&'
	})
	if len(words) > 1 && words[0] == "the" {
		words = words[1:]
	}
	for len(words) > 1 && genericOutletWord(words[len(words)-1]) {
		words = words[:len(words)-1]
	}
	return words
}

// genericOutletWord reports whether w may end an outlet's name without
// telling outlets apart.
func genericOutletWord(w string) bool {
	switch w {
	case "news", "agency", "newswire", "wire", "online", "com", "media", "group":
		return true
	}
	return false
}
