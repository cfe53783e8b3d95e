package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/aggregator/config"
)

func TestStorageRetentionKeys(t *testing.T) {
	for _, c := range []struct {
		in       string
		keep     time.Duration
		maxItems int
		err      string // in the error, "" for none
	}{
		{"", 720 * time.Hour, 0, ""},
		{"[storage]\nkeep = \"30d\"\nmax_items = 100000\n", 30 * 24 * time.Hour, 100000, ""},
		{"[storage]\nkeep = \"0s\"\n", 0, 0, ""},
		{"[storage]\nkeep = \"10m\"\n", 0, 0, "x.toml:2: storage.keep: must be 0 (keep for ever) or at least 1h"},
		{"[storage]\nkeep = \"-1h\"\n", 0, 0, "x.toml:2: storage.keep: must be 0"},
		{"[storage]\nkeep = 30\n", 0, 0, "x.toml:2: storage.keep: want a duration string"},
		{"[storage]\nmax_items = -1\n", 0, 0, "x.toml:2: storage.max_items: must be 0 (no cap) or positive"},
		{"[storage]\nmax_item = 5\n", 0, 0, "x.toml:2: storage.max_item: unknown key"},
	} {
		cfg, err := config.Parse("x.toml", []byte(c.in+"[[source]]\nname = \"s\"\npath = \"seeds\"\n"))
		switch {
		case c.err == "" && err != nil:
			t.Errorf("Parse(%q) = %v, want no error", c.in, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("Parse(%q) = %v, want an error with %q", c.in, err, c.err)
		case c.err == "" && (cfg.Storage.Keep != c.keep || cfg.Storage.MaxItems != c.maxItems):
			t.Errorf("Parse(%q): keep %v, max_items %d; want %v, %d", c.in, cfg.Storage.Keep, cfg.Storage.MaxItems, c.keep, c.maxItems)
		}
	}
}
