package config

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2/unstable"
)

// decode applies the TOML document data to c. It walks go-toml's syntax tree
// rather than unmarshalling into a struct so that every problem, not just
// the first, is reported with its line.
func (c *Config) decode(data []byte) Errors {
	d := decoder{c: c, seen: map[string]int{}, sourceSet: false}
	for i, b := range data {
		if b == '\n' {
			d.newlines = append(d.newlines, i)
		}
	}
	c.lines = map[string]int{}
	var p unstable.Parser
	p.Reset(data)
	var table []string // current [table] path, with [[source]] as "source[i]"
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			parts := keyParts(e.Key())
			line := d.lineOf(e.Key())
			name := strings.Join(parts, ".")
			if e.Kind == unstable.ArrayTable {
				if name != "source" {
					d.errs = append(d.errs, d.err(line, name, "unknown array of tables [[%s]]", name))
					table = []string{"\x00ignored"}
					continue
				}
				d.newSource(line)
				table = []string{fmt.Sprintf("source[%d]", len(c.Sources)-1)}
				continue
			}
			if !isTable(name) {
				d.errs = append(d.errs, d.err(line, name, "unknown table [%s]", name))
				table = []string{"\x00ignored"}
				continue
			}
			if prev, dup := d.seen["["+name+"]"]; dup {
				d.errs = append(d.errs, d.err(line, name, "table [%s] already defined at line %d", name, prev))
			}
			d.seen["["+name+"]"] = line
			c.lines[name] = line
			table = parts
		case unstable.KeyValue:
			if len(table) == 1 && table[0] == "\x00ignored" {
				continue // inside an unknown table, already reported
			}
			d.keyValue(&p, table, e)
		}
	}
	if err := p.Error(); err != nil {
		line := 0
		var pe *unstable.ParserError
		if errors.As(err, &pe) && pe.Highlight != nil {
			line = p.Shape(p.Range(pe.Highlight)).Start.Line
		}
		d.errs = append(d.errs, &Error{File: c.File, Line: line, Err: fmt.Errorf("TOML syntax: %v", err)})
	}
	return d.errs
}

type decoder struct {
	c         *Config
	errs      Errors
	seen      map[string]int // key path -> line it was set on
	sourceSet bool           // the file has [[source]]: it replaces the default sources
	newlines  []int          // offsets of the document's newlines, for lineOf
}

func (d *decoder) err(line int, key, format string, args ...any) *Error {
	return &Error{File: d.c.File, Line: line, Key: key, Err: fmt.Errorf(format, args...)}
}

func (d *decoder) newSource(line int) {
	if !d.sourceSet {
		d.c.Sources = nil
		d.sourceSet = true
	}
	d.c.Sources = append(d.c.Sources, Source{})
	d.c.lines[fmt.Sprintf("source[%d]", len(d.c.Sources)-1)] = line
}

func isTable(name string) bool {
	switch name {
	case "storage", "server", "poll", "dedupe", "log":
		return true
	}
	return false
}

func keyParts(it unstable.Iterator) []string {
	var parts []string
	for it.Next() {
		parts = append(parts, string(it.Node().Data))
	}
	return parts
}

// lineOf is the line of the first node of it. (unstable.Parser.Shape
// counts lines from the start of the document at every call: quadratic in
// a config of 1000 sources.)
func (d *decoder) lineOf(it unstable.Iterator) int {
	if !it.Next() {
		return 0
	}
	off := int(it.Node().Raw.Offset)
	n, _ := slices.BinarySearch(d.newlines, off) // newlines before off
	return n + 1
}

// keyValue applies one `key = value` line found under table.
func (d *decoder) keyValue(p *unstable.Parser, table []string, e *unstable.Node) {
	parts := keyParts(e.Key())
	line := d.lineOf(e.Key())
	full := append(append([]string{}, table...), parts...)
	// `source = [{...}]` or top-level dotted keys are legal TOML; route the
	// common inline forms too, so that they are not silently ignored.
	if len(full) == 1 && full[0] == "source" && e.Value().Kind == unstable.Array {
		it := e.Value().Children()
		for it.Next() {
			n := it.Node()
			if n.Kind != unstable.InlineTable {
				d.errs = append(d.errs, d.err(line, "source", "want a table for each source"))
				continue
			}
			d.newSource(line)
			idx := fmt.Sprintf("source[%d]", len(d.c.Sources)-1)
			kv := n.Children()
			for kv.Next() {
				d.keyValue(p, []string{idx}, kv.Node())
			}
		}
		return
	}
	if len(full) == 1 && isTable(full[0]) && e.Value().Kind == unstable.InlineTable {
		kv := e.Value().Children()
		for kv.Next() {
			d.keyValue(p, full, kv.Node())
		}
		return
	}
	path := strings.Join(full, ".")
	if prev, dup := d.seen[path]; dup {
		d.errs = append(d.errs, d.err(line, path, "already set at line %d", prev))
		return
	}
	d.seen[path] = line
	d.c.lines[path] = line
	if err := d.set(full, e.Value()); err != nil {
		d.errs = append(d.errs, d.err(line, path, "%v", err))
	}
}

