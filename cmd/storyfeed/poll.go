package main

import (
	"context"
	"errors"
	"runtime/debug"

	"github.com/storyfeed/storyfeed/aggregator"
	"github.com/storyfeed/storyfeed/aggregator/config"
)

func cmdPoll(ctx context.Context, e *env, args []string) int {
	var c common
	fs := newFlags(e, "poll", "[--config FILE] [--db PATH]",
		"Poll every source once, store what is new, then exit. The exit status is 0 even if some\nsources failed (see 'storyfeed sources'), 1 if none could be polled or the database could\nnot be opened.")
	c.register(fs, true)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	cfg, err := c.load()
	if err != nil {
		return fail(e, "poll", err)
	}
	defer limitMemory(cfg)()
	log := newLogger(e.stderr, cfg)
	db, err := openDB(cfg, false)
	if err != nil {
		return fail(e, "poll", err)
	}
	defer db.Close()
	svc, err := aggregator.New(cfg, aggregator.Deps{Store: db, Logger: log, Version: version})
	if err != nil {
		return fail(e, "poll", err)
	}
	if _, err := svc.PollOnce(ctx); err != nil {
		if errors.Is(err, context.Canceled) {
			return 1
		}
		return fail(e, "poll", err)
	}
	return 0
}

// limitMemory sets the soft memory limit of [poll] memory_limit for the life
// of a command, and returns the function that restores the one before.
func limitMemory(cfg config.Config) func() {
	if cfg.Poll.MemoryLimit <= 0 {
		return func() {}
	}
	prev := debug.SetMemoryLimit(cfg.Poll.MemoryLimit)
	return func() { debug.SetMemoryLimit(prev) }
}
