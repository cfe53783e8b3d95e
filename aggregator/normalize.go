package aggregator

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"html"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"github.com/mmcdole/gofeed"
	xhtml "golang.org/x/net/html"

	"github.com/storyfeed/storyfeed/aggregator/seedfile"
	"github.com/storyfeed/storyfeed/storage"
)

// Limits on stored text, so that one hostile item cannot bloat the
// database or the published feed.
const (
	maxTitle   = 1000
	maxText    = 64 << 10
	maxContent = 128 << 10
)

// normalizer turns parsed feed items and article files into storage items.
// It holds the HTML sanitiser, which is safe for concurrent use, and is
// read-only once made.
type normalizer struct {
	policy *bluemonday.Policy
	// kept holds the elements of quickElements that the policy keeps:
	// their end tag is kept as it is, and so are their start and
	// self-closing tags without attributes when their keptTag says so.
	kept map[string]keptTag
	// quickImg says that the policy keeps an img tag with src, alt,
	// width and height as quickSanitizer.writeImg writes it.
	quickImg bool
}

// keptTag says which tags of an element without attributes the policy
// keeps as they are.
type keptTag uint8

const (
	keptStart       keptTag = 1 << iota // <x>
	keptSelfClosing                     // <x/>
)

// quickElements are the elements that quickSanitize handles itself when
// the policy keeps them: the ordinary ones of feed HTML. None of them puts
// the tokenizer in raw-text mode or makes the sanitiser skip content.
var quickElements = []string{"a", "abbr", "article", "b", "blockquote", "br", "caption", "cite", "code",
	"dd", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
	"img", "li", "mark", "ol", "p", "pre", "q", "s", "section", "small", "span", "strong", "sub", "sup",
	"table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul"}

func newNormalizer() *normalizer {
	p := bluemonday.UGCPolicy()
	p.RequireNoFollowOnLinks(false)
	p.AddTargetBlankToFullyQualifiedLinks(false)
	n := &normalizer{policy: p, kept: make(map[string]keptTag, len(quickElements))}
	// Ask the policy rather than restate it: an element is handled
	// quickly only when the policy is seen to keep its end tag.
	for _, name := range quickElements {
		if p.Sanitize("</"+name+">") != "</"+name+">" {
			continue
		}
		var k keptTag
		if p.Sanitize("<"+name+">") == "<"+name+">" {
			k |= keptStart
		}
		if p.Sanitize("<"+name+"/>") == "<"+name+"/>" {
			k |= keptSelfClosing
		}
		n.kept[name] = k
	}
	img := `<img src="https://x.example/a.png?b=1&amp;c=2" alt="An image" width="10" height="50%">`
	_, n.quickImg = n.kept["img"]
	n.quickImg = n.quickImg && p.Sanitize(img) == img
	return n
}

// fromFeedItem converts one gofeed item of source feed. now is the fetch
// time: a date in the future is capped to it.
func (n *normalizer) fromFeedItem(feed, category string, base *url.URL, fi *gofeed.Item, now time.Time) storage.Item {
	link := resolve(base, strings.TrimSpace(fi.Link))
	if link == "" && len(fi.Links) > 0 {
		link = resolve(base, strings.TrimSpace(fi.Links[0]))
	}
	guid := strings.TrimSpace(fi.GUID)
	if link == "" && isWebURL(guid) {
		// An RSS guid is a permalink unless it says otherwise (gofeed
		// does not tell), and then it is the item's link.
		link = guid
	}
	content := itemContent(fi)
	q := quickSanitizer{n: n}
	text, lead := htmlTextLead(content, leadBytes, &q)
	text = clip(text, maxText)
	rawTitle := fi.Title
	if strings.TrimSpace(rawTitle) == "" {
		rawTitle = extensionValue(fi, "media", "title") // Media RSS titles a video item so
	}
	title := clip(cleanText(htmlToText(rawTitle)), maxTitle)
	if title == "" {
		title = firstWords(text, 12)
	}
	// A title that is markup only (an image) and no text: the item is
	// still one the feed lists, and a reader needs something to show.
	untitled := title == "" && strings.TrimSpace(rawTitle) != ""
	if untitled {
		title = "(untitled)"
	}
	it := storage.Item{
		Feed:     feed,
		Outlet:   feed,
		Title:    title,
		URL:      link,
		CanonURL: Canonical(link),
		Content:  n.sanitizeLeadOf(content, lead, &q),
		Text:     text,
		Category: category,
	}
	if fi.Author != nil {
		it.Author = clip(cleanText(fi.Author.Name), 200)
	} else if len(fi.Authors) > 0 && fi.Authors[0] != nil {
		it.Author = clip(cleanText(fi.Authors[0].Name), 200)
	}
	switch {
	case fi.PublishedParsed != nil:
		it.Published = *fi.PublishedParsed
	case fi.UpdatedParsed != nil:
		it.Published = *fi.UpdatedParsed
	}
	it.Published = capDate(it.Published, now)
	it.Hash = contentHash(it.Title, it.Text)
	if untitled && it.Text == "" {
		// Nothing of its own to recognise a copy by: every such item
		// would otherwise hash alike and be taken for one story.
		it.Hash = contentHash("", "untitled\x00"+guid+"\x00"+link+"\x00"+fi.Title)
	}
	switch {
	case guid != "":
	case link != "":
		guid = link
	default:
		guid = "hash:" + it.Hash
	}
	it.GUID = clip(guid, 2000)
	it.ID = storage.ItemID(feed, it.GUID)
	return it
}

