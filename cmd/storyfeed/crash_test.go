package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/storage"
)

// farmDir is the feed farm of the shared tools, beside the checkout.
const farmDir = "../../../shared/tools/feedfarm"

// startFarm builds and starts the shared feed farm with args and returns
// its base URL and the feed URLs it serves.
func startFarm(t testing.TB, args ...string) (base string, feeds []string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(farmDir, "main.go")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("feed farm missing at %s: %v", farmDir, err)
		}
		t.Skipf("feed farm missing at %s: %v", farmDir, err)
	}
	bin := filepath.Join(t.TempDir(), "feedfarm")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = farmDir
	build.Env = append(os.Environ(), "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build feed farm: %v\n%s", err, out)
	}
	farm := exec.Command(bin, append([]string{"-port", "0"}, args...)...)
	var stderr syncBuffer
	farm.Stderr = &stderr
	if err := farm.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		farm.Process.Kill()
		farm.Wait()
	})
	re := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+) `)
	for i := 0; ; i++ {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			base = m[1]
			break
		}
		if i > 3000 {
			t.Fatalf("feed farm did not start: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, opml := get(t, base+"/opml.xml")
	for _, m := range regexp.MustCompile(`xmlUrl="([^"]+)"`).FindAllStringSubmatch(opml, -1) {
		feeds = append(feeds, m[1])
	}
	slices.Sort(feeds)
	return base, feeds
}

// farmConfig is a config of every farm feed, polled by one worker so that
// every run commits the sources in the same order.
func farmConfig(feeds []string, workers int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[server]\nlisten = \"127.0.0.1:0\"\n[poll]\nschedule = \"@every 1h\"\nallow_private_networks = true\nworkers = %d\n[log]\nlevel = \"warn\"\n", workers)
	for i, u := range feeds {
		fmt.Fprintf(&b, "[[source]]\nname = \"farm %03d\"\nurl = %q\n", i, u)
	}
	return b.String()
}

// snapshot is what a database holds: item IDs and stories as sets of
// item IDs.
type snapshot struct {
	items   map[string]bool
	stories [][]string // each sorted; sorted
}

