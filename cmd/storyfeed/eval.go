package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/storyfeed/storyfeed/aggregator"
	"github.com/storyfeed/storyfeed/dedupe"
	"github.com/storyfeed/storyfeed/storage"
)

// evalRecord is one line of a labelled evaluation file; the schema is
// ../shared/eval/README.md's.
type evalRecord struct {
	ID        string `json:"id"`
	Source    string `json:"source"`
	Title     string `json:"title"`
	Content   string `json:"content"`
	URL       string `json:"url"`
	Published string `json:"published"`
	Story     string `json:"story"`
	Category  string `json:"category"`

	line int       // line in the file, for errors
	at   time.Time // published, or the previous record's time when unknown
}

func cmdEval(ctx context.Context, e *env, args []string) int {
	var c common
	fs := newFlags(e, "eval", "--data FILE.jsonl[.gz] [--out PRED.jsonl] [--errors N] [--config FILE]",
		"Replay labelled items in published order through the dedupe engine, with the [dedupe]\n"+
			"settings of the config, and print B-cubed and pairwise precision, recall and F1\n"+
			"against the labels. The data schema is that of ../shared/eval/README.md.")
	fs.StringVar(&c.config, "config", "", "config `FILE` (TOML) whose [dedupe] settings are used; default: built-in defaults")
	data := fs.String("data", "", "labelled items, one JSON object per line (`FILE`.jsonl or .jsonl.gz)")
	out := fs.String("out", "", "write one {\"id\",\"story\"} line per item to `PRED.jsonl`")
	nErrors := fs.Int("errors", 0, "print the `N` worst false merges and missed merges with their explanations")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if *data == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	cfg, err := c.load()
	if err != nil {
		return fail(e, "eval", err)
	}
	recs, err := readEval(*data)
	if err != nil {
		return fail(e, "eval", err)
	}
	start := time.Now()
	res, err := replay(ctx, aggregator.NewReplayer(cfg.Dedupe), recs, *nErrors > 0)
	if err != nil {
		return fail(e, "eval", err)
	}
	elapsed := time.Since(start)
	if *out != "" {
		if err := writePred(*out, recs, res.pred); err != nil {
			return fail(e, "eval", err)
		}
	}
	gold := make([]string, len(recs))
	for i := range recs {
		gold[i] = recs[i].Story
	}
	sc := scoreClusters(gold, res.pred)
	w := e.stdout
	fmt.Fprintf(w, "data:      %s\n", *data)
	fmt.Fprintf(w, "items:     %d in %d labelled stories; %d predicted stories\n", len(recs), sc.goldClusters, sc.predClusters)
	fmt.Fprintf(w, "levels:    %s\n", res.levels())
	fmt.Fprintf(w, "time:      %s (%.1f µs per item)\n", elapsed.Round(time.Millisecond), float64(elapsed.Microseconds())/float64(max(1, len(recs))))
	fmt.Fprintf(w, "B-cubed:   P %.4f  R %.4f  F1 %.4f\n", sc.bP, sc.bR, sc.bF)
	fmt.Fprintf(w, "pairwise:  P %.4f  R %.4f  F1 %.4f\n", sc.pP, sc.pR, sc.pF)
	if *nErrors > 0 {
		printEvalErrors(w, recs, res, *nErrors)
	}
	return 0
}

// readEval reads and validates a labelled file, gzip'd or not, and orders
// its records by publication time (stable: equal times keep file order).
func readEval(path string) ([]evalRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	var recs []evalRecord
	var errs []error
	ids := map[string]int{}
	var last time.Time
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var rec evalRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", path, n, err))
			continue
		}
		rec.line = n
		switch {
		case rec.ID == "":
			errs = append(errs, fmt.Errorf("%s:%d: no id", path, n))
			continue
		case rec.Story == "":
			errs = append(errs, fmt.Errorf("%s:%d: item %s has no story label", path, n, rec.ID))
			continue
		case ids[rec.ID] > 0:
			errs = append(errs, fmt.Errorf("%s:%d: id %s already used on line %d", path, n, rec.ID, ids[rec.ID]))
			continue
		}
		ids[rec.ID] = n
		if rec.Published != "" {
			t, err := time.Parse(time.RFC3339, rec.Published)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: published: %w", path, n, err))
				continue
			}
			last = t
		}
		rec.at = last
		recs = append(recs, rec)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", path, err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s: no items", path)
	}
	slices.SortStableFunc(recs, func(a, b evalRecord) int { return a.at.Compare(b.at) })
	return recs, nil
}

