// Package seedfile parses plain-text article files: the files in a `path`
// source directory, such as the project's seeds/.
//
// An article file is a headline, optional outlet line, byline and date line,
// then paragraphs separated by blank lines. Optional front matter (between
// `---` or `+++` lines, `key: value` or `key = "value"`) sets title, source,
// author, url, published, category and id, and wins over anything guessed.
//
// What is not the article is removed so it cannot feed dedupe: a repeat of
// the headline, a " - Outlet" suffix, share-button lines, and everything from
// a trailing "Similar Articles"/"Related" list on.
//
// Numeric dates are read month first (12/02/25 is 2 December 2025), the
// order of US outlets; ISO dates (2025-12-02) are unambiguous and preferred.
// A date without a zone is UTC.
//
// The package does no I/O of its own: it reads what it is given.
package seedfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// MaxSize is the largest article file Parse accepts.
const MaxSize = 4 << 20

// Article is what Parse found in one file.
type Article struct {
	ID        string    // from front matter; "" means the caller picks one
	Title     string    // headline, without any " - Outlet" suffix
	Outlet    string    // publication named by the file; "" when none
	Author    string    // from a "By NAME" byline
	URL       string    // from front matter
	Published time.Time // zero when the file has no date
	Category  string
	Summary   string   // standfirst between the headline and its repeat, if any
	Body      []string // paragraphs of article text, boilerplate removed
}

// Text is the article's plain text: summary and body paragraphs.
func (a *Article) Text() string {
	parts := a.Body
	if a.Summary != "" {
		parts = append([]string{a.Summary}, a.Body...)
	}
	return strings.Join(parts, "\n\n")
}

// Errors returned by Parse, wrapped in a *Error naming the file.
var (
	ErrEmpty    = errors.New("empty file")
	ErrBinary   = errors.New("binary data, not text")
	ErrTooLarge = fmt.Errorf("file larger than %d bytes", MaxSize)
	ErrNoTitle  = errors.New("no headline found")
)

// Error is a problem in one article file.
type Error struct {
	File string
	Line int // 0 when not about one line
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Parse reads one article file. name is used in errors only.
func Parse(name string, r io.Reader) (Article, error) {
	raw, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return Article{}, &Error{File: name, Err: err}
	}
	if len(raw) > MaxSize {
		return Article{}, &Error{File: name, Err: ErrTooLarge}
	}
	text, err := decodeText(raw)
	if err != nil {
		return Article{}, &Error{File: name, Err: err}
	}
	lines := splitLines(text)
	var a Article
	start, ferr := a.frontMatter(lines)
	if ferr != nil {
		ferr.File = name
		return Article{}, ferr
	}
	a.guess(lines[start:])
	if a.Title == "" {
		if len(a.Body) == 0 && a.Summary == "" {
			return Article{}, &Error{File: name, Err: ErrEmpty}
		}
		return Article{}, &Error{File: name, Err: ErrNoTitle}
	}
	return a, nil
}

// decodeText turns file bytes into clean UTF-8 text. UTF-8 (with or without
// BOM) and UTF-16 with BOM are read as such; other bytes that are not valid
// UTF-8 but look like text are read as Windows-1252, the usual encoding of
// such files. NUL bytes or many control characters mean binary data.
func decodeText(b []byte) (string, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		b = b[3:]
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}), bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		return decodeUTF16(b)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return "", ErrEmpty
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return "", ErrBinary
	}
	s := string(b)
	if !utf8.ValidString(s) {
		dec, err := charmap.Windows1252.NewDecoder().String(s)
		if err != nil {
			return "", ErrBinary
		}
		s = dec
	}
	ctrl := 0
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' && r != '\f' {
			ctrl++
		}
	}
	if ctrl*100 > len(s) { // more than 1% control characters
		return "", ErrBinary
	}
	return s, nil
}

func decodeUTF16(b []byte) (string, error) {
	big := b[0] == 0xFE
	b = b[2:]
	if len(b)%2 != 0 {
		return "", ErrBinary
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		if big {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			u[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
		}
	}
	s := string(utf16.Decode(u))
	if strings.ContainsRune(s, 0) {
		return "", ErrBinary
	}
	if strings.TrimSpace(s) == "" {
		return "", ErrEmpty
	}
	return s, nil
}

type line struct {
	n    int // 1-based line number
	text string
}

// splitLines splits text into trimmed lines, dropping control characters
// and folding odd spaces, so later stages see plain words.
func splitLines(s string) []line {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	raw := strings.Split(s, "\n")
	out := make([]line, len(raw))
	for i, l := range raw {
		out[i] = line{n: i + 1, text: cleanLine(l)}
	}
	return out
}

func cleanLine(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case r == utf8.RuneError || r == '\uFEFF' || r == '\u200B':
			continue
		case unicode.IsSpace(r):
			space = true
			continue
		case unicode.IsControl(r):
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// frontMatter reads an optional front-matter block at the top and returns
// the index of the first line after it.
func (a *Article) frontMatter(lines []line) (int, *Error) {
	first := 0
	for first < len(lines) && lines[first].text == "" {
		first++
	}
	if first == len(lines) {
		return 0, nil
	}
	fence := lines[first].text
	if fence != "---" && fence != "+++" {
		return 0, nil
	}
	for i := first + 1; i < len(lines); i++ {
		l := lines[i]
		if l.text == fence {
			return i + 1, nil
		}
		if l.text == "" || strings.HasPrefix(l.text, "#") {
			continue
		}
		key, val, ok := splitKeyValue(l.text)
		if !ok {
			return 0, &Error{Line: l.n, Err: fmt.Errorf("front matter: want key: value, got %q", l.text)}
		}
		switch strings.ToLower(key) {
		case "title", "headline":
			a.Title = val
		case "source", "outlet", "publisher", "site":
			a.Outlet = val
		case "author", "by", "byline":
			a.Author = val
		case "url", "link":
			a.URL = val
		case "category", "section":
			a.Category = val
		case "id", "guid":
			a.ID = val
		case "published", "date", "pubdate":
			t, ok := parseDate(val)
			if !ok {
				return 0, &Error{Line: l.n, Err: fmt.Errorf("front matter: unrecognised date %q", val)}
			}
			a.Published = t
		}
		// Other keys (tags, description, layout...) belong to other tools
		// and are ignored.
	}
	return 0, &Error{Line: lines[first].n, Err: fmt.Errorf("front matter opened with %q is never closed", fence)}
}

func splitKeyValue(s string) (key, val string, ok bool) {
	i := strings.IndexAny(s, ":=")
	if i <= 0 {
		return "", "", false
	}
	key = strings.TrimSpace(s[:i])
	val = strings.TrimSpace(s[i+1:])
	if len(val) >= 2 && (val[0] == '"' || val[0] == '\'') && val[len(val)-1] == val[0] {
		val = val[1 : len(val)-1]
	}
	return key, val, key != "" && !strings.ContainsAny(key, " \t")
}
