package aggregator

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/storage"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

// TestSelectSources: a scheduled poll takes only due sources (with a
// quarter interval of slack); a forced one takes every source but the
// disabled ones; a changed url makes a disabled source eligible again.
func TestSelectSources(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	db := storagetest.OpenTemp(t)
	cfg := config.Default()
	cfg.Poll.Schedule = "@every 20m"
	src := func(name string) config.Source {
		return config.Source{Name: name, URL: "https://" + name + ".example/feed"}
	}
	cfg.Sources = []config.Source{src("never"), src("due"), src("slack"), src("later"), src("gone"), src("moved"), {Name: "local", Path: "seeds"}}
	cfg.Sources[5].URL = "https://moved.example/new-feed" // the user edited it
	states := []storage.SourceState{
		{Name: "due", ConfigURL: src("due").URL, NextDue: now.Add(-time.Minute)},
		{Name: "slack", ConfigURL: src("slack").URL, NextDue: now.Add(4 * time.Minute)},     // within 5 min (20m/4)
		{Name: "later", ConfigURL: src("later").URL, NextDue: now.Add(6 * time.Minute)},     // beyond
		{Name: "gone", ConfigURL: src("gone").URL, Disabled: true},                          // 410
		{Name: "moved", URL: src("moved").URL, Disabled: true, NextDue: now.Add(time.Hour)}, // a state from before ConfigURL
		{Name: "local", NextDue: now.Add(time.Hour)},
	}
	for i := range states {
		if err := db.Commit(context.Background(), storage.Batch{Source: &states[i]}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(cfg, Deps{Store: db, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	names := func(srcs []config.Source) []string {
		var out []string
		for _, s := range srcs {
			out = append(out, s.Name)
		}
		slices.Sort(out)
		return out
	}
	if got, want := names(s.selectSources(context.Background(), cfg.Sources, false)), []string{"due", "local", "moved", "never", "slack"}; !slices.Equal(got, want) {
		t.Errorf("scheduled poll selects %v, want %v", got, want)
	}
	if got, want := names(s.selectSources(context.Background(), cfg.Sources, true)), []string{"due", "later", "local", "moved", "never", "slack"}; !slices.Equal(got, want) {
		t.Errorf("forced poll selects %v, want %v", got, want)
	}
}

// TestScheduledPollSkipsSourcesNotDue runs the daemon's poll of one
// schedule: a source backed off after errors is not fetched, a due one is.
func TestScheduledPollSkipsSourcesNotDue(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	db := storagetest.OpenTemp(t)
	cfg := config.Default()
	cfg.Poll.Schedule = "@every 15m"
	dir := t.TempDir()
	cfg.Sources = []config.Source{
		{Name: "failing", URL: "http://127.0.0.1:9/feed"}, // refused at once: private networks are not allowed
		{Name: "local", Path: dir},
	}
	s, err := New(cfg, Deps{Store: db, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	st := storage.SourceState{Name: "failing", ConfigURL: cfg.Sources[0].URL, ErrorStreak: 3, NextDue: now.Add(time.Hour)}
	if err := db.Commit(context.Background(), storage.Batch{Source: &st}); err != nil {
		t.Fatal(err)
	}
	fatal := make(chan error, 1)
	s.runPoll(context.Background(), nil, cfg.Poll.Schedule, fatal)
	if got, _, _ := db.Source("failing"); got.ErrorStreak != 3 || !got.LastFetch.IsZero() {
		t.Errorf("a source not due was fetched by a scheduled poll: %+v", got)
	}
	if got, ok, _ := db.Source("local"); !ok || !got.LastFetch.Equal(now) {
		t.Errorf("the due source was not polled: %+v", got)
	}
	// The first poll of the daemon (no schedule) fetches it anyway.
	s.runPoll(context.Background(), nil, "", fatal)
	if got, _, _ := db.Source("failing"); got.ErrorStreak != 4 || !got.LastFetch.Equal(now) {
		t.Errorf("the first poll did not fetch the backed-off source: %+v", got)
	}
}

func TestInterleaveHosts(t *testing.T) {
	var in []config.Source
	for i, h := range []string{"a", "a", "a", "b", "b", "c"} {
		in = append(in, config.Source{Name: fmt.Sprint(h, i), URL: "https://" + h + ".example/" + fmt.Sprint(i)})
	}
	in = append(in, config.Source{Name: "p", Path: "x"})
	var got []string
	for _, s := range interleaveHosts(in) {
		got = append(got, s.Name)
	}
	want := []string{"a0", "b3", "c5", "p", "a1", "b4", "a2"}
	if !slices.Equal(got, want) {
		t.Errorf("interleaveHosts = %v, want %v", got, want)
	}
}

func TestRSSTTL(t *testing.T) {
	for in, want := range map[string]time.Duration{
		`<rss><channel><title>x</title><ttl>60</ttl><item><title>a</title></item></channel></rss>`: time.Hour,
		`<rss><channel><ttl> 15 </ttl></channel></rss>`:                                            15 * time.Minute,
		`<rss><channel><item><ttl>60</ttl></item></channel></rss>`:                                 0, // not the channel's
		`<rss><channel><ttl>soon</ttl></channel></rss>`:                                            0,
		`<rss><channel><ttl>-5</ttl></channel></rss>`:                                              0,
		`<rss><channel><ttl>99999999999</ttl></channel></rss>`:                                     24 * time.Hour,
		`<rss><channel><ttl>100000</ttl></channel></rss>`:                                          24 * time.Hour,
		`<rss><channel><ttl>60`:                                                                    0,
	} {
		if got := rssTTL([]byte(in)); got != want {
			t.Errorf("rssTTL(%q) = %v, want %v", in, got, want)
		}
	}
}
