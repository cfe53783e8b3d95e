// Command ingestbench is the Go half of .ci/bench-ingest:
//
//	ingestbench config OPML DB     print a storyfeed config subscribing to every feed of a feedfarm OPML
//	ingestbench gofeed DIR         parse every feed file of DIR with gofeed alone; print its CPU time
//	ingestbench db PATH            print the item, story and source counts and the bytes per item
//	ingestbench poll CONFIG CPU MEM  one `storyfeed poll` in process, writing a CPU profile and the heap profile at its peak
//	ingestbench index PATH         the live heap of a dedupe index built from every item of a database
//
// It is a benchmark tool, not part of storyfeed.
package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/storyfeed/storyfeed/aggregator"
	"github.com/storyfeed/storyfeed/aggregator/config"
	"github.com/storyfeed/storyfeed/dedupe"
	"github.com/storyfeed/storyfeed/storage"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ingestbench:", err)
		os.Exit(1)
	}
}

func run(args []string, w io.Writer) error {
	switch {
	case len(args) == 3 && args[0] == "config":
		return writeConfig(w, args[1], args[2])
	case len(args) == 2 && args[0] == "gofeed":
		return parseAll(w, args[1])
	case len(args) == 2 && args[0] == "db":
		return dbStats(w, args[1])
	case len(args) == 2 && args[0] == "index":
		return indexHeap(w, args[1])
	case len(args) == 4 && args[0] == "poll":
		return profilePoll(w, args[1], args[2], args[3])
	}
	return fmt.Errorf("usage: ingestbench config OPML DB | gofeed DIR | db PATH | poll CONFIG CPU MEM | index PATH")
}

type outline struct {
	Title    string    `xml:"title,attr"`
	Text     string    `xml:"text,attr"`
	URL      string    `xml:"xmlUrl,attr"`
	Children []outline `xml:"outline"`
}