// replayResult is what the replay decided.
type replayResult struct {
	pred   []string // predicted story of each record: the ID of its founding record
	dec    []dedupe.Decision
	errs   []evalError
	counts map[dedupe.Level]int
}

func (r *replayResult) levels() string {
	var parts []string
	for _, l := range []dedupe.Level{dedupe.LevelNew, dedupe.LevelExact, dedupe.LevelNear, dedupe.LevelSimilar} {
		parts = append(parts, fmt.Sprintf("%s %d", l, r.counts[l]))
	}
	return strings.Join(parts, ", ")
}

// evalError is one wrong decision: a false merge (the item joined a story
// whose earlier members are of other labelled stories) or a miss (the item
// did not join the story holding most of its labelled story's earlier
// members).
type evalError struct {
	rec     int
	merge   bool
	weight  int    // wrong pairs made (merge) or right pairs missed (miss)
	against string // the predicted story the item should have joined (miss)
	dec     dedupe.Decision
}

// replay feeds the records through the replayer in order. With explain it
// also collects the wrong decisions.
func replay(ctx context.Context, rp *aggregator.Replayer, recs []evalRecord, explain bool) (*replayResult, error) {
	res := &replayResult{pred: make([]string, len(recs)), dec: make([]dedupe.Decision, len(recs)), counts: map[dedupe.Level]int{}}
	founder := map[string]string{}         // item ID -> record ID of its story's founder
	members := map[string]map[string]int{} // predicted story (item ID) -> gold label -> members
	goldIn := map[string]map[string]int{}  // gold label -> predicted story -> members
	var lastEvict time.Time
	for i := range recs {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		rec := &recs[i]
		now := rec.at
		if now.IsZero() {
			now = time.Unix(0, 0).UTC()
		}
		if now.Sub(lastEvict) > time.Hour {
			rp.Evict(now)
			lastEvict = now
		}
		var pub time.Time
		if rec.Published != "" {
			pub = rec.at
		}
		it := rp.Item(aggregator.Record{Source: rec.Source, Title: rec.Title, Content: rec.Content,
			URL: rec.URL, Published: pub, Category: rec.Category}, rec.ID, now)
		dec := rp.Decide(&it, now)
		res.counts[dec.Level]++
		res.dec[i] = dec
		if dec.Story == "" {
			founder[it.Story] = rec.ID
		}
		res.pred[i] = founder[it.Story]
		if explain {
			res.errs = append(res.errs, judge(rp, &it, i, rec.Story, dec, members, goldIn)...)
		}
		if members[it.Story] == nil {
			members[it.Story] = map[string]int{}
		}
		members[it.Story][rec.Story]++
		if goldIn[rec.Story] == nil {
			goldIn[rec.Story] = map[string]int{}
		}
		goldIn[rec.Story][it.Story]++
	}
	return res, nil
}

// judge compares one decision with the labels of what came before it.
func judge(rp *aggregator.Replayer, it *storage.Item, i int, gold string, dec dedupe.Decision,
	members map[string]map[string]int, goldIn map[string]map[string]int) []evalError {
	var out []evalError
	if dec.Story != "" {
		wrong := 0
		for g, n := range members[dec.Story] {
			if g != gold {
				wrong += n
			}
		}
		if wrong > 0 {
			out = append(out, evalError{rec: i, merge: true, weight: wrong, dec: dec})
		}
	}
	// The predicted story holding most earlier members of the item's own
	// labelled story: where it should have gone.
	best, bestN := "", 0
	for story, n := range goldIn[gold] {
		if n > bestN || n == bestN && story < best {
			best, bestN = story, n
		}
	}
	if bestN > 0 && best != dec.Story {
		out = append(out, evalError{rec: i, weight: bestN, against: best, dec: rp.Explain(it, best)})
	}
	return out
}

