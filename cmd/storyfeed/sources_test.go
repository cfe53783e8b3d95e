package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sourcesConfig has a directory source, a feed that fails with 500 and a
// feed that works; the sources test removes one of them later.
const sourcesConfig = `[server]
listen = "127.0.0.1:18701"
[poll]
schedule = "@every 1h"
allow_private_networks = true
[[source]]
name = "local"
path = "a"
category = "home"
[[source]]
name = "broken"
url = "%[1]s/broken.xml"
[[source]]
name = "feed"
url = "%[1]s/feed.xml"
category = "world"
`

const sourcesFeed = `<?xml version="1.0"?>
<rss version="2.0"><channel><title>Feed</title><link>http://example.com/</link>
<item><title>Harbour reopens after the storm</title><link>http://example.com/harbour</link><guid>h1</guid></item>
<item><title>Council approves the new bridge</title><link>http://example.com/bridge</link><guid>b1</guid></item>
</channel></rss>`

func sourcesServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/feed.xml" {
			http.Error(w, "down for maintenance", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Header().Set("ETag", `"v1"`)
		fmt.Fprint(w, sourcesFeed)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func decodeSources(t *testing.T, out string) map[string]map[string]any {
	t.Helper()
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("sources --json is not a JSON array: %v\n%s", err, out)
	}
	by := map[string]map[string]any{}
	for _, r := range rows {
		by[r["name"].(string)] = r
	}
	return by
}

// `sources` lists every configured source with its state, in config order,
// then the sources only the database remembers; --json has every field.
func TestSourcesCommand(t *testing.T) {
	dir := t.TempDir()
	articleDir(t, dir, "a", "Volcano erupts near the coast")
	conf := filepath.Join(dir, "storyfeed.toml")
	writeFile(t, conf, fmt.Sprintf(sourcesConfig, sourcesServer(t)))
	if code, _, errOut := runCmd(t, "sources", "--config", conf); code != 1 || !strings.Contains(errOut, "run 'storyfeed poll' first") {
		t.Errorf("sources before any poll: exit %d, %q; want 1 and a hint", code, errOut)
	}
	if code, _, errOut := runCmd(t, "poll", "--config", conf); code != 0 {
		t.Fatalf("poll: exit %d: %s", code, errOut)
	}
	// Drop "feed" from the config: the database still remembers it.
	writeFile(t, conf, strings.Replace(fmt.Sprintf(sourcesConfig, "http://127.0.0.1:18702"), "[[source]]\nname = \"feed\"", "[[source]]\nname = \"feed2\"", 1))

	code, out, errOut := runCmd(t, "sources", "--json", "--config", conf)
	if code != 0 {
		t.Fatalf("sources --json: exit %d: %s", code, errOut)
	}
	by := decodeSources(t, out)
	keys := []string{"name", "configured", "kind", "url", "path", "category", "current_url", "last_status",
		"last_fetch", "last_success", "next_due", "etag", "last_modified", "error_streak", "last_error", "disabled", "held_until", "items"}
	for name, r := range by {
		for _, k := range keys {
			if _, ok := r[k]; !ok {
				t.Errorf("sources --json: %s lacks %q", name, k)
			}
		}
		if len(r) != len(keys) {
			t.Errorf("sources --json: %s has %d keys, want the %d documented", name, len(r), len(keys))
		}
	}
	if order := strings.Index(out, `"local"`) < strings.Index(out, `"broken"`) && strings.Index(out, `"broken"`) < strings.Index(out, `"feed2"`) &&
		strings.Index(out, `"feed2"`) < strings.Index(out, `"name": "feed"`); !order {
		t.Errorf("sources --json: want config order, then the unconfigured:\n%s", out)
	}
	for _, c := range []struct {
		name  string
		field string
		want  any
	}{
		{"local", "kind", "path"},
		{"local", "last_status", 200.0},
		{"local", "items", 1.0},
		{"local", "category", "home"},
		{"local", "error_streak", 0.0},
		{"broken", "kind", "url"},
		{"broken", "last_status", 500.0},
		{"broken", "error_streak", 1.0},
		{"broken", "last_success", nil},
		{"feed", "configured", false},
		{"feed", "kind", ""},
		{"feed", "last_status", 200.0},
		{"feed", "etag", `"v1"`},
		{"feed", "items", 2.0},
		{"feed2", "configured", true},
		{"feed2", "last_fetch", nil},
		{"feed2", "last_status", 0.0},
	} {
		if got := by[c.name][c.field]; got != c.want {
			t.Errorf("sources --json: %s.%s = %#v, want %#v", c.name, c.field, got, c.want)
		}
	}
	if e, _ := by["broken"]["last_error"].(string); !strings.Contains(e, "/broken.xml") || !strings.Contains(e, "500") {
		t.Errorf("sources --json: broken.last_error = %q, want the URL and the status", e)
	}
	if _, err := time.Parse(time.RFC3339, by["local"]["last_success"].(string)); err != nil {
		t.Errorf("sources --json: local.last_success: %v", err)
	}

	code, out, errOut = runCmd(t, "sources", "--config", conf)
	if code != 0 {
		t.Fatalf("sources: exit %d: %s", code, errOut)
	}
	lines := strings.Split(out, "\n")
	for _, want := range []string{"SOURCE", "local ", "broken ", "feed2 ", "feed "} {
		found := false
		for _, l := range lines {
			found = found || strings.HasPrefix(l, want)
		}
		if !found {
			t.Errorf("sources: no line for %q:\n%s", want, out)
		}
	}
	for _, want := range []string{"error (500)", "never polled", "(not in the config)", "Last errors:", "broken: fetch "} {
		if !strings.Contains(out, want) {
			t.Errorf("sources: output lacks %q:\n%s", want, out)
		}
	}
	if code, _, _ := runCmd(t, "sources", "--config", conf, "extra"); code != 1 {
		t.Errorf("sources with an extra argument: exit %d, want 1", code)
	}
}