var errUnknown = errors.New("unknown key")

// set stores one value at key path full.
func (d *decoder) set(full []string, v *unstable.Node) error {
	c := d.c
	if len(full) != 2 {
		return errUnknown
	}
	table, key := full[0], full[1]
	if strings.HasPrefix(table, "source[") {
		i, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(table, "source["), "]"))
		s := &c.Sources[i]
		switch key {
		case "name":
			return str(v, &s.Name)
		case "url":
			return str(v, &s.URL)
		case "path":
			return str(v, &s.Path)
		case "category":
			return str(v, &s.Category)
		case "schedule":
			return str(v, &s.Schedule)
		}
		return errUnknown
	}
	switch table + "." + key {
	case "storage.path":
		return str(v, &c.Storage.Path)
	case "storage.keep":
		return duration(v, &c.Storage.Keep)
	case "storage.max_items":
		return integer(v, &c.Storage.MaxItems)
	case "server.listen":
		return str(v, &c.Server.Listen)
	case "server.base_url":
		return str(v, &c.Server.BaseURL)
	case "server.title":
		return str(v, &c.Server.Title)
	case "server.token":
		return str(v, &c.Server.Token)
	case "server.representative":
		return str(v, &c.Server.Representative)
	case "server.preferred":
		return strs(v, &c.Server.Preferred)
	case "poll.schedule":
		return str(v, &c.Poll.Schedule)
	case "poll.allow_private_networks":
		return boolean(v, &c.Poll.AllowPrivateNetworks)
	case "poll.workers":
		return integer(v, &c.Poll.Workers)
	case "poll.timeout":
		return duration(v, &c.Poll.Timeout)
	case "poll.connect_timeout":
		return duration(v, &c.Poll.ConnectTimeout)
	case "poll.per_host":
		return integer(v, &c.Poll.PerHost)
	case "poll.host_gap":
		return duration(v, &c.Poll.HostGap)
	case "poll.max_body_size":
		var n int
		err := integer(v, &n)
		c.Poll.MaxBodySize = int64(n)
		return err
	case "poll.memory_limit":
		var n int
		err := integer(v, &n)
		c.Poll.MemoryLimit = int64(n)
		return err
	case "poll.user_agent":
		return str(v, &c.Poll.UserAgent)
	case "dedupe.window":
		return duration(v, &c.Dedupe.Window)
	case "dedupe.similar":
		return number(v, &c.Dedupe.Similar)
	case "dedupe.similar_headline":
		return number(v, &c.Dedupe.Headline)
	case "dedupe.near":
		return number(v, &c.Dedupe.Near)
	case "log.level":
		return str(v, &c.Log.Level)
	case "log.format":
		return str(v, &c.Log.Format)
	}
	return errUnknown
}

func str(v *unstable.Node, dst *string) error {
	if v.Kind != unstable.String {
		return fmt.Errorf("want a string, got %s", kindName(v.Kind))
	}
	*dst = string(v.Data)
	return nil
}

func strs(v *unstable.Node, dst *[]string) error {
	if v.Kind != unstable.Array {
		return fmt.Errorf("want an array of strings, got %s", kindName(v.Kind))
	}
	var out []string
	it := v.Children()
	for it.Next() {
		var s string
		if err := str(it.Node(), &s); err != nil {
			return fmt.Errorf("array element: %w", err)
		}
		out = append(out, s)
	}
	*dst = out
	return nil
}

func boolean(v *unstable.Node, dst *bool) error {
	if v.Kind != unstable.Bool {
		return fmt.Errorf("want true or false, got %s", kindName(v.Kind))
	}
	*dst = string(v.Data) == "true"
	return nil
}

func integer(v *unstable.Node, dst *int) error {
	if v.Kind != unstable.Integer {
		return fmt.Errorf("want an integer, got %s", kindName(v.Kind))
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(string(v.Data), "_", ""), 0, 64)
	if err != nil {
		return fmt.Errorf("bad integer %s", v.Data)
	}
	*dst = int(n)
	return nil
}

// number reads a float or an integer.
func number(v *unstable.Node, dst *float64) error {
	if v.Kind != unstable.Float && v.Kind != unstable.Integer {
		return fmt.Errorf("want a number, got %s", kindName(v.Kind))
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(string(v.Data), "_", ""), 64)
	if err != nil {
		return fmt.Errorf("bad number %s", v.Data)
	}
	*dst = f
	return nil
}

func duration(v *unstable.Node, dst *time.Duration) error {
	if v.Kind != unstable.String {
		return fmt.Errorf("want a duration string such as \"15m\", got %s", kindName(v.Kind))
	}
	d, err := ParseDuration(string(v.Data))
	if err != nil {
		return err
	}
	*dst = d
	return nil
}

func kindName(k unstable.Kind) string {
	switch k {
	case unstable.String:
		return "a string"
	case unstable.Integer:
		return "an integer"
	case unstable.Float:
		return "a float"
	case unstable.Bool:
		return "a boolean"
	case unstable.Array:
		return "an array"
	case unstable.InlineTable:
		return "a table"
	default:
		return "a date/time"
	}
}