func printEvalErrors(w io.Writer, recs []evalRecord, res *replayResult, n int) {
	for _, merge := range []bool{true, false} {
		var es []evalError
		for _, e := range res.errs {
			if e.merge == merge {
				es = append(es, e)
			}
		}
		slices.SortStableFunc(es, func(a, b evalError) int { return b.weight - a.weight })
		kind, unit := "false merges", "wrong pairs"
		if !merge {
			kind, unit = "missed merges", "pairs missed"
		}
		fmt.Fprintf(w, "\n%d %s; the %d worst:\n", len(es), kind, min(n, len(es)))
		for _, e := range es[:min(n, len(es))] {
			r := &recs[e.rec]
			fmt.Fprintf(w, "- %s [%s] %q (%s, label %s): %d %s\n", r.ID, r.Source, r.Title, r.Published, r.Story, e.weight, unit)
			d := e.dec
			if merge {
				fmt.Fprintf(w, "    joined story of %s: level %s, score %.3f, threshold %.3f\n", founderOf(res, d.Story, recs), d.Level, d.Score, d.Threshold)
			} else {
				fmt.Fprintf(w, "    should have joined story of %s: score %.3f, threshold %.3f; decided: %s\n",
					founderOf(res, e.against, recs), d.Score, d.Threshold, decisionOf(res.dec[e.rec], res, recs))
			}
			if len(d.Shared) > 0 {
				fmt.Fprintf(w, "    shared: %s\n", strings.Join(d.Shared, ", "))
			}
			fmt.Fprintf(w, "    reason: %s\n", d.Reason)
		}
	}
}

// founderOf describes a predicted story (an item ID) by its founding record.
func founderOf(res *replayResult, story string, recs []evalRecord) string {
	for i := range recs {
		if res.dec[i].Story == "" && aggregatorItemID(&recs[i]) == story {
			return fmt.Sprintf("%s %q", recs[i].ID, recs[i].Title)
		}
	}
	return story
}

func decisionOf(d dedupe.Decision, res *replayResult, recs []evalRecord) string {
	if d.Story == "" {
		return "new story"
	}
	return fmt.Sprintf("joined story of %s (%s %.3f)", founderOf(res, d.Story, recs), d.Level, d.Score)
}

func aggregatorItemID(r *evalRecord) string { return storage.ItemID(r.Source, r.ID) }

func writePred(path string, recs []evalRecord, pred []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	for i := range recs {
		if err := enc.Encode(struct {
			ID    string `json:"id"`
			Story string `json:"story"`
		}{recs[i].ID, pred[i]}); err != nil {
			f.Close()
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// clusterScore holds B-cubed and pairwise figures, computed as
// ../shared/eval/score.py computes them.
type clusterScore struct {
	goldClusters, predClusters int
	bP, bR, bF                 float64
	pP, pR, pF                 float64
}

// scoreClusters scores a predicted clustering against the gold one; both
// give a cluster label per item, in the same order.
func scoreClusters(gold, pred []string) clusterScore {
	type pair struct{ g, p string }
	gSize, pSize, both := map[string]int{}, map[string]int{}, map[pair]int{}
	for i := range gold {
		gSize[gold[i]]++
		pSize[pred[i]]++
		both[pair{gold[i], pred[i]}]++
	}
	var sc clusterScore
	sc.goldClusters, sc.predClusters = len(gSize), len(pSize)
	n := float64(len(gold))
	// Sum in item order: a fixed order gives the same figures on every run.
	for i := range gold {
		k := float64(both[pair{gold[i], pred[i]}])
		sc.bP += k / float64(pSize[pred[i]])
		sc.bR += k / float64(gSize[gold[i]])
	}
	if n > 0 {
		sc.bP /= n
		sc.bR /= n
	}
	sc.bF = f1(sc.bP, sc.bR)
	pairs := func(k int) float64 { return float64(k) * float64(k-1) / 2 }
	var tp, predPairs, goldPairs float64
	for _, k := range sortedCounts(both) {
		tp += pairs(k)
	}
	for _, k := range sortedCounts(pSize) {
		predPairs += pairs(k)
	}
	for _, k := range sortedCounts(gSize) {
		goldPairs += pairs(k)
	}
	sc.pP, sc.pR = 1, 1
	if predPairs > 0 {
		sc.pP = tp / predPairs
	}
	if goldPairs > 0 {
		sc.pR = tp / goldPairs
	}
	sc.pF = f1(sc.pP, sc.pR)
	return sc
}

func sortedCounts[K comparable](m map[K]int) []int {
	out := make([]int, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

func f1(p, r float64) float64 {
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}
