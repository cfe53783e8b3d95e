package aggregator

import (
	"reflect"
	"slices"
	"strings"
	"unicode"

	"github.com/storyfeed/storyfeed/aggregator/config"
)

// Diff is what changed between two configs.
type Diff struct {
	Added, Removed, Changed []string // source names
	// Settings are the other keys that changed and took effect, e.g.
	// "poll.schedule" or "dedupe.window".
	Settings []string
	// Restart are keys that changed but take effect only when the daemon
	// restarts: the database path, the listen address, the log format and
	// the fetch client's settings.
	Restart []string
}

// Empty reports whether nothing changed.
func (d Diff) Empty() bool {
	return len(d.Added)+len(d.Removed)+len(d.Changed)+len(d.Settings)+len(d.Restart) == 0
}

// restartKeys are the config keys that a running service cannot apply.
var restartKeys = []string{
	"storage.path", "server.listen", "log.format",
	"poll.timeout", "poll.max_body_size", "poll.user_agent", "poll.allow_private_networks",
	"poll.per_host", "poll.host_gap", "poll.connect_timeout",
	"poll.memory_limit",
}

// Reload replaces the service's config with cfg, which must be valid, and
// returns what changed. It waits for running polls to end, so the config
// never changes in the middle of a cycle. A running Run then reschedules
// and polls the added and changed sources at once. Settings listed in
// Diff.Restart keep their old effect until a restart; on an invalid cfg
// Reload changes nothing and returns every problem.
func (s *Service) Reload(cfg config.Config) (Diff, error) {
	if err := cfg.Validate(); err != nil {
		return Diff{}, err
	}
	s.sched.cycle.Lock()
	d := diffConfig(s.cfg, cfg)
	windowChanged := !reflect.DeepEqual(s.cfg.Dedupe, cfg.Dedupe)
	s.cfg = cfg
	if windowChanged {
		// The index covers the old window with the old settings: rebuild it
		// from storage on the next write.
		s.writeMu.Lock()
		s.index = nil
		s.writeMu.Unlock()
	}
	s.sched.cycle.Unlock()

	s.sched.mu.Lock()
	s.sched.pending = append(s.sched.pending, d.Added...)
	s.sched.pending = append(s.sched.pending, d.Changed...)
	s.sched.resched = s.sched.resched || !d.Empty()
	wake := s.sched.wake
	s.sched.mu.Unlock()
	if wake != nil {
		select {
		case wake <- struct{}{}:
		default: // already rung
		}
	}
	return d, nil
}

// diffConfig compares two configs: sources by name, everything else key by
// key.
func diffConfig(old, cur config.Config) Diff {
	var d Diff
	before := map[string]config.Source{}
	for _, src := range old.Sources {
		before[src.Name] = src
	}
	for _, src := range cur.Sources {
		prev, ok := before[src.Name]
		switch {
		case !ok:
			d.Added = append(d.Added, src.Name)
		case !reflect.DeepEqual(prev, src):
			d.Changed = append(d.Changed, src.Name)
		}
		delete(before, src.Name)
	}
	for name := range before {
		d.Removed = append(d.Removed, name)
	}
	slices.Sort(d.Removed)

	// Every struct-valued field of Config is a [table]; compare its keys.
	ov, cv := reflect.ValueOf(old), reflect.ValueOf(cur)
	t := ov.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Type.Kind() != reflect.Struct {
			continue
		}
		for j := range f.Type.NumField() {
			k := f.Type.Field(j)
			if !k.IsExported() || reflect.DeepEqual(ov.Field(i).Field(j).Interface(), cv.Field(i).Field(j).Interface()) {
				continue
			}
			key := snake(f.Name) + "." + snake(k.Name)
			if slices.Contains(restartKeys, key) {
				d.Restart = append(d.Restart, key)
			} else {
				d.Settings = append(d.Settings, key)
			}
		}
	}
	return d
}

// snake turns a Go field name into its config key: MaxBodySize ->
// max_body_size, BaseURL -> base_url.
func snake(name string) string {
	var b strings.Builder
	r := []rune(name)
	for i, c := range r {
		if unicode.IsUpper(c) && i > 0 && (unicode.IsLower(r[i-1]) || (i+1 < len(r) && unicode.IsLower(r[i+1]))) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}
