package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/storyfeed/storyfeed/aggregator/config"
)

// A config as people write them: comments, odd spacing, a source whose URL
// the OPML repeats in another case, and a name the OPML repeats.
const handConfig = `# storyfeed at home
[server]
listen   =   "127.0.0.1:18710"   # the feed reader polls this

[[source]]   # read first
name = "Daily Wire"
url = "https://known.example/feed.xml"
category = "home"
`

func fileText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOPMLImport(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "storyfeed.toml")
	writeFile(t, conf, handConfig)
	opml, err := filepath.Abs(filepath.Join("testdata", "opml", "reader.opml"))
	if err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runCmd(t, "opml", "import", "--config", conf, opml)
	if code != 0 {
		t.Fatalf("opml import: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "added 6 sources") || !strings.Contains(out, "2 already configured") {
		t.Errorf("opml import said %q", out)
	}
	if !strings.Contains(errOut, "reader.opml:21: skipped") || !strings.Contains(errOut, "mailto:") {
		t.Errorf("opml import does not report the mailto: outline at its line: %q", errOut)
	}
	text := fileText(t, conf)
	if !strings.HasPrefix(text, handConfig) {
		t.Fatalf("the config lost or changed its text:\n%s", text)
	}
	cfg, err := config.Load(conf)
	if err != nil {
		t.Fatalf("imported config does not load: %v", err)
	}
	var got []string
	for _, s := range cfg.Sources {
		got = append(got, s.Name+"|"+s.URL+"|"+s.Category)
	}
	want := []string{
		"Daily Wire|https://known.example/feed.xml|home",
		"Daily Wire #2|https://wire.example/world.xml|News/World",
		"Café & Co|https://cafe.example/feed|News/World",
		"Daily Wire #3|https://wire.example/politics.xml|News",
		"Daily Wire #4|http://wire.example/tech.xml|Tech",
		"untitled.example|https://untitled.example/rss|Tech",
		"Top level|https://top.example/atom|",
	}
	if !slices.Equal(got, want) {
		t.Errorf("sources after import:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Again: everything is known, nothing is written.
	code, out, _ = runCmd(t, "opml", "import", "--config", conf, opml)
	if code != 0 || !strings.Contains(out, "nothing to add") || fileText(t, conf) != text {
		t.Errorf("second import: exit %d, %q; the file must not change", code, out)
	}
}

// The round trip: export, then import into the same config adds nothing;
// into an empty config it gives a config that exports the same bytes.
func TestOPMLRoundTrip(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "storyfeed.toml")
	writeFile(t, conf, handConfig+`
[[source]]
name = "Wire & \"Co\""
url = "https://wire.example/rss?a=1&b=2"
category = "news/world"

[[source]]
name = "Tech"
url = "https://tech.example/atom"
category = "news"

[[source]]
name = "Local"
path = "articles"
`)
	code, exported, errOut := runCmd(t, "opml", "export", "--config", conf)
	if code != 0 {
		t.Fatalf("opml export: exit %d: %s", code, errOut)
	}
	before := fileText(t, conf)
	file := filepath.Join(dir, "sources.opml")
	if code, _, errOut := runCmd(t, "opml", "export", "--config", conf, "-o", file); code != 0 || fileText(t, file) != exported {
		t.Fatalf("opml export -o: exit %d, %s; want the same bytes as on stdout", code, errOut)
	}
	if code, out, errOut := runCmd(t, "opml", "import", "--config", conf, file); code != 0 || !strings.Contains(out, "nothing to add") {
		t.Errorf("import(export(cfg)): exit %d, %q %q; want nothing added", code, out, errOut)
	}
	if fileText(t, conf) != before {
		t.Errorf("import(export(cfg)) changed the config")
	}

	fresh := filepath.Join(dir, "sub", "fresh.toml")
	if err := os.Mkdir(filepath.Dir(fresh), 0o755); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCmd(t, "opml", "import", "--config", fresh, file); code != 0 || !strings.Contains(out, "created with 3 sources") {
		t.Fatalf("import into a new config: exit %d, %q %q", code, out, errOut)
	}
	// The local source has no URL in OPML; the rest comes back the same.
	code, again, _ := runCmd(t, "opml", "export", "--config", fresh)
	wantAgain := strings.Replace(exported, "  <outline text=\"Local\" title=\"Local\"></outline>\n", "", 1)
	if code != 0 || again != wantAgain {
		t.Errorf("export(import(export(cfg))) =\n%s\nwant\n%s", again, wantAgain)
	}
	if code, _, errOut := runCmd(t, "check", "--config", fresh); code != 0 {
		t.Errorf("the created config does not pass check: %s", errOut)
	}
}

// Bad input changes nothing and says where it is.
func TestOPMLImportRefuses(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "storyfeed.toml")
	writeFile(t, conf, handConfig)
	abs := func(name string) string {
		p, err := filepath.Abs(filepath.Join("testdata", "opml", name))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name   string
		config string // "" keeps handConfig
		args   []string
		code   int
		want   string
	}{
		{"broken OPML", "", []string{abs("broken.opml")}, 1, "broken.opml:6: not well-formed OPML"},
		{"not OPML", "", []string{abs("notopml.xml")}, 1, "notopml.xml:2: not an OPML file"},
		{"missing OPML", "", []string{filepath.Join(dir, "nope.opml")}, 1, "nope.opml"},
		{"no --config", "", nil, 1, "--config FILE is required"},
		{"config invalid", "[poll]\nschedule = \"every now and then\"\n", []string{abs("reader.opml")}, 1, "storyfeed.toml:2: poll.schedule"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := handConfig
			if tc.config != "" {
				text = tc.config
			}
			writeFile(t, conf, text)
			args := []string{"opml", "import"}
			if tc.name != "no --config" {
				args = append(args, "--config", conf)
			} else {
				args = append(args, abs("reader.opml"))
			}
			code, _, errOut := runCmd(t, append(args, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, tc.code, tc.want)
			}
			if fileText(t, conf) != text {
				t.Errorf("the config changed")
			}
		})
	}
	if code, _, _ := runCmd(t, "opml"); code != 2 {
		t.Errorf("opml without a subcommand: exit %d, want 2", code)
	}
	if code, _, _ := runCmd(t, "opml", "import", "--config", conf); code != 2 {
		t.Errorf("opml import without a file: exit %d, want 2", code)
	}
}

