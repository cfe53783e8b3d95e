package storage

import (
	"strings"
	"testing"
	"time"
)

func TestSameOutlet(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"Bloomberg", "Bloomberg News", true},
		{"bloomberg", "BLOOMBERG", true},
		{"The New York Times", "New York Times", true},
		{"Reuters", "Reuters Television", true},
		{"CRBC News", "CRBC", true},
		{"Bloomberg", "Bloom", false},
		{"Reuters", "Associated Press", false},
		{"", "", false},
		{"News", "News", true},
		{"BBC", "CNN", false},
	} {
		if got := SameOutlet(tc.a, tc.b); got != tc.want {
			t.Errorf("SameOutlet(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := SameOutlet(tc.b, tc.a); got != tc.want {
			t.Errorf("SameOutlet(%q, %q) = %v, want %v (not symmetric)", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestRepresentativeBy(t *testing.T) {
	t0 := time.Date(2025, 12, 2, 10, 0, 0, 0, time.UTC)
	mem := func(feed, outlet string, hour int, textLen int, cites ...string) Item {
		return Item{Feed: feed, Outlet: outlet, Published: t0.Add(time.Duration(hour) * time.Hour),
			Text: strings.Repeat("x", textLen), Cites: cites}
	}
	for _, tc := range []struct {
		name    string
		members []Item
		policy  Policy
		want    int
	}{
		{"empty story", nil, Policy{}, 0},
		{"earliest", []Item{mem("a", "A", 2, 10), mem("b", "B", 1, 10), mem("c", "C", 3, 10)}, Policy{}, 1},
		{"earliest tie goes to first joined", []Item{mem("a", "A", 1, 10), mem("b", "B", 1, 10)}, Policy{Rule: RuleEarliest}, 0},
		{"preferred by source name", []Item{mem("a", "A", 1, 10), mem("b", "B", 2, 10)}, Policy{Rule: RulePreferred, Preferred: []string{"z", "B"}}, 1},
		{"preferred by outlet name, any case", []Item{mem("seeds", "CRBC News", 1, 10), mem("seeds", "Italo", 2, 10)}, Policy{Rule: RulePreferred, Preferred: []string{"italo"}}, 1},
		{"preferred order counts", []Item{mem("a", "A", 1, 10), mem("b", "B", 2, 10)}, Policy{Rule: RulePreferred, Preferred: []string{"a", "b"}}, 0},
		{"preferred none present: earliest", []Item{mem("a", "A", 2, 10), mem("b", "B", 1, 10)}, Policy{Rule: RulePreferred, Preferred: []string{"z"}}, 1},
		{"longest", []Item{mem("a", "A", 1, 10), mem("b", "B", 2, 30), mem("c", "C", 3, 20)}, Policy{Rule: RuleLongest}, 1},
		{"longest tie: earliest", []Item{mem("a", "A", 3, 30), mem("b", "B", 2, 30)}, Policy{Rule: RuleLongest}, 1},
		{"original beats earlier rewrite", []Item{mem("a", "A", 1, 10, "Bloomberg"), mem("b", "Bloomberg News", 2, 10)}, Policy{}, 1},
		{"original beats longer rewrite", []Item{mem("a", "A", 1, 90, "Bloomberg"), mem("b", "Bloomberg", 2, 10)}, Policy{Rule: RuleLongest}, 1},
		{"original beats preferred rewrite", []Item{mem("a", "A", 1, 10, "Bloomberg"), mem("b", "Bloomberg", 2, 10)}, Policy{Rule: RulePreferred, Preferred: []string{"a"}}, 1},
		{"credit to an absent outlet changes nothing", []Item{mem("a", "A", 1, 10, "Bloomberg"), mem("b", "B", 2, 10)}, Policy{}, 0},
		{"credit to itself changes nothing", []Item{mem("a", "A", 1, 10, "A"), mem("b", "B", 2, 10)}, Policy{}, 0},
		{"credit loop: all members compete", []Item{mem("a", "A", 2, 10, "B"), mem("b", "B", 1, 10, "A")}, Policy{}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sv := StoryView{Members: tc.members}
			if got := sv.RepresentativeBy(tc.policy); got != tc.want {
				t.Errorf("RepresentativeBy(%+v) = %d, want %d", tc.policy, got, tc.want)
			}
		})
	}
}

func TestCreditedMember(t *testing.T) {
	t0 := time.Date(2025, 12, 2, 10, 0, 0, 0, time.UTC)
	sv := StoryView{Members: []Item{
		{Outlet: "CRBC News", Published: t0, Cites: []string{"Reuters", "Bloomberg"}},
		{Outlet: "Bloomberg", Published: t0.Add(2 * time.Hour)},
		{Outlet: "Bloomberg News", Published: t0.Add(time.Hour)},
		{Outlet: "Italo", Published: t0},
	}}
	for _, tc := range []struct {
		i      int
		want   int
		wantOK bool
	}{{0, 2, true}, {1, 0, false}, {3, 0, false}} {
		got, ok := sv.CreditedMember(tc.i)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("CreditedMember(%d) = %d, %v; want %d, %v", tc.i, got, ok, tc.want, tc.wantOK)
		}
	}
}
