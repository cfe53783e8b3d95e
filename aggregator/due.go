package aggregator

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/aggregator/fetch"
	"github.com/storyfeed/storyfeed/storage"
)

// minBackoffBase is the shortest wait after a source's first error: a
// source scheduled every minute is not retried every minute while it fails.
const minBackoffBase = 5 * time.Minute

// selectSources picks the sources a cycle polls, in the order it polls
// them. Sources disabled by 410 Gone are left out; so are, unless force,
// URL sources whose NextDue (error backoff, freshness floor) has not come.
// Sources of held hosts are not left out here but skipped by the workers,
// which count and log them. The order interleaves hosts, so that the
// workers do not all queue for one host's turn.
//
// A database error is logged and every source is polled: reading the
// state again per source, the workers record what fails.
func (s *Service) selectSources(ctx context.Context, sources []config.Source, force bool) []config.Source {
	now := s.now()
	if err := s.loadHolds(ctx, now); err != nil {
		s.log.Warn("cannot read host holds", keyErr, err)
	}
	states, err := s.store.Sources()
	if err != nil {
		s.log.Warn("cannot read source states; polling every source", keyErr, err)
		return interleaveHosts(sources)
	}
	byName := make(map[string]*storage.SourceState, len(states))
	for i := range states {
		byName[states[i].Name] = &states[i]
	}
	out := make([]config.Source, 0, len(sources))
	for _, src := range sources {
		st, ok := byName[src.Name]
		if src.URL == "" || !ok {
			out = append(out, src)
			continue
		}
		cur := *st
		adopt(&cur, src)
		switch {
		case cur.Disabled:
			s.log.Debug("source disabled (410 Gone); change its url to re-enable it", keySource, src.Name)
		case !force && !s.due(&cur, src, now):
			s.log.Debug("source not due", keySource, src.Name, "next_due", cur.NextDue)
		default:
			out = append(out, src)
		}
	}
	return interleaveHosts(out)
}

// due reports whether a scheduled poll at now should fetch the source. A
// quarter of the schedule's interval is allowed as slack: a source whose
// backoff or freshness ends just after a tick is fetched at that tick, not
// a whole interval later.
func (s *Service) due(st *storage.SourceState, src config.Source, now time.Time) bool {
	if st.NextDue.IsZero() {
		return true
	}
	slack := s.interval(effectiveSchedule(s.cfg, src), now) / 4
	return !st.NextDue.After(now.Add(slack))
}

// interval is the time between two runs of a cron spec, measured from now
// (constant for "@every"; for a calendar spec, the gap after the next run).
func (s *Service) interval(spec string, now time.Time) time.Duration {
	if d, ok := s.intervals.Load(spec); ok {
		return d.(time.Duration)
	}
	sched, err := config.ScheduleParser.Parse(spec)
	if err != nil {
		return minBackoffBase // validated configs never get here
	}
	next := sched.Next(now)
	d := sched.Next(next).Sub(next)
	s.intervals.Store(spec, d)
	return d
}

// setNextDue sets when the source should next be fetched, after a fetch
// that failed (exponential backoff with jitter from the schedule's
// interval, and the host's hold) or succeeded (the freshness floor the
// server asked for, or none). Local sources are always due.
func (s *Service) setNextDue(st *storage.SourceState, f *fetched, now time.Time) {
	st.NextDue = time.Time{}
	if f.src.URL == "" {
		return
	}
	if f.err != nil {
		base := max(s.interval(effectiveSchedule(s.cfg, f.src), now), minBackoffBase)
		st.NextDue = now.Add(fetch.Backoff(st.ErrorStreak, base, rand.Float64()))
		for _, until := range f.holds {
			if until.After(st.NextDue) {
				st.NextDue = until
			}
		}
		return
	}
	if floor := min(max(f.fresh, st.FeedTTL), fetch.MaxFresh); floor > 0 {
		st.NextDue = now.Add(floor)
	}
}

// adopt makes st the state of src's configured URL. A state left by
// another URL (the config changed; states written before ConfigURL existed
// know it as URL) loses everything that belonged to that URL: validators,
// a permanent move, 410 Gone, the error streak and the schedule. It
// reports whether it reset anything.
func adopt(st *storage.SourceState, src config.Source) bool {
	was := st.ConfigURL
	if was == "" {
		was = st.URL
	}
	st.ConfigURL = src.URL
	if was == "" || was == src.URL {
		return false
	}
	st.URL, st.ETag, st.LastModified, st.BodyHash = "", "", "", ""
	st.Disabled, st.ErrorStreak, st.LastError = false, 0, ""
	st.NextDue, st.FeedTTL = time.Time{}, 0
	return true
}

// fetchURL is where a URL source is fetched: where it moved permanently,
// or its configured URL.
func fetchURL(st *storage.SourceState, src config.Source) string {
	if st.URL != "" && st.ConfigURL == src.URL {
		return st.URL
	}
	return src.URL
}

// interleaveHosts orders sources round-robin over their hosts, each host's
// sources in their configured order; local sources count as one host each.
func interleaveHosts(sources []config.Source) []config.Source {
	var order []string
	byHost := map[string][]config.Source{}
	for i, src := range sources {
		h := fetch.HostKeyOf(src.URL)
		if h == "" {
			h = "\x00" + strconv.Itoa(i)
		}
		if _, ok := byHost[h]; !ok {
			order = append(order, h)
		}
		byHost[h] = append(byHost[h], src)
	}
	if len(order) == len(sources) {
		return sources
	}
	out := make([]config.Source, 0, len(sources))
	for len(out) < len(sources) {
		for _, h := range order {
			if q := byHost[h]; len(q) > 0 {
				out = append(out, q[0])
				byHost[h] = q[1:]
			}
		}
	}
	return out
}

// rssTTL is the <ttl> of an RSS channel, in minutes, read from the part of
// the document before its first item (gofeed's universal feed does not
// carry it); 0 when absent or malformed.
func rssTTL(body []byte) time.Duration {
	head := body
	if i := bytes.Index(head, []byte("<item")); i >= 0 {
		head = head[:i]
	}
	i := bytes.Index(head, []byte("<ttl>"))
	if i < 0 {
		return 0
	}
	rest := head[i+len("<ttl>"):]
	j := bytes.IndexByte(rest, '<')
	if j < 0 {
		return 0
	}
	n, err := strconv.Atoi(string(bytes.TrimSpace(rest[:j])))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(min(n, int(fetch.MaxFresh/time.Minute))) * time.Minute
}
