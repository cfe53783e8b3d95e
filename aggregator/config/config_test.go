package config

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The example config documents every key with its default value. It must
// load cleanly and mean exactly Default().
func TestExampleIsDefault(t *testing.T) {
	data, err := os.ReadFile("../../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse("config.example.toml", data)
	if err != nil {
		t.Fatalf("config.example.toml does not load:\n%v", err)
	}
	want := Default()
	got.File, got.lines = "", nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config.example.toml differs from Default():\n got %+v\nwant %+v", got, want)
	}
	// Every key Default() has must be documented in the example.
	for _, key := range []string{"path", "listen", "base_url", "title", "token", "representative", "preferred", "schedule", "allow_private_networks",
		"workers", "per_host", "host_gap", "connect_timeout", "timeout", "max_body_size", "memory_limit", "user_agent", "window", "similar", "similar_headline", "near", "level", "format"} {
		if !strings.Contains(string(data), "\n"+key+" = ") {
			t.Errorf("config.example.toml does not document %q", key)
		}
	}
}

func TestParseErrorsAllAtOnceWithLines(t *testing.T) {
	src := `[server]
listen = "127.0.0.1:8080"
colour = "blue"

[poll]
schedule = "every fortnight"

[dedupe]
window = "soon"

[[source]]
name = "A"
url = "https://a.example/feed"

[[source]]
name = "A"
path = "seeds"
url = "https://b.example/feed"

[[source]]
name = "C"
`
	_, err := Parse("bad.toml", []byte(src))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse = %v, want Errors", err)
	}
	want := []string{
		"bad.toml:3: server.colour: unknown key",
		`bad.toml:6: poll.schedule: bad cron spec "every fortnight"`,
		`bad.toml:9: dedupe.window: bad duration "soon"`,
		`bad.toml:16: source[1].name: duplicate source name "A"`,
		`bad.toml:17: source[1].path: source "A" has both url and path`,
		`bad.toml:20: source[2]: source "C" needs a url or a path`,
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(errs), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("problem %d = %q, want prefix %q", i, errs[i].Error(), w)
		}
	}
}

func TestParseProblems(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"syntax", "[server\nlisten = 1", "bad.toml:1: TOML syntax"},
		{"wrong type", "[poll]\nworkers = \"many\"", "bad.toml:2: poll.workers: want an integer, got a string"},
		{"unknown table", "[colours]\nred = 1", "bad.toml:1: colours: unknown table [colours]"},
		{"top-level key", "name = \"x\"", "bad.toml:1: name: unknown key"},
		{"duplicate key", "[poll]\nworkers = 1\nworkers = 2", "bad.toml:3: poll.workers: already set at line 2"},
		{"bad url", "[[source]]\nname = \"x\"\nurl = \"ftp://x/y\"", "bad.toml:3: source[0].url: URL \"ftp://x/y\" must start with http"},
		{"bad source schedule", "[[source]]\nname = \"x\"\npath = \"p\"\nschedule = \"@sometimes\"", "bad.toml:4: source[0].schedule: bad cron spec"},
		{"bad listen", "[server]\nlisten = \"8080\"", "bad.toml:2: server.listen: want host:port"},
		{"unknown source key", "[[source]]\nname = \"x\"\npath = \"p\"\nfrequency = 3", "bad.toml:4: source[0].frequency: unknown key"},
		{"bad log level", "[log]\nlevel = \"loud\"", "bad.toml:2: log.level: want debug, info, warn or error"},
		{"bad representative", "[server]\nrepresentative = \"loudest\"", "bad.toml:2: server.representative: want earliest, preferred or longest"},
		{"preferred without list", "[server]\nrepresentative = \"preferred\"", "server.preferred: representative = \"preferred\" needs a list"},
		{"preferred not an array", "[server]\npreferred = \"Reuters\"", "bad.toml:2: server.preferred: want an array of strings, got a string"},
		{"preferred of numbers", "[server]\npreferred = [1]", "bad.toml:2: server.preferred: array element: want a string, got an integer"},
		{"token with a space", "[server]\ntoken = \"a b\"", "bad.toml:2: server.token: must not contain spaces"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.toml", []byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%q) = %v, want an error containing %q", tc.src, err, tc.want)
			}
		})
	}
}

