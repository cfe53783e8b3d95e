package main

import (
	"context"
	"fmt"
	"time"

	"github.com/storyfeed/storyfeed/storage"
)

// cmdSplit takes one item out of its story, for good.
func cmdSplit(ctx context.Context, e *env, args []string) int {
	var c common
	fs := newFlags(e, "split", "ITEM [--config FILE] [--db PATH]",
		"Take item ITEM out of its story into a story of its own. The decision is stored in the\n"+
			"database and wins over the dedupe engine: the item never rejoins by itself. The story\n"+
			"it leaves keeps its ID. Stop a running daemon first: one process writes the database.")
	c.register(fs, false)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	item := fs.Arg(0)
	db, code := openForOverride(e, "split", &c)
	if db == nil {
		return code
	}
	defer db.Close()
	it, err := db.Item(item)
	if err != nil {
		return fail(e, "split", err)
	}
	story, err := db.Split(ctx, item, time.Now())
	if err != nil {
		return fail(e, "split", err)
	}
	fmt.Fprintf(e.stdout, "item %s (%s: %s) left story %s; it is now story %s\n", item, it.Outlet, it.Title, it.Story, story)
	return 0
}

// cmdMerge merges the second story into the first, for good.
func cmdMerge(ctx context.Context, e *env, args []string) int {
	var c common
	fs := newFlags(e, "merge", "STORY OTHER [--config FILE] [--db PATH]",
		"Move every item of story OTHER into story STORY; OTHER no longer exists afterwards. The\n"+
			"decision is stored in the database and wins over the dedupe engine. Stop a running\n"+
			"daemon first: one process writes the database.")
	c.register(fs, false)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return 2
	}
	db, code := openForOverride(e, "merge", &c)
	if db == nil {
		return code
	}
	defer db.Close()
	n, err := db.Merge(ctx, fs.Arg(0), fs.Arg(1), time.Now())
	if err != nil {
		return fail(e, "merge", err)
	}
	fmt.Fprintf(e.stdout, "moved %d items of story %s into story %s\n", n, fs.Arg(1), fs.Arg(0))
	return 0
}

func openForOverride(e *env, name string, c *common) (*storage.DB, int) {
	cfg, err := c.load()
	if err != nil {
		return nil, fail(e, name, err)
	}
	db, err := openDB(cfg, false)
	if err != nil {
		return nil, fail(e, name, err)
	}
	return db, 0
}
