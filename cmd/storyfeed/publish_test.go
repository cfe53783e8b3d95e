package main

import (
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/aggregator/config"
)

func TestPollInterval(t *testing.T) {
	now := time.Date(2025, 12, 2, 10, 7, 0, 0, time.UTC)
	for _, tc := range []struct {
		global string
		source []string
		want   time.Duration
	}{
		{"@every 15m", nil, 15 * time.Minute},
		{"@hourly", nil, time.Hour},
		{"*/5 * * * *", nil, 5 * time.Minute},
		{"@every 15m", []string{"", "@every 2m", "@hourly"}, 2 * time.Minute},
		{"0 6 * * *", nil, 24 * time.Hour},
		{"not a spec", nil, 0},
	} {
		cfg := config.Default()
		cfg.Poll.Schedule = tc.global
		cfg.Sources = nil
		for i, s := range tc.source {
			cfg.Sources = append(cfg.Sources, config.Source{Name: string(rune('a' + i)), Path: "p", Schedule: s})
		}
		if got := pollInterval(cfg, now); got != tc.want {
			t.Errorf("pollInterval(%q, sources %q) = %v, want %v", tc.global, tc.source, got, tc.want)
		}
	}
}

func TestPublishOptionsFromConfig(t *testing.T) {
	cfg := config.Default()
	cfg.Server.Token = "tok"
	cfg.Server.Representative = "preferred"
	cfg.Server.Preferred = []string{"Wire"}
	cfg.Sources = []config.Source{{Name: "Wire", URL: "https://wire.example/rss", Category: "world"}, {Name: "seeds", Path: "seeds"}}
	opt := publishOptions(cfg, "http://127.0.0.1:1", nil, time.Date(2025, 12, 2, 10, 0, 0, 0, time.UTC))
	if opt.Token != "tok" || opt.Policy.Rule != "preferred" || len(opt.Policy.Preferred) != 1 || opt.MaxAge != 15*time.Minute {
		t.Errorf("publishOptions = %+v, want token, preferred policy and a 15m max-age", opt)
	}
	if len(opt.Sources) != 2 || opt.Sources[0].URL != "https://wire.example/rss" || opt.Sources[0].Category != "world" || opt.Sources[1].URL != "" {
		t.Errorf("publishOptions sources = %+v", opt.Sources)
	}
}