// The OPML the feedfarm serves repeats titles; every feed gets a source.
func TestOPMLImportRepeatedTitles(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<opml version=\"2.0\"><head><title>farm</title></head><body>\n")
	for _, section := range []string{"World", "Science"} {
		b.WriteString(`<outline text="` + section + `" title="` + section + `">` + "\n")
		for i := range 3 {
			b.WriteString(`<outline type="rss" text="Atlantic Courier - Markets" title="Atlantic Courier - Markets" xmlUrl="http://127.0.0.1:18711/f/` +
				section + string(rune('0'+i)) + `.xml"/>` + "\n")
		}
		b.WriteString("</outline>\n")
	}
	b.WriteString("</body></opml>\n")
	dir := t.TempDir()
	opml := filepath.Join(dir, "farm.opml")
	writeFile(t, opml, b.String())
	conf := filepath.Join(dir, "farm.toml")
	code, out, errOut := runCmd(t, "opml", "import", "--config", conf, opml)
	if code != 0 {
		t.Fatalf("import: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "note: 6 of them are on loopback or private addresses") {
		t.Errorf("no hint about allow_private_networks: %q", out)
	}
	cfg, err := config.Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Sources) != 6 || cfg.Sources[5].Name != "Atlantic Courier - Markets #6" || cfg.Sources[5].Category != "Science" {
		t.Errorf("sources: %+v", cfg.Sources)
	}
}

// --dry-run prints what it would append and changes nothing; through a
// symlink, the file it points to is the one that changes.
func TestOPMLImportDryRunAndSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.toml")
	writeFile(t, real, handConfig)
	link := filepath.Join(dir, "storyfeed.toml")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	opml := filepath.Join("testdata", "opml", "reader.opml")
	code, out, errOut := runCmd(t, "opml", "import", "--dry-run", "--config", link, opml)
	if code != 0 || !strings.HasPrefix(out, "\n# Added by `storyfeed opml import reader.opml`\n[[source]]\nname = \"Daily Wire #2\"\n") {
		t.Errorf("--dry-run: exit %d, %q, stderr %q", code, out, errOut)
	}
	if fileText(t, real) != handConfig {
		t.Fatalf("--dry-run changed the config")
	}
	if code, _, errOut := runCmd(t, "opml", "import", "--config", link, opml); code != 0 {
		t.Fatalf("import through a symlink: exit %d, %s", code, errOut)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced by a file")
	}
	if got := fileText(t, real); !strings.HasPrefix(got, handConfig) || !strings.Contains(got, out) {
		t.Errorf("the linked file did not get what --dry-run showed:\n%s", got)
	}
}
