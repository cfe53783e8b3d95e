package aggregator_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/storyfeed/storyfeed/aggregator"
	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/storage"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

// dupGUIDFeed has two articles under GUID a (different links), an exact
// repeat of the first, two articles under GUID b with the same link and
// different texts, and one plain item: five articles.
const dupGUIDFeed = `<rss version="2.0"><channel><title>D</title>
<item><guid isPermaLink="false">a</guid><title>Council approves the new harbour budget</title><link>https://d.example/budget</link><description>The council voted on Tuesday to approve the harbour budget for next year.</description></item>
<item><guid isPermaLink="false">a</guid><title>Storm closes the mountain pass for two days</title><link>https://d.example/storm</link><description>Heavy snow and wind forced the police to close the pass to all traffic.</description></item>
<item><guid isPermaLink="false">a</guid><title>Council approves the new harbour budget</title><link>https://d.example/budget</link><description>The council voted on Tuesday to approve the harbour budget for next year.</description></item>
<item><guid isPermaLink="false">b</guid><title>Library reopens after a long renovation</title><link>https://d.example/live</link><description>The city library opened its doors again with a new reading room.</description></item>
<item><guid isPermaLink="false">b</guid><title>Local team wins the regional cup final</title><link>https://d.example/live</link><description>A late goal gave the home side its first cup in twelve years.</description></item>
<item><guid isPermaLink="false">c</guid><title>Bakery celebrates one hundred years</title><link>https://d.example/bakery</link><description>The family bakery on the main square marked its centenary with free bread.</description></item>
</channel></rss>`

// Different articles under one GUID are all kept, an exact repeat is
// dropped, the source's item count says what was kept, one warning per
// fetch names the source and the count, and a second poll of the same feed
// finds nothing new.
func TestDuplicateGUIDsWithinFeed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.xml")
	if err := os.WriteFile(path, []byte(dupGUIDFeed), 0o644); err != nil {
		t.Fatal(err)
	}
	db := storagetest.OpenTemp(t)
	var logs bytes.Buffer
	cfg := config.Default()
	cfg.Sources = []config.Source{{Name: "dup", Path: path}}
	svc, err := aggregator.New(cfg, aggregator.Deps{Store: db, Now: newClock().Now,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	warnings := func() int {
		n := 0
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "GUID repeated") {
				if !strings.Contains(l, "source=dup") || !strings.Contains(l, "items=2") || !strings.Contains(l, "told_apart=2") {
					t.Errorf("warning %q does not name the source and the count 2", l)
				}
				n++
			}
		}
		return n
	}

	c, err := svc.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.Count()
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := db.Source("dup")
	if err != nil {
		t.Fatal(err)
	}
	if c.ItemsNew != 5 || n.Items != 5 || st.Items != 5 {
		t.Errorf("first poll: %d new, %d stored, source counts %d; want 5 each", c.ItemsNew, n.Items, st.Items)
	}
	if w := warnings(); w != 1 {
		t.Errorf("first poll logged %d GUID warnings, want 1:\n%s", w, logs.String())
	}

	c, err = svc.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n, err = db.Count()
	if err != nil {
		t.Fatal(err)
	}
	if c.ItemsNew != 0 || c.ItemsUpdate != 0 || n.Items != 5 {
		t.Errorf("second poll of the same feed: %+v, %d stored; want nothing new, 5 stored", c, n.Items)
	}
	if w := warnings(); w != 2 {
		t.Errorf("two polls logged %d GUID warnings, want one each", w)
	}
	if err := db.Check(); err != nil {
		t.Error(err)
	}
}

// A feed that gives every item the same GUID and puts new items first:
// the article stored under the plain ID keeps it, whatever its place in
// the feed, so a new article never takes over its record, and an article
// already stored is never new again.
func TestOneGUIDForEveryItem(t *testing.T) {
	article := map[string]string{
		"a": `<item><guid isPermaLink="false">same</guid><title>Council approves the new harbour budget</title><link>https://one.example/a</link><description>The council voted on Tuesday to approve the harbour budget.</description></item>`,
		"b": `<item><guid isPermaLink="false">same</guid><title>Storm closes the mountain pass for two days</title><link>https://one.example/b</link><description>Heavy snow and wind forced the police to close the pass.</description></item>`,
		"d": `<item><guid isPermaLink="false">same</guid><title>Library reopens after a long renovation</title><link>https://one.example/d</link><description>The city library opened its doors again with a new reading room.</description></item>`,
		"e": `<item><guid isPermaLink="false">same</guid><title>Local team wins the regional cup final</title><link>https://one.example/e</link><description>A late goal gave the home side its first cup in twelve years.</description></item>`,
	}
	path := filepath.Join(t.TempDir(), "one.xml")
	db := storagetest.OpenTemp(t)
	cfg := config.Default()
	cfg.Sources = []config.Source{{Name: "one", Path: path}}
	svc, err := aggregator.New(cfg, aggregator.Deps{Store: db, Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	plain := storage.ItemID("one", "same")
	for _, step := range []struct {
		order  string
		new    int
		stored int
	}{
		{"ab", 2, 2},
		{"dab", 1, 3},
		{"edab", 1, 4},
		{"bade", 0, 4}, // reordered
		{"edb", 0, 4},  // a, which holds the plain ID, left the feed
		{"aedb", 0, 4}, // and came back
	} {
		var b strings.Builder
		b.WriteString(`<rss version="2.0"><channel><title>One</title>`)
		for _, k := range step.order {
			b.WriteString(article[string(k)])
		}
		b.WriteString(`</channel></rss>`)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := svc.PollOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n, err := db.Count()
		if err != nil {
			t.Fatal(err)
		}
		if c.ItemsNew != step.new || c.ItemsUpdate != 0 || n.Items != step.stored {
			t.Errorf("feed %s: %d new, %d updated, %d stored; want %d new, 0 updated, %d stored",
				step.order, c.ItemsNew, c.ItemsUpdate, n.Items, step.new, step.stored)
		}
		it, err := db.Item(plain)
		if err != nil || it.URL != "https://one.example/a" {
			t.Errorf("feed %s: the plain ID holds %s, %v; want the first article stored, a", step.order, it.URL, err)
		}
	}
	if err := db.Check(); err != nil {
		t.Error(err)
	}
}
