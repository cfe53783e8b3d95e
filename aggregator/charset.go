package aggregator

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"
	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// newFeedParser returns the gofeed parser that a worker keeps for the
// feeds it reads (a Parser is not safe for concurrent use). Its RSS
// translator does not look for an item's image in its HTML when the feed
// names none: that fallback runs a full HTML parse of every item's content
// and description (~4% of a cold poll's CPU and 6% of its allocations) to
// fill Item.Image, which storyfeed never reads. The Atom and JSON
// translators take images only from elements, so they keep their defaults.
func newFeedParser() *gofeed.Parser {
	p := gofeed.NewParser()
	p.RSSTranslator = &gofeed.DefaultRSSTranslator{DisableContentImageScan: true}
	return p
}

// parseFeed parses a feed body delivered with the HTTP Content-Type
// contentType ("" for a local file). The body is first turned into clean
// UTF-8 (see feedUTF8), so that a feed in any common charset, or a
// mislabelled one, reads as its author meant it.
//
// A panic inside the parser, on input its authors did not foresee, is
// returned as an error: one hostile feed must not take the daemon down.
func parseFeed(parser *gofeed.Parser, body []byte, contentType string) (feed *gofeed.Feed, err error) {
	defer func() {
		if r := recover(); r != nil {
			feed, err = nil, fmt.Errorf("feed parser panicked: %v", r)
		}
	}()
	feed, err = parser.Parse(bytes.NewReader(feedUTF8(body, contentType)))
	if errors.Is(err, gofeed.ErrFeedTypeNotDetected) {
		err = fmt.Errorf("not an RSS, Atom or JSON feed: %w", err)
	}
	return feed, err
}

// feedUTF8 returns body as UTF-8 that parses to the text its author meant,
// with any XML declaration saying so. The charset is chosen like this:
//
//  1. a byte order mark (UTF-8, UTF-16, UTF-32), or the UTF-16/32 pattern of
//     a first "<" without one (XML 1.0 appendix F);
//  2. the charset parameter of contentType, which overrides the XML
//     declaration (RFC 7303), except that any label on a body that is
//     valid, non-ASCII UTF-8 is taken for the mislabelling it almost surely
//     is;
//  3. the encoding of the XML declaration;
//  4. UTF-8.
//
// Bytes that are not valid in the chosen UTF-8 are read as Windows-1252,
// the charset that such bytes come from in practice. Characters that XML
// 1.0 forbids (C0 controls other than tab and newlines, U+FFFE, U+FFFF) are
// dropped, except vertical tab and form feed, which separate words and become
// spaces, and C1 controls are read as the Windows-1252 characters they
// stand for in text pasted from Windows (U+0092 is an apostrophe). A body
// that needs none of this is returned as is, without a copy.
func feedUTF8(body []byte, contentType string) []byte {
	if enc := unicodeByBOM(body); enc != nil {
		out, err := enc.NewDecoder().Bytes(body) // the decoder drops the BOM
		if err != nil {
			out = bytes.ToValidUTF8(out, []byte("\uFFFD"))
		}
		return cleanXMLChars(setDeclUTF8(out))
	}
	body = bytes.TrimPrefix(body, []byte("\xEF\xBB\xBF"))

	label := charsetParam(contentType)
	if label == "" {
		label = declaredEncoding(body)
	}
	enc, name := encoding.Encoding(nil), ""
	if label != "" {
		enc, name = charset.Lookup(label)
	}
	switch {
	case enc == nil, name == "utf-8":
		// UTF-8, or a label nobody knows: read as UTF-8, below.
	case name == "utf-16le" || name == "utf-16be":
		// Declared UTF-16 on bytes that are not (no BOM, no zero bytes
		// around the "<"): the label is wrong, the bytes are ASCII-based.
	case utf8.Valid(body) && (isLatin(name) || !isASCII(body)):
		// Text in another charset (Latin-1, KOI8-R, Big5...) almost
		// never happens to spell valid UTF-8 multi-byte sequences: such a
		// label is a server default or a template that the bytes
		// contradict. ASCII reads the same in the Latin-1 family.
	default:
		out, err := enc.NewDecoder().Bytes(body)
		if err == nil {
			return cleanXMLChars(setDeclUTF8(out))
		}
		// Bytes the charset cannot decode: fall back to reading as
		// UTF-8 with Windows-1252 for the bad bytes.
	}
	if !utf8.Valid(body) {
		body = repairUTF8(body)
	}
	return cleanXMLChars(setDeclUTF8(body))
}

// unicodeByBOM is the UTF-16 or UTF-32 encoding that body starts with, by
// its byte order mark or, without one, by the zero bytes around a first
// "<". It is nil for anything else, UTF-8 included.
func unicodeByBOM(b []byte) encoding.Encoding {
	switch {
	case bytes.HasPrefix(b, []byte{0, 0, 0xFE, 0xFF}):
		return utf32.UTF32(utf32.BigEndian, utf32.ExpectBOM)
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE, 0, 0}):
		return utf32.UTF32(utf32.LittleEndian, utf32.ExpectBOM)
	case bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		return unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM)
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}):
		return unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM)
	case bytes.HasPrefix(b, []byte{0, 0, 0, '<'}):
		return utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM)
	case bytes.HasPrefix(b, []byte{'<', 0, 0, 0}):
		return utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM)
	case bytes.HasPrefix(b, []byte{0, '<'}):
		return unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)
	case bytes.HasPrefix(b, []byte{'<', 0}):
		return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
	}
	return nil
}

