package publish_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/aggregator/publish"
	"github.com/storyfeed/storyfeed/storage"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

// Real clients. These tests run a real feed reader (newsboat) and a real
// browser (Chromium) when they are installed, and skip otherwise: .ci/run
// does not install them (apt-get install -y newsboat sqlite3 chromium).

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: %v", tool, err)
		}
	}
}

// newsboat is a throwaway newsboat profile subscribed to one URL, whose
// cache survives between reloads, as a reader's does.
type newsboat struct {
	t   *testing.T
	dir string
}

func newNewsboat(t *testing.T, url string) *newsboat {
	need(t, "newsboat", "sqlite3")
	dir := t.TempDir()
	for name, data := range map[string]string{"urls": url + "\n", "config": "reload-threads 1\ndownload-timeout 30\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return &newsboat{t: t, dir: dir}
}

func (nb *newsboat) reload() {
	nb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "newsboat", "-u", filepath.Join(nb.dir, "urls"), "-c", filepath.Join(nb.dir, "cache.db"),
		"-C", filepath.Join(nb.dir, "config"), "-x", "reload")
	cmd.Env = append(os.Environ(), "HOME="+nb.dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		nb.t.Fatalf("newsboat reload: %v\n%s", err, out)
	}
}

// items are the entries newsboat keeps: guid, title, url, and whether the
// content mentions want.
func (nb *newsboat) items(want string) [][4]string {
	nb.t.Helper()
	out, err := exec.Command("sqlite3", "-separator", "\x1f", filepath.Join(nb.dir, "cache.db"),
		"select guid, title, url, instr(content, '"+strings.ReplaceAll(want, "'", "''")+"') > 0 from rss_item order by guid;").Output()
	if err != nil {
		nb.t.Fatalf("sqlite3: %v", err)
	}
	var rows [][4]string
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if l == "" {
			continue
		}
		f := strings.Split(l, "\x1f")
		if len(f) != 4 {
			nb.t.Fatalf("sqlite3 row %q", l)
		}
		rows = append(rows, [4]string(f))
	}
	return rows
}

// A reader keeps one entry per story through a second poll in which an
// outlet joins a story: the same GUID, its title and link intact, and the
// new outlet in its content.
func TestNewsboatOneEntryPerStory(t *testing.T) {
	db := storagetest.OpenTemp(t)
	a := item("Wire", "w1", `Envoy heads to Moscow & "talks" <soon>`, "https://wire.example/envoy?a=1&b=2", t0, "")
	b := item("Other", "o1", "Storm hits coast 🌀", "https://other.example/storm", t0.Add(-time.Hour), "")
	if err := db.Commit(context.Background(), storage.Batch{Items: []storage.Item{a, b}}); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, func(base string) publish.Options { return publish.Options{BaseURL: base} }, db)
	want := map[string][2]string{
		"urn:storyfeed:story:" + a.ID: {a.Title, a.URL},
		"urn:storyfeed:story:" + b.ID: {b.Title, b.URL},
	}
	check := func(path string, rows [][4]string, when string) {
		t.Helper()
		if len(rows) != len(want) {
			t.Fatalf("%s, %s: newsboat shows %d entries, want %d: %q", path, when, len(rows), len(want), rows)
		}
		for _, r := range rows {
			w, ok := want[r[0]]
			if !ok || r[1] != w[0] || r[2] != w[1] {
				t.Errorf("%s, %s: entry %q, want one of %q", path, when, r, want)
			}
		}
	}
	paths := []string{"/feed.xml", "/feed.atom"} // newsboat 2.21 reads no JSON Feed
	readers := map[string]*newsboat{}
	for _, path := range paths {
		readers[path] = newNewsboat(t, srv.URL+path)
		readers[path].reload()
		check(path, readers[path].items("CRBC News"), "first poll")
		readers[path].reload()
		check(path, readers[path].items("CRBC News"), "second poll, nothing new")
	}
	c := item("CRBC News", "c1", "US says it can advance peace plan", "https://crbc.example/plan", t0.Add(time.Hour), a.ID)
	c.FirstSeen, c.Updated = t0.Add(2*time.Hour), t0.Add(2*time.Hour)
	if err := db.Commit(context.Background(), storage.Batch{Items: []storage.Item{c}}); err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		readers[path].reload()
		after := readers[path].items("CRBC News")
		check(path, after, "after an outlet joined")
		for _, r := range after {
			if r[0] == "urn:storyfeed:story:"+a.ID && r[3] != "1" {
				t.Errorf("%s, after an outlet joined: newsboat's entry for the story does not list it: %q", path, r)
			}
		}
	}
}