// sanitizeLead sanitises the lead of an item's HTML: only its first
// paragraph is kept (trimForStorage), and the sanitiser costs about as much
// as the feed parser when it reads a whole body. When the raw lead leaves
// next to nothing (an image, a script), the whole body is sanitised.
func (n *normalizer) sanitizeLead(s string) string {
	return n.sanitizeLeadOf(s, htmlLead(s, leadBytes), nil)
}

// leadBytes is how much of an item's HTML the sanitiser reads first.
const leadBytes = 4 * storedContent

// sanitizeLeadOf is sanitizeLead(s) given lead = htmlLead(s, leadBytes)
// and, when not nil, the quickSanitizer that htmlTextLead gave it.
func (n *normalizer) sanitizeLeadOf(s, lead string, q *quickSanitizer) string {
	var out string
	switch {
	case q != nil && q.whole && strings.TrimSpace(lead) != "":
		out = q.b.String()
	case q != nil && q.failed:
		out = n.policy.Sanitize(lead)
	default:
		out = n.sanitize(lead)
	}
	if len(lead) < len(s) && len(out) < storedContent/4 {
		out = n.sanitize(s)
	}
	return clip(out, maxContent)
}

// sanitize is the policy's Sanitize(s). Plain text, with no tag and no
// entity, it gives without the tokenizer: the text with its line breaks
// normalised (CR LF and CR to LF, as the tokenizer reads them) and
// escaped, or s itself when it is only spaces.
func (n *normalizer) sanitize(s string) string {
	if strings.TrimSpace(s) == "" {
		return s // as the policy returns it
	}
	if strings.ContainsAny(s, "<&") {
		if out, ok := n.quickSanitize(s); ok {
			return out
		}
		return n.policy.Sanitize(s)
	}
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	return xhtml.EscapeString(s)
}

// quickSanitize is the policy's Sanitize(s) for the HTML of most feeds,
// without the policy's cost per token; ok is false when s holds anything
// else, and then the policy must sanitise s. It takes the tokens of s as
// the policy does and gives the same bytes: text escaped again after its
// entities are decoded; comments and doctypes dropped; the tags of an
// element in n.kept kept, an end tag or a bare tag as it is, and a tag
// with attributes as the policy writes that tag alone. The policy's output
// for a tag depends on what came before only after an element it skips,
// or in raw text: anything of that kind, a tag the policy drops, and a
// tokenizer error make ok false.
func (n *normalizer) quickSanitize(s string) (out string, ok bool) {
	z := newSimpleTokenizer(s)
	defer z.release()
	return n.quickSanitizeWith(z, s)
}

// quickSanitizeWith is quickSanitize reading the tokens of s from z.
func (n *normalizer) quickSanitizeWith(z htmlTokens, s string) (out string, ok bool) {
	q := quickSanitizer{n: n}
	q.b.Grow(len(s) + len(s)/8)
	for !q.failed {
		tt := z.Next()
		switch tt {
		case xhtml.ErrorToken:
			if z.Err() != io.EOF {
				return "", false // the policy gives "" for a broken document
			}
			return q.b.String(), true
		case xhtml.TextToken:
			q.text(z.Text())
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken:
			q.tag(z, tt, tagName(z, tt))
		case xhtml.EndTagToken:
			q.endTag(tagName(z, tt)) // the tokenizer keeps no attributes of an end tag
		}
	}
	return "", false
}

// quickSanitizer writes quickSanitize's output token by token; failed
// says it met a token it must leave to the policy.
type quickSanitizer struct {
	n      *normalizer
	b      strings.Builder
	failed bool
	// For htmlTextLead: separate says the lead is not made of the
	// tokens given, and whole that b holds the sanitised lead.
	separate, whole bool
	tag0            []byte // scratch for writeImg
}

// text writes the decoded text of a text token.
func (q *quickSanitizer) text(text []byte) {
	writeEscaped(&q.b, text)
}

