package fetch

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

// BenchmarkGetOneHost fetches a feed of 50 items (~146 KB, gzipped on the
// wire, like the feed farm's) from one loopback host with 16 fetches at once,
// the default worker count, under several per-host limits. Its MB/s (of
// decompressed feed) divided by ~2.9 KB per item is the item rate the
// fetch stage allows, to compare with the cold-poll target of 3,500
// items/s:
//
//	go test ./aggregator/fetch -run '^$' -bench GetOneHost -count 5
//
// Its reuse=true cases read every body into the buffer of the last, as a
// poll worker does; B/op shows what that saves.
func BenchmarkGetOneHost(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("the council said harbour bridge reopened after repairs minister report storm coast officials market shares rose fell week talks envoy")
	var feed bytes.Buffer
	feed.WriteString(`<?xml version="1.0"?><rss version="2.0"><channel><title>bench</title>`)
	for i := range 50 {
		fmt.Fprintf(&feed, "<item><title>Item %d</title><guid>%d</guid><description>", i, i)
		for feed.Len() < (i+1)*2900 {
			feed.WriteString(words[rng.IntN(len(words))])
			feed.WriteByte(' ')
		}
		feed.WriteString("</description></item>")
	}
	feed.WriteString("</channel></rss>")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(feed.Bytes())
	zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(gz.Bytes())
	}))
	defer srv.Close()
	for _, perHost := range []int{4, 1, 0} {
		// reuse: each goroutine reads every body into the buffer of
		// the last, as a poll worker does (GetInto).
		for _, reuse := range []bool{false, true} {
			b.Run(fmt.Sprintf("per_host=%d/reuse=%v", perHost, reuse), func(b *testing.B) {
				c := New(Options{AllowPrivate: true, PerHost: perHost})
				b.SetBytes(int64(feed.Len()))
				b.ReportAllocs()
				b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0))) // 16 goroutines in all
				b.RunParallel(func(pb *testing.PB) {
					var buf []byte
					for pb.Next() {
						res, err := c.GetInto(context.Background(), srv.URL+"/f.xml", Validators{}, buf)
						if err != nil {
							b.Error(err)
							return
						}
						if len(res.Body) != feed.Len() {
							b.Errorf("Get: %d bytes, want %d", len(res.Body), feed.Len())
							return
						}
						if reuse {
							buf = res.Body[:0]
						}
					}
				})
			})
		}
	}
}
