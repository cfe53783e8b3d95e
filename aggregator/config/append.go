package config

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// AppendSources returns data, the text of a config file, with a
// [[source]] table for each of sources added at its end, after a comment
// line (when comment is not ""). Nothing of data changes, comments and
// layout included: the result starts with data byte for byte. It does not
// validate: parse the result with Parse before using it.
func AppendSources(data []byte, comment string, sources []Source) []byte {
	var b strings.Builder
	b.Write(data)
	if len(data) > 0 && data[len(data)-1] != '\n' {
		b.WriteByte('\n')
	}
	if len(data) > 0 {
		b.WriteByte('\n')
	}
	if comment != "" {
		for _, l := range strings.Split(comment, "\n") {
			b.WriteString(strings.TrimRight("# "+oneLine(l), " "))
			b.WriteByte('\n')
		}
	}
	for i, s := range sources {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("[[source]]\n")
		for _, kv := range [][2]string{{"name", s.Name}, {"url", s.URL}, {"path", s.Path}, {"category", s.Category}, {"schedule", s.Schedule}} {
			if kv[1] != "" || kv[0] == "name" {
				fmt.Fprintf(&b, "%s = %s\n", kv[0], Quote(kv[1]))
			}
		}
	}
	return []byte(b.String())
}

// Quote returns s as a TOML basic string: in double quotes, with
// backslash, quote and control characters escaped. Invalid UTF-8 becomes
// U+FFFD, since TOML files are UTF-8.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range strings.ToValidUTF8(s, string(utf8.RuneError)) {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
				continue
			}
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// oneLine drops the control characters of a comment line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