// tag writes the start or self-closing tag z is at, named name.
func (q *quickSanitizer) tag(z htmlTokens, tt xhtml.TokenType, name []byte) {
	k, known := q.n.kept[string(name)]
	if !known {
		q.failed = true
		return
	}
	// TagAttr copies the first attribute: it leaves the raw tag as it was.
	key, val, more := z.TagAttr()
	switch {
	case key != nil: // attributes
		if string(name) == "a" && writeLink(&q.b, key, val, more, tt == xhtml.SelfClosingTagToken) {
			break // the common <a href="...">
		}
		if string(name) == "img" && q.n.quickImg && q.writeImg(z, key, val, more, tt == xhtml.SelfClosingTagToken) {
			break // the common <img src="..." alt="...">
		}
		// The policy sanitises the tag alone.
		tag := q.n.policy.Sanitize(string(z.Raw()))
		if tag == "" {
			// Dropped for want of a valid attribute: the policy then
			// drops its end tag too.
			q.failed = true
			break
		}
		q.b.WriteString(tag)
	case tt == xhtml.StartTagToken && k&keptStart != 0:
		q.b.WriteByte('<')
		q.b.Write(name)
		q.b.WriteByte('>')
	case tt == xhtml.SelfClosingTagToken && k&keptSelfClosing != 0:
		q.b.WriteByte('<')
		q.b.Write(name)
		q.b.WriteString("/>")
	default:
		q.failed = true
	}
}

// endTag writes an end tag.
func (q *quickSanitizer) endTag(name []byte) {
	if _, known := q.n.kept[string(name)]; !known {
		q.failed = true
		return
	}
	q.b.WriteString("</")
	q.b.Write(name)
	q.b.WriteByte('>')
}

// writeLink writes the tag <a href="URL"> (or <a href="URL"/>), given its
// first attribute and whether it has more, as the policy of newNormalizer
// writes it, and reports whether it did: when its one attribute is an href
// that policyURL takes. Anything else (another attribute, another scheme,
// a space) is left to the policy.
func writeLink(b *strings.Builder, key, val []byte, more, selfClosing bool) bool {
	if more || string(key) != "href" {
		return false
	}
	href, ok := policyURL(val)
	if !ok {
		return false
	}
	b.WriteString(`<a href="`)
	b.WriteString(xhtml.EscapeString(href))
	if selfClosing {
		b.WriteString(`"/>`)
	} else {
		b.WriteString(`">`)
	}
	return true
}

// policyURL is the URL that the policy of newNormalizer writes for the URL
// val of a link or an image, and ok is true, when val is a URL it takes as
// such. The policy requires a URL that parses, has no space, tab or line
// break once trimmed, and is relative or of a scheme it allows (http,
// https and mailto, with no further test); it writes the URL as net/url
// does. ok is false for anything else, which is left to the policy.
func policyURL(val []byte) (string, bool) {
	if len(val) == 0 {
		return "", false
	}
	// Attribute values are rarely anything but plain URLs: refuse
	// spaces anywhere rather than restate how they are trimmed.
	for _, c := range val {
		if c <= ' ' || c == 0x7f || c >= utf8.RuneSelf {
			return "", false
		}
	}
	u, err := url.Parse(string(val))
	if err != nil {
		return "", false
	}
	switch u.Scheme {
	case "", "http", "https", "mailto":
	default:
		return "", false
	}
	href := u.String()
	return href, href != ""
}

// writeImg writes the tag <img ...> as the policy of newNormalizer writes
// it, given its first attribute and whether it has more (the rest are read
// from z), and reports whether it did: when every attribute is one that
// the policy keeps on an image as it is, src a URL that policyURL takes,
// alt matching bluemonday.Paragraph, width and height
// bluemonday.NumberOrPercent (the patterns the policy matches them
// against). Anything else is left to the policy.
func (q *quickSanitizer) writeImg(z htmlTokens, key, val []byte, more, selfClosing bool) bool {
	t := append(q.tag0[:0], "<img"...)
	for {
		t = append(t, ' ')
		t = append(t, key...)
		t = append(t, `="`...)
		switch string(key) {
		case "src":
			src, ok := policyURL(val)
			if !ok {
				return false
			}
			t = appendEscaped(t, src)
		case "alt":
			if !bluemonday.Paragraph.Match(val) {
				return false
			}
			t = appendEscaped(t, val)
		case "width", "height":
			if !bluemonday.NumberOrPercent.Match(val) {
				return false
			}
			t = append(t, val...) // digits and '%'
		default:
			return false
		}
		t = append(t, '"')
		if !more {
			break
		}
		key, val, more = z.TagAttr()
	}
	if selfClosing {
		t = append(t, "/>"...)
	} else {
		t = append(t, '>')
	}
	q.tag0 = t
	q.b.Write(t)
	return true
}

