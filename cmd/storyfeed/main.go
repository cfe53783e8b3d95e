// Command storyfeed aggregates news feeds and publishes one feed in which
// every story appears once, with every outlet that covered it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP) // `run` reloads its config; other commands ignore it
	e := &env{stdout: os.Stdout, stderr: os.Stderr, hup: hup, getenv: os.Getenv}
	code := execute(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}
