package dedupe_test

import (
	"testing"

	"github.com/storyfeed/storyfeed/dedupe"
)

// BenchmarkExtractArticles is BenchmarkExtract on news-like text: the
// golden docs, written and mixed from testdata/articles.txt, with their
// accents, numbers, quotes, joined words and outlet credits.
func BenchmarkExtractArticles(b *testing.B) {
	docs := goldenDocs(b)
	b.ReportAllocs()
	i := 0
	cpu := cpuTime()
	for b.Loop() {
		dedupe.Extract(&docs[i%len(docs)])
		i++
	}
	reportCPU(b, cpu, i)
}

// BenchmarkCites finds the outlets the golden docs credit.
func BenchmarkCites(b *testing.B) {
	docs := goldenDocs(b)
	b.ReportAllocs()
	i := 0
	cpu := cpuTime()
	for b.Loop() {
		d := &docs[i%len(docs)]
		dedupe.Cites(d.Text, d.Outlet)
		i++
	}
	reportCPU(b, cpu, i)
}