// appendEscaped appends s escaped as html.EscapeString escapes it.
func appendEscaped[S string | []byte](dst []byte, s S) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			dst = append(dst, "&amp;"...)
		case '\'':
			dst = append(dst, "&#39;"...)
		case '<':
			dst = append(dst, "&lt;"...)
		case '>':
			dst = append(dst, "&gt;"...)
		case '"':
			dst = append(dst, "&#34;"...)
		case '\r':
			dst = append(dst, "&#13;"...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// writeEscaped writes s escaped as html.EscapeString escapes it.
func writeEscaped(b *strings.Builder, s []byte) {
	for {
		i := bytes.IndexAny(s, "&'<>\"\r")
		if i < 0 {
			b.Write(s)
			return
		}
		b.Write(s[:i])
		switch s[i] {
		case '&':
			b.WriteString("&amp;")
		case '\'':
			b.WriteString("&#39;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&#34;")
		case '\r':
			b.WriteString("&#13;")
		}
		s = s[i+1:]
	}
}

// fromArticle converts an article file; rel is its path inside the source
// directory, which identifies it across polls.
func (n *normalizer) fromArticle(feed, category, rel string, a *seedfile.Article, now time.Time) storage.Item {
	outlet := a.Outlet
	if outlet == "" {
		outlet = a.Author // a bylined piece with no outlet line: the byline is who wrote it
	}
	if outlet == "" {
		outlet = feed
	}
	if a.Category != "" {
		category = a.Category
	}
	guid := a.ID
	if guid == "" {
		guid = "file:" + rel
	}
	var content strings.Builder
	for _, p := range append([]string{a.Summary}, a.Body...) {
		if p == "" {
			continue
		}
		content.WriteString("<p>")
		content.WriteString(html.EscapeString(p))
		content.WriteString("</p>\n")
	}
	it := storage.Item{
		ID:        storage.ItemID(feed, guid),
		Feed:      feed,
		GUID:      guid,
		Outlet:    clip(outlet, 200),
		Author:    clip(a.Author, 200),
		Title:     clip(a.Title, maxTitle),
		URL:       a.URL,
		CanonURL:  Canonical(a.URL),
		Summary:   a.Summary,
		Content:   clip(content.String(), maxContent),
		Text:      clip(a.Text(), maxText),
		Category:  category,
		Published: capDate(a.Published, now),
	}
	it.Hash = contentHash(it.Title, it.Text)
	return it
}

// itemContent is the HTML body of an item: its content, else its
// description, else the body that older feeds carry in elements gofeed
// leaves aside (xhtml:body, body, fullitem), else a Media RSS description.
func itemContent(fi *gofeed.Item) string {
	for _, c := range []string{fi.Content, fi.Description, fi.Custom["body"], fi.Custom["fullitem"]} {
		if strings.TrimSpace(c) != "" {
			return c
		}
	}
	// Extension values are text: gofeed has already read their markup.
	if v := extensionValue(fi, "xhtml", "body"); v != "" {
		return html.EscapeString(v)
	}
	for _, group := range fi.Extensions["media"]["group"] {
		for _, d := range group.Children["description"] {
			if v := strings.TrimSpace(d.Value); v != "" {
				return html.EscapeString(v)
			}
		}
	}
	return html.EscapeString(extensionValue(fi, "media", "description"))
}

// isWebURL reports whether s is an absolute http(s) URL.
func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// extensionValue is the value of the first ns:name extension element of
// an item, "" when it has none.
func extensionValue(fi *gofeed.Item, ns, name string) string {
	for _, e := range fi.Extensions[ns][name] {
		if v := strings.TrimSpace(e.Value); v != "" {
			return v
		}
	}
	return ""
}

// capDate keeps a publication date no later than now: a feed that dates its
// items in the future would otherwise pin them to the top of every reader.
func capDate(t, now time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	if t.After(now) {
		return now
	}
	return t.UTC()
}

// contentHash identifies an item's text regardless of case, punctuation and
// spacing, so syndicated copies of one article hash alike: it hashes the
// letters and digits of title and text, lower-cased, with a NUL between
// them (and for each NUL in them).
func contentHash(title, text string) string {
	h := sha256.New()
	var buf [512]byte
	n := hashLetters(h, buf[:], 0, title)
	buf[n] = 0
	n = hashLetters(h, buf[:], n+1, text)
	h.Write(buf[:n])
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// asciiFold maps an ASCII byte to what contentHash hashes of it: a letter
// lower-cased, a digit or NUL as it is, anything else to 0xff for nothing.
var asciiFold = func() (t [utf8.RuneSelf]byte) {
	for c := range t {
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == 0:
			t[c] = byte(c)
		case 'A' <= c && c <= 'Z':
			t[c] = byte(c) + 'a' - 'A'
		default:
			t[c] = 0xff
		}
	}
	return t
}()

// hashLetters appends the lower-cased letters and digits of s (and its
// NULs) to buf[:n], writing buf to h whenever it is nearly full, and
// returns the new n. buf has room for one more byte on return.
func hashLetters(h hash.Hash, buf []byte, n int, s string) int {
	for i := 0; i < len(s); {
		if n >= len(buf)-utf8.UTFMax-1 {
			h.Write(buf[:n])
			n = 0
		}
		if s[i] < utf8.RuneSelf {
			// A run of ASCII, as long as buf has room for it.
			end := min(len(s), i+len(buf)-utf8.UTFMax-1-n)
			for ; i < end && s[i] < utf8.RuneSelf; i++ {
				f := asciiFold[s[i]]
				buf[n] = f // overwritten next when it is nothing (0xff)
				if f != 0xff {
					n++
				}
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			n += utf8.EncodeRune(buf[n:], unicode.ToLower(r))
		}
		i += size
	}
	if n > len(buf)-1 {
		h.Write(buf[:n])
		n = 0
	}
	return n
}

// trackingParams are query parameters that identify a campaign or a click,
// not a document.
var trackingParams = []string{"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid",
	"yclid", "_ga", "_gl", "ref_src", "cmpid", "ocid", "smid", "sr_share", "mkt_tok"}

// Canonical is the form of a URL used to spot the same article delivered
// twice: scheme, "www." and fragment dropped, host lower-cased, default port
// removed, tracking parameters (utm_*, fbclid, gclid...) removed, the rest of
// the query sorted. It returns "" for anything that is not an absolute
// http(s) URL. The original URL is kept for links.
func Canonical(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	host := strings.Trim(strings.ToLower(u.Hostname()), ".")
	for strings.HasPrefix(host, "www.") {
		host = strings.TrimLeft(host[len("www."):], ".")
	}
	if host == "" {
		return ""
	}
	if p := u.Port(); p != "" && p != "80" && p != "443" {
		host += ":" + p
	}
	path := u.EscapedPath()
	if path == "/" {
		path = ""
	}
	out := host + path
	if u.RawQuery == "" {
		return out // most links: no query to parse
	}
	q := u.Query()
	for k := range q {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "utm_") || slices.Contains(trackingParams, lk) {
			q.Del(k)
		}
	}
	if enc := q.Encode(); enc != "" { // Encode sorts by key
		out += "?" + enc
	}
	return out
}

func resolve(base *url.URL, ref string) string {
	if ref == "" || base == nil {
		return ref
	}
	u, err := url.Parse(ref)
	if err != nil {
		return ref
	}
	return base.ResolveReference(u).String()
}

// htmlToText extracts readable text from an HTML fragment: tags dropped,
// entities decoded, block elements on their own lines, script and style
// contents skipped.
func htmlToText(s string) string {
	text, _ := htmlTextLead(s, 0, nil)
	return text
}

// htmlTextLead is htmlToText(s) and, when n > 0, htmlLead(s, n), both from
// one pass of the tokenizer: an item's body is read once for its text and
// the lead that is sanitised. When q is not nil, it also sanitises the
// lead from the same tokens if it can (then q.whole is set): when the lead
// is s, or is made of the tokens of s copied as they are, none left out.
func htmlTextLead(s string, n int, q *quickSanitizer) (text, lead string) {
	if !strings.ContainsAny(s, "<&") {
		// Plain text: no tag to drop and no entity to decode.
		if n > 0 {
			lead = plainLead(s, n)
		}
		return cleanText(s), lead
	}
	z := newSimpleTokenizer(s)
	defer z.release()
	return htmlTextLeadWith(z, s, n, q)
}

// htmlTextLeadWith is htmlTextLead reading the tokens of s, which has a
// '<' or a '&', from z.
func htmlTextLeadWith(z htmlTokens, s string, n int, q *quickSanitizer) (text, lead string) {
	var l leadBuilder
	leading := n > 0 && len(s) > n/4 // the lead is being built
	whole := false                   // q sanitises all of s, which is the lead
	if leading {
		l.start(n)
		l.san = q
	} else if n > 0 {
		lead = s
		whole = q != nil
	}
	if q != nil && (leading || whole) {
		// The sanitised lead is about as long as the lead.
		q.b.Grow(min(len(s), n+64) + 64)
	}
	// san: q sanitises the tokens as they come, as long as it can.
	san := func() bool { return q != nil && (leading || whole) && !q.failed && !q.separate }
	var b textCleaner // cleanText of the text, as it comes
	b.grow(len(s))    // the text is rarely longer than its markup
	skip := 0
	for {
		tt := z.Next()
		switch tt {
		case xhtml.ErrorToken:
			if san() && z.Err() != io.EOF {
				q.failed = true // the policy gives "" for a broken document
			}
			if leading {
				lead = l.finish()
			}
			if q != nil && (leading || whole) {
				q.whole = !q.failed && !q.separate
			}
			return b.String(), lead
		case xhtml.TextToken:
			// The lead copies the raw bytes before Text decodes them in
			// place.
			var cut, lt bool
			if leading {
				raw := z.Raw()
				// A '<' that is text (markup cut off by the end of s)
				// could read otherwise before the end tags the lead
				// adds.
				lt = bytes.IndexByte(raw, '<') >= 0
				cut = l.text(raw)
			}
			text := z.Text()
			if (cut || lt) && san() {
				q.separate = true // not a token of the lead
			} else if san() {
				q.text(text)
			}
			if skip == 0 {
				b.write(text)
			}
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken:
			name := tagName(z, tt)
			if leading && tt == xhtml.StartTagToken {
				l.startTag(name, z.Raw())
			} else if leading {
				l.selfClosingTag(z.Raw())
			}
			if san() {
				q.tag(z, tt, name)
			}
			switch string(name) {
			case "script", "style", "noscript", "iframe", "template":
				// A self-closed <iframe/> has no end tag to wait for:
				// the text after it is the document's.
				if tt == xhtml.StartTagToken {
					skip++
				}
			case "br", "p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "section", "article":
				b.newline()
			}
		case xhtml.EndTagToken:
			name := tagName(z, tt)
			if leading {
				l.endTag(name, z.Raw()) // tells l.san
			} else if san() {
				q.endTag(name)
			}
			switch string(name) {
			case "script", "style", "noscript", "iframe", "template":
				if skip > 0 {
					skip--
				}
			case "p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "section", "article":
				b.newline()
			}
		case xhtml.CommentToken, xhtml.DoctypeToken:
			if leading && san() {
				q.separate = true // left out of the lead
			}
			// The policy drops them: nothing to write when whole.
		}
		if leading && (l.done || l.b.Len() >= l.n) {
			lead, leading = l.finish(), false
			if q != nil {
				q.whole = !q.failed && !q.separate
			}
		}
	}
}

// tagName is the name TagName gives of the tag token z is at, of type tt.
// TagName copies the name to lower-case it (and replace NULs); a name of
// lower-case letters, digits and hyphens, as nearly all are, is read here
// from the raw tag instead, where the tokenizer reads it: from the first
// letter to a space, '/' or '>'.
func tagName(z htmlTokens, tt xhtml.TokenType) []byte {
	raw := z.Raw()
	i := 1 // after "<"
	if tt == xhtml.EndTagToken {
		i = 2 // after "</"
	}
	if len(raw) > i && raw[0] == '<' && (i == 1 || raw[1] == '/') && 'a' <= raw[i] && raw[i] <= 'z' {
		j := i + 1
	name:
		for ; j < len(raw); j++ {
			switch c := raw[j]; {
			case c == ' ', c == '\n', c == '\r', c == '\t', c == '\f', c == '/', c == '>':
				break name
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-':
			default:
				name, _ := z.TagName()
				return name
			}
		}
		return raw[i:j]
	}
	name, _ := z.TagName()
	return name
}

// plainLead is htmlLead(s, n) for an s with no '<' and no '&': one text
// token, cut at a space when it is longer than n.
func plainLead(s string, n int) string {
	if len(s) <= n/4 || len(s) <= n {
		return s
	}
	if cut := strings.LastIndexByte(s[:n], ' '); cut > 0 {
		return strings.TrimRight(s[:cut], " ") + "…"
	}
	return "…"
}

// cleanText drops control characters and invalid UTF-8, folds runs of
// spaces, and keeps single blank lines between paragraphs. Text that is
// clean already but for spaces at its ends (most titles) comes back as a
// slice of s, without a copy.
func cleanText(s string) string {
	// The output is s[from:copied] while it can be a slice of s; then b
	// holds it up to s[from], and s[from:copied] is still to be copied.
	var b strings.Builder
	sliced := true
	from, copied := 0, 0
	started := false // a character has been kept
	space, newlines := false, 0
	for i := 0; i < len(s); {
		if i == copied {
			// Nothing dropped since the last character kept: printable
			// ASCII goes as it is, and so does one space between two
			// such characters.
			j := i
			for j < len(s) {
				if c := s[j]; c > ' ' && c < 0x7f {
					j++
				} else if c == ' ' && (j > i || started) && j+1 < len(s) && s[j+1] > ' ' && s[j+1] < 0x7f {
					j += 2
				} else {
					break
				}
			}
			if j > i {
				started = true
				i, copied = j, j
				continue
			}
		}
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		switch {
		case r == utf8.RuneError || r == '\uFEFF':
			i += size
			continue
		case r == '\n':
			newlines++
			i += size
			continue
		case unicode.IsSpace(r):
			space = true
			i += size
			continue
		case unicode.IsControl(r):
			i += size
			continue
		}
		switch sep := separator(started, space, newlines); {
		case !started:
			from = i
		case s[copied:i] == sep:
			// What was dropped is what is to be written: the copy
			// goes on.
		default:
			if sliced {
				b.Grow(len(s) - from)
				sliced = false
			}
			b.WriteString(s[from:copied])
			b.WriteString(sep)
			from = i
		}
		started = true
		space, newlines = false, 0
		i += size
		copied = i
	}
	if sliced {
		return s[from:copied]
	}
	b.WriteString(s[from:copied])
	return b.String()
}

// textCleaner writes the text that cleanText gives of the text written
// to it in pieces: htmlTextLead writes the text of an item's HTML to it,
// without a second copy of the whole text before cleanText.
type textCleaner struct {
	b              strings.Builder
	started, space bool // a character has been written; spaces dropped since
	newlines       int  // line breaks dropped since the last character
	// The start of a UTF-8 sequence that the last piece cut off.
	carry [utf8.UTFMax - 1]byte
	nc    int
}

func (c *textCleaner) grow(n int) { c.b.Grow(n) }

// newline writes a line break. A sequence that the last piece cut off is
// invalid UTF-8, followed by it: it is dropped.
func (c *textCleaner) newline() {
	c.nc = 0
	c.newlines++
}

// String is the clean text of what was written; a sequence left cut off
// at the end is dropped, as cleanText drops invalid UTF-8.
func (c *textCleaner) String() string { return c.b.String() }

// write writes the piece p.
func (c *textCleaner) write(p []byte) {
	if c.nc > 0 {
		// The runes that start in the bytes carried over, completed by
		// the first bytes of p.
		var tmp [2 * utf8.UTFMax]byte
		t := append(tmp[:0], c.carry[:c.nc]...)
		t = append(t, p[:min(len(p), utf8.UTFMax)]...)
		nc := c.nc
		c.nc = 0
		i := 0
		for i < nc {
			if !utf8.FullRune(t[i:]) {
				// p ended before the sequence did: t[i:] holds the
				// rest of the carry and all of p.
				c.nc = copy(c.carry[:], t[i:])
				return
			}
			r, size := utf8.DecodeRune(t[i:])
			c.put(r, t[i:i+size])
			i += size
		}
		p = p[i-nc:]
	}
	for i := 0; i < len(p); {
		if ch := p[i]; ch > ' ' && ch < 0x7f {
			// A run of printable ASCII, with single spaces between
			// them: written as it is.
			j := i + 1
			for j < len(p) {
				if ch := p[j]; ch > ' ' && ch < 0x7f {
					j++
				} else if ch == ' ' && j+1 < len(p) && p[j+1] > ' ' && p[j+1] < 0x7f {
					j += 2
				} else {
					break
				}
			}
			c.separate()
			c.b.Write(p[i:j])
			i = j
			continue
		}
		r, size := rune(p[i]), 1
		if r >= utf8.RuneSelf {
			if !utf8.FullRune(p[i:]) {
				c.nc = copy(c.carry[:], p[i:])
				return
			}
			r, size = utf8.DecodeRune(p[i:])
		}
		c.put(r, p[i:i+size])
		i += size
	}
}

// put writes the rune r, encoded as enc, as cleanText does.
func (c *textCleaner) put(r rune, enc []byte) {
	switch {
	case r == utf8.RuneError || r == '\uFEFF':
	case r == '\n':
		c.newlines++
	case unicode.IsSpace(r):
		c.space = true
	case unicode.IsControl(r):
	default:
		c.separate()
		c.b.Write(enc)
	}
}

// separate writes what comes before a character that is kept: the
// separator of the spaces and line breaks dropped since the last one.
func (c *textCleaner) separate() {
	if c.space || c.newlines > 0 {
		c.b.WriteString(separator(c.started, c.space, c.newlines))
	}
	c.started = true
	c.space, c.newlines = false, 0
}

// separator is what cleanText writes before a character after dropping
// spaces and line breaks: a blank line for a break, a space for spaces.
func separator(started, space bool, newlines int) string {
	switch {
	case !started:
		return ""
	case newlines > 0:
		return "\n\n"
	case space:
		return " "
	}
	return ""
}

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		return strings.Join(f[:n], " ") + "…"
	}
	return strings.Join(f, " ")
}

