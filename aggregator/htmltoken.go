package aggregator

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"unicode/utf8"

	xhtml "golang.org/x/net/html"
)

// htmlTokens is the part of golang.org/x/net/html's Tokenizer that the
// normaliser reads: *xhtml.Tokenizer and *simpleTokenizer implement it.
type htmlTokens interface {
	Next() xhtml.TokenType
	Err() error
	Raw() []byte
	Text() []byte
	TagName() (name []byte, hasAttr bool)
	TagAttr() (key, val []byte, moreAttr bool)
}

// simpleTokenizer gives the tokens that x/net/html's Tokenizer gives, the
// same types and bytes. It reads the markup of most feed items itself:
// text (with the common entities), start, end and self-closing tags
// whose attributes have plain names, with values quoted or unquoted, and
// plain comments. At anything else (a doctype, a raw-text element such as script
// or style, a tag cut off by the end of the input, repeated attributes),
// which it meets at the start of a token, it hands the rest of the input
// to an x/net/html Tokenizer: the two read alike from there, as x/net/html
// is then in its data state, as at the start. An input with a NUL (which
// x/net/html replaces in its tokens) goes to x/net/html whole.
// FuzzSimpleTokenizer checks it against x/net/html.
//
// It reads a copy of the input in a buffer that it keeps, and a pool keeps
// it for the next input: x/net/html allocates a 4 KB buffer for every
// input, and more for every tag with attributes.
type simpleTokenizer struct {
	// x reads the rest of the input once the simple tokenizer has met
	// markup beyond it; nil until then.
	x   *xhtml.Tokenizer
	buf []byte
	pos int // where the next token starts
	// The current token: its type and raw span, and for a tag the end of
	// its name and its attributes.
	tt         xhtml.TokenType
	start, end int
	nameEnd    int // or for a comment, the end of its text
	attrs      []attrSpan
	nextAttr   int
	err        error
	// Scratch for the lower-cased name, key and unescaped value returned:
	// they must not alias the raw bytes, which callers still read.
	name, key, val, text, nl []byte
}

// attrSpan locates one attribute of the current tag in buf.
type attrSpan struct{ keyStart, keyEnd, valStart, valEnd int }

var simpleTokenizers = sync.Pool{New: func() any { return new(simpleTokenizer) }}

// maxPooledHTML bounds the buffer a pooled tokenizer keeps.
const maxPooledHTML = 64 << 10

// newSimpleTokenizer returns a tokenizer of s from the pool.
func newSimpleTokenizer(s string) *simpleTokenizer {
	z := simpleTokenizers.Get().(*simpleTokenizer)
	z.x = nil
	if strings.IndexByte(s, 0) >= 0 {
		z.buf = z.buf[:0]
		z.x = xhtml.NewTokenizer(strings.NewReader(s))
		return z
	}
	z.buf = append(z.buf[:0], s...)
	z.pos, z.start, z.end, z.err = 0, 0, 0, nil
	z.tt = xhtml.ErrorToken
	z.attrs = z.attrs[:0]
	return z
}

// release gives z back to the pool; nothing it returned may be used after.
func (z *simpleTokenizer) release() {
	z.x = nil
	if cap(z.buf) > maxPooledHTML {
		z.buf = nil
	}
	simpleTokenizers.Put(z)
}

func (z *simpleTokenizer) Err() error {
	if z.x != nil {
		return z.x.Err()
	}
	if z.tt != xhtml.ErrorToken {
		return nil
	}
	return z.err
}

func (z *simpleTokenizer) Raw() []byte {
	if z.x != nil {
		return z.x.Raw()
	}
	return z.buf[z.start:z.end]
}

// stop ends the tokens at the end of the input.
func (z *simpleTokenizer) stop() xhtml.TokenType {
	z.err = io.EOF
	z.tt = xhtml.ErrorToken
	z.start, z.end = z.pos, z.pos
	return z.tt
}

// handOver gives the rest of the input, from the start of the token that
// the simple tokenizer does not read, to x/net/html, and its next token.
func (z *simpleTokenizer) handOver() xhtml.TokenType {
	z.x = xhtml.NewTokenizer(bytes.NewReader(z.buf[z.pos:]))
	return z.x.Next()
}

