package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func cmdVersion(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "version", "", "Print version and build information.")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if code, ok := noArgs(e, fs); !ok {
		return code
	}
	fmt.Fprintf(e.stdout, "storyfeed %s\n", version)
	if bi, ok := debug.ReadBuildInfo(); ok {
		fmt.Fprintf(e.stdout, "go: %s\nmodule: %s %s\n", bi.GoVersion, bi.Main.Path, bi.Main.Version)
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision", "vcs.time", "vcs.modified", "GOOS", "GOARCH":
				fmt.Fprintf(e.stdout, "%s: %s\n", s.Key, s.Value)
			}
		}
	}
	return 0
}
