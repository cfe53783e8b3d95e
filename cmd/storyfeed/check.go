package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/storyfeed/storyfeed/aggregator/config"
)

func cmdCheck(ctx context.Context, e *env, args []string) int {
	var c common
	fs := newFlags(e, "check", "[--config FILE]",
		"Load and validate the config. Every problem is printed as FILE:LINE: message; the exit\nstatus is 1 if there is any.")
	fs.StringVar(&c.config, "config", "", "config `FILE` (TOML); default: built-in defaults")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if code, ok := noArgs(e, fs); !ok {
		return code
	}
	cfg, err := c.load()
	var errs config.Errors
	switch {
	case errors.As(err, &errs):
		for _, p := range errs {
			fmt.Fprintln(e.stdout, p)
		}
		return 1
	case err != nil:
		return fail(e, "check", err)
	}
	name := cfg.File
	if name == "" {
		name = "built-in defaults"
	}
	fmt.Fprintf(e.stdout, "%s: ok, %d sources\n", name, len(cfg.Sources))
	return 0
}
