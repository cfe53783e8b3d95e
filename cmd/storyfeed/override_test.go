package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSplitThenMerge(t *testing.T) {
	workdir(t)
	if code, _, stderr := runCmd(t, "poll", "--db", "x.db"); code != 0 {
		t.Fatalf("poll exited %d: %s", code, stderr)
	}
	stories := func() []storyJSON {
		t.Helper()
		code, stdout, stderr := runCmd(t, "stories", "--json", "--db", "x.db")
		if code != 0 {
			t.Fatalf("stories exited %d: %s", code, stderr)
		}
		var out []storyJSON
		for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
			var s storyJSON
			if err := json.Unmarshal([]byte(l), &s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	before := stories()
	if len(before) != 1 || len(before[0].Items) != 2 {
		t.Fatalf("want the seeds as one story, got %+v", before)
	}
	story, second := before[0].ID, before[0].Items[1].ID
	if code, stdout, stderr := runCmd(t, "split", "--db", "x.db", second); code != 0 || !strings.Contains(stdout, "left story "+story) {
		t.Fatalf("split exited %d: %s %s", code, stdout, stderr)
	}
	if after := stories(); len(after) != 2 {
		t.Fatalf("after split: %d stories, want 2", len(after))
	}
	code, stdout, _ := runCmd(t, "stories", "--db", "x.db", "--explain", second)
	if code != 0 || !strings.Contains(stdout, "level:     manual") {
		t.Errorf("explain after split (exit %d) does not show the manual decision:\n%s", code, stdout)
	}
	if code, stdout, stderr := runCmd(t, "merge", "--db", "x.db", story, second); code != 0 || !strings.Contains(stdout, "moved 1 items") {
		t.Fatalf("merge exited %d: %s %s", code, stdout, stderr)
	}
	if after := stories(); len(after) != 1 || after[0].ID != story || len(after[0].Items) != 2 {
		t.Fatalf("after merge: %+v, want story %s with both items", after, story)
	}
	if code, _, stderr := runCmd(t, "merge", "--db", "x.db", story, story); code != 1 || !strings.Contains(stderr, "itself") {
		t.Errorf("merge of a story into itself exited %d: %s", code, stderr)
	}
	if code, _, _ := runCmd(t, "split", "--db", "x.db"); code != 2 {
		t.Errorf("split without an item exited %d, want 2", code)
	}
}
