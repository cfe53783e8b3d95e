package main

import (
	"strings"
	"testing"
)

// A command given an argument it does not take fails with a hint instead of
// ignoring it: `storyfeed check broken.toml` once said "built-in defaults:
// ok" and exited 0, and the flag package stops at the first stray argument,
// so `stories x --json` silently dropped --json.
func TestStrayArgumentsRefused(t *testing.T) {
	workdir(t)
	for _, args := range [][]string{
		{"check", "broken.toml"},
		{"run", "broken.toml"},
		{"poll", "--db", "x.db", "broken.toml"},
		{"stories", "--db", "x.db", "broken.toml", "--json"},
		{"compact", "--db", "x.db", "broken.toml"},
		{"version", "broken.toml"},
	} {
		code, stdout, stderr := runCmd(t, args...)
		if code != 2 || !strings.Contains(stderr, `unexpected argument "broken.toml"`) || !strings.Contains(stderr, "--config broken.toml") {
			t.Errorf("storyfeed %s: exit %d, stdout %q, stderr %q; want 2 and a hint to use --config", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	if code, _, stderr := runCmd(t, "stories", "--db", "x.db", "7"); code != 2 || strings.Contains(stderr, "--config") {
		t.Errorf("stories 7: exit %d, %q; want 2 and no --config hint", code, stderr)
	}
}