// writeConfig writes a config with one source per feed outline. The farm repeats
// titles, so each name gets the feed's position: "TITLE #N".
func writeConfig(w io.Writer, opmlPath, db string) error {
	b, err := os.ReadFile(opmlPath)
	if err != nil {
		return err
	}
	var doc struct {
		Body []outline `xml:"body>outline"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %w", opmlPath, err)
	}
	fmt.Fprintf(w, "[storage]\npath = %s\nkeep = \"0s\"\n\n[poll]\nallow_private_networks = true\n\n[log]\nlevel = \"info\"\n", strconv.Quote(db))
	n := 0
	var walk func(os []outline, category string)
	walk = func(os []outline, category string) {
		for _, o := range os {
			title := o.Title
			if title == "" {
				title = o.Text
			}
			if o.URL == "" {
				walk(o.Children, title)
				continue
			}
			fmt.Fprintf(w, "\n[[source]]\nname = %s\nurl = %s\ncategory = %s\n",
				strconv.Quote(fmt.Sprintf("%s #%d", title, n)), strconv.Quote(o.URL), strconv.Quote(category))
			n++
		}
	}
	walk(doc.Body, "")
	if n == 0 {
		return fmt.Errorf("%s: no feed outlines", opmlPath)
	}
	return nil
}

// parseAll parses every .xml and .json file of dir with one gofeed parser,
// the floor of what any gofeed-based ingester costs on those bytes.
func parseAll(w io.Writer, dir string) error {
	var files []string
	for _, ext := range []string{"*.xml", "*.json"} {
		m, err := filepath.Glob(filepath.Join(dir, ext))
		if err != nil {
			return err
		}
		files = append(files, m...)
	}
	bodies := make([][]byte, 0, len(files))
	size := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".opml") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		bodies = append(bodies, b)
		size += len(b)
	}
	p := gofeed.NewParser()
	start, cpu0 := time.Now(), cpuTime()
	items := 0
	for i, b := range bodies {
		feed, err := p.Parse(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("%s: %w", files[i], err)
		}
		items += len(feed.Items)
	}
	cpu := cpuTime() - cpu0
	wall := time.Since(start)
	fmt.Fprintf(w, "gofeed_files=%d gofeed_items=%d gofeed_mb=%.1f gofeed_cpu_s=%.2f gofeed_wall_s=%.2f\n",
		len(bodies), items, float64(size)/1e6, cpu.Seconds(), wall.Seconds())
	return nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func dbStats(w io.Writer, path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	db, err := storage.Open(path, storage.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer db.Close()
	c, err := db.Count()
	if err != nil {
		return err
	}
	per := 0.0
	if c.Items > 0 {
		per = float64(info.Size()) / float64(c.Items)
	}
	fmt.Fprintf(w, "db_items=%d db_stories=%d db_sources=%d db_bytes=%d bytes_per_item=%.0f\n",
		c.Items, c.Stories, c.Sources, info.Size(), per)
	return nil
}

// profilePoll runs what `storyfeed poll` runs (with its memory limit), under
// the CPU profiler, and writes a heap profile at the heap's peak.
func profilePoll(w io.Writer, cfgPath, cpuPath, memPath string) error {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	db, err := storage.Open(cfg.Storage.Path, storage.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	svc, err := aggregator.New(cfg, aggregator.Deps{Store: db})
	if err != nil {
		return err
	}
	if cfg.Poll.MemoryLimit > 0 { // as storyfeed poll does
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(cfg.Poll.MemoryLimit))
	}
	cpu, err := os.Create(cpuPath)
	if err != nil {
		return err
	}
	defer cpu.Close()
	if err := pprof.StartCPUProfile(cpu); err != nil {
		return err
	}
	// Every second, a heap profile whenever the heap in use is the largest
	// so far: memPath ends up with the peak's composition.
	stop, watched := make(chan struct{}), make(chan error, 1)
	go func() {
		var peak uint64
		var err error
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				watched <- err
				return
			case <-tick.C:
			}
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse <= peak {
				continue
			}
			peak = m.HeapInuse
			var b bytes.Buffer
			if err = pprof.Lookup("heap").WriteTo(&b, 0); err == nil {
				err = os.WriteFile(memPath, b.Bytes(), 0o644)
			}
			fmt.Fprintf(os.Stderr, "heap in use %.1f MB (sys %.1f MB)\n", float64(m.HeapInuse)/(1<<20), float64(m.Sys)/(1<<20))
		}
	}()
	c, err := svc.PollOnce(context.Background())
	pprof.StopCPUProfile()
	close(stop)
	if werr := <-watched; err == nil {
		err = werr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%+v\n", c)
	return nil
}

// indexHeap builds a dedupe index from the stored features of every item
// of the database at path, as the writer does at start-up, and prints the
// heap it holds: the floor of the daemon's memory for that window.
func indexHeap(w io.Writer, path string) error {
	db, err := storage.Open(path, storage.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer db.Close()
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	idx := dedupe.New(dedupe.Options{})
	var f dedupe.Features
	n := 0
	start := time.Now()
	err = db.ForEachIndexEntry(context.Background(), time.Time{}, func(e *storage.IndexEntry) error {
		if e.Features == nil {
			return fmt.Errorf("item %s has no stored features", e.ID)
		}
		if err := f.UnmarshalBinary(e.Features); err != nil {
			return err
		}
		idx.AddFeatures(&f, e.Story, e.FirstSeen)
		n++
		return nil
	})
	if err != nil {
		return err
	}
	dur := time.Since(start)
	after := heap()
	fmt.Fprintf(w, "index_docs=%d index_heap_mb=%.1f index_bytes_per_doc=%.0f index_build_s=%.2f\n",
		n, float64(after-before)/(1<<20), float64(after-before)/float64(max(n, 1)), dur.Seconds())
	runtime.KeepAlive(idx)
	return nil
}
