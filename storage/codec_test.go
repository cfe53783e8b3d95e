package storage

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

func codecItems() []Item {
	t0 := time.Date(2026, 11, 29, 19, 0, 0, 123456789, time.UTC)
	full := Item{
		ID: "0019a26b390d06bf", Feed: "Summit Dispatch #47", GUID: "http://127.0.0.1:18650/a/33/2",
		Outlet: "Summit Dispatch #47", Author: "Maria Singh", Title: "Quantum Foods launches project in Perth – é",
		URL: "http://127.0.0.1:18650/a/33/2", CanonURL: "127.0.0.1:18650/a/33/2", Summary: "A summary.",
		Content: "<p>Lead &amp; more</p>", Text: "Lead & more", TextLen: 1234, Category: "Climate",
		Cites: []string{"Reuters", "AP"}, Published: t0.Add(-time.Hour), FirstSeen: t0, Updated: t0.Add(time.Minute),
		Hash: "00112233445566778899aabbccddeeff", Story: "deadbeefdeadbeef",
		Match: Match{Level: "similar", Score: 0.4123, Threshold: 0.25, Shared: []string{"perth", "quantum"}, Reason: "shares terms"},
	}
	return []Item{
		full,
		{ID: "0000000000000001", Story: "0000000000000001", Match: Match{Level: "new"}},
		{ID: "ABCDEF0123456789", Feed: "f", GUID: "DEADBEEF", Title: "deadbeef", Hash: "abc", Story: "x",
			FirstSeen: time.Unix(0, 0).UTC(), Updated: time.Unix(-5, 0).UTC()},
		{ID: "0000000000000002", Feed: "same", Outlet: "same", URL: "u", GUID: "u", CanonURL: "", Story: "0000000000000002",
			Updated: t0},
	}
}

func TestItemRecordRoundTrip(t *testing.T) {
	for i, it := range codecItems() {
		b, err := encode(&it)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != recordV2 {
			t.Fatalf("item %d: version %d, want the binary form", i, b[0])
		}
		var got Item
		if err := decode(b, &got); err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, it) {
			t.Errorf("item %d:\n got %+v\nwant %+v", i, got, it)
		}
		js, _ := json.Marshal(&it)
		if len(b) >= len(js)*3/4 {
			t.Errorf("item %d: %d bytes, JSON %d: want much smaller", i, len(b), len(js))
		}
	}
}

func TestStoryRecordRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, s := range []Story{
		{ID: "0011223344556677", Items: []string{"0011223344556677", "8899aabbccddeeff"}, FirstSeen: t0, Updated: t0.Add(time.Hour),
			Related: []string{"1111111111111111"}},
		{ID: "0011223344556677", Items: []string{}},
	} {
		b, err := encode(&s)
		if err != nil {
			t.Fatal(err)
		}
		var got Story
		if err := decode(b, &got); err != nil || !reflect.DeepEqual(got, s) {
			t.Errorf("story: got %+v, %v; want %+v", got, err, s)
		}
	}
}

// Times that Unix nanoseconds cannot hold keep the JSON form, and records
// written as JSON by older builds still read.
func TestRecordJSONForms(t *testing.T) {
	it := Item{ID: "0011223344556677", Story: "0011223344556677", Published: time.Date(1, 2, 3, 0, 0, 0, 0, time.UTC),
		FirstSeen: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b, err := encode(&it)
	if err != nil || b[0] != recordV1 {
		t.Fatalf("an item of year 1: %v, version %d; want JSON", err, b[0])
	}
	var got Item
	if err := decode(b, &got); err != nil || !got.Published.Equal(it.Published) {
		t.Errorf("year 1 item read back as %v, %v", got.Published, err)
	}
	old := codecItems()[0]
	js, _ := json.Marshal(&old)
	if err := decode(append([]byte{recordV1}, js...), &got); err != nil || !reflect.DeepEqual(got, old) {
		t.Errorf("a JSON item: got %+v, %v", got, err)
	}
	src := SourceState{Name: "x", ETag: `"e"`}
	if b, _ := encode(&src); b[0] != recordV1 {
		t.Errorf("source state encoded as version %d, want JSON", b[0])
	}
}

func TestRecordCorrupt(t *testing.T) {
	it := codecItems()[0]
	b, _ := encode(&it)
	for n := 1; n < len(b); n++ {
		var got Item
		if err := decode(b[:n], &got); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("item cut to %d of %d bytes: %v, want ErrCorrupt", n, len(b), err)
		}
	}
	var s Story
	if err := decode(b, &s); err == nil {
		t.Error("an item read as a story: no error")
	}
	var src SourceState
	if err := decode(b, &src); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a binary record read as a source: %v", err)
	}
}

// FuzzDecodeRecord: no input panics, and whatever decodes re-encodes to a
// record that decodes to the same item.
func FuzzDecodeRecord(f *testing.F) {
	for _, it := range codecItems() {
		b, _ := encode(&it)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var it Item
		if decode(b, &it) != nil {
			var s Story
			_ = decode(b, &s)
			return
		}
		enc, err := encode(&it)
		if err != nil {
			return
		}
		var again Item
		if err := decode(enc, &again); err != nil {
			t.Fatalf("re-encoded item does not decode: %v", err)
		}
		if !reflect.DeepEqual(normalItem(again), normalItem(it)) {
			t.Fatalf("round trip changed the item:\n%+v\n%+v", again, it)
		}
	})
}

// normalItem clears what a round trip may legitimately change: time zones
// and empty versus nil lists.
func normalItem(it Item) Item {
	for _, p := range []*time.Time{&it.Published, &it.FirstSeen, &it.Updated} {
		*p = p.UTC()
	}
	if len(it.Cites) == 0 {
		it.Cites = nil
	}
	if len(it.Match.Shared) == 0 {
		it.Match.Shared = nil
	}
	return it
}
