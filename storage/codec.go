package storage

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"time"
)

// recordV2 marks an item or story encoded in the compact binary form below.
// Records of other types, and items and stories written by older builds,
// are JSON (recordV1); decode reads both.
//
// An item is, in order: flags (uvarint), then the strings ID, Feed, GUID,
// Outlet, Author, Title, URL, CanonURL, Summary, Content, Text, Category,
// Hash and Story, TextLen (uvarint), Cites (count, then strings),
// Published, FirstSeen and Updated when their flag is set (varint Unix
// nanoseconds; Updated as a difference from FirstSeen), then the match:
// Level, Score and Threshold when their flag is set (8 bytes each), Shared
// (count, then strings) and Reason.
//
// A string is a uvarint n<<2|kind. Kind 0: n bytes of text follow. Kind 1:
// the same as Feed. Kind 2: the last n bytes of URL (GUIDs and canonical
// URLs are often the URL or its tail). Kind 3: n bytes follow that are the
// binary form of a lower-case hex string (IDs and hashes).
//
// A story is: flags, ID, FirstSeen, Updated (as for an item), Items and
// Related (count, then strings).
const recordV2 = 2

const (
	flagPublished = 1 << iota
	flagFirstSeen
	flagUpdated
	flagScore
	flagThreshold
)

const (
	strText = iota
	strFeed
	strURLTail
	strHex
)

type recordWriter struct {
	b         []byte
	feed, url string // what strFeed and strURLTail refer to
}

func (w *recordWriter) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }

func (w *recordWriter) str(s string) {
	switch {
	case s != "" && s == w.feed:
		w.uvarint(strFeed)
	case s != "" && w.url != "" && strings.HasSuffix(w.url, s):
		w.uvarint(uint64(len(s))<<2 | strURLTail)
	case len(s) >= 8 && len(s)%2 == 0 && isLowerHex(s):
		w.uvarint(uint64(len(s)/2)<<2 | strHex)
		w.b, _ = hex.AppendDecode(w.b, []byte(s)) // valid: checked above
	default:
		w.uvarint(uint64(len(s)) << 2) // strText
		w.b = append(w.b, s...)
	}
}

func (w *recordWriter) strs(ss []string) {
	w.uvarint(uint64(len(ss)))
	for _, s := range ss {
		w.str(s)
	}
}

func (w *recordWriter) time(t time.Time) {
	w.b = binary.AppendVarint(w.b, t.UnixNano())
}

func (w *recordWriter) float(f float64) {
	w.b = binary.LittleEndian.AppendUint64(w.b, math.Float64bits(f))
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func encodeItem(it *Item) []byte {
	var flags uint64
	if !it.Published.IsZero() {
		flags |= flagPublished
	}
	if !it.FirstSeen.IsZero() {
		flags |= flagFirstSeen
	}
	if !it.Updated.IsZero() {
		flags |= flagUpdated
	}
	if it.Match.Score != 0 {
		flags |= flagScore
	}
	if it.Match.Threshold != 0 {
		flags |= flagThreshold
	}
	n := 64 + len(it.Feed) + len(it.GUID) + len(it.Author) + len(it.Title) + len(it.URL) + len(it.Summary) +
		len(it.Content) + len(it.Text) + len(it.Category) + len(it.Match.Reason)
	w := recordWriter{b: make([]byte, 0, n)}
	w.b = append(w.b, recordV2)
	w.uvarint(flags)
	w.str(it.ID)
	w.str(it.Feed)
	w.feed = it.Feed
	w.str(it.URL)
	w.url = it.URL
	for _, s := range []string{it.GUID, it.Outlet, it.Author, it.Title, it.CanonURL, it.Summary,
		it.Content, it.Text, it.Category, it.Hash, it.Story} {
		w.str(s)
	}
	w.uvarint(uint64(max(it.TextLen, 0)))
	w.strs(it.Cites)
	if flags&flagPublished != 0 {
		w.time(it.Published)
	}
	if flags&flagFirstSeen != 0 {
		w.time(it.FirstSeen)
	}
	if flags&flagUpdated != 0 {
		if flags&flagFirstSeen != 0 {
			w.b = binary.AppendVarint(w.b, it.Updated.UnixNano()-it.FirstSeen.UnixNano())
		} else {
			w.time(it.Updated)
		}
	}
	w.str(it.Match.Level)
	if flags&flagScore != 0 {
		w.float(it.Match.Score)
	}
	if flags&flagThreshold != 0 {
		w.float(it.Match.Threshold)
	}
	w.strs(it.Match.Shared)
	w.str(it.Match.Reason)
	return w.b
}

func encodeStory(s *Story) []byte {
	var flags uint64
	if !s.FirstSeen.IsZero() {
		flags |= flagFirstSeen
	}
	if !s.Updated.IsZero() {
		flags |= flagUpdated
	}
	w := recordWriter{b: make([]byte, 0, 32+9*(len(s.Items)+len(s.Related)))}
	w.b = append(w.b, recordV2)
	w.uvarint(flags)
	w.str(s.ID)
	if flags&flagFirstSeen != 0 {
		w.time(s.FirstSeen)
	}
	if flags&flagUpdated != 0 {
		w.time(s.Updated)
	}
	w.strs(s.Items)
	w.strs(s.Related)
	return w.b
}

// recordReader reads a recordV2 record. The first error sticks; strings
// are copied, so nothing refers to the transaction's memory.
type recordReader struct {
	b         []byte
	err       error
	feed, url string
}

func (r *recordReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated or bad %s", ErrCorrupt, what)
	}
	r.b = nil
}