// What is stored of an item's text and HTML once its dedupe features are
// computed (the features stand for the text from then on): the lead that a
// reader is shown, the first paragraph. Publishing summarises a story by
// the first paragraph of its representative's text, at most 600 bytes.
const (
	storedText    = 640
	storedContent = 256
)

// trimForStorage cuts an item's text to its first paragraph and its HTML
// to its lead, recording the length of the full text first (see
// storage.Item.TextLen). Hash, credits and dedupe features must be computed
// before: they read the whole text.
func trimForStorage(it *storage.Item) {
	if it.TextLen == 0 {
		it.TextLen = utf8.RuneCountInString(it.Text)
	}
	text := it.Text
	if p, _, ok := strings.Cut(text, "\n\n"); ok {
		text = p
	}
	// Clones: a lead that is a slice of the whole text would keep it alive.
	it.Text = strings.Clone(cutWords(text, storedText))
	it.Summary = strings.Clone(cutWords(it.Summary, storedText))
	it.Content = htmlLead(it.Content, storedContent)
}

// cutWords cuts s to at most about n bytes, at a space when there is one
// in the second half, and marks the cut with an ellipsis.
func cutWords(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := strings.LastIndexByte(s[:n], ' ')
	if cut < n/2 {
		cut = n
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
	}
	return strings.TrimRight(s[:cut], " ") + "…"
}

