package seedfile

import (
	"regexp"
	"strings"
	"time"
	"unicode"
)

// guess finds headline, outlet, byline, date, standfirst and body in the
// lines after any front matter. Values already set by front matter win.
func (a *Article) guess(lines []line) {
	blocks, firstLines := paragraphs(lines)
	blocks = cutTrailer(blocks)

	// Header: outlet, headline, bylines and date lines come before the
	// first paragraph of prose.
	i := 0
	fmTitle, fmOutlet := a.Title, a.Outlet
	var title, outlet string
	for ; i < len(blocks); i++ {
		b := blocks[i]
		if a.headerLine(b) {
			continue
		}
		if title == "" && outlet == "" && i+1 < len(blocks) && looksLikeOutlet(b, blocks) &&
			isHeadline(blocks[i+1]) && !a.isMeta(blocks[i+1]) {
			outlet = b
			continue
		}
		if title == "" && isHeadline(b) {
			title = b
			continue
		}
		if title == "" && firstLines[i] != b && isHeadline(firstLines[i]) {
			// A headline with its first paragraph right under it, no
			// blank line between.
			title = firstLines[i]
			blocks[i] = strings.TrimSpace(strings.TrimPrefix(b, title))
		}
		break
	}
	body := blocks[i:]

	// A suffix such as " - CRBC News" or " | CRBC News" names the outlet.
	if t, suffix, ok := splitOutletSuffix(title); ok && (outlet == "" || sameText(suffix, outlet) || looksLikeOutletName(suffix)) {
		title = t
		if outlet == "" {
			outlet = suffix
		}
	}
	if fmTitle == "" {
		a.Title = title
	}
	if fmOutlet == "" {
		a.Outlet = outlet
	}
	headline := a.Title
	if headline == "" {
		return
	}

	// Layout of scraped pages: headline, standfirst, headline again, body.
	for j, b := range body {
		if isRepeat(b, headline, a.Outlet) {
			if j > 0 {
				a.Summary = strings.Join(body[:j], " ")
			}
			body = body[j+1:]
			break
		}
		if j >= 3 {
			break
		}
	}
	for _, b := range body {
		if isRepeat(b, headline, a.Outlet) {
			continue
		}
		if t, ok := dateLine(b); ok { // a date line among the paragraphs
			if a.Published.IsZero() {
				a.Published = t
			}
			continue
		}
		a.Body = append(a.Body, b)
	}
}

// headerLine consumes a byline or date line, recording what it says.
func (a *Article) headerLine(s string) bool {
	if name, ok := byline(s); ok {
		if a.Author == "" {
			a.Author = name
		}
		return true
	}
	if t, ok := dateLine(s); ok {
		if a.Published.IsZero() {
			a.Published = t
		}
		return true
	}
	return false
}

func (a *Article) isMeta(s string) bool {
	if _, ok := byline(s); ok {
		return true
	}
	_, ok := dateLine(s)
	return ok
}

// paragraphs joins the lines of each blank-line separated block and drops
// lines that are page furniture rather than text.
func paragraphs(lines []line) (out, firstLines []string) {
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.Join(cur, " "))
			firstLines = append(firstLines, cur[0])
			cur = cur[:0]
		}
	}
	for _, l := range lines {
		switch {
		case l.text == "":
			flush()
		case isFurniture(l.text):
			flush()
		case isLineHeading(l.text) && len(cur) > 0:
			// A date or byline line under the headline, without a blank
			// line between them, is its own block.
			flush()
			cur = append(cur, l.text)
			flush()
		default:
			if len(cur) > 0 && isLineHeading(cur[len(cur)-1]) {
				flush()
			}
			cur = append(cur, l.text)
		}
	}
	flush()
	return out, firstLines
}

func isLineHeading(s string) bool {
	if _, ok := byline(s); ok {
		return true
	}
	_, ok := dateLine(s)
	return ok
}

var trailerHeadings = []string{
	"similar articles", "similar stories", "related", "related articles", "related stories",
	"related news", "related content", "related coverage", "read more", "read next", "read also",
	"more stories", "more news", "more on this story", "recommended", "recommended for you",
	"recommended stories", "you may also like", "you might also like", "you may be interested in",
	"most read", "most popular", "trending", "trending now", "popular now", "top stories",
	"latest news", "more from", "sponsored content", "sponsored", "comments", "about the author",
	"share this article", "share this story",
}

// cutTrailer drops a trailing list of other articles and everything after
// it. The heading must come after some prose, so a story whose first line
// is "Related" is not emptied.
func cutTrailer(blocks []string) []string {
	for i := 2; i < len(blocks); i++ {
		h := strings.ToLower(strings.TrimRight(blocks[i], " :.…"))
		for _, t := range trailerHeadings {
			if h == t || (strings.HasPrefix(h, t+" ") && t == "more from" && len(strings.Fields(h)) <= 6) {
				return blocks[:i]
			}
		}
	}
	return blocks
}

var furniture = regexp.MustCompile(`(?i)^(share|share on (facebook|twitter|x|linkedin|whatsapp|email)|tweet|email|print|copy link|save|advertisement|advert|ad|listen|listen to (this )?article|subscribe|sign up|follow us|click here to .{0,60}|\d+ (min|minute)s? read)$`)

func isFurniture(s string) bool {
	return furniture.MatchString(strings.TrimRight(s, " :.…"))
}

