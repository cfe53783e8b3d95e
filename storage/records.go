package storage

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Item is one article as delivered by one source.
type Item struct {
	ID        string    `json:"id"`     // see ItemID; never changes
	Feed      string    `json:"feed"`   // configured source that delivered it
	GUID      string    `json:"guid"`   // the source's own identifier for it
	Outlet    string    `json:"outlet"` // publication shown to readers
	Author    string    `json:"author,omitempty"`
	Title     string    `json:"title"`
	URL       string    `json:"url,omitempty"`   // link as published
	CanonURL  string    `json:"canon,omitempty"` // canonical form of URL, for exact dedupe
	Summary   string    `json:"summary,omitempty"`
	Content   string    `json:"content,omitempty"`  // lead of the sanitised HTML
	Text      string    `json:"text,omitempty"`     // plain text: its first paragraph once stored
	TextLen   int       `json:"text_len,omitempty"` // runes in the whole text, which dedupe read
	Category  string    `json:"category,omitempty"`
	Cites     []string  `json:"cites,omitempty"`    // outlets the article credits
	Published time.Time `json:"published,omitzero"` // zero when the source gave no date
	FirstSeen time.Time `json:"first_seen"`
	Updated   time.Time `json:"updated"` // last time its content changed
	Hash      string    `json:"hash"`    // hash of the normalised text; see aggregator
	Story     string    `json:"story"`   // ID of the story it belongs to
	Match     Match     `json:"match"`   // why it belongs to that story
}

// Date is the item's publication time, or the time it was first seen when
// the source gave none. It is stable across polls.
func (it *Item) Date() time.Time {
	if it.Published.IsZero() {
		return it.FirstSeen
	}
	return it.Published
}

// Match records why an item was put into its story, for `stories --explain`.
type Match struct {
	Level     string   `json:"level"` // "new", "exact", "near", "similar" or "manual"
	Score     float64  `json:"score,omitempty"`
	Threshold float64  `json:"threshold,omitempty"`
	Shared    []string `json:"shared,omitempty"` // strongest shared terms
	Reason    string   `json:"reason,omitempty"`
}

// Story is a set of items that cover the same news event.
type Story struct {
	ID        string    `json:"id"`    // ID of the founding item; never changes
	Items     []string  `json:"items"` // member item IDs, in the order they joined
	FirstSeen time.Time `json:"first_seen"`
	Updated   time.Time `json:"updated"` // last time a member joined or changed
	Related   []string  `json:"related,omitempty"`
}

// StoryView is a story with its member items, in join order.
type StoryView struct {
	Story
	Members []Item
}

// SourceState is what storyfeed remembers about fetching one source.
type SourceState struct {
	Name         string    `json:"name"`
	URL          string    `json:"url,omitempty"`        // current URL, after permanent redirects
	ConfigURL    string    `json:"config_url,omitempty"` // the configured URL this state belongs to
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	BodyHash     string    `json:"body_hash,omitempty"` // hash of the last body parsed
	LastStatus   int       `json:"last_status,omitempty"`
	LastFetch    time.Time `json:"last_fetch,omitzero"`
	LastSuccess  time.Time `json:"last_success,omitzero"`
	NextDue      time.Time `json:"next_due,omitzero"`
	ErrorStreak  int       `json:"error_streak,omitempty"`
	LastError    string    `json:"last_error,omitempty"`
	Disabled     bool      `json:"disabled,omitempty"` // 410 Gone: not fetched until its configured URL changes
	Items        int       `json:"items,omitempty"`    // items in the last successful fetch
	// FeedTTL is the RSS <ttl> of the last body parsed: a floor on the
	// time between two fetches, like Cache-Control max-age.
	FeedTTL time.Duration `json:"feed_ttl,omitempty"`
	// Files maps each file of a directory source, by its path inside the
	// directory, to the ID of its item, so that a poll can tell which
	// files were removed since the last one.
	Files map[string]string `json:"files,omitempty"`
}

// ItemID derives an item's ID from the name of the source that delivered it
// and the source's identifier for it. The same pair always gives the same ID,
// on any machine, so re-ingesting a source never creates duplicates.
func ItemID(feed, guid string) string {
	h := sha256.New()
	h.Write([]byte(feed))
	h.Write([]byte{0})
	h.Write([]byte(guid))
	return hex.EncodeToString(h.Sum(nil)[:idLen])
}

const idLen = 8 // bytes in item and story IDs

// idKey converts a 16-hex-digit ID to its 8-byte key.
func idKey(id string) ([]byte, error) {
	k, err := hex.DecodeString(id)
	if err != nil || len(k) != idLen {
		return nil, fmt.Errorf("%w: %q", ErrBadID, id)
	}
	return k, nil
}

// timeKey is the 16-byte key of the time indexes: nanos then ID.
func timeKey(t time.Time, id []byte) []byte {
	k := make([]byte, 8+idLen)
	binary.BigEndian.PutUint64(k, uint64(t.UnixNano()))
	copy(k[8:], id)
	return k
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// recordV1 marks a record encoded as JSON.
const recordV1 = 1

// encode encodes a record: items and stories in the compact binary form
// (recordV2, see codec.go) unless a time of theirs is out of its range,
// everything else as JSON.
func encode(v any) ([]byte, error) {
	switch r := v.(type) {
	case *Item:
		if nanoTimes(r.Published, r.FirstSeen, r.Updated) {
			return encodeItem(r), nil
		}
	case *Story:
		if nanoTimes(r.FirstSeen, r.Updated) {
			return encodeStory(r), nil
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append([]byte{recordV1}, b...), nil
}

// decode decodes a record. It copies nothing from b that outlives the
// call, so it is safe on bbolt's transaction-scoped slices.
func decode(b []byte, v any) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: empty record", ErrCorrupt)
	}
	switch b[0] {
	case recordV1:
		if err := json.Unmarshal(b[1:], v); err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return nil
	case recordV2:
		switch r := v.(type) {
		case *Item:
			return decodeItem(b[1:], r)
		case *Story:
			return decodeStory(b[1:], r)
		}
		return fmt.Errorf("%w: binary record read as %T", ErrCorrupt, v)
	}
	return fmt.Errorf("%w: unknown record version %d", ErrCorrupt, b[0])
}

// nanoTimes reports whether every non-zero t is within the range of Unix
// nanoseconds (years 1678 to 2262), which the binary form stores.
func nanoTimes(ts ...time.Time) bool {
	for _, t := range ts {
		if !t.IsZero() && (t.Before(minNano) || t.After(maxNano)) {
			return false
		}
	}
	return true
}

var (
	minNano = time.Unix(0, math.MinInt64+1)
	maxNano = time.Unix(0, math.MaxInt64)
)