func (z *simpleTokenizer) Next() xhtml.TokenType {
	if z.x != nil {
		return z.x.Next()
	}
	if z.err != nil {
		return z.stop()
	}
	b := z.buf
	i := z.pos
	z.attrs = z.attrs[:0]
	z.nextAttr = 0
	// Text runs to the first '<' that starts a tag, comment or doctype;
	// any other '<' is text.
	for {
		j := indexByteFrom(b, i, '<')
		if j < 0 || j+1 >= len(b) {
			i = len(b)
			break
		}
		if c := b[j+1]; isASCIILetter(c) || c == '/' || c == '!' || c == '?' {
			i = j
			break
		}
		i = j + 1
	}
	if i > z.pos {
		z.tt, z.start, z.end = xhtml.TextToken, z.pos, i
		z.pos = i
		return z.tt
	}
	if i >= len(b) {
		return z.stop()
	}
	// b[i] is '<' and a tag or markup declaration follows.
	switch c := b[i+1]; {
	case c == '/':
		if i+2 >= len(b) || !isASCIILetter(b[i+2]) {
			return z.handOver() // "</>" or a bogus comment
		}
		name := tagNameEnd(b, i+2)
		k := skipSpace(b, name)
		if k >= len(b) || b[k] != '>' {
			return z.handOver() // attributes or '/' in an end tag, or cut off
		}
		z.tt, z.start, z.end, z.nameEnd = xhtml.EndTagToken, i, k+1, name
	case isASCIILetter(c):
		return z.startTag(i)
	case c == '!' && bytes.HasPrefix(b[i+2:], []byte("--")):
		// A comment that ends at the first "-->" and has no '>'
		// before it, which x/net/html would read otherwise.
		k := bytes.Index(b[i+4:], []byte("-->"))
		if k < 0 || bytes.IndexByte(b[i+4:i+4+k], '>') >= 0 {
			return z.handOver()
		}
		z.tt, z.start, z.end = xhtml.CommentToken, i, i+4+k+3
		z.nameEnd = i + 4 + k // the end of the comment's text
	default:
		return z.handOver() // another "<!", or "<?"
	}
	z.pos = z.end
	return z.tt
}

// startTag reads the start or self-closing tag at b[i] == '<'.
func (z *simpleTokenizer) startTag(i int) xhtml.TokenType {
	b := z.buf
	name := tagNameEnd(b, i+1)
	if name >= len(b) || rawTextElement(b[i+1:name]) {
		return z.handOver()
	}
	lastValEnd := -1 // where x/net/html ends the last attribute's value
	k := name
	for {
		sp := skipSpace(b, k)
		if sp >= len(b) {
			return z.handOver() // cut off
		}
		switch c := b[sp]; {
		case c == '>':
			k = sp
		case c == '/':
			if sp+1 >= len(b) || b[sp+1] != '>' {
				return z.handOver()
			}
			k = sp + 1
		case isAttrStart(c) && (sp > k || lastValEnd >= 0 && (b[k-1] == '"' || b[k-1] == '\'')):
			// An attribute, after a space or a quoted value.
			a := attrSpan{keyStart: sp, keyEnd: attrNameEnd(b, sp)}
			v := skipSpace(b, a.keyEnd)
			if v < len(b) && b[v] == '=' {
				v = skipSpace(b, v+1)
				if v >= len(b) {
					return z.handOver()
				}
				switch q := b[v]; q {
				case '"', '\'':
					e := indexByteFrom(b, v+1, q)
					if e < 0 {
						return z.handOver()
					}
					a.valStart, a.valEnd, k = v+1, e, e+1
				default:
					e := v
					for e < len(b) && !isSpace(b[e]) && b[e] != '>' {
						switch b[e] {
						case '"', '\'', '<', '=', '`':
							return z.handOver()
						}
						e++
					}
					if e == v {
						return z.handOver() // "<a b=>"
					}
					a.valStart, a.valEnd, k = v, e, e
				}
			} else {
				// No value: x/net/html gives an empty one where the key ends.
				a.valStart, a.valEnd, k = a.keyEnd, a.keyEnd, a.keyEnd
				if v < len(b) && !isSpace(b[a.keyEnd]) && b[a.keyEnd] != '>' && b[a.keyEnd] != '/' {
					return z.handOver()
				}
			}
			for _, o := range z.attrs {
				if equalFoldASCII(b[o.keyStart:o.keyEnd], b[a.keyStart:a.keyEnd]) {
					return z.handOver() // x/net/html drops the repeat
				}
			}
			z.attrs = append(z.attrs, a)
			lastValEnd = a.valEnd
			continue
		default:
			return z.handOver()
		}
		break
	}
	// k is at the '>'.
	z.tt, z.start, z.end, z.nameEnd = xhtml.StartTagToken, i, k+1, name
	if b[k-1] == '/' && (len(z.attrs) == 0 || k-1 != lastValEnd-1) {
		z.tt = xhtml.SelfClosingTagToken
	}
	z.pos = z.end
	return z.tt
}

