package aggregator

import (
	"strings"
	"testing"
	"unicode/utf8"

	xhtml "golang.org/x/net/html"

	"github.com/storyfeed/storyfeed/storage"
)

// balanced reports whether every non-void element of s is closed in order.
func balanced(s string) bool {
	z := xhtml.NewTokenizer(strings.NewReader(s))
	var open []string
	for {
		switch z.Next() {
		case xhtml.ErrorToken:
			return len(open) == 0
		case xhtml.StartTagToken:
			name, _ := z.TagName()
			if !voidElement(string(name)) {
				open = append(open, string(name))
			}
		case xhtml.EndTagToken:
			name, _ := z.TagName()
			if len(open) == 0 || open[len(open)-1] != string(name) {
				return false
			}
			open = open[:len(open)-1]
		}
	}
}

func TestHTMLLead(t *testing.T) {
	para := `<p>Olga &amp; <strong>Duarte</strong> said <a href="http://x.example/a?b=1&amp;c=2">the plan</a> would work.<br/>More &#34;quoted&#34; text here.</p>`
	long := strings.Repeat(para, 20)
	for _, tc := range []struct {
		name, in string
		n        int
	}{
		{"short", para, 1000},
		{"paragraphs", long, 200},
		{"inside a link", long, 60},
		{"tiny", long, 5},
		{"unclosed source", strings.Repeat("<div><p>word word word ", 50), 100},
		{"stray end tags", strings.Repeat("</b>text text</i> ", 50), 80},
		{"no spaces", "<p>" + strings.Repeat("x", 1000) + "</p>", 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := htmlLead(tc.in, tc.n)
			if len(tc.in) <= tc.n/4 {
				if got != tc.in {
					t.Fatalf("a short fragment changed: %q", got)
				}
				return
			}
			if len(got) > tc.n+200 {
				t.Errorf("lead of %d bytes for a limit of %d: %q", len(got), tc.n, got)
			}
			if !utf8.ValidString(got) || !balanced(got) {
				t.Errorf("lead not balanced or not UTF-8: %q", got)
			}
			if strings.Contains(got, "&am…") || strings.Contains(got, "&#3…") {
				t.Errorf("cut inside an entity: %q", got)
			}
			if got2 := htmlLead(got, tc.n); got2 != got && len(got) <= tc.n {
				t.Errorf("not stable: %q then %q", got, got2)
			}
		})
	}
	if got := htmlLead(long, 200); !strings.HasPrefix(got, para[:100]) || !strings.HasSuffix(got, "</p>") {
		t.Errorf("lead %q: want the start of the first paragraph, closed", got)
	}
	if got := htmlLead(long, 400); got != para {
		t.Errorf("lead %q: want the first paragraph", got)
	}
	short := "<p>Dateline.</p>" + para + para
	if got := htmlLead(short, 400); got != "<p>Dateline.</p>"+para {
		t.Errorf("lead %q: want the first paragraph that holds a quarter of the limit", got)
	}
}

func TestTrimForStorage(t *testing.T) {
	text := strings.Repeat("First paragraph words é ", 40) + "\n\nSecond paragraph."
	it := storage.Item{Text: text, Summary: strings.Repeat("sum ", 400), Content: "<p>" + strings.Repeat("a b ", 400) + "</p>"}
	trimForStorage(&it)
	if it.TextLen != utf8.RuneCountInString(text) {
		t.Errorf("TextLen %d, want %d", it.TextLen, utf8.RuneCountInString(text))
	}
	if len(it.Text) > storedText+len("…") || strings.Contains(it.Text, "Second") || !strings.HasPrefix(text, strings.TrimSuffix(it.Text, "…")) {
		t.Errorf("stored text %q: want the lead of the first paragraph", it.Text)
	}
	if len(it.Summary) > storedText+len("…") || len(it.Content) > storedContent+16 || !balanced(it.Content) {
		t.Errorf("summary %d bytes, content %d bytes %q", len(it.Summary), len(it.Content), it.Content)
	}
	short := storage.Item{Text: "One line.", Content: "<p>One line.</p>"}
	trimForStorage(&short)
	if short.Text != "One line." || short.Content != "<p>One line.</p>" || short.TextLen != 9 {
		t.Errorf("a short item changed: %+v", short)
	}
}

func TestSanitizeLead(t *testing.T) {
	n := newNormalizer()
	body := `<p class="x" onclick="evil()">First <b>para</b> with <a href="javascript:alert(1)">a link</a> and enough words to count as a lead of its own, well past eighty bytes.</p>` +
		strings.Repeat(`<p>More text <script>alert(2)</script>here.</p>`, 100)
	got := n.sanitizeLead(body)
	if strings.Contains(got, "onclick") || strings.Contains(got, "javascript") || strings.Contains(got, "script") || len(got) > 4*storedContent {
		t.Errorf("lead %q: want the start of the body, sanitised", got)
	}
	if !strings.HasPrefix(got, "<p>First <b>para</b>") {
		t.Errorf("lead %q", got)
	}
	// A first block that sanitises to nothing: the whole body is sanitised.
	scripted := `<div><script>` + strings.Repeat("x ", 400) + `</script></div>` + strings.Repeat(`<p>Real text here.</p>`, 50)
	if got := n.sanitizeLead(scripted); !strings.Contains(got, "Real text here.") || strings.Contains(got, "script") {
		t.Errorf("lead of a body that starts with a script: %.200q", got)
	}
	// Whatever the cut, the result is balanced HTML after trimming.
	it := storage.Item{Content: n.sanitizeLead(body)}
	trimForStorage(&it)
	if !balanced(it.Content) || strings.Contains(it.Content, "More text") || !strings.HasSuffix(it.Content, "eighty bytes.</p>") {
		t.Errorf("trimmed lead %q: want the first paragraph, balanced", it.Content)
	}
}