// While the daemon holds the database, `sources` asks it and prints what
// it prints from the file.
func TestSourcesWhileDaemonRuns(t *testing.T) {
	dir := t.TempDir()
	articleDir(t, dir, "a", "Volcano erupts near the coast")
	conf := filepath.Join(dir, "storyfeed.toml")
	addr := freeAddr(t) // the read command finds the daemon at the config's address
	writeFile(t, conf, strings.Replace(fmt.Sprintf(sourcesConfig, sourcesServer(t)), "127.0.0.1:18701", addr, 1))
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"run", "--config", conf}, &stdout, &stderr) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("run exited %d: %s", code, stderr.String())
		}
	}
	defer stop()
	for i := 0; serveURL.FindStringSubmatch(stdout.String()) == nil; i++ {
		if i > 3000 {
			t.Fatalf("no URL: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitReady(t, "http://"+addr)

	code, viaDaemon, errOut := runCmd(t, "sources", "--json", "--config", conf)
	if code != 0 {
		t.Fatalf("sources --json while the daemon runs: exit %d, %q", code, errOut)
	}
	by := decodeSources(t, viaDaemon)
	if len(by) != 3 || by["feed"]["items"] != 2.0 || by["broken"]["error_streak"] != 1.0 {
		t.Errorf("sources --json via the daemon:\n%s", viaDaemon)
	}
	code, table, errOut := runCmd(t, "sources", "--config", conf)
	if code != 0 || !strings.Contains(table, "error (500)") {
		t.Errorf("sources via the daemon: exit %d, %q\n%s", code, errOut, table)
	}
	stop()
	code, fromFile, errOut := runCmd(t, "sources", "--json", "--config", conf)
	if code != 0 || fromFile != viaDaemon {
		t.Errorf("sources from the file (exit %d, %q):\n%s\nwant what the daemon printed:\n%s", code, errOut, fromFile, viaDaemon)
	}
}

// A host that asked for a pause (429 with Retry-After) holds all its
// sources; `sources` shows until when, on each of them.
func TestSourcesShowsHeldHosts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/busy.xml" {
			w.Header().Set("Retry-After", "3600")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		fmt.Fprint(w, sourcesFeed)
	}))
	defer srv.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "storyfeed.toml")
	writeFile(t, conf, fmt.Sprintf(`[poll]
allow_private_networks = true
workers = 1
[[source]]
name = "busy"
url = "%[1]s/busy.xml"
[[source]]
name = "same host"
url = "%[1]s/other.xml"
`, srv.URL))
	if code, _, errOut := runCmd(t, "poll", "--config", conf); code != 0 {
		t.Fatalf("poll: exit %d: %s", code, errOut)
	}
	code, out, errOut := runCmd(t, "sources", "--json", "--config", conf)
	if code != 0 {
		t.Fatalf("sources --json: exit %d: %s", code, errOut)
	}
	by := decodeSources(t, out)
	for _, name := range []string{"busy", "same host"} {
		held, _ := by[name]["held_until"].(string)
		until, err := time.Parse(time.RFC3339, held)
		if err != nil || time.Until(until) < 50*time.Minute {
			t.Errorf("%s: held_until = %q, want about an hour from now", name, held)
		}
	}
	if by["busy"]["last_status"] != 429.0 || by["same host"]["last_fetch"] != nil {
		t.Errorf("busy answered %v; the other was fetched at %v, want never", by["busy"]["last_status"], by["same host"]["last_fetch"])
	}
	if code, out, _ := runCmd(t, "sources", "--config", conf); code != 0 || strings.Count(out, "held until ") != 2 {
		t.Errorf("sources: exit %d, want both sources held:\n%s", code, out)
	}
}
