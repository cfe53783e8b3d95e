package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"
)

// syncBuffer is a bytes.Buffer safe for a command writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// workdir makes a temporary directory holding a copy of the seeds and
// changes into it, as a new user would run storyfeed.
func workdir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "seeds"), 0o755); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../../seeds/*.txt")
	if len(files) != 2 {
		t.Fatalf("want 2 seed files, got %v", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "seeds", filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	return dir
}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// The README's first command, as a new user runs it: poll on the built-in
// defaults, then list the stories.
func TestPollThenStoriesOnDefaults(t *testing.T) {
	workdir(t)
	if code, _, stderr := runCmd(t, "poll", "--db", "x.db"); code != 0 {
		t.Fatalf("poll exited %d: %s", code, stderr)
	}
	code, stdout, stderr := runCmd(t, "stories", "--json", "--db", "x.db")
	if code != 0 {
		t.Fatalf("stories exited %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 1 {
		t.Fatalf("stories --json printed %d lines, want 1 story:\n%s", len(lines), stdout)
	}
	var s storyJSON
	if err := json.Unmarshal([]byte(lines[0]), &s); err != nil {
		t.Fatal(err)
	}
	if s.Sources != 2 || len(s.Items) != 2 {
		t.Fatalf("story has %d sources, %d items; want 2, 2", s.Sources, len(s.Items))
	}
	sources := map[string]bool{}
	for _, it := range s.Items {
		sources[it.Source] = true
	}
	if !sources["CRBC News"] || !sources["Aksah Italo"] {
		t.Errorf("sources %v, want CRBC News and the byline Aksah Italo", sources)
	}
	// The contract's keys are all present.
	var raw map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "title", "link", "first_seen", "updated", "sources", "items"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("stories --json lacks %q", k)
		}
	}
	item := raw["items"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "source", "title", "url", "published", "level", "score"} {
		if _, ok := item[k]; !ok {
			t.Errorf("stories --json items lack %q", k)
		}
	}
	// --explain shows why the second item joined.
	code, stdout, _ = runCmd(t, "stories", "--explain", s.ID, "--db", "x.db")
	if code != 0 || !strings.Contains(stdout, "level:     similar") || !strings.Contains(stdout, "shared:") {
		t.Errorf("stories --explain exited %d:\n%s", code, stdout)
	}
}

var feedURL = regexp.MustCompile(`http://127\.0\.0\.1:\d+/feed\.xml`)

// startDaemon runs `storyfeed run` until the test ends and returns the base
// URL once the first poll has stored the seeds.
func startDaemon(t *testing.T, db string) (base string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"run", "--db", db, "--listen", "127.0.0.1:0"}, &stdout, &stderr) }()
	stop = func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("run exited %d: %s", code, stderr.String())
			}
		case <-time.After(15 * time.Second):
			t.Fatal("run did not stop within 15s of cancel")
		}
	}
	for range 200 {
		if u := feedURL.FindString(stdout.String()); u != "" {
			base = strings.TrimSuffix(u, "/feed.xml")
			if f := fetchFeed(t, base+"/feed.xml"); f != nil && len(f.Items) > 0 {
				return base, stop
			}
		}
		select {
		case code := <-done:
			t.Fatalf("run exited %d early: %s", code, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	stop()
	t.Fatalf("the daemon served no story within 10s:\n%s\n%s", stdout.String(), stderr.String())
	return "", nil
}

func fetchFeed(t *testing.T, url string) *gofeed.Feed {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		return nil
	}
	f, err := gofeed.NewParser().Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return f
}

// The canonical example, end to end: the two seeds come out of every feed
// format as one item naming both outlets, with a GUID that survives a
// restart and another poll.
func TestRunServesSeedsAsOneStory(t *testing.T) {
	dir := workdir(t)
	db := filepath.Join(dir, "storyfeed.db")
	base, stop := startDaemon(t, db)
	guids := map[string]string{}
	for _, path := range []string{"/feed.xml", "/feed.atom", "/feed.json"} {
		f := fetchFeed(t, base+path)
		if f == nil {
			t.Fatalf("GET %s failed", path)
		}
		if len(f.Items) != 1 {
			t.Fatalf("%s has %d items, want exactly 1", path, len(f.Items))
		}
		it := f.Items[0]
		for _, outlet := range []string{"CRBC News", "Aksah Italo"} {
			if !strings.Contains(it.Content, outlet) {
				t.Errorf("%s item does not name %s:\n%s", path, outlet, it.Content)
			}
		}
		guids[path] = it.GUID
	}
	resp, err := http.Get(base + "/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET / = %v %v", resp, err)
	}
	resp.Body.Close()
	stop()

	// Restart on the same database: another poll, same story, same GUID.
	base, stop = startDaemon(t, db)
	defer stop()
	for path, guid := range guids {
		f := fetchFeed(t, base+path)
		if len(f.Items) != 1 || f.Items[0].GUID != guid {
			t.Errorf("%s after restart: %d items, GUID %q; want 1 with %q", path, len(f.Items), f.Items[0].GUID, guid)
		}
	}
	// The database is held: a second writer fails fast with a clear error.
	start := time.Now()
	code, _, stderr := runCmd(t, "poll", "--db", db)
	if code != 1 || !strings.Contains(stderr, "in use by another storyfeed process") {
		t.Errorf("poll against a held database: exit %d, %q", code, stderr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("poll against a held database took %v to fail", d)
	}
}

func TestCheckReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.toml")
	conf := "[server]\nlisten = \"localhost\"\n\n[poll]\nschedule = \"every so often\"\n\n[[source]]\nname = \"x\"\nurl = \"https://x.example/feed\"\npath = \"seeds\"\n"
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := runCmd(t, "check", "--config", path)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 1 || len(lines) != 3 {
		t.Fatalf("check exited %d with %d lines, want 1 and 3:\n%s", code, len(lines), stdout)
	}
	for i, line := range []int{2, 5, 10} {
		if want := path + ":" + strconv.Itoa(line) + ": "; !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], want)
		}
	}
	good := filepath.Join(dir, "good.toml")
	if err := os.WriteFile(good, []byte("[[source]]\nname = \"x\"\nurl = \"https://x.example/feed\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, stdout, _ := runCmd(t, "check", "--config", good); code != 0 || !strings.Contains(stdout, "ok") {
		t.Errorf("check of a good config: %d %q", code, stdout)
	}
	if code, _, stderr := runCmd(t, "check", "--config", filepath.Join(dir, "missing.toml")); code != 1 || !strings.Contains(stderr, "missing.toml") {
		t.Errorf("check of a missing file: %d %q", code, stderr)
	}
}

func TestUsage(t *testing.T) {
	if code, stdout, _ := runCmd(t, "-h"); code != 0 || !strings.Contains(stdout, "poll") {
		t.Errorf("-h: %d %q", code, stdout)
	}
	if code, _, stderr := runCmd(t, "frobnicate"); code != 2 || !strings.Contains(stderr, "unknown command") {
		t.Errorf("unknown command: %d %q", code, stderr)
	}
	for _, c := range commands {
		code, _, stderr := runCmd(t, c.name, "-h")
		if code != 0 || !strings.Contains(stderr, "Usage: storyfeed "+c.name) {
			t.Errorf("%s -h: exit %d, %q", c.name, code, stderr)
		}
	}
	if code, stdout, _ := runCmd(t, "version"); code != 0 || !strings.HasPrefix(stdout, "storyfeed ") {
		t.Errorf("version: %d %q", code, stdout)
	}
}

func TestStoriesWithoutDatabase(t *testing.T) {
	t.Chdir(t.TempDir())
	code, _, stderr := runCmd(t, "stories", "--db", "none.db")
	if code != 1 || !strings.Contains(stderr, "run 'storyfeed poll' first") {
		t.Errorf("stories without a database: %d %q", code, stderr)
	}
	if _, err := os.Stat("none.db"); err == nil {
		t.Error("a read command created a database file")
	}
}
