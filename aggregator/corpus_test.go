package aggregator

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"

	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/storage"
	"github.com/storyfeed/storyfeed/storage/storagetest"
)

// corpusDir is the shared corpus of real-world feeds (../shared/corpus from
// the repository root), which stays out of the repository.
var corpusDir = filepath.Join("..", "..", "shared", "corpus")

// Pass counts of the corpus walk that the code reaches today. The test fails
// when a change ingests fewer files correctly; raise them when it ingests
// more.
const (
	corpusOKIngest = 1777 // of 1777 ok files: no error, every item stored
	corpusOKPass   = 1768 // of 1777 ok files: that, and feedparser's stated values too
	corpusAnyPass  = 49   // of 49
	corpusExpected = 700  // of 709 feedparser_expect titles, links and texts checked
)

// corpusEntry is one line of MANIFEST.tsv.
type corpusEntry struct {
	path, format, expect, what, feedparserExpect string
}

func readManifest(t *testing.T) []corpusEntry {
	t.Helper()
	f, err := os.Open(filepath.Join(corpusDir, "MANIFEST.tsv"))
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("no corpus at %s", corpusDir)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = '\t'
	r.LazyQuotes = true
	r.FieldsPerRecord = 6
	var out []corpusEntry
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("MANIFEST.tsv: %v", err)
		}
		if line == 1 {
			continue // header
		}
		out = append(out, corpusEntry{rec[0], rec[2], rec[3], rec[4], rec[5]})
	}
	if len(out) < 1000 {
		t.Fatalf("MANIFEST.tsv lists %d files, want the whole corpus", len(out))
	}
	return out
}

