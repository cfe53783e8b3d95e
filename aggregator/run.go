package aggregator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/storyfeed/storyfeed/aggregator/config"
)

// stopTimeout bounds how long Run waits for a running poll after its
// context ends.
const stopTimeout = 5 * time.Second

// Run polls every source once, then on the configured schedules, until ctx
// ends. Sources that share a schedule are polled together by one cron
// entry; a poll still running when its next turn comes is skipped, not
// stacked. Run returns nil when ctx ends, after the running poll finished
// its current transaction.
func (s *Service) Run(ctx context.Context) error {
	if _, err := s.PollOnce(ctx); err != nil && !errors.Is(err, ErrNoSource) {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	c := cron.New(
		cron.WithParser(config.ScheduleParser),
		cron.WithLogger(cronLogger{s.log}),
		cron.WithChain(cron.Recover(cronLogger{s.log})),
	)
	fatal := make(chan error, 1)
	for _, group := range scheduleGroups(s.cfg) {
		sources := group.sources
		job := cron.NewChain(cron.SkipIfStillRunning(cronLogger{s.log})).Then(cron.FuncJob(func() {
			if _, err := s.poll(ctx, sources); err != nil && !errors.Is(err, ErrNoSource) && ctx.Err() == nil {
				select {
				case fatal <- err:
				default:
				}
			}
		}))
		if _, err := c.AddJob(group.schedule, job); err != nil {
			return fmt.Errorf("schedule %q: %w", group.schedule, err)
		}
		s.log.Debug("scheduled", "schedule", group.schedule, "sources", len(sources))
	}
	c.Start()
	var err error
	select {
	case <-ctx.Done():
	case err = <-fatal:
	}
	stopped := c.Stop().Done()
	select {
	case <-stopped:
	case <-time.After(stopTimeout):
		s.log.Warn("a poll was still running at shutdown", keyDur, stopTimeout)
	}
	return err
}

type scheduleGroup struct {
	schedule string
	sources  []config.Source
}

// scheduleGroups groups sources by effective schedule, in a stable order.
func scheduleGroups(cfg config.Config) []scheduleGroup {
	var groups []scheduleGroup
	for _, src := range cfg.Sources {
		spec := src.Schedule
		if spec == "" {
			spec = cfg.Poll.Schedule
		}
		i := slices.IndexFunc(groups, func(g scheduleGroup) bool { return g.schedule == spec })
		if i < 0 {
			groups = append(groups, scheduleGroup{schedule: spec})
			i = len(groups) - 1
		}
		groups[i].sources = append(groups[i].sources, src)
	}
	return groups
}

// cronLogger adapts slog to cron's logger.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, keyErr, err)...)
}
