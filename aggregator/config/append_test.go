package config_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/storyfeed/storyfeed/aggregator/config"
)

func TestAppendSources(t *testing.T) {
	const before = "# mine\n[poll]\nschedule = \"@hourly\" # keep this" // no final newline
	add := []config.Source{
		{Name: "Wire \"quoted\" \\ tab\t", URL: "https://wire.example/rss", Category: "news/world"},
		{Name: "Local", Path: "articles"},
	}
	out := config.AppendSources([]byte(before), "Added by a test\nsecond line\x07", add)
	if !strings.HasPrefix(string(out), before+"\n") {
		t.Fatalf("AppendSources changed the text before it:\n%s", out)
	}
	if !strings.Contains(string(out), "\n# Added by a test\n# second line\n[[source]]\n") {
		t.Errorf("comment lines missing or unsafe:\n%s", out)
	}
	cfg, err := config.Parse("x.toml", out)
	if err != nil {
		t.Fatalf("the result does not parse: %v\n%s", err, out)
	}
	if cfg.Poll.Schedule != "@hourly" || len(cfg.Sources) != 2 || cfg.Sources[0] != add[0] || cfg.Sources[1] != add[1] {
		t.Errorf("parsed %+v, %+v; want %+v", cfg.Poll, cfg.Sources, add)
	}
	if got := string(config.AppendSources(nil, "", add[1:])); got != "[[source]]\nname = \"Local\"\npath = \"articles\"\n" {
		t.Errorf("AppendSources into an empty file = %q", got)
	}
}

// Any name survives being written and read back.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "plain", `"\`, "tab\tnew\nline\r\x00\x1f\x7f", "ünï “quoted”", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		out := config.AppendSources(nil, name, []config.Source{{Name: name, URL: "https://x.example/", Category: name}})
		cfg, err := config.Parse("fuzz.toml", out)
		want := strings.ToValidUTF8(name, string(utf8.RuneError))
		if err != nil {
			if want == "" {
				return // an empty name is a validation error, rightly
			}
			t.Fatalf("AppendSources(%q) does not parse: %v\n%s", name, err, out)
		}
		if got := cfg.Sources[0]; got.Name != want || got.Category != want {
			t.Fatalf("name %q read back as %q, category as %q", want, got.Name, got.Category)
		}
	})
}