// TestCorpus ingests every file of the corpus as a local feed-file source
// in one poll cycle, through the same code as any poll, into a real
// database, and checks what was stored against the manifest:
//
//   - an `ok` file ingests with no error and stores every item that has a
//     title or a link;
//   - an `any` file ingests, or fails with an error that names the file;
//   - where feedparser's assertion gives the first entry's title, link,
//     description or summary, the stored item has the same text (titles
//     and descriptions are compared as plain text: storyfeed stores them
//     as text, feedparser as HTML).
//
// Files whose test gives an HTTP Content-Type are also served over HTTP
// with it, from a loopback server, to a URL source of the same poll; both
// sources must pass.
func TestCorpus(t *testing.T) {
	entries := readManifest(t)
	db := storagetest.OpenTemp(t)
	cfg := config.Default()
	cfg.Sources = nil
	abs, err := filepath.Abs(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	// Files whose test served them with a Content-Type are also fetched
	// over HTTP with it, as source "http:PATH".
	contentType := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimPrefix(r.URL.Path, "/")
		body, err := os.ReadFile(filepath.Join(abs, filepath.FromSlash(path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", contentType[path])
		w.Write(body)
	}))
	defer srv.Close()
	cfg.Poll.AllowPrivateNetworks = true
	for _, e := range entries {
		cfg.Sources = append(cfg.Sources, config.Source{Name: e.path, Path: filepath.Join(abs, e.path)})
		if ct := corpusContentType(t, filepath.Join(abs, e.path)); ct != "" {
			contentType[e.path] = ct
			cfg.Sources = append(cfg.Sources, config.Source{Name: "http:" + e.path, URL: srv.URL + "/" + e.path})
		}
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	svc, err := New(cfg, Deps{Store: db, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PollOnce(context.Background()); err != nil {
		t.Fatalf("poll of the corpus: %v", err)
	}

	stored := map[string][]storage.Item{}
	err = db.ForEachItemSince(context.Background(), time.Unix(0, 0), func(it *storage.Item) error {
		stored[it.Feed] = append(stored[it.Feed], *it)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	states, err := db.Sources()
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]storage.SourceState{}
	for _, st := range states {
		state[st.Name] = st
	}

	type tally struct{ pass, total int }
	byDir := map[string]*tally{}
	var ok, anyT, exp tally
	ingested := 0 // ok files ingested, whatever their stated values
	parser := newFeedParser()
	// check gives the problems of one source that read the file of e.
	check := func(e corpusEntry, name, contentType string) []string {
		st, polled := state[name]
		var problems []string
		if !polled {
			problems = append(problems, "never polled")
		}
		if e.expect == "ok" {
			if st.LastError != "" {
				problems = append(problems, "error: "+st.LastError)
			} else if want, most := wantItems(t, parser, filepath.Join(abs, e.path), contentType); len(stored[name]) < want || len(stored[name]) > most {
				problems = append(problems, fmt.Sprintf("stored %d items, want %d to %d", len(stored[name]), want, most))
			}
		} else if st.LastError != "" && !strings.Contains(st.LastError, e.path) {
			problems = append(problems, "error does not name the file: "+st.LastError)
		}
		for _, it := range stored[name] {
			if !utf8.ValidString(it.Title) || !utf8.ValidString(it.Text) || !utf8.ValidString(it.Content) {
				problems = append(problems, fmt.Sprintf("item %s: invalid UTF-8", it.ID))
			}
		}
		if contentType != "" {
			for i := range problems {
				problems[i] = fmt.Sprintf("over HTTP with Content-Type %q: %s", contentType, problems[i])
			}
		}
		return problems
	}
	for _, e := range entries {
		problems := check(e, e.path, "")
		if ct := contentType[e.path]; ct != "" {
			problems = append(problems, check(e, "http:"+e.path, ct)...)
		}
		if e.expect == "ok" && len(problems) == 0 {
			ingested++
		}
		if field, want, found := expectedField(e.feedparserExpect); found && e.expect == "ok" && !httpOnly(e.feedparserExpect) {
			exp.total++
			if msg := checkField(stored[e.path], field, want); msg != "" {
				problems = append(problems, msg)
			} else {
				exp.pass++
			}
		}

		d := byDir[filepath.Dir(e.path)]
		if d == nil {
			d = &tally{}
			byDir[filepath.Dir(e.path)] = d
		}
		d.total++
		tl := &ok
		if e.expect != "ok" {
			tl = &anyT
		}
		tl.total++
		if len(problems) == 0 {
			d.pass++
			tl.pass++
			continue
		}
		t.Logf("%s (%s, %s): %s", e.path, e.expect, e.what, strings.Join(problems, "; "))
	}

	dirs := make([]string, 0, len(byDir))
	for d := range byDir {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	for _, d := range dirs {
		t.Logf("%-28s %4d/%-4d pass", d, byDir[d].pass, byDir[d].total)
	}
	t.Logf("corpus: ok files ingested %d/%d, and with feedparser's stated values %d/%d (%.1f%%); any files %d/%d; "+
		"feedparser's titles, links and texts %d/%d; %d files also over HTTP",
		ingested, ok.total, ok.pass, ok.total, 100*float64(ok.pass)/float64(ok.total), anyT.pass, anyT.total, exp.pass, exp.total, len(contentType))
	if ingested < corpusOKIngest {
		t.Errorf("ok files ingested with no error and every item: %d, want at least %d", ingested, corpusOKIngest)
	}
	if ok.pass < corpusOKPass {
		t.Errorf("ok files passing: %d, want at least %d", ok.pass, corpusOKPass)
	}
	if anyT.pass < corpusAnyPass {
		t.Errorf("any files passing: %d, want at least %d", anyT.pass, corpusAnyPass)
	}
	if exp.pass < corpusExpected {
		t.Errorf("feedparser's titles, links and texts matching: %d, want at least %d", exp.pass, corpusExpected)
	}
}

// wantItems counts the items of the feed file at path that a reader could
// show (a title or a link), one per identity (GUID, else link): what a
// poll must store. A poll may store more, up to most, the number of items
// in the file: one with text but neither title nor link gets its first
// words as title.
func wantItems(t *testing.T, parser *gofeed.Parser, path, contentType string) (want, most int) {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	feed, err := parseFeed(parser, body, contentType)
	if err != nil {
		return -1, -1
	}
	keys := map[string]bool{}
	for _, fi := range feed.Items {
		if fi == nil {
			continue
		}
		link := strings.TrimSpace(fi.Link)
		if link == "" && len(fi.Links) > 0 {
			link = strings.TrimSpace(fi.Links[0])
		}
		if strings.TrimSpace(fi.Title) == "" && link == "" {
			continue
		}
		// An item's identity: its GUID, else its link, else its content
		// (two items alike in all they say are one).
		key := strings.TrimSpace(fi.GUID)
		if key == "" {
			key = link
		}
		if key == "" {
			key = "content:" + fi.Title + "\x00" + fi.Description + "\x00" + fi.Content
		}
		keys[key] = true
	}
	return len(keys), len(feed.Items)
}

// expectRE finds the assertions of feedparser's tests that state the first
// entry's title, link, description or summary: `entries[0]['title'] == u'...'`, possibly chained
// (`entries[0]['link'] == entries[1]['link'] == '...'`).
var expectRE = regexp.MustCompile(`entries\[0\]\['(title|link|description|summary)'\](?:\['value'\])?\s*==\s*(?:entries\[\d\]\['(?:title|link)'\]\s*==\s*)?(u?['"].*)$|entries\[0\]\['(title)_detail'\]\['value'\]\s*==\s*(u?['"].*)$`)

// expectedField returns the field (title, link, description or summary) and the value that a
// feedparser assertion states for the first entry.
func expectedField(s string) (field, value string, ok bool) {
	m := expectRE.FindStringSubmatch(s)
	if m == nil {
		return "", "", false
	}
	field, lit := m[1], m[2]
	if field == "" {
		field, lit = m[3], m[4]
	}
	v, ok := pyString(lit)
	return field, v, ok
}

// pyString parses the Python string literal (or literals joined by +) at
// the start of s, up to the end of the expression.
func pyString(s string) (string, bool) {
	var b strings.Builder
	for {
		s = strings.TrimPrefix(strings.TrimLeft(s, " "), "u")
		if s == "" || (s[0] != '\'' && s[0] != '"') {
			return "", false
		}
		q := s[0]
		i := 1
		for ; i < len(s) && s[i] != q; i++ {
			c := s[i]
			if c != '\\' {
				b.WriteByte(c)
				continue
			}
			i++
			if i >= len(s) {
				return "", false
			}
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[s[i]]
				if i+n >= len(s) {
					return "", false
				}
				r, err := strconv.ParseUint(s[i+1:i+1+n], 16, 32)
				if err != nil {
					return "", false
				}
				b.WriteRune(rune(r))
				i += n
			default:
				b.WriteByte(s[i])
			}
		}
		if i >= len(s) {
			return "", false
		}
		s = strings.TrimLeft(s[i+1:], " ")
		if !strings.HasPrefix(s, "+") {
			break
		}
		s = s[1:]
	}
	// Only a whole expression counts: `... == 'x' and other_check` states
	// more than this value, `== 'x')` less.
	if s != "" && !strings.HasPrefix(s, "and ") {
		return "", false
	}
	return b.String(), true
}

// httpOnly reports whether an assertion depends on HTTP headers of the
// original test (the document URI or Content-Location as base URL), which a
// local file does not have.
func httpOnly(s string) bool {
	return strings.Contains(s, "127.0.0.1:8097") || strings.Contains(s, "example.com/relative")
}

// checkField compares the stored items with the value feedparser expects of
// the first entry; "" means they agree.
func checkField(items []storage.Item, field, want string) string {
	if field == "title" {
		want = cleanText(htmlToText(want))
		if want == "" {
			return "" // markup only: nothing a text title could show
		}
	}
	if field == "description" || field == "summary" {
		field = "text"
		want = cleanText(htmlToText(want))
		if want == "" {
			return ""
		}
	}
	var got []string
	for _, it := range items {
		v := it.URL
		switch field {
		case "title":
			v = it.Title
		case "text":
			v = it.Text
		}
		// Stored text may be only the lead of a long text (whole
		// paragraphs): dedupe has read all of it, readers follow the link.
		if v == want || (field == "text" && v != "" && strings.HasPrefix(want, v+"\n\n")) {
			return ""
		}
		got = append(got, v)
	}
	return fmt.Sprintf("%s: got %q, want %q", field, got, want)
}

// headerRE finds the HTTP Content-Type that a corpus file's test served it
// with, from its leading comment.
var headerRE = regexp.MustCompile(`(?m)^Header:\s*Content-type:\s*(.+?)\s*$`)

func corpusContentType(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := headerRE.FindSubmatch(b[:min(len(b), 2048)]); m != nil {
		return string(m[1])
	}
	return ""
}