// htmlLead returns the start of the HTML fragment s: its first paragraph
// (block) once that holds a quarter of n bytes, else about n bytes, cut
// between elements or at a space inside text, with every element left open
// closed again. s is sanitised HTML, so the lead is too: tokens are copied
// as they are, never rewritten.
func htmlLead(s string, n int) string {
	if len(s) <= n/4 {
		return s
	}
	if strings.IndexByte(s, '<') < 0 {
		return plainLead(s, n)
	}
	z := newSimpleTokenizer(s)
	defer z.release()
	return htmlLeadWith(z, n)
}

// htmlLeadWith is htmlLead reading the tokens from z.
func htmlLeadWith(z htmlTokens, n int) string {
	var l leadBuilder
	l.start(n)
	for !l.done && l.b.Len() < n {
		switch z.Next() {
		case xhtml.ErrorToken:
			return l.finish()
		case xhtml.TextToken:
			l.text(z.Raw())
		case xhtml.StartTagToken:
			l.startTag(tagName(z, xhtml.StartTagToken), z.Raw())
		case xhtml.EndTagToken:
			l.endTag(tagName(z, xhtml.EndTagToken), z.Raw())
		case xhtml.SelfClosingTagToken:
			l.selfClosingTag(z.Raw())
		}
	}
	return l.finish()
}

