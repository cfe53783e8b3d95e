package aggregator

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics is an Observer that keeps Prometheus metrics of the service. It
// registers with the registry it is given, never the global one, so that
// two services (or two tests) never share counters.
type Metrics struct {
	sourcePolls   *prometheus.CounterVec
	cycles        *prometheus.CounterVec
	cycleDur      prometheus.Histogram
	fetches       *prometheus.CounterVec
	fetchDur      prometheus.Histogram
	fetchBytes    prometheus.Counter
	items         *prometheus.CounterVec
	storiesNew    prometheus.Counter
	storiesJoined *prometheus.CounterVec
	commitDur     prometheus.Histogram
	commitErrors  prometheus.Counter
	expired       prometheus.Counter
	lastSuccess   prometheus.Gauge
	lastCycle     prometheus.Gauge
	now           func() time.Time
}

// Label values known in advance, exported at zero from the start so that
// a dashboard sees every series before the first event.
var (
	outcomes     = []string{"ok", "not_modified", "error"}
	statusClass  = []string{"2xx", "3xx", "4xx", "5xx", "error"}
	joinedLevels = []string{"exact", "near", "similar"}
)

// NewMetrics creates the service's metrics and registers them with reg.
// now (nil: time.Now) dates the last-poll gauges.
func NewMetrics(reg prometheus.Registerer, now func() time.Time) (*Metrics, error) {
	if now == nil {
		now = time.Now
	}
	const ns = "storyfeed"
	// Fetches take from a few milliseconds (loopback, 304) to the 30 s
	// timeout.
	fetchBuckets := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	// A commit is about a millisecond without fsync and tens of
	// milliseconds with it on a slow disk.
	txBuckets := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	m := &Metrics{
		now: now,
		sourcePolls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "source_polls_total",
			Help: "Sources polled, by outcome: ok (new content), not_modified, error.",
		}, []string{"outcome"}),
		cycles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "poll_cycles_total",
			Help: "Poll cycles run, by result: ok, or failed (no source could be polled, or the database could not be written).",
		}, []string{"result"}),
		cycleDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "poll_cycle_duration_seconds",
			Help:    "Wall time of one poll cycle.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10),
		}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "fetches_total",
			Help: "HTTP fetches of feed URLs, by status class; error means no response (network error, timeout, refused address).",
		}, []string{"class"}),
		fetchDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "fetch_duration_seconds",
			Help:    "Latency of one fetch, headers and body.",
			Buckets: fetchBuckets,
		}),
		fetchBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "fetched_bytes_total",
			Help: "Body bytes received from feed URLs (after decompression).",
		}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "items_ingested_total",
			Help: "Items stored, by kind: new, or updated (changed content of a known item).",
		}, []string{"kind"}),
		storiesNew: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "stories_created_total",
			Help: "Stories founded by a new item that matched no existing story.",
		}),
		storiesJoined: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "stories_joined_total",
			Help: "New items that joined an existing story, by dedupe level.",
		}, []string{"level"}),
		commitDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "transaction_duration_seconds",
			Help:    "Duration of one database write transaction (one source's batch, or one retention batch).",
			Buckets: txBuckets,
		}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "transaction_errors_total",
			Help: "Write transactions that failed and were rolled back.",
		}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "items_expired_total",
			Help: "Items deleted by retention ([storage] keep and max_items).",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "last_successful_poll_timestamp_seconds",
			Help: "Unix time at which the last poll cycle that reached at least one source ended; 0 before the first.",
		}),
		lastCycle: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "last_poll_timestamp_seconds",
			Help: "Unix time at which the last poll cycle ended, whatever its result; 0 before the first.",
		}),
	}
	for _, o := range outcomes {
		m.sourcePolls.WithLabelValues(o)
	}
	for _, r := range []string{"ok", "failed"} {
		m.cycles.WithLabelValues(r)
	}
	for _, c := range statusClass {
		m.fetches.WithLabelValues(c)
	}
	for _, k := range []string{"new", "updated"} {
		m.items.WithLabelValues(k)
	}
	for _, l := range joinedLevels {
		m.storiesJoined.WithLabelValues(l)
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.sourcePolls, m.cycles, m.cycleDur, m.fetches, m.fetchDur,
		m.fetchBytes, m.items, m.storiesNew, m.storiesJoined, m.commitDur, m.commitErrors, m.expired,
		m.lastSuccess, m.lastCycle} {
		errs = append(errs, reg.Register(c))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// Fetched implements Observer.
func (m *Metrics) Fetched(ev FetchEvent) {
	class := "error"
	if ev.Status >= 200 && ev.Status < 600 {
		class = strconv.Itoa(ev.Status/100) + "xx"
	}
	m.fetches.WithLabelValues(class).Inc()
	m.fetchDur.Observe(ev.Dur.Seconds())
	m.fetchBytes.Add(float64(ev.Bytes))
}

// Committed implements Observer.
func (m *Metrics) Committed(ev CommitEvent) {
	m.commitDur.Observe(ev.Dur.Seconds())
	if ev.Err != nil {
		m.commitErrors.Inc()
		return
	}
	for _, l := range ev.Levels {
		if l == "new" {
			m.storiesNew.Inc()
		} else {
			m.storiesJoined.WithLabelValues(l).Inc()
		}
	}
	m.expired.Add(float64(ev.Removed))
}

// CycleDone implements Observer.
func (m *Metrics) CycleDone(c Cycle, err error) {
	m.sourcePolls.WithLabelValues("ok").Add(float64(c.OK))
	m.sourcePolls.WithLabelValues("not_modified").Add(float64(c.NotModified))
	m.sourcePolls.WithLabelValues("error").Add(float64(c.Errors))
	m.items.WithLabelValues("new").Add(float64(c.ItemsNew))
	m.items.WithLabelValues("updated").Add(float64(c.ItemsUpdate))
	m.cycleDur.Observe(c.Duration.Seconds())
	now := float64(m.now().UnixNano()) / 1e9
	m.lastCycle.Set(now)
	if err != nil {
		m.cycles.WithLabelValues("failed").Inc()
		return
	}
	m.cycles.WithLabelValues("ok").Inc()
	m.lastSuccess.Set(now)
}