func TestParseOverridesDefaults(t *testing.T) {
	src := `[server]
listen = "0.0.0.0:9000"
[dedupe]
window = "2d"
[[source]]
name = "Wire"
url = "https://wire.example/rss"
category = "world"
[[source]]
name = "Local"
path = "articles"
schedule = "*/5 * * * *"
`
	c, err := Parse("ok.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Listen != "0.0.0.0:9000" || c.Dedupe.Window != 48*time.Hour {
		t.Errorf("overrides not applied: %+v %+v", c.Server, c.Dedupe)
	}
	if c.Poll.Schedule != Default().Poll.Schedule || c.Storage.Path != Default().Storage.Path {
		t.Errorf("defaults lost: %+v %+v", c.Poll, c.Storage)
	}
	want := []Source{
		{Name: "Wire", URL: "https://wire.example/rss", Category: "world"},
		{Name: "Local", Path: "articles", Schedule: "*/5 * * * *"},
	}
	if !reflect.DeepEqual(c.Sources, want) {
		t.Errorf("sources = %+v, want %+v (the file's sources replace the default ones)", c.Sources, want)
	}
}

func TestParseServerPolicy(t *testing.T) {
	src := "[server]\ntoken = \"s3cret\"\nrepresentative = \"preferred\"\npreferred = [\"Reuters\", \"CRBC News\"]\n"
	c, err := Parse("ok.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := Server{Listen: "127.0.0.1:8080", Title: "storyfeed", Token: "s3cret", Representative: "preferred",
		Preferred: []string{"Reuters", "CRBC News"}}
	if !reflect.DeepEqual(c.Server, want) {
		t.Errorf("Parse(%q).Server = %+v, want %+v", src, c.Server, want)
	}
}

func TestLoadResolvesPathsFromConfigDir(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/storyfeed.toml"
	if err := os.WriteFile(path, []byte("[storage]\npath = \"data/x.db\"\n[[source]]\nname = \"a\"\npath = \"/abs/articles\"\n[[source]]\nname = \"b\"\npath = \"rel\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage.Path != dir+"/data/x.db" || c.Sources[0].Path != "/abs/articles" || c.Sources[1].Path != dir+"/rel" {
		t.Errorf("paths = %q, %q, %q", c.Storage.Path, c.Sources[0].Path, c.Sources[1].Path)
	}
}

func TestInlineSourcesAndTables(t *testing.T) {
	src := `server = { listen = "127.0.0.1:9", title = "T" }
source = [ { name = "a", url = "https://a.example/" }, { name = "b", path = "p" } ]
`
	c, err := Parse("inline.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Listen != "127.0.0.1:9" || c.Server.Title != "T" || len(c.Sources) != 2 || c.Sources[1].Path != "p" {
		t.Errorf("inline forms decoded as %+v %+v", c.Server, c.Sources)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"15m": 15 * time.Minute, "72h": 72 * time.Hour, "30d": 720 * time.Hour, "1.5d": 36 * time.Hour} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "soon", "-1d", "d"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) succeeded, want an error", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("../../config.example.toml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("[server]\nlisten = 1\n[[source]]\nname=\"a\"\n"))
	f.Add([]byte("source = [ { name = \"a\" } ]\nserver = { x = 1 }"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.toml", data)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("Parse error is not Errors: %v", err)
			}
			for _, e := range errs {
				if !strings.HasPrefix(e.Error(), "fuzz.toml") {
					t.Fatalf("problem does not name the file: %q", e)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that Validate rejects: %v", err)
		}
	})
}

func TestPoliteness(t *testing.T) {
	c, err := Parse("p.toml", []byte("[poll]\nper_host = 0\nhost_gap = \"500ms\"\nconnect_timeout = \"3s\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Poll.PerHost != 0 || c.Poll.HostGap != 500*time.Millisecond || c.Poll.ConnectTimeout != 3*time.Second {
		t.Errorf("poll = %+v, want per_host 0, host_gap 500ms, connect_timeout 3s", c.Poll)
	}
	_, err = Parse("p.toml", []byte("[poll]\nper_host = -1\nhost_gap = \"2h\"\nconnect_timeout = \"0s\"\n"))
	for _, want := range []string{"p.toml:2: poll.per_host", "p.toml:3: poll.host_gap", "p.toml:4: poll.connect_timeout"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse of bad politeness settings = %v, want a problem %q", err, want)
		}
	}
}

func TestMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want int64
		bad  bool
	}{
		{"", 80 << 20, false},
		{"[poll]\nmemory_limit = 0\n", 0, false},
		{"[poll]\nmemory_limit = 268435456\n", 256 << 20, false},
		{"[poll]\nmemory_limit = 1000\n", 0, true},
		{"[poll]\nmemory_limit = \"96MiB\"\n", 0, true},
	} {
		c, err := Parse("m.toml", []byte(tc.src))
		switch {
		case tc.bad && (err == nil || !strings.Contains(err.Error(), "m.toml:2: poll.memory_limit")):
			t.Errorf("%q: %v, want an error at m.toml:2", tc.src, err)
		case !tc.bad && (err != nil || c.Poll.MemoryLimit != tc.want):
			t.Errorf("%q: %d, %v; want %d", tc.src, c.Poll.MemoryLimit, err, tc.want)
		}
	}
}