// leadBuilder builds htmlLead's lead from the tokens of a fragment, fed to
// it until done or until it holds n bytes.
type leadBuilder struct {
	b    strings.Builder
	n    int
	open []string // elements open, outermost first
	done bool     // the lead is complete: no more tokens
	// san, when not nil, sanitises the tags the lead is given (by the
	// caller) or makes up (here), and is told of a token left out.
	san *quickSanitizer
}

func (l *leadBuilder) start(n int) {
	l.n = n
	l.b.Grow(n + 64)
}

// text adds a text token, and reports whether it had to cut it.
func (l *leadBuilder) text(raw []byte) (cut bool) {
	if room := l.n - l.b.Len(); len(raw) > room {
		// A space never falls inside an entity or a tag.
		if cut := bytes.LastIndexByte(raw[:room], ' '); cut > 0 {
			l.b.Write(bytes.TrimRight(raw[:cut], " "))
		}
		l.b.WriteString("…")
		l.done = true
		return true
	}
	l.b.Write(raw)
	return false
}

func (l *leadBuilder) startTag(name, raw []byte) {
	if !voidElement(string(name)) {
		if l.open == nil {
			l.open = make([]string, 0, 4)
		}
		l.open = append(l.open, internTag(name))
	}
	l.b.Write(raw)
}

