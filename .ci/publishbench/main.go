// Command publishbench serves a storyfeed feed and the same bytes through
// http.ServeFile, side by side on loopback, for .ci/bench-publish to load
// with wrk. It builds a throwaway database of -stored stories first.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/storyfeed/storyfeed/aggregator/publish"
	"github.com/storyfeed/storyfeed/storage"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "publishbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	loadURL := flag.String("load", "", "instead of serving, send requests to `URL` at -rate from -conns connections and print latency percentiles")
	rate := flag.Int("rate", 2000, "requests per second in all, with -load")
	conns := flag.Int("conns", 16, "connections, with -load")
	dur := flag.Duration("duration", 10*time.Second, "how long, with -load")
	stored := flag.Int("stored", 1000, "stories to store")
	limit := flag.Int("limit", 100, "stories in the feed")
	feedAddr := flag.String("feed", "127.0.0.1:18301", "address of the storyfeed publisher")
	fileAddr := flag.String("file", "127.0.0.1:18302", "address of the http.ServeFile server")
	flag.Parse()
	if *loadURL != "" {
		return load(ctx, *loadURL, *rate, *conns, *dur)
	}
	dir, err := os.MkdirTemp("", "publishbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	db, err := storage.Open(filepath.Join(dir, "bench.db"), storage.Options{NoSync: true})
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	if err := fill(ctx, db, *stored); err != nil {
		return err
	}
	h := publish.NewHandler(db, publish.Options{BaseURL: "http://" + *feedAddr, Limit: *limit, MaxAge: 15 * time.Minute})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/feed.xml", nil))
	if rec.Code != 200 {
		return fmt.Errorf("GET /feed.xml = %d", rec.Code)
	}
	file := filepath.Join(dir, "feed.xml")
	if err := os.WriteFile(file, rec.Body.Bytes(), 0o600); err != nil {
		return err
	}
	fmt.Printf("stored %d stories in %v; /feed.xml of %d stories is %d bytes\n", *stored, time.Since(start).Round(time.Millisecond), *limit, rec.Body.Len())
	servers := []*http.Server{
		{Addr: *feedAddr, Handler: h, ReadHeaderTimeout: 5 * time.Second},
		{Addr: *fileAddr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, file) }), ReadHeaderTimeout: 5 * time.Second},
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		ln, err := net.Listen("tcp", s.Addr)
		if err != nil {
			return err
		}
		go func() { errc <- s.Serve(ln) }()
	}
	fmt.Println("ready")
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	for _, s := range servers {
		if err := s.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	return nil
}

// load sends GET url from conns connections, each at rate/conns requests
// per second on a fixed schedule (open loop: a slow response does not delay
// the next request's due time, so queueing shows in the latencies, which are
// measured from the due time), and prints the percentiles.
func load(ctx context.Context, url string, rate, conns int, dur time.Duration) error {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	interval := time.Duration(int64(time.Second) * int64(conns) / int64(rate))
	start := time.Now().Add(100 * time.Millisecond)
	lat := make([][]time.Duration, conns)
	errc := make(chan error, conns)
	for c := range conns {
		go func() {
			offset := interval * time.Duration(c) / time.Duration(conns)
			for i := 0; ; i++ {
				due := start.Add(offset + time.Duration(i)*interval)
				if due.Sub(start) > dur || ctx.Err() != nil {
					errc <- nil
					return
				}
				time.Sleep(time.Until(due))
				resp, err := client.Get(url)
				if err != nil {
					errc <- err
					return
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil {
					errc <- err
					return
				}
				lat[c] = append(lat[c], time.Since(due))
			}
		}()
	}
	for range conns {
		if err := <-errc; err != nil {
			return err
		}
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration { return all[min(len(all)-1, int(float64(len(all))*p))] }
	fmt.Printf("%d requests at %d/s from %d connections: p50 %v p90 %v p99 %v p99.9 %v max %v\n", len(all), rate, conns,
		pct(0.50).Round(time.Microsecond), pct(0.90).Round(time.Microsecond), pct(0.99).Round(time.Microsecond),
		pct(0.999).Round(time.Microsecond), all[len(all)-1].Round(time.Microsecond))
	return nil
}

// fill stores n stories, a third of them covered by three outlets.
func fill(ctx context.Context, db *storage.DB, n int) error {
	t0 := time.Date(2025, 12, 2, 10, 0, 0, 0, time.UTC)
	text := strings.Repeat("The envoy met officials in Moscow on Tuesday to discuss the plan. ", 12)
	mk := func(outlet, guid, title, url string, at time.Time, story string) storage.Item {
		id := storage.ItemID(outlet, guid)
		if story == "" {
			story = id
		}
		return storage.Item{ID: id, Feed: outlet, GUID: guid, Outlet: outlet, Title: title, URL: url, Summary: text[:200], Text: text,
			Published: at, FirstSeen: at, Updated: at, Story: story, Hash: outlet + guid, Match: storage.Match{Level: "new"}}
	}
	const batch = 5000
	for start := 0; start < n; start += batch {
		var items []storage.Item
		for i := start; i < min(n, start+batch); i++ {
			at := t0.Add(time.Duration(i) * time.Second)
			a := mk(fmt.Sprintf("Outlet %d", i%40), "g"+strconv.Itoa(i), fmt.Sprintf("Story number %d: envoy heads to Moscow for talks", i),
				fmt.Sprintf("https://outlet%d.example/news/%d", i%40, i), at, "")
			a.Category = []string{"world", "business", "tech"}[i%3]
			items = append(items, a)
			if i%3 == 0 {
				for k := 1; k <= 2; k++ {
					m := mk(fmt.Sprintf("Joiner %d", k), fmt.Sprintf("j%d-%d", k, i), fmt.Sprintf("Rewrite %d of story %d", k, i),
						fmt.Sprintf("https://joiner%d.example/%d", k, i), at.Add(time.Duration(k)*time.Minute), a.ID)
					m.Match = storage.Match{Level: "similar", Score: 0.4, Threshold: 0.25, Shared: []string{"envoy", "moscow"}}
					items = append(items, m)
				}
			}
		}
		if err := db.Commit(ctx, storage.Batch{Items: items}); err != nil {
			return err
		}
	}
	return nil
}
