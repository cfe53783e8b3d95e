package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/storyfeed/storyfeed/storage"
)

// TestMain lets a test run this test binary as the storyfeed command, in a
// child process that gets real signals: with STORYFEED_TEST_MAIN=1 it is
// main() with the arguments it was given.
func TestMain(m *testing.M) {
	if os.Getenv("STORYFEED_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// child is a storyfeed process started by a test.
type child struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	code   int
}

// startChild runs `storyfeed args...` as a child process in dir.
func startChild(t testing.TB, dir string, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "STORYFEED_TEST_MAIN=1")
	c := &child{t: t, cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.stdout, c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", args, err)
	}
	go func() {
		err := cmd.Wait()
		c.code = cmd.ProcessState.ExitCode()
		if err != nil && c.code == -1 {
			c.code = -int(cmd.ProcessState.Sys().(syscall.WaitStatus).Signal())
		}
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

var serveURL = regexp.MustCompile(`subscribe to (http://127\.0\.0\.1:\d+)/feed\.xml`)

// base waits until the daemon prints its URL.
func (c *child) base() string {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := serveURL.FindStringSubmatch(c.stdout.String()); m != nil {
			return m[1]
		}
		select {
		case <-c.done:
			c.t.Fatalf("daemon exited %d before serving:\n%s", c.code, c.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	c.t.Fatalf("daemon printed no URL within 60s:\n%s", c.stderr.String())
	return ""
}

// signal sends sig and returns the exit status and how long the exit took.
func (c *child) signal(sig os.Signal) (int, time.Duration) {
	c.t.Helper()
	start := time.Now()
	if err := c.cmd.Process.Signal(sig); err != nil {
		c.t.Fatalf("signal %v: %v", sig, err)
	}
	select {
	case <-c.done:
		return c.code, time.Since(start)
	case <-time.After(30 * time.Second):
		c.t.Fatalf("no exit within 30s of %v:\n%s", sig, c.stderr.String())
		return 0, 0
	}
}

// waitLog waits until the child's stderr matches re, and returns the
// match.
func (c *child) waitLog(re string) string {
	c.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := rx.FindString(c.stderr.String()); m != "" {
			return m
		}
		select {
		case <-c.done:
			c.t.Fatalf("daemon exited %d while waiting for log %q:\n%s", c.code, re, c.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	c.t.Fatalf("no log line matching %q within 60s:\n%s", re, c.stderr.String())
	return ""
}

// waitReady polls /readyz until it answers 200.
func waitReady(t testing.TB, base string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if code, _ := get(t, base+"/readyz"); code == 200 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s/readyz not 200 within 60s", base)
}

func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// articleDir writes article files, one per title, into a new directory.
func articleDir(t testing.TB, dir, name string, titles ...string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, title := range titles {
		body := fmt.Sprintf("---\ntitle: %s\nsource: Outlet %s\npublished: 2025-10-0%dT09:00:00Z\n---\n\n%s. This paragraph is about %s and nothing else at all.\n", title, name, i+1, title, strings.ToLower(title))
		if err := os.WriteFile(filepath.Join(p, fmt.Sprintf("%02d.txt", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// storyTitles lists the titles of `stories --json` output.
func storyTitles(t testing.TB, out string) []string {
	t.Helper()
	var titles []string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var s storyJSON
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("stories --json line %q: %v", sc.Text(), err)
		}
		titles = append(titles, s.Title)
	}
	return titles
}

const daemonConfig = `[server]
listen = "127.0.0.1:0"
[poll]
schedule = "@every 1h"
[[source]]
name = "a"
path = "a"
`

// The service contract, through real signals: SIGHUP adds a source and
// logs the diff; a broken config is refused with every problem at its
// FILE:LINE while the daemon goes on; SIGTERM stops it with status 0 well
// within 10 s.
func TestDaemonSignals(t *testing.T) {
	dir := t.TempDir()
	articleDir(t, dir, "a", "Volcano erupts near the coast")
	articleDir(t, dir, "b", "Parliament passes the budget")
	conf := filepath.Join(dir, "storyfeed.toml")
	writeFile(t, conf, daemonConfig)
	d := startChild(t, dir, "run", "--config", conf)
	base := d.base()
	waitReady(t, base)

	// Add a source.
	writeFile(t, conf, daemonConfig+"[[source]]\nname = \"b\"\npath = \"b\"\n")
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitLog(`msg="reload: source added" source=b`)
	d.waitLog(`msg="config reloaded".* added=1 removed=0 changed=0`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := get(t, base+"/feed.json")
		if strings.Contains(body, "Parliament passes the budget") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the added source's story is not in /feed.json within 30s:\n%s\n%s", body, d.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A broken config: unknown key, bad cron spec, duplicate name.
	broken := daemonConfig + "[[source]]\nname = \"b\"\npath = \"b\"\ncolour = \"red\"\n[[source]]\nname = \"a\"\npath = \"b\"\nschedule = \"every tuesday\"\n"
	writeFile(t, conf, broken)
	d.cmd.Process.Signal(syscall.SIGHUP)
	for _, want := range []string{
		regexp.QuoteMeta(conf) + `:11: source\[1\]\.colour: unknown key`,
		regexp.QuoteMeta(conf) + `:13: source\[2\]\.name: duplicate source name`,
		regexp.QuoteMeta(conf) + `:15: source\[2\]\.schedule: bad cron spec`,
	} {
		d.waitLog(`level=ERROR msg="reload: invalid config, keeping the old one" problem="` + want)
	}
	if code, body := get(t, base+"/feed.json"); code != 200 || !strings.Contains(body, "Volcano erupts") || !strings.Contains(body, "Parliament passes") {
		t.Errorf("after a broken reload /feed.json = %d, want 200 with both stories:\n%s", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != 200 {
		t.Errorf("after a broken reload /readyz = %d %q, want 200", code, body)
	}

	code, took := d.signal(syscall.SIGTERM)
	t.Logf("SIGTERM: exit %d after %v", code, took)
	if code != 0 || took > 10*time.Second {
		t.Errorf("SIGTERM: exit %d after %v, want 0 within 10s\n%s", code, took, d.stderr.String())
	}
	// The database is closed and consistent.
	db, err := storage.Open(filepath.Join(dir, "storyfeed.db"), storage.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("open after SIGTERM: %v", err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Errorf("check after SIGTERM: %v", err)
	}
}

// SIGINT stops the daemon like SIGTERM, also in the middle of a poll of a
// slow source.
func TestDaemonSIGINTDuringPoll(t *testing.T) {
	dir := t.TempDir()
	articleDir(t, dir, "a", "Volcano erupts near the coast")
	// A feed that never finishes: the poll is running when SIGINT comes.
	slow := make(chan struct{})
	srv := newSlowServer(t, slow)
	conf := filepath.Join(dir, "storyfeed.toml")
	writeFile(t, conf, strings.Replace(daemonConfig, "[poll]\n", "[poll]\nallow_private_networks = true\ntimeout = \"60s\"\n", 1)+fmt.Sprintf("[[source]]\nname = \"slow\"\nurl = %q\n", srv+"/feed.xml"))
	d := startChild(t, dir, "run", "--config", conf)
	d.base()
	select {
	case <-slow: // the daemon is fetching
	case <-time.After(30 * time.Second):
		t.Fatalf("the daemon did not fetch the slow feed:\n%s", d.stderr.String())
	}
	code, took := d.signal(os.Interrupt)
	t.Logf("SIGINT during a fetch: exit %d after %v", code, took)
	if code != 0 || took > 10*time.Second {
		t.Errorf("SIGINT during a fetch: exit %d after %v, want 0 within 10s\n%s", code, took, d.stderr.String())
	}
}

// newLoopbackServer serves h on 127.0.0.1 until the test ends.
func newLoopbackServer(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// newSlowServer serves a feed whose body never ends; started is closed at
// the first request.
func newSlowServer(t *testing.T, started chan struct{}) string {
	t.Helper()
	var once sync.Once
	srv := newLoopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		io.WriteString(w, "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>slow</title>")
		w.(http.Flusher).Flush()
		once.Do(func() { close(started) })
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Minute):
		}
	}))
	return srv
}

// The daemon's metrics parse as Prometheus text and carry every family the
// issue asks for; /healthz and /readyz answer.
func TestDaemonMetrics(t *testing.T) {
	dir := t.TempDir()
	articleDir(t, dir, "a", "Volcano erupts near the coast")
	feed := newLoopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		io.WriteString(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>f</title><link>http://f.example/</link>
<item><title>Dam breaks after heavy rain</title><link>http://f.example/1</link><guid>1</guid><description>The dam broke after days of heavy rain in the valley.</description></item>
</channel></rss>`)
	}))
	conf := filepath.Join(dir, "storyfeed.toml")
	writeFile(t, conf, strings.Replace(daemonConfig, "[poll]\n", "[poll]\nallow_private_networks = true\n", 1)+
		fmt.Sprintf("[[source]]\nname = \"f\"\nurl = %q\n", feed+"/feed.xml"))
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"run", "--config", conf}, &stdout, &stderr) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("run exited %d: %s", code, stderr.String())
		}
	}()
	var base string
	for range 1000 {
		if m := serveURL.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if base == "" {
		t.Fatalf("no URL printed: %s", stderr.String())
	}
	waitReady(t, base)
	if code, body := get(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d %q", code, body)
	}
	code, body := get(t, base+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse as Prometheus text: %v\n%s", err, body)
	}
	value := func(name string, labels ...string) float64 {
		f, ok := fams[name]
		if !ok {
			t.Errorf("/metrics lacks %s", name)
			return -1
		}
	metrics:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
		t.Errorf("/metrics has no %s%v", name, labels)
		return -1
	}
	for _, c := range []struct {
		name   string
		labels []string
		min    float64
	}{
		{"storyfeed_source_polls_total", []string{"outcome", "ok"}, 2},
		{"storyfeed_poll_cycles_total", []string{"result", "ok"}, 1},
		{"storyfeed_fetches_total", []string{"class", "2xx"}, 1},
		{"storyfeed_fetch_duration_seconds", nil, 1},
		{"storyfeed_fetched_bytes_total", nil, 100},
		{"storyfeed_items_ingested_total", []string{"kind", "new"}, 2},
		{"storyfeed_stories_created_total", nil, 2},
		{"storyfeed_stories_joined_total", []string{"level", "similar"}, 0},
		{"storyfeed_transaction_duration_seconds", nil, 2},
		{"storyfeed_database_size_bytes", nil, 4096},
		{"storyfeed_last_successful_poll_timestamp_seconds", nil, float64(time.Now().Add(-time.Hour).Unix())},
		{"go_goroutines", nil, 1},
	} {
		if got := value(c.name, c.labels...); got < c.min {
			t.Errorf("%s%v = %v, want at least %v", c.name, c.labels, got, c.min)
		}
	}
}
