package main

import (
	"log/slog"
	"time"

	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/aggregator/publish"
	"github.com/storyfeed/storyfeed/storage"
)

// publishOptions are the publisher's options from the config.
func publishOptions(cfg config.Config, base string, log *slog.Logger, now time.Time) publish.Options {
	opt := publish.Options{
		Title:   cfg.Server.Title,
		BaseURL: base,
		Logger:  log,
		Token:   cfg.Server.Token,
		Policy:  representative(cfg),
		MaxAge:  pollInterval(cfg, now),
		// While a poll commits every few milliseconds, render each feed
		// at most once a second: no reader notices a second.
		Refresh: time.Second,
	}
	opt.Sources = sourceInfos(cfg) // as `storyfeed opml export` lists them
	return opt
}

// representative is the configured representative policy; the publisher
// and `storyfeed stories` use the same one.
func representative(cfg config.Config) storage.Policy {
	return storage.Policy{Rule: cfg.Server.Representative, Preferred: cfg.Server.Preferred}
}

// pollInterval is the shortest time between two polls of any source after
// now: nothing the publisher serves changes faster, so it is the max-age
// that clients may cache responses for. Unparsable specs (config
// validation rejects them) and schedules that never fire count as none.
func pollInterval(cfg config.Config, now time.Time) time.Duration {
	specs := []string{cfg.Poll.Schedule}
	for _, s := range cfg.Sources {
		specs = append(specs, s.Schedule)
	}
	var best time.Duration
	for _, spec := range specs {
		if spec == "" {
			continue
		}
		sched, err := config.ScheduleParser.Parse(spec)
		if err != nil {
			continue
		}
		t1 := sched.Next(now)
		t2 := sched.Next(t1)
		if t1.IsZero() || t2.IsZero() {
			continue
		}
		if d := t2.Sub(t1); best == 0 || d < best {
			best = d
		}
	}
	return best
}
