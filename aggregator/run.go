package aggregator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/storyfeed/storyfeed/aggregator/config"
)

// Shutdown budget of Run, well inside the 10 s a service manager allows:
// running polls get stopGrace to finish on their own, then their fetches
// are cancelled and the writer gets stopTimeout to finish its transaction.
const (
	stopGrace   = time.Second
	stopTimeout = 3 * time.Second
)

// scheduler is the state that Run, the polls it starts and Reload share.
type scheduler struct {
	// cycle is read-locked by every poll that Run starts and write-locked
	// by Reload, so that the config never changes under a running poll.
	cycle sync.RWMutex

	mu      sync.Mutex
	wake    chan struct{} // Run's doorbell: pending polls or a new config
	pending []string      // names of sources to poll at once
	resched bool          // the schedules changed: rebuild the cron entries
	running bool          // Run is running
	ran     bool          // a cycle started by Run has ended
	lastEnd time.Time     // when the last cycle ended
	lastErr error         // and its error
}

// Run polls every source once, then on the configured schedules, until ctx
// ends. Sources that share a schedule are polled together by one cron
// entry; a poll still running when its next turn comes is skipped, not
// stacked. After Reload, Run reschedules and polls the added and changed
// sources at once.
//
// When ctx ends, Run stops the scheduler, gives running polls a second to
// finish, then cancels their fetches and waits for the writer to finish its
// transaction; it returns nil. It returns an error only when the database
// cannot be written.
func (s *Service) Run(ctx context.Context) error {
	s.sched.mu.Lock()
	if s.sched.running {
		s.sched.mu.Unlock()
		return errors.New("aggregator: Run called twice")
	}
	s.sched.running = true
	s.sched.wake = make(chan struct{}, 1)
	s.sched.mu.Unlock()
	defer func() {
		s.sched.mu.Lock()
		s.sched.running = false
		s.sched.mu.Unlock()
	}()

	// Fetches outlive ctx by the shutdown grace period: cancelling them is
	// the second step of the shutdown, not the first.
	fetchCtx, cancelFetch := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelFetch()
	c := cron.New(
		cron.WithParser(config.ScheduleParser),
		cron.WithLogger(cronLogger{s.log}),
		cron.WithChain(cron.Recover(cronLogger{s.log})),
	)
	fatal := make(chan error, 1)
	var polls sync.WaitGroup // polls Run started outside cron
	pollNow := func(names []string) {
		polls.Go(func() { s.runPoll(fetchCtx, names, "", fatal) })
	}

	var entries []cron.EntryID
	schedule := func() error {
		for _, id := range entries {
			c.Remove(id)
		}
		entries = entries[:0]
		s.sched.cycle.RLock()
		groups := scheduleGroups(s.cfg)
		s.sched.cycle.RUnlock()
		for _, g := range groups {
			spec := g.schedule
			job := cron.NewChain(cron.SkipIfStillRunning(cronLogger{s.log})).Then(cron.FuncJob(func() {
				s.runPoll(fetchCtx, nil, spec, fatal)
			}))
			id, err := c.AddJob(spec, job)
			if err != nil {
				return fmt.Errorf("schedule %q: %w", spec, err)
			}
			entries = append(entries, id)
			s.log.Debug("scheduled", "schedule", spec, "sources", len(g.sources))
		}
		return nil
	}
	if err := schedule(); err != nil {
		return err
	}
	expire := func() {
		if _, err := s.Expire(fetchCtx); err != nil && fetchCtx.Err() == nil {
			s.log.Error("retention failed", keyErr, err)
		}
	}
	if _, err := c.AddJob(retentionEvery, cron.NewChain(cron.SkipIfStillRunning(cronLogger{s.log})).Then(cron.FuncJob(expire))); err != nil {
		return fmt.Errorf("schedule retention: %w", err)
	}
	// Every source once at start-up; the schedules start when that poll
	// ends, so that the first tick does not poll the same sources again
	// while it runs.
	first := make(chan struct{})
	polls.Go(func() {
		defer close(first)
		s.runPoll(fetchCtx, nil, "", fatal)
	})

	var err error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-first:
			c.Start()
			first = nil
			polls.Go(expire)
		case err = <-fatal:
			break loop
		case <-s.sched.wake:
			s.sched.mu.Lock()
			names, resched := s.sched.pending, s.sched.resched
			s.sched.pending, s.sched.resched = nil, false
			s.sched.mu.Unlock()
			if resched {
				if err = schedule(); err != nil {
					break loop
				}
			}
			if len(names) > 0 {
				pollNow(names)
			}
		}
	}

	// Shutdown, in order: no new polls, a grace period for running ones,
	// then cancel their fetches and let the writer finish.
	stopped := c.Stop().Done()
	allDone := make(chan struct{})
	go func() {
		<-stopped
		polls.Wait()
		close(allDone)
	}()
	select {
	case <-allDone:
		return err
	case <-time.After(stopGrace):
	}
	cancelFetch()
	select {
	case <-allDone:
	case <-time.After(stopTimeout):
		s.log.Warn("a poll was still running at shutdown", keyDur, stopGrace+stopTimeout)
	}
	return err
}

// runPoll runs one poll cycle for Run: of the sources named in names, or
// with nil names of the sources on schedule spec, or with both empty of
// every source. It holds the scheduler's read lock, so the sources are
// those of the config in force when the poll starts.
func (s *Service) runPoll(ctx context.Context, names []string, spec string, fatal chan<- error) {
	s.sched.cycle.RLock()
	defer s.sched.cycle.RUnlock()
	var sources []config.Source
	for _, src := range s.cfg.Sources {
		switch {
		case names != nil && !slices.Contains(names, src.Name):
		case names == nil && spec != "" && effectiveSchedule(s.cfg, src) != spec:
		default:
			sources = append(sources, src)
		}
	}
	// Scheduled polls fetch only the sources that are due; the first
	// poll and the polls of sources added or changed by a reload fetch
	// theirs at once.
	if sources = s.selectSources(ctx, sources, spec == ""); len(sources) == 0 {
		return
	}
	c, err := s.poll(ctx, sources)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return // shutdown: not a cycle worth reporting
	}
	s.obs.CycleDone(c, err)
	s.sched.mu.Lock()
	s.sched.ran, s.sched.lastEnd, s.sched.lastErr = true, s.now(), err
	s.sched.mu.Unlock()
	if err != nil && !errors.Is(err, ErrNoSource) {
		select {
		case fatal <- err:
		default:
		}
	}
}

// LastCycle reports when the last poll cycle started by Run ended and its
// error; ok is false until one has ended.
func (s *Service) LastCycle() (end time.Time, err error, ok bool) {
	s.sched.mu.Lock()
	defer s.sched.mu.Unlock()
	return s.sched.lastEnd, s.sched.lastErr, s.sched.ran
}

type scheduleGroup struct {
	schedule string
	sources  []config.Source
}

// effectiveSchedule is the cron spec src is polled on.
func effectiveSchedule(cfg config.Config, src config.Source) string {
	if src.Schedule != "" {
		return src.Schedule
	}
	return cfg.Poll.Schedule
}

// scheduleGroups groups sources by effective schedule, in a stable order.
func scheduleGroups(cfg config.Config) []scheduleGroup {
	var groups []scheduleGroup
	for _, src := range cfg.Sources {
		spec := effectiveSchedule(cfg, src)
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
