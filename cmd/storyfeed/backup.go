package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"

	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/storage"
)

func cmdBackup(ctx context.Context, e *env, args []string) int {
	var c common
	fs := newFlags(e, "backup", "[--config FILE] [--db PATH] [--listen ADDR] FILE",
		"Write a consistent copy of the database to FILE, which is replaced only once the copy is\n"+
			"complete and checked. It works while the daemon runs: the daemon then sends the copy over\n"+
			"its HTTP interface (found at [server] listen, or --listen), from one read transaction, and\n"+
			"goes on polling meanwhile.")
	c.register(fs, true)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	dst := fs.Arg(0)
	cfg, err := c.load()
	if err != nil {
		return fail(e, "backup", err)
	}
	if samePath(dst, cfg.Storage.Path) {
		return fail(e, "backup", fmt.Errorf("%s is the database itself", dst))
	}
	var n int64
	err = storage.WriteFileAtomic(dst, 0o600, func(w io.Writer) error {
		var err error
		n, err = copyDB(ctx, cfg, w)
		return err
	})
	if err != nil {
		return fail(e, "backup", err)
	}
	// The copy must open and pass the consistency check, or it is no
	// backup.
	db, err := storage.Open(dst, storage.Options{ReadOnly: true})
	if err != nil {
		return fail(e, "backup", fmt.Errorf("the copy %s does not open: %w", dst, err))
	}
	err = db.Check()
	counts, cerr := db.Count()
	db.Close()
	if err != nil {
		return fail(e, "backup", fmt.Errorf("the copy %s fails its check: %w", dst, err))
	}
	if cerr != nil {
		return fail(e, "backup", cerr)
	}
	fmt.Fprintf(e.stdout, "%s: %d bytes, %d items, %d stories, %d sources\n", dst, n, counts.Items, counts.Stories, counts.Sources)
	return 0
}

// copyDB writes a consistent copy of cfg's database to w: from the file if
// it is free, else from the daemon that holds it.
func copyDB(ctx context.Context, cfg config.Config, w io.Writer) (int64, error) {
	db, err := openDB(cfg, true)
	if err == nil {
		defer db.Close()
		return db.WriteTo(w)
	}
	if !errors.Is(err, storage.ErrLocked) {
		return 0, err
	}
	abs, err := filepath.Abs(cfg.Storage.Path)
	if err != nil {
		return 0, err
	}
	base, err := daemonURL(cfg.Server.Listen)
	if err != nil {
		return 0, err
	}
	resp, err := daemonRequest(ctx, "GET", base+"/api/backup?db="+url.QueryEscape(abs), abs, nil)
	if err != nil {
		return 0, fmt.Errorf("database %s is in use by another process, and %w", cfg.Storage.Path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, daemonError(resp, base)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("copy from the daemon at %s: %w", base, err)
	}
	return n, nil
}

func cmdCompact(ctx context.Context, e *env, args []string) int {
	var c common
	fs := newFlags(e, "compact", "[--config FILE] [--db PATH]",
		"Rewrite the database without the free pages that deleted items leave behind; bbolt never\n"+
			"gives them back to the file system by itself. The daemon must be stopped. The old file is\n"+
			"replaced only once the new one is complete and passes its consistency check.")
	c.register(fs, false)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if code, ok := noArgs(e, fs); !ok {
		return code
	}
	cfg, err := c.load()
	if err != nil {
		return fail(e, "compact", err)
	}
	if _, err := os.Stat(cfg.Storage.Path); err != nil {
		return fail(e, "compact", err)
	}
	before, after, err := storage.Compact(cfg.Storage.Path)
	if errors.Is(err, storage.ErrLocked) {
		return fail(e, "compact", fmt.Errorf("%w: stop the daemon first (compact needs the file to itself)", err))
	}
	if err != nil {
		return fail(e, "compact", err)
	}
	fmt.Fprintf(e.stdout, "%s: %d bytes -> %d bytes\n", cfg.Storage.Path, before, after)
	return 0
}