func (r *recordReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) bytes(n uint64) []byte {
	if n > uint64(len(r.b)) {
		r.fail("string")
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *recordReader) str() string {
	h := r.uvarint()
	n := h >> 2
	switch h & 3 {
	case strText:
		return string(r.bytes(n))
	case strFeed:
		return r.feed
	case strURLTail:
		if n > uint64(len(r.url)) {
			r.fail("URL reference")
			return ""
		}
		return r.url[uint64(len(r.url))-n:]
	default: // strHex
		return hex.EncodeToString(r.bytes(n))
	}
}

func (r *recordReader) strs() []string {
	n := r.uvarint()
	if n > uint64(len(r.b)) { // each string takes a byte at least
		r.fail("list")
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.str()
	}
	return out
}

func (r *recordReader) time() time.Time {
	return time.Unix(0, r.varint()).UTC()
}

func (r *recordReader) float() float64 {
	p := r.bytes(8)
	if len(p) != 8 {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(p))
}

func (r *recordReader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d bytes after the record", ErrCorrupt, len(r.b))
	}
	return r.err
}

func decodeItem(b []byte, it *Item) error {
	r := recordReader{b: b}
	flags := r.uvarint()
	*it = Item{}
	it.ID = r.str()
	it.Feed = r.str()
	r.feed = it.Feed
	it.URL = r.str()
	r.url = it.URL
	for _, p := range []*string{&it.GUID, &it.Outlet, &it.Author, &it.Title, &it.CanonURL, &it.Summary,
		&it.Content, &it.Text, &it.Category, &it.Hash, &it.Story} {
		*p = r.str()
	}
	it.TextLen = int(min(r.uvarint(), math.MaxInt32))
	it.Cites = r.strs()
	if flags&flagPublished != 0 {
		it.Published = r.time()
	}
	if flags&flagFirstSeen != 0 {
		it.FirstSeen = r.time()
	}
	if flags&flagUpdated != 0 {
		if flags&flagFirstSeen != 0 {
			it.Updated = time.Unix(0, it.FirstSeen.UnixNano()+r.varint()).UTC()
		} else {
			it.Updated = r.time()
		}
	}
	it.Match.Level = r.str()
	if flags&flagScore != 0 {
		it.Match.Score = r.float()
	}
	if flags&flagThreshold != 0 {
		it.Match.Threshold = r.float()
	}
	it.Match.Shared = r.strs()
	it.Match.Reason = r.str()
	return r.done()
}

func decodeStory(b []byte, s *Story) error {
	r := recordReader{b: b}
	flags := r.uvarint()
	*s = Story{}
	s.ID = r.str()
	if flags&flagFirstSeen != 0 {
		s.FirstSeen = r.time()
	}
	if flags&flagUpdated != 0 {
		s.Updated = r.time()
	}
	s.Items = r.strs()
	if s.Items == nil {
		s.Items = []string{}
	}
	s.Related = r.strs()
	return r.done()
}
