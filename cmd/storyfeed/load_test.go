package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkFeedDuringColdPoll measures /feed.xml while the daemon, a child
// process, ingests the feed farm from an empty database: 16 clients fetch
// the feed back to back, as feed readers would, until the first poll cycle
// ends. It reports the latency percentiles of those requests and the
// duration of the poll.
//
// The figure is 1000 feeds x 50 items:
//
//	STORYFEED_LOAD_FEEDS=1000 STORYFEED_LOAD_ITEMS=50 \
//	  go test -run='^$' -bench=FeedDuringColdPoll -benchtime=1x ./cmd/storyfeed
//
// Without those variables it runs a small farm, so that CI keeps it alive.
// STORYFEED_LOAD_CLIENTS sets the number of clients (0: none, to measure
// the poll alone).
func BenchmarkFeedDuringColdPoll(b *testing.B) {
	feeds, items := envInt("STORYFEED_LOAD_FEEDS", 20), envInt("STORYFEED_LOAD_ITEMS", 10)
	clients := envInt("STORYFEED_LOAD_CLIENTS", 16)
	_, urls := startFarm(b, "-feeds", strconv.Itoa(feeds), "-items", strconv.Itoa(items))
	for b.Loop() {
		dir := b.TempDir()
		conf := filepath.Join(dir, "storyfeed.toml")
		writeFile(b, conf, farmConfig(urls, 16))
		d := startChild(b, dir, "run", "--config", conf)
		base := d.base()
		start := time.Now()

		var (
			mu    sync.Mutex
			lat   []time.Duration
			fails int
			stop  = make(chan struct{})
			wg    sync.WaitGroup
		)
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 30 * time.Second}
		for range clients {
			wg.Go(func() {
				var mine []time.Duration
				bad := 0
				for {
					select {
					case <-stop:
						mu.Lock()
						lat, fails = append(lat, mine...), fails+bad
						mu.Unlock()
						return
					default:
					}
					t := time.Now()
					req, _ := http.NewRequest("GET", base+"/feed.xml", nil)
					req.Header.Set("Accept-Encoding", "gzip")
					resp, err := client.Do(req)
					if err != nil {
						bad++
						continue
					}
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err != nil || resp.StatusCode != 200 {
						bad++
						continue
					}
					mine = append(mine, time.Since(t))
				}
			})
		}
		// The cold poll is over when /readyz says the first cycle ran.
		for {
			if code, _ := get(b, base+"/readyz"); code == 200 {
				break
			}
			if time.Since(start) > 30*time.Minute {
				b.Fatal("the cold poll took more than 30 minutes")
			}
			time.Sleep(50 * time.Millisecond)
		}
		poll := time.Since(start)
		close(stop)
		wg.Wait()
		peak := peakRSS(b, d.cmd.Process.Pid)
		if code, took := d.signal(os.Interrupt); code != 0 {
			b.Fatalf("daemon exit %d after %v: %s", code, took, d.stderr.String())
		}
		if len(lat) == 0 {
			if clients == 0 {
				b.ReportMetric(poll.Seconds(), "poll-s")
				b.ReportMetric(peak, "daemon-peak-RSS-MB")
				continue
			}
			b.Fatalf("no successful request during the poll (%d failed)", fails)
		}
		slices.Sort(lat)
		pct := func(p float64) float64 {
			return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
		}
		b.ReportMetric(pct(0.50), "p50-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
		b.ReportMetric(float64(len(lat)), "requests")
		b.ReportMetric(float64(fails), "failed")
		b.ReportMetric(poll.Seconds(), "poll-s")
		b.ReportMetric(peak, "daemon-peak-RSS-MB")
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n >= 0 {
		return n
	}
	return def
}

// peakRSS is the peak resident set size of process pid in MB (VmHWM).
func peakRSS(b *testing.B, pid int) float64 {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Logf("peak RSS: %v", err)
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err == nil {
				return float64(kb) / 1024
			}
		}
	}
	return 0
}