// The pages in a real browser: Chromium renders them with our CSP (no
// script, our style sheet only), at a phone's width and a desktop's, and
// leaves screenshots in $STORYFEED_SCREENSHOTS (a temporary directory when
// unset) to look at.
func TestPagesInChromium(t *testing.T) {
	need(t, "chromium")
	db := storagetest.OpenTemp(t)
	a := item("seeds", "a", "US envoy to meet Putin in Moscow as Russia claims Pokrovsk", "https://italo.example/a", t0, "")
	a.Outlet, a.Author, a.Cites, a.Category = "Italo", "Marco Rossi", []string{"Bloomberg"}, "world"
	a.Summary = "Steve Witkoff will travel to Moscow next week, according to a Bloomberg report, as Russia says its forces took Pokrovsk."
	b := item("CRBC News", "b", "US says it can advance contested Ukraine peace plan as Trump's envoy meets Putin", "https://crbc.example/b", t0.Add(time.Hour), a.ID)
	b.Category = "world"
	b.Match = storage.Match{Level: "similar", Score: 0.412, Threshold: 0.25, Shared: []string{"witkoff", "moscow", "pokrovsk", "putin"}}
	c := item("Bloomberg", "c", "Witkoff to travel to Moscow for talks with Putin", "https://bloomberg.example/c", t0.Add(-time.Hour), a.ID)
	c.Category = "business"
	c.Match = storage.Match{Level: "similar", Score: 0.377, Threshold: 0.25, Shared: []string{"witkoff", "moscow", "putin"}}
	d := item("Gulf Coast Daily", "d", "Hurricane Delia makes landfall near Galveston — مرحبا", "https://gulf.example/d", t0.Add(-2*time.Hour), "")
	d.Category = "weather"
	if err := db.Commit(context.Background(), storage.Batch{Items: []storage.Item{a, b, c, d}}); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, func(base string) publish.Options { return publish.Options{BaseURL: base, Title: "storyfeed"} }, db)
	shots := os.Getenv("STORYFEED_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	for _, tc := range []struct {
		name, path, size string
		want             []string
	}{
		{"index-phone", "/", "390,1200", []string{c.Title, "Gulf Coast Daily", "3 outlets"}},
		{"story-phone", "/stories/" + a.ID, "390,1400", []string{"Original reporting credited to", "similar, score 0.412", "witkoff, moscow"}},
		{"story-desktop", "/stories/" + a.ID, "1280,900", []string{b.Title, "first report"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			png := filepath.Join(shots, tc.name+".png")
			dom := chromium(t, "--window-size="+tc.size, "--screenshot="+png, "--dump-dom", srv.URL+tc.path)
			for _, w := range tc.want {
				if !strings.Contains(dom, htmlText(w)) {
					t.Errorf("%s as Chromium rendered it lacks %q", tc.path, w)
				}
			}
			if fi, err := os.Stat(png); err != nil || fi.Size() < 5000 {
				t.Errorf("screenshot %s: %v (size %d), want a picture", png, err, sizeOf(fi))
			}
			t.Logf("screenshot: %s", png)
		})
	}
}

// serve starts the publisher of db on a loopback listener, with options
// that may depend on the server's URL.
func serve(t *testing.T, opt func(base string) publish.Options, db *storage.DB) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = publish.NewHandler(db, opt("http://"+srv.Listener.Addr().String()))
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func sizeOf(fi os.FileInfo) int64 {
	if fi == nil {
		return 0
	}
	return fi.Size()
}

// htmlText is s as a browser serialises it in text.
func htmlText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// chromium runs headless Chromium with the flags that work on this kind of
// machine (no sandbox as root, no background networking) and returns its
// output.
func chromium(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, "chromium", append(base, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, tail(stderr.String(), 2000))
	}
	return string(out)
}

func tail(s string, n int) string {
	if len(s) > n {
		return fmt.Sprintf("...%s", s[len(s)-n:])
	}
	return s
}
