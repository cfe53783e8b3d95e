package seedfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden parses every article in testdata/ and ../../seeds/ and compares
// the result with the .golden file beside it (in testdata/).
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	seeds, _ := filepath.Glob("../../seeds/*.txt")
	files = append(files, seeds...)
	if len(files) < 3 {
		t.Fatalf("found only %d article files; run from the package directory", len(files))
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".txt")
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			a, err := Parse(path, f)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, err := json.MarshalIndent(a, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Parse(%s) differs from %s:\n got %s\nwant %s", path, golden, got, want)
			}
		})
	}
}

func parseString(t *testing.T, s string) Article {
	t.Helper()
	a, err := Parse("x.txt", strings.NewReader(s))
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return a
}

// The properties the seeds rely on, stated outright rather than only in
// golden files.
func TestSeedLayouts(t *testing.T) {
	read := func(name string) Article {
		f, err := os.Open(filepath.Join("../../seeds", name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		a, err := Parse(name, f)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	byline := read("000_c9e8a6bff94d1ab9.txt")
	if byline.Author != "Aksah Italo" || byline.Outlet != "" {
		t.Errorf("bylined seed: author %q outlet %q, want Aksah Italo and none", byline.Author, byline.Outlet)
	}
	if want := time.Date(2025, 12, 2, 0, 0, 0, 0, time.UTC); !byline.Published.Equal(want) {
		t.Errorf("bylined seed: published %v, want %v (month-first 12/02/25)", byline.Published, want)
	}
	crbc := read("001_c9e9b25df1c491d6.txt")
	if crbc.Outlet != "CRBC News" {
		t.Errorf("CRBC seed: outlet %q, want CRBC News", crbc.Outlet)
	}
	if strings.Contains(crbc.Text(), crbc.Title) {
		t.Error("CRBC seed: the headline is repeated in the text")
	}
	for _, junk := range []string{"Similar Articles", "- CRBC News"} {
		if strings.Contains(crbc.Text(), junk) {
			t.Errorf("CRBC seed: text still contains %q", junk)
		}
	}
	if !strings.Contains(crbc.Text(), "Diplomatic push and reactions") {
		t.Error("CRBC seed: a subheading was dropped from the body")
	}
	if crbc.Summary == "" || !crbc.Published.IsZero() {
		t.Errorf("CRBC seed: summary %q, published %v; want the standfirst and no date", crbc.Summary, crbc.Published)
	}
}

func TestBodyKeepsSentencesThatLookLikeMetadata(t *testing.T) {
	a := parseString(t, "Headline Here Today\n\nFirst paragraph of text.\n\nBy Monday, the river had fallen.\n")
	if len(a.Body) != 2 || a.Body[1] != "By Monday, the river had fallen." || a.Author != "" {
		t.Errorf("body %q, author %q: a sentence starting with By was taken for a byline", a.Body, a.Author)
	}
}

func TestShortHeadlineIsNotAnOutlet(t *testing.T) {
	a := parseString(t, "Fed Raises Rates\n\nBy Jo Smith\n\nThe Federal Reserve raised rates.\n")
	if a.Title != "Fed Raises Rates" || a.Outlet != "" || a.Author != "Jo Smith" {
		t.Errorf("got title %q outlet %q author %q", a.Title, a.Outlet, a.Author)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		want error
	}{
		{"empty", "", ErrEmpty},
		{"blank", " \n\n\t\n", ErrEmpty},
		{"nul bytes", "Title\x00\x01\x02\x00", ErrBinary},
		{"control noise", strings.Repeat("\x01\x02\x03abc", 50), ErrBinary},
		{"utf16 odd length", "\xff\xfeA\x00B", ErrBinary},
		{"too large", strings.Repeat("a", MaxSize+1), ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.txt", strings.NewReader(tc.data))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse = %v, want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "bad.txt") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestFrontMatterErrorsNameTheLine(t *testing.T) {
	_, err := Parse("fm.txt", strings.NewReader("---\ntitle: x\nthis line has no key\n---\nbody\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "fm.txt:3:") {
		t.Errorf("Parse = %v, want an error at fm.txt:3", err)
	}
	_, err = Parse("fm.txt", strings.NewReader("---\ntitle: x\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "fm.txt:1:") {
		t.Errorf("unclosed front matter: Parse = %v, want an error at fm.txt:1", err)
	}
	_, err = Parse("fm.txt", strings.NewReader("---\npublished: someday\n---\nTitle\n"))
	if err == nil || !strings.Contains(err.Error(), "fm.txt:2:") {
		t.Errorf("bad date: Parse = %v, want an error at fm.txt:2", err)
	}
}

func TestParseDate(t *testing.T) {
	want := time.Date(2025, 12, 2, 0, 0, 0, 0, time.UTC)
	for _, in := range []string{"12/02/25", "12/2/2025", "2025-12-02", "December 2, 2025", "Dec. 2, 2025",
		"2 December 2025", "Tuesday, December 2, 2025", "Dec 2nd, 2025"} {
		got, ok := parseDate(in)
		if !ok || !got.Equal(want) {
			t.Errorf("parseDate(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "soon", "13/45/25", "the 2nd of never", "01/01/1066"} {
		if got, ok := parseDate(in); ok {
			t.Errorf("parseDate(%q) = %v, want no date", in, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.txt")
	seeds, _ := filepath.Glob("../../seeds/*.txt")
	for _, p := range append(files, seeds...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Parse("fuzz.txt", bytes.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.txt") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if a.Title == "" {
			t.Fatal("Parse succeeded without a title")
		}
		for _, s := range append([]string{a.Title, a.Outlet, a.Author, a.Summary}, a.Body...) {
			if !isCleanText(s) {
				t.Fatalf("output has control characters or invalid UTF-8: %q", s)
			}
		}
		// Parsing is a function of the bytes: the same input, the same article.
		b, err := Parse("fuzz.txt", bytes.NewReader(data))
		if err != nil || b.Title != a.Title || b.Text() != a.Text() {
			t.Fatalf("Parse is not deterministic")
		}
	})
}

func isCleanText(s string) bool {
	for _, r := range s {
		if r == '\uFFFD' || r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
