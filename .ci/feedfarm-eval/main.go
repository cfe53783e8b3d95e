// Command feedfarm-eval turns a feedfarm dump (feed files plus truth.csv,
// written by `go run . -dump DIR` in ../shared/tools/feedfarm) into a
// labelled file for `storyfeed eval`: one JSON object per feed item, with
// the farm's ground-truth story as the label (a unique item is its own
// story). It is a measurement helper, not part of storyfeed.
//
//	go run ./.ci/feedfarm-eval DIR > farm.jsonl
package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/mmcdole/gofeed"
)

type record struct {
	ID        string `json:"id"`
	Source    string `json:"source"`
	Title     string `json:"title"`
	Content   string `json:"content"`
	URL       string `json:"url"`
	Published string `json:"published"`
	Story     string `json:"story"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: feedfarm-eval DUMPDIR > labelled.jsonl")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "feedfarm-eval:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	f, err := os.Open(filepath.Join(dir, "truth.csv"))
	if err != nil {
		return err
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		return fmt.Errorf("truth.csv: %w", err)
	}
	story := map[string]string{} // feed/guid -> story
	feeds := map[int]bool{}
	for _, r := range rows[1:] {
		id, err := strconv.Atoi(r[0])
		if err != nil {
			return fmt.Errorf("truth.csv: feed %q: %w", r[0], err)
		}
		feeds[id] = true
		s := r[3]
		if s == "" {
			s = "u:" + r[0] + "/" + r[1]
		}
		story[r[0]+"\x00"+r[2]] = s
	}
	ids := make([]int, 0, len(feeds))
	for id := range feeds {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	p := gofeed.NewParser()
	var recs []record
	for _, id := range ids {
		matches, _ := filepath.Glob(filepath.Join(dir, strconv.Itoa(id)+".*"))
		if len(matches) != 1 {
			return fmt.Errorf("feed %d: want one file, got %v", id, matches)
		}
		fh, err := os.Open(matches[0])
		if err != nil {
			return err
		}
		feed, err := p.Parse(fh)
		fh.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", matches[0], err)
		}
		for _, it := range feed.Items {
			s, ok := story[strconv.Itoa(id)+"\x00"+it.GUID]
			if !ok {
				return fmt.Errorf("%s: item %s not in truth.csv", matches[0], it.GUID)
			}
			content := it.Content
			if content == "" {
				content = it.Description
			}
			var pub time.Time
			if it.PublishedParsed != nil {
				pub = *it.PublishedParsed
			} else if it.UpdatedParsed != nil {
				pub = *it.UpdatedParsed
			}
			recs = append(recs, record{ID: strconv.Itoa(id) + "/" + it.GUID, Source: feed.Title, Title: it.Title,
				Content: content, URL: it.Link, Published: pub.UTC().Format(time.RFC3339), Story: s})
		}
	}
	slices.SortStableFunc(recs, func(a, b record) int { return compare(a.Published, b.Published) })
	enc := json.NewEncoder(os.Stdout)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
