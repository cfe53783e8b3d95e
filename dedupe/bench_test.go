package dedupe_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/storyfeed/storyfeed/dedupe"
	"github.com/storyfeed/storyfeed/dedupe/dedupetest"
)

// BenchmarkMatch measures one full-text decision against windows of 1k,
// 10k and 100k docs, and the index memory per windowed doc (heap growth
// while building the index, after GC, divided by the docs). The cost of a
// decision must stay flat as the window grows: candidates come from the
// tails of posting lists, never from a scan. The docs are dedupetest.NewsDocs:
// news-sized texts over a Zipf vocabulary.
func BenchmarkMatch(b *testing.B) { benchMatch(b, false) }

// BenchmarkMatchFeatures is BenchmarkMatch without the text work: the
// queries' features are extracted beforehand, so it measures the index.
func BenchmarkMatchFeatures(b *testing.B) { benchMatch(b, true) }

func benchMatch(b *testing.B, extracted bool) {
	queries := dedupetest.NewsDocs(1000, 99, day)
	qf := make([]dedupe.Features, len(queries))
	for i := range queries {
		queries[i].ID = "q" + queries[i].ID
		qf[i] = dedupe.Extract(&queries[i])
	}
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("window=%d", n), func(b *testing.B) {
			// Features as storage holds them: the index decodes its own
			// copy, so the heap growth while adding is the index's size.
			docs := dedupetest.NewsDocs(n, 1, day)
			blobs := make([][]byte, len(docs))
			for i := range docs {
				f := dedupe.Extract(&docs[i])
				var err error
				if blobs[i], err = f.MarshalBinary(); err != nil {
					b.Fatal(err)
				}
			}
			docs = nil
			before := heapInUse()
			x := dedupe.New(dedupe.Options{})
			var f dedupe.Features
			for _, blob := range blobs {
				if err := f.UnmarshalBinary(blob); err != nil {
					b.Fatal(err)
				}
				x.AddFeatures(&f, f.ID, day)
			}
			f = dedupe.Features{}
			after := heapInUse()
			runtime.KeepAlive(blobs)
			blobs = nil
			b.ReportAllocs()
			i := 0
			cpu := cpuTime()
			for b.Loop() {
				var d dedupe.Decision
				if extracted {
					d = x.MatchFeatures(&qf[i%len(qf)])
				} else {
					d = x.Match(queries[i%len(queries)])
				}
				if d.Level < dedupe.LevelNew {
					b.Fatal("bad level")
				}
				i++
			}
			reportCPU(b, cpu, i)
			runtime.KeepAlive(x)
			b.ReportMetric(float64(after-before)/float64(n), "index-B/doc")
		})
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkExtract is the text half of a decision: tokenising, weighting
// and hashing one full-text article of news size (dedupetest.NewsDocs).
func BenchmarkExtract(b *testing.B) {
	docs := dedupetest.NewsDocs(1000, 5, day)
	b.ReportAllocs()
	i := 0
	cpu := cpuTime()
	for b.Loop() {
		f := dedupe.Extract(&docs[i%len(docs)])
		if len(f.Terms) == 0 {
			b.Fatal("no terms")
		}
		i++
	}
	reportCPU(b, cpu, i)
}

// reportCPU reports the process's CPU time per operation since start, GC
// included: on a shared machine it is a steadier figure than ns/op, which
// counts the time other processes hold the cores.
func reportCPU(b *testing.B, start time.Duration, ops int) {
	if used := cpuTime() - start; used > 0 && ops > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(ops), "cpu-ns/op")
	}
}