func (z *simpleTokenizer) Text() []byte {
	if z.x != nil {
		return z.x.Text()
	}
	var s []byte
	switch z.tt {
	case xhtml.TextToken:
		s = z.buf[z.start:z.end]
	case xhtml.CommentToken:
		s = z.buf[z.start+len("<!--") : z.nameEnd]
	default:
		return nil
	}
	z.start = z.end // as x/net/html: the text is given once
	if bytes.IndexByte(s, '\r') >= 0 {
		z.nl = appendNewlines(z.nl[:0], s)
		s = z.nl
	}
	if indexByteFrom(s, 0, '&') < 0 {
		return s
	}
	out, ok := unescapeSimple(s, z.text[:0])
	if !ok {
		return []byte(xhtml.UnescapeString(string(s)))
	}
	z.text = out
	return out
}

func (z *simpleTokenizer) TagName() (name []byte, hasAttr bool) {
	if z.x != nil {
		return z.x.TagName()
	}
	switch z.tt {
	case xhtml.StartTagToken, xhtml.SelfClosingTagToken, xhtml.EndTagToken:
	default:
		return nil, false
	}
	from := z.start + 1
	if z.tt == xhtml.EndTagToken {
		from++
	}
	z.name = appendLower(z.name[:0], z.buf[from:z.nameEnd])
	return z.name, len(z.attrs) > 0
}

func (z *simpleTokenizer) TagAttr() (key, val []byte, moreAttr bool) {
	if z.x != nil {
		return z.x.TagAttr()
	}
	if z.nextAttr >= len(z.attrs) || z.tt == xhtml.EndTagToken {
		return nil, nil, false
	}
	a := z.attrs[z.nextAttr]
	z.nextAttr++
	z.key = appendLower(z.key[:0], z.buf[a.keyStart:a.keyEnd])
	val = z.buf[a.valStart:a.valEnd]
	if bytes.IndexByte(val, '\r') >= 0 {
		z.nl = appendNewlines(z.nl[:0], val)
		val = z.nl
	}
	val, ok := unescapeSimple(val, z.val[:0])
	if !ok {
		// An entity that attribute values read otherwise than text:
		// x/net/html reads the value from the tag alone.
		t := xhtml.NewTokenizer(bytes.NewReader(z.Raw()))
		t.Next()
		for range z.nextAttr {
			_, val, _ = t.TagAttr()
		}
		return z.key, val, z.nextAttr < len(z.attrs)
	}
	z.val = val
	return z.key, val, z.nextAttr < len(z.attrs)
}

// simpleEntities are the named character references that unescapeSimple
// decodes itself, when they end with a semicolon.
var simpleEntities = map[string]rune{
	"amp": '&', "lt": '<', "gt": '>', "quot": '"', "apos": '\'', "nbsp": '\u00a0',
	"lsquo": '‘', "rsquo": '’', "ldquo": '“', "rdquo": '”', "laquo": '«', "raquo": '»',
	"ndash": '–', "mdash": '—', "hellip": '…', "bull": '•', "middot": '·', "deg": '°',
	"copy": '©', "reg": '®', "trade": '™', "euro": '€', "pound": '£', "eacute": 'é',
}

