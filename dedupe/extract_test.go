package dedupe_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/storyfeed/storyfeed/dedupe"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// article is one article of testdata/articles.txt.
type article struct {
	outlet, title, url, text string
}

func readArticles(tb testing.TB) []article {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "articles.txt"))
	if err != nil {
		tb.Fatal(err)
	}
	var out []article
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "== "):
			parts := strings.Split(strings.TrimPrefix(line, "== "), " | ")
			if len(parts) != 3 {
				tb.Fatalf("testdata/articles.txt:%d: want \"== Outlet | Headline | URL\"", i+1)
			}
			out = append(out, article{outlet: parts[0], title: parts[1], url: parts[2]})
		case len(out) > 0:
			out[len(out)-1].text += line + "\n"
		}
	}
	if len(out) == 0 {
		tb.Fatal("testdata/articles.txt: no articles")
	}
	return out
}

// mix is a small deterministic generator (SplitMix64): the golden docs
// must not change with the standard library's random streams.
type mix uint64

func (m *mix) next() uint64 {
	*m += 0x9e3779b97f4a7c15
	z := uint64(*m)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func (m *mix) intn(n int) int { return int(m.next() % uint64(n)) }

// goldenDocs are the articles as they are, then docs made by cutting,
// shuffling and re-casing their words, so that every path of the
// tokeniser (joined words, numbers, names, accents, quotes, credits,
// furniture lines) meets many neighbours.
func goldenDocs(tb testing.TB) []dedupe.Doc {
	arts := readArticles(tb)
	day := time.Date(2025, 12, 2, 9, 0, 0, 0, time.UTC)
	var docs []dedupe.Doc
	for i, a := range arts {
		docs = append(docs, dedupe.Doc{ID: fmt.Sprint("a", i), URL: a.url, Hash: a.title, Outlet: a.outlet,
			Title: a.title, Text: a.text, Time: day.Add(time.Duration(i) * time.Minute)})
	}
	docs = append(docs, dedupe.Doc{ID: "empty"}, dedupe.Doc{ID: "space", Title: " ", Text: "\n\n \t"},
		dedupe.Doc{ID: "stop", Title: "The", Text: "the of and it is was said"})
	var words []string
	for _, a := range arts {
		words = append(words, strings.Fields(a.text)...)
	}
	seps := []string{" ", " ", " ", " ", "\n", ", ", ". ", " - ", "\n\n", "; ", " “", "” ", " (", ") "}
	m := mix(1)
	for i := range 400 {
		a := arts[m.intn(len(arts))]
		var b strings.Builder
		switch m.intn(4) {
		case 0: // the article with some words re-cased
			for _, w := range strings.Fields(a.text) {
				switch m.intn(12) {
				case 0:
					w = strings.ToUpper(w)
				case 1:
					w = strings.ToLower(w)
				case 2:
					r, n := utf8.DecodeRuneInString(w)
					w = string(unicode.ToUpper(r)) + w[n:]
				}
				b.WriteString(w)
				b.WriteString(seps[m.intn(len(seps))])
			}
		case 1: // a cut of the article
			t := a.text
			s := m.intn(len(t))
			b.WriteString(strings.ToValidUTF8(t[s:min(len(t), s+m.intn(len(t)))], ""))
		default: // words of every article
			for range 20 + m.intn(300) {
				b.WriteString(words[m.intn(len(words))])
				b.WriteString(seps[m.intn(len(seps))])
			}
		}
		title := a.title
		if m.intn(3) == 0 {
			title = words[m.intn(len(words))] + " " + words[m.intn(len(words))] + " - " + arts[m.intn(len(arts))].outlet
		}
		outlet := a.outlet
		if m.intn(4) == 0 {
			outlet = ""
		}
		var t time.Time
		if m.intn(5) != 0 {
			t = day.Add(time.Duration(m.intn(100000)) * time.Second)
		}
		docs = append(docs, dedupe.Doc{ID: fmt.Sprint("g", i), URL: a.url + fmt.Sprint("/", m.intn(3)), Outlet: outlet,
			Title: title, Text: b.String(), Time: t})
	}
	return docs
}

// goldenLine is what the golden file holds of one doc: a digest of its
// encoded features, and its credits.
func goldenLine(tb testing.TB, d *dedupe.Doc) string {
	f := dedupe.Extract(d)
	b, err := f.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return fmt.Sprintf("%s %s %d %q", d.ID, hex.EncodeToString(sum[:12]), len(f.Terms), dedupe.Cites(d.Text, d.Outlet))
}

// The features and credits of the golden docs stay what they were: the
// index keeps features across restarts (MarshalBinary), and a changed
// term, weight or hash would make it decide differently. A deliberate
// change rewrites the file with go test -update.
func TestExtractGolden(t *testing.T) {
	docs := goldenDocs(t)
	path := filepath.Join("testdata", "extract.golden")
	var got []string
	for i := range docs {
		got = append(got, goldenLine(t, &docs[i]))
	}
	if *update {
		if err := os.WriteFile(path, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n, bad := 0, 0
	for sc.Scan() {
		line := n + 1
		if n >= len(got) {
			t.Fatalf("%s:%d: more lines than docs (%d)", path, line, len(got))
		}
		if sc.Text() != got[n] {
			bad++
			if bad <= 5 {
				t.Errorf("%s:%d:\n got %s\nwant %s", path, line, got[n], sc.Text())
			}
		}
		n++
	}
	if n != len(got) {
		t.Errorf("%s: %d lines, want %d", path, n, len(got))
	}
	if bad > 0 {
		t.Errorf("%d of %d docs differ", bad, len(got))
	}
}