// commonTags are the names of the elements of quickElements, for
// internTag; it is not changed after it is made.
var commonTags = func() map[string]string {
	m := make(map[string]string, len(quickElements))
	for _, name := range quickElements {
		m[name] = name
	}
	return m
}()

// internTag is string(name), without a copy for a common element.
func internTag(name []byte) string {
	if s, ok := commonTags[string(name)]; ok {
		return s
	}
	return string(name)
}

func (l *leadBuilder) selfClosingTag(raw []byte) {
	l.b.Write(raw)
}

func (l *leadBuilder) endTag(name, raw []byte) {
	i := slices.Index(l.open, string(name))
	if i < 0 {
		if l.san != nil {
			l.san.separate = true // left out of the lead
		}
		return
	}
	for j := len(l.open) - 1; j > i; j-- { // close what the source left open inside it
		l.closeTag(l.open[j])
	}
	l.open = l.open[:i]
	l.b.Write(raw)
	if l.san != nil && !l.san.failed {
		l.san.endTag(name)
	}
	if len(l.open) == 0 && blockElement(string(name)) && l.b.Len() >= l.n/4 {
		l.done = true // the first paragraph
	}
}

func (l *leadBuilder) closeTag(name string) {
	l.b.WriteString("</")
	l.b.WriteString(name)
	l.b.WriteByte('>')
	if l.san != nil && !l.san.failed {
		l.san.endTag([]byte(name))
	}
}

// finish closes the elements left open and returns the lead.
func (l *leadBuilder) finish() string {
	for i := len(l.open) - 1; i >= 0; i-- {
		l.closeTag(l.open[i])
	}
	l.open = l.open[:0]
	l.done = true
	return l.b.String()
}

// blockElement reports whether an HTML element is a paragraph or another
// block that a lead may end with.
func blockElement(name string) bool {
	switch name {
	case "p", "div", "blockquote", "ul", "ol", "dl", "pre", "table", "figure", "section", "article",
		"h1", "h2", "h3", "h4", "h5", "h6":
		return true
	}
	return false
}

// voidElement reports whether an HTML element has no end tag.
func voidElement(name string) bool {
	switch name {
	case "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr":
		return true
	}
	return false
}