// unescapeSimple appends s to dst with its character references decoded
// as x/net/html decodes them, and reports whether it could: the named
// references of simpleEntities ended by ';', decimal and hexadecimal ones
// outside the Windows-1252 range, and a '&' that starts none. They are
// decoded alike in text and in attribute values.
func unescapeSimple(s, dst []byte) ([]byte, bool) {
	i := indexByteFrom(s, 0, '&')
	if i < 0 {
		return append(dst, s...), true
	}
	dst = append(dst, s[:i]...)
	for i < len(s) {
		if s[i] != '&' {
			j := indexByteFrom(s, i, '&')
			if j < 0 {
				j = len(s)
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		if i+1 >= len(s) || !isASCIIAlnum(s[i+1]) && s[i+1] != '#' {
			dst = append(dst, '&') // starts no reference
			i++
			continue
		}
		if s[i+1] == '#' {
			j := i + 2
			hex := j < len(s) && (s[j] == 'x' || s[j] == 'X')
			if hex {
				j++
			}
			d := j
			for j < len(s) && j-d <= 7 && (isDigit(s[j]) || hex && isHexOrDigit(s[j])) {
				j++
			}
			if j == d || j-d > 7 || j >= len(s) || s[j] != ';' {
				return dst, false // no digits, too many, or no ';'
			}
			switch x := parseNumber(s[d:j], hex); {
			case x == 0, 0x80 <= x && x <= 0x9f, 0xd800 <= x && x <= 0xdfff, x > utf8.MaxRune:
				return dst, false // replaced by x/net/html
			default:
				dst = utf8.AppendRune(dst, x)
			}
			i = j + 1
			continue
		}
		j := i + 1
		for j < len(s) && isASCIIAlnum(s[j]) {
			j++
		}
		r, known := simpleEntities[string(s[i+1:j])]
		if !known || j >= len(s) || s[j] != ';' {
			return dst, false
		}
		dst = utf8.AppendRune(dst, r)
		i = j + 1
	}
	return dst, true
}

// parseNumber is the value of the decimal or hexadecimal digits d (at most
// 7 of them).
func parseNumber(d []byte, hex bool) rune {
	x := rune(0)
	for _, c := range d {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		if hex {
			x = x*16 + rune(c)
		} else {
			x = x*10 + rune(c)
		}
	}
	return x
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHexOrDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// indexByteFrom is the index of the first c in b from b[from], or -1.
func indexByteFrom(b []byte, from int, c byte) int {
	if i := bytes.IndexByte(b[from:], c); i >= 0 {
		return from + i
	}
	return -1
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isASCIIAlnum(c byte) bool { return isASCIILetter(c) || '0' <= c && c <= '9' }

// isSpace is x/net/html's white space in tags.
func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' }

// appendNewlines appends s to dst with its line breaks made "\n", as
// x/net/html gives them in text and attribute values: "\r\n" and a lone
// "\r" become "\n".
func appendNewlines(dst, s []byte) []byte {
	for {
		i := bytes.IndexByte(s, '\r')
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(append(dst, s[:i]...), '\n')
		s = s[i+1:]
		if len(s) > 0 && s[0] == '\n' {
			s = s[1:]
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// tagNameEnd is where the tag name starting at b[i] (a letter) ends: at
// the first byte that is not a letter, digit or hyphen. The caller refuses
// a name that x/net/html would read further (any byte but a space, '/'
// or '>' after it).
func tagNameEnd(b []byte, i int) int {
	for i++; i < len(b) && (isASCIIAlnum(b[i]) || b[i] == '-'); i++ {
	}
	if i < len(b) && !isSpace(b[i]) && b[i] != '/' && b[i] != '>' {
		return len(b) // refused as cut off
	}
	return i
}

func isAttrStart(c byte) bool { return isASCIILetter(c) || c == '_' || c == ':' }

// attrNameEnd is where the attribute name starting at b[i] ends.
func attrNameEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		if c := b[i]; !isASCIIAlnum(c) && c != '-' && c != '_' && c != ':' && c != '.' {
			break
		}
	}
	return i
}

// rawTextElement reports whether x/net/html reads what follows a start tag
// of this name as raw text (or RCDATA).
func rawTextElement(name []byte) bool {
	if len(name) < 3 || len(name) > 9 {
		return false
	}
	var lower [9]byte
	n := appendLower(lower[:0], name)
	switch string(n) {
	case "iframe", "noembed", "noframes", "noscript", "plaintext", "script", "style", "textarea", "title", "xmp":
		return true
	}
	return false
}

func appendLower(dst, s []byte) []byte {
	for _, c := range s {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

func equalFoldASCII(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