// charsetParam is the charset parameter of a Content-Type value, "" when
// there is none. It tolerates the spaces and quotes that servers send
// (`text/xml; charset = 'gb2312'`) and that mime.ParseMediaType refuses.
func charsetParam(contentType string) string {
	if contentType == "" {
		return ""
	}
	if _, params, err := mime.ParseMediaType(contentType); err == nil {
		return params["charset"]
	}
	for _, p := range strings.Split(contentType, ";")[1:] {
		k, v, ok := strings.Cut(p, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "charset") {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return ""
}

// xmlDecl matches an XML declaration at the start of a document, capturing
// the value of its encoding pseudo-attribute (submatches 2 and 3 delimit it).
var xmlDecl = regexp.MustCompile(`^\s*<\?xml[^>]*?\sencoding\s*=\s*(["'])([^"'>]*)(["'])`)

// declaredEncoding is the encoding named by body's XML declaration, or "".
func declaredEncoding(body []byte) string {
	head := body[:min(len(body), 512)]
	if m := xmlDecl.FindSubmatch(head); m != nil {
		return strings.TrimSpace(string(m[2]))
	}
	return ""
}

// setDeclUTF8 makes the XML declaration of body, if it names an encoding,
// name UTF-8: body has been converted, and gofeed would convert it again.
func setDeclUTF8(body []byte) []byte {
	head := body[:min(len(body), 512)]
	loc := xmlDecl.FindSubmatchIndex(head)
	if loc == nil {
		return body
	}
	start, end := loc[4], loc[5]
	if strings.EqualFold(string(body[start:end]), "utf-8") {
		return body
	}
	out := make([]byte, 0, len(body)+8)
	out = append(out, body[:start]...)
	out = append(out, "utf-8"...)
	return append(out, body[end:]...)
}

// isLatin reports whether the canonical charset name is one that a server
// or an editor puts on a document by default. golang.org/x/net/html/charset
// maps us-ascii and iso-8859-1 to windows-1252, as browsers do.
func isLatin(name string) bool {
	return name == "windows-1252" || name == "iso-8859-15"
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// repairUTF8 replaces each byte that is not part of a valid UTF-8 sequence
// by the Windows-1252 character it stands for.
func repairUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/8)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			out = utf8.AppendRune(out, cp1252(b[0]))
			b = b[1:]
			continue
		}
		out = append(out, b[:n]...)
		b = b[n:]
	}
	return out
}

// cp1252 is the character of one Windows-1252 byte; the five bytes it
// leaves undefined read as U+FFFD.
func cp1252(c byte) rune {
	r := charmap.Windows1252.DecodeByte(c)
	if r >= 0x80 && r <= 0x9F { // undefined: x/text maps them to C1 controls
		return utf8.RuneError
	}
	return r
}

// cleanXMLChars drops the characters XML 1.0 forbids (vertical tab and form
// feed become spaces) and replaces C1
// controls by their Windows-1252 characters. b must be valid UTF-8; it is
// returned as is when it holds none of them.
func cleanXMLChars(b []byte) []byte {
	i := 0
	for ; i < len(b); i++ {
		// Most bytes of a feed are none of the three that can start a
		// character to change: skip them without a call.
		if c := b[i]; (c >= 0x20 && c != 0xC2 && c != 0xEF) || !badXMLByte(b, i) {
			continue
		}
		break
	}
	if i == len(b) {
		return b
	}
	out := make([]byte, i, len(b))
	copy(out, b[:i])
	for i < len(b) {
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r == '\v' || r == '\f':
			out = append(out, ' ') // Word's manual line break, a page break: a space, not nothing
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r':
		case r == 0xFFFE || r == 0xFFFF:
		case r >= 0x80 && r <= 0x9F:
			if c := cp1252(byte(r)); c != utf8.RuneError {
				out = utf8.AppendRune(out, c)
			}
		default:
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	return out
}

// badXMLByte reports whether the UTF-8 sequence at b[i] starts a character
// that cleanXMLChars changes. It reads bytes, not runes: it runs over every
// fetched body.
func badXMLByte(b []byte, i int) bool {
	c := b[i]
	switch {
	case c < 0x20:
		return c != '\t' && c != '\n' && c != '\r'
	case c == 0xC2: // U+0080..U+00BF; C1 controls are U+0080..U+009F
		return i+1 < len(b) && b[i+1] <= 0x9F
	case c == 0xEF: // U+FFFE, U+FFFF are EF BF BE, EF BF BF
		return i+2 < len(b) && b[i+1] == 0xBF && b[i+2] >= 0xBE
	}
	return false
}