// inspect opens the database read-only, checks it (bbolt's page check and
// storyfeed's invariants) and returns its content.
func inspect(t testing.TB, path string) snapshot {
	t.Helper()
	db, err := storage.Open(path, storage.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("open %s after the crash: %v", path, err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Fatalf("%s fails its consistency check:\n%v", path, err)
	}
	svs, err := db.Stories(context.Background(), storage.StoryQuery{Limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	s := snapshot{items: map[string]bool{}}
	for _, sv := range svs {
		var ids []string
		for _, m := range sv.Members {
			if s.items[m.ID] {
				t.Errorf("item %s is in two stories", m.ID)
			}
			s.items[m.ID] = true
			ids = append(ids, m.ID)
		}
		slices.Sort(ids)
		s.stories = append(s.stories, ids)
	}
	slices.SortFunc(s.stories, func(a, b []string) int { return strings.Compare(strings.Join(a, ","), strings.Join(b, ",")) })
	counts, err := db.Count()
	if err != nil {
		t.Fatal(err)
	}
	if counts.Items != len(s.items) {
		t.Errorf("%d items stored, %d in stories", counts.Items, len(s.items))
	}
	return s
}

// committed reads from the daemon's metrics how many new items it has
// committed: each one founded or joined a story.
func committed(t testing.TB, base string) (int, bool) {
	code, body := get(t, base+"/metrics")
	if code != 200 {
		return 0, false
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	n := 0.0
	for _, name := range []string{"storyfeed_stories_created_total", "storyfeed_stories_joined_total"} {
		for _, m := range fams[name].GetMetric() {
			n += m.GetCounter().GetValue()
		}
	}
	return int(n), true
}

// The crash test of the issue: the daemon, a child process, ingests a feed
// farm and is killed with SIGKILL at random moments, again and again. After
// every kill the database opens, passes its consistency check and holds
// every item committed before the kill; after a last full poll it holds
// exactly what a run that was never killed holds, story for story.
//
// STORYFEED_CRASH_SEED replays a run; STORYFEED_CRASH_BIG=1 runs a bigger
// farm and more kills (minutes, not for the default test run).
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: not in -short")
	}
	feedsN, itemsN, kills := 30, 30, 20
	if os.Getenv("STORYFEED_CRASH_BIG") != "" {
		feedsN, itemsN, kills = 300, 50, 60
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("STORYFEED_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d (replay with STORYFEED_CRASH_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	_, feeds := startFarm(t, "-feeds", strconv.Itoa(feedsN), "-items", strconv.Itoa(itemsN),
		"-latency", "2ms", "-jitter", "8ms", "-epoch", time.Now().UTC().Format(time.RFC3339))
	if len(feeds) != feedsN {
		t.Fatalf("farm serves %d feeds, want %d", len(feeds), feedsN)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "storyfeed.toml")
	writeFile(t, conf, farmConfig(feeds, config.Default().Poll.Workers))

	// The reference: one poll, never killed.
	start := time.Now()
	ref := startChild(t, dir, "poll", "--config", conf, "--db", filepath.Join(dir, "ref.db"))
	<-ref.done
	full := time.Since(start)
	if ref.code != 0 {
		t.Fatalf("reference poll exited %d: %s", ref.code, ref.stderr.String())
	}
	want := inspect(t, filepath.Join(dir, "ref.db"))
	t.Logf("reference: %d items, %d stories in %v", len(want.items), len(want.stories), full.Round(time.Millisecond))
	if len(want.items) < feedsN*itemsN*9/10 {
		t.Fatalf("reference run stored %d items of %d", len(want.items), feedsN*itemsN)
	}

	// Kill, restart, check, again.
	db := filepath.Join(dir, "killed.db")
	have := snapshot{items: map[string]bool{}}
	for i := range kills {
		d := startChild(t, dir, "run", "--config", conf, "--db", db)
		base := d.base()
		// Most kills come while new items are being committed: after the
		// run's first commit of new items (a restart first re-polls what it
		// has). The others come at any moment after start-up.
		when := "start"
		if rng.IntN(4) != 0 && len(have.items) < len(want.items) {
			when = "first commit"
			for j := 0; j < 2000; j++ {
				if n, _ := committed(t, base); n > 0 {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		delay := time.Duration(rng.Int64N(int64(full/8) + 1))
		time.Sleep(delay)
		n, ok := committed(t, base)
		if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-d.done
		got := inspect(t, db)
		for id := range have.items {
			if !got.items[id] {
				t.Fatalf("kill %d: item %s, stored before, is gone", i, id)
			}
		}
		if ok && len(got.items) < len(have.items)+n {
			t.Fatalf("kill %d: %d items after the kill, want at least %d before it + %d committed by the run",
				i, len(got.items), len(have.items), n)
		}
		t.Logf("kill %2d %8v after %-12s: %4d items (+%d, %d reported committed)", i, delay.Round(time.Millisecond), when,
			len(got.items), len(got.items)-len(have.items), n)
		have = got
	}

	// A last full poll, not killed, completes the database.
	last := startChild(t, dir, "poll", "--config", conf, "--db", db)
	<-last.done
	if last.code != 0 {
		t.Fatalf("final poll exited %d: %s", last.code, last.stderr.String())
	}
	got := inspect(t, db)
	if len(got.items) != len(want.items) || len(got.stories) != len(want.stories) {
		t.Errorf("after %d kills and a full poll: %d items, %d stories; a run never killed has %d items, %d stories",
			kills, len(got.items), len(got.stories), len(want.items), len(want.stories))
	}
	for id := range want.items {
		if !got.items[id] {
			t.Errorf("item %s missing after the kills", id)
		}
	}
	if !slices.EqualFunc(got.stories, want.stories, slices.Equal) {
		diff := 0
		for _, s := range got.stories {
			if !slices.ContainsFunc(want.stories, func(w []string) bool { return slices.Equal(w, s) }) {
				diff++
			}
		}
		t.Errorf("%d stories differ from the run never killed (a duplicated or split story)", diff)
	}
}