var bylineRe = regexp.MustCompile(`^(?i:by)\s+(\p{Lu}[\p{L}.'’\- ]*?)(?:\s*[,|·•]\s*(.*))?$`)

// byline recognises "By Jane Doe" and "By Jane Doe, Reuters".
func byline(s string) (string, bool) {
	// A byline is short and is not a sentence ("By Monday, the city had
	// fallen." is not a byline); a final period is allowed after an
	// initial only.
	if len(strings.Fields(s)) > 12 || endsSentence(s) && !hasInitialEnd(s) {
		return "", false
	}
	m := bylineRe.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	name := strings.TrimSpace(m[1])
	if len(strings.Fields(name)) > 6 {
		return "", false
	}
	return name, true
}

func hasInitialEnd(s string) bool {
	f := strings.Fields(s)
	last := f[len(f)-1]
	return len([]rune(last)) == 2 && strings.HasSuffix(last, ".")
}

var dateLabel = regexp.MustCompile(`(?i)^(published|posted|updated|last updated|date|first published)(\s+on)?\s*:?\s*`)

// dateLine recognises "Published on 12/02/25", "Updated: 2025-12-02" or a
// line that is only a date.
func dateLine(s string) (time.Time, bool) {
	if len(s) > 80 {
		return time.Time{}, false
	}
	rest := dateLabel.ReplaceAllString(s, "")
	return parseDate(rest)
}

// isHeadline reports whether s reads like a headline: a single line of up to
// 30 words that does not end like a sentence.
func isHeadline(s string) bool {
	n := len(strings.Fields(s))
	return n >= 1 && n <= 30 && len(s) <= 300 && !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, ",")
}

func endsSentence(s string) bool {
	return strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") || strings.HasSuffix(s, "?") ||
		strings.HasSuffix(s, "\"") || strings.HasSuffix(s, "”")
}

var outletWords = map[string]bool{
	"news": true, "times": true, "post": true, "journal": true, "herald": true, "tribune": true,
	"gazette": true, "press": true, "daily": true, "telegraph": true, "guardian": true,
	"review": true, "wire": true, "agency": true, "network": true, "tv": true, "radio": true,
	"magazine": true, "chronicle": true, "observer": true, "independent": true, "reuters": true,
	"bloomberg": true, "insider": true, "today": true, "weekly": true, "monitor": true,
	"standard": true, "mail": true, "express": true, "sun": true, "star": true, "globe": true,
	"report": true, "dispatch": true, "courier": true, "examiner": true, "online": true,
	"media": true, "broadcasting": true, "bbc": true, "cnn": true, "npr": true, "afp": true,
	"ap": true, "upi": true, "axios": true, "politico": true,
}

// looksLikeOutletName reports whether s reads like the name of a
// publication: a few words ending in a word such as "News", an acronym such
// as "BBC", or a domain such as "example.com".
func looksLikeOutletName(s string) bool {
	f := strings.Fields(s)
	if len(f) == 0 || len(f) > 6 || len(s) > 60 || strings.ContainsAny(s, ".!?,:;\"“”") && !isDomain(s) {
		return false
	}
	if isDomain(s) {
		return true
	}
	if outletWords[strings.ToLower(f[len(f)-1])] {
		return true
	}
	for _, w := range f {
		if len(w) >= 2 && isUpperWord(w) {
			return true
		}
	}
	return false
}

var domainRe = regexp.MustCompile(`(?i)^(www\.)?[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$`)

func isDomain(s string) bool { return domainRe.MatchString(s) }

func isUpperWord(w string) bool {
	for _, r := range w {
		if !unicode.IsUpper(r) && !unicode.IsDigit(r) && r != '&' {
			return false
		}
	}
	return true
}

// looksLikeOutlet decides whether the first block b of an article names its
// outlet rather than being its headline: it must be short and either read
// like a publication's name or reappear as a " - Name" suffix further down.
func looksLikeOutlet(b string, blocks []string) bool {
	if len(strings.Fields(b)) > 6 || len(b) > 60 || strings.ContainsAny(b, "!?") || strings.HasSuffix(b, ".") && !isDomain(b) {
		return false
	}
	if looksLikeOutletName(b) {
		return true
	}
	for _, o := range blocks[1:] {
		if _, suffix, ok := splitOutletSuffix(o); ok && sameText(suffix, b) {
			return true
		}
	}
	return false
}

// splitOutletSuffix splits "Headline - Outlet" (also with |, – or —).
func splitOutletSuffix(s string) (head, suffix string, ok bool) {
	for _, sep := range []string{" - ", " | ", " – ", " — "} {
		i := strings.LastIndex(s, sep)
		if i <= 0 {
			continue
		}
		head, suffix = strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+len(sep):])
		if suffix != "" && len(strings.Fields(suffix)) <= 6 && len(strings.Fields(head)) >= 3 {
			return head, suffix, true
		}
	}
	return s, "", false
}

// isRepeat reports whether block b is the headline again, alone or with the
// outlet suffix.
func isRepeat(b, headline, outlet string) bool {
	if sameText(b, headline) {
		return true
	}
	head, suffix, ok := splitOutletSuffix(b)
	return ok && sameText(head, headline) && (outlet == "" || sameText(suffix, outlet) || looksLikeOutletName(suffix))
}

// sameText compares ignoring case, punctuation and spacing.
func sameText(a, b string) bool {
	return fold(a) == fold(b)
}

func fold(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r == '’' || r == '\'':
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
