// The report: what a run measured (connections, deliveries, latency, throughput, ingest, the
// server's own metrics) and its table.

package loadtest

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a run. Latencies are in milliseconds.
type Report struct {
	Started    time.Time `json:"started"`
	URL        string    `json:"url"`
	Clients    int       `json:"clients"`
	Topics     []string  `json:"topics"`
	Rate       float64   `json:"rate"`
	DurationS  float64   `json:"duration_s"`
	WarmupS    float64   `json:"warmup_s"`
	BatchEvery string    `json:"batch_every"`

	Connect    ConnectStats  `json:"connect"`
	Latency    Dist          `json:"latency_ms"` // event posted → item in a cases delta, per (client, event)
	Deliveries Deliveries    `json:"deliveries"`
	Throughput Throughput    `json:"throughput"` // delivered to all clients during the measured period
	Ingest     IngestStats   `json:"ingest"`
	Server     ServerMetrics `json:"server"`
	Samples    []Sample      `json:"samples,omitempty"` // the server's metrics while measuring (Config.SampleEvery)
	Soak       *Soak         `json:"soak,omitempty"`    // the samples judged
}

// ConnectStats describes the clients' connections.
type ConnectStats struct {
	Connected    int            `json:"connected"`               // dialed and subscribed
	DialErrors   int            `json:"dial_errors"`             // failed dials (by reason in Errors)
	NotReady     int            `json:"not_ready"`               // connected but not every snapshot in time
	ReadyMS      float64        `json:"ready_ms"`                // from the first dial to the last snapshot
	Dropped      int            `json:"dropped"`                 // connections closed by the server or failed
	Resyncs      int64          `json:"resyncs"`                 // snapshots received after the first, per topic
	SeqGaps      int64          `json:"seq_gaps"`                // deltas whose seq did not follow
	Errors       map[string]int `json:"errors,omitempty"`        // dial and drop reasons
	ServerErrors map[string]int `json:"server_errors,omitempty"` // {"op":"error"} codes received
}

// Dist is a latency distribution in milliseconds.
type Dist struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// Deliveries counts (client, topic, event) deliveries of the events posted while measuring and
// accepted by the server, on the clients' cases topics.
type Deliveries struct {
	Events           int   `json:"events"`             // measured events accepted
	Expected         int64 `json:"expected"`           // over all subscribed clients
	Received         int64 `json:"received"`           // distinct deliveries
	Missing          int64 `json:"missing"`            // expected − received
	MissingOnDropped int64 `json:"missing_on_dropped"` // part of Missing on clients the server dropped
	ViaResync        int64 `json:"via_resync"`         // first seen in a resync snapshot
	Repeated         int64 `json:"repeated"`           // the same event again on the same topic
	Deduplicated     bool  `json:"deduplicated"`       // false when too many to track (counts may include repeats)
}

// Throughput is what the server pushed to all clients together.
type Throughput struct {
	Frames       int64   `json:"frames"`
	Bytes        int64   `json:"bytes"`
	FramesPerSec float64 `json:"frames_per_s"`
	BytesPerSec  float64 `json:"bytes_per_s"`
}

// IngestStats describes the ingest side over the whole run (warm-up included).
type IngestStats struct {
	Requests     int64          `json:"requests"`
	Sent         int64          `json:"sent"` // events posted
	Accepted     int64          `json:"accepted"`
	Duplicates   int64          `json:"duplicates"`
	Rejected     int64          `json:"rejected"`
	RejectedBy   map[string]int `json:"rejected_by,omitempty"`
	Closes       int64          `json:"closes,omitempty"` // case.closed events posted beside (CloseAfter), in none of the counts above
	HTTPErrors   int64          `json:"http_errors"`      // failed requests (their events count as not accepted)
	ErrorsBy     map[string]int `json:"errors_by,omitempty"`
	AchievedRate float64        `json:"achieved_rate"` // events per second while measuring
	Latency      Dist           `json:"latency_ms"`    // per request
}

// ServerMetrics are the server's /metrics before and after the run. CPU is the server's own
// process CPU time (process_cpu_seconds_total) from the start of the measured period to the
// last delivery, per delivery received: what it costs to ingest, store and push one event to
// one client. Only with one server URL (the figures are the first server's).
type ServerMetrics struct {
	Before               Metrics `json:"before"`
	Measure              Metrics `json:"measure"` // at the start of the measured period
	After                Metrics `json:"after"`
	CPUSeconds           float64 `json:"cpu_s,omitempty"`
	CPUMicrosPerDelivery float64 `json:"cpu_us_per_delivery,omitempty"`
}

// Metrics are the figures read from a Prometheus text page.
type Metrics struct {
	OK         bool               `json:"ok"`
	Error      string             `json:"error,omitempty"`
	RSSBytes   float64            `json:"rss_bytes"`
	HeapLive   float64            `json:"heap_live_bytes,omitempty"`       // zhili_go_heap_live_bytes: the heap the last GC kept
	MemLimit   float64            `json:"go_memory_limit_bytes,omitempty"` // go_gc_gomemlimit_bytes when set (--memory-limit, GOMEMLIMIT)
	CPUSeconds float64            `json:"cpu_s"`                           // process_cpu_seconds_total
	Goroutines float64            `json:"goroutines"`
	Zhili      map[string]float64 `json:"zhili,omitempty"` // zhili_* series (no histogram buckets; the table also omits _sum and _count)
}

// fillClientStats must run after every reader has stopped.
func (b *bench) fillClientStats(rep *Report) {
	cs := &rep.Connect
	for _, c := range b.clients {
		if c.dialErr != "" {
			cs.DialErrors++
			cs.Errors = inc(cs.Errors, c.dialErr)
			continue
		}
		if c.conn.Load() == nil {
			continue
		}
		cs.Connected++
		if c.pending > 0 {
			cs.NotReady++
		}
		if c.dropped {
			cs.Dropped++
			cs.Errors = inc(cs.Errors, c.dropErr)
		}
		for _, s := range c.subs {
			if s.snapshots > 1 {
				cs.Resyncs += s.snapshots - 1
			}
		}
		cs.SeqGaps += c.gaps
		for k, v := range c.errs {
			if strings.HasPrefix(k, "server: ") {
				if cs.ServerErrors == nil {
					cs.ServerErrors = map[string]int{}
				}
				cs.ServerErrors[strings.TrimPrefix(k, "server: ")] += v
			} else {
				if cs.Errors == nil {
					cs.Errors = map[string]int{}
				}
				cs.Errors[k] += v
			}
		}
	}
}

func (b *bench) fillDeliveries(rep *Report) {
	d := &rep.Deliveries
	from, to := b.measureFrom.Load(), b.measureTo.Load()
	perTopic := make([]int64, len(b.cfg.Topics))
	for i := from; i < to && i < int64(b.capacity); i++ {
		if b.status[i] != stAccepted {
			continue
		}
		d.Events++
		for t, m := range b.topicRg {
			if m != nil && m[b.pointOf[i]] {
				perTopic[t]++
			}
		}
	}
	d.Deduplicated = true
	for _, c := range b.clients {
		if c.conn.Load() == nil {
			continue
		}
		for t, s := range c.subs {
			if !s.cases {
				continue
			}
			if s.seen == nil {
				d.Deduplicated = false
			}
			d.Expected += perTopic[t]
			d.Received += s.received
			d.ViaResync += s.viaResync
			d.Repeated += s.repeated
			if miss := perTopic[t] - s.received; miss > 0 && c.dropped {
				d.MissingOnDropped += miss
			}
		}
	}
	d.Missing = max(0, d.Expected-d.Received)
}

func (b *bench) metrics(ctx context.Context) Metrics {
	u := b.cfg.urls()[0] + "/metrics" // the first server's figures
	var last string
	for _, auth := range []string{"", b.cfg.Token, b.cfg.Key} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return Metrics{Error: err.Error()}
		}
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := b.http.Do(req)
		if err != nil {
			return Metrics{Error: shortErr(err)}
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
		resp.Body.Close()
		if err != nil {
			return Metrics{Error: shortErr(err)}
		}
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			last = fmt.Sprintf("GET /metrics: HTTP %d", resp.StatusCode)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return Metrics{Error: fmt.Sprintf("GET /metrics: HTTP %d", resp.StatusCode)}
		}
		return ParseMetrics(body)
	}
	return Metrics{Error: last}
}

// ParseMetrics reads the figures the report needs from a Prometheus text exposition.
func ParseMetrics(page []byte) Metrics {
	m := Metrics{OK: true}
	found := 0
	for _, line := range strings.Split(string(page), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		// name{labels} value [timestamp]; label values may hold spaces.
		var series, rest string
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				continue
			}
			series, rest = line[:j+1], line[j+1:]
		} else if i := strings.IndexAny(line, " \t"); i >= 0 {
			series, rest = line[:i], line[i:]
		} else {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		name := series
		if i := strings.IndexByte(series, '{'); i >= 0 {
			name = series[:i]
		}
		switch {
		case name == "process_resident_memory_bytes":
			m.RSSBytes = v
			found++
		case name == "process_cpu_seconds_total":
			m.CPUSeconds = v
		case name == "zhili_go_heap_live_bytes":
			m.HeapLive = v
		case name == "go_gc_gomemlimit_bytes":
			if v < 1<<62 { // unset: math.MaxInt64
				m.MemLimit = v
			}
		case name == "go_goroutines":
			m.Goroutines = v
			found++
		case strings.HasPrefix(name, "zhili_") && !strings.HasSuffix(name, "_bucket"):
			if m.Zhili == nil {
				m.Zhili = map[string]float64{}
			}
			if len(m.Zhili) < 500 {
				m.Zhili[series] = v
			}
		}
	}
	if found == 0 && m.Zhili == nil {
		m.OK = false
		m.Error = "no known metrics on /metrics"
	}
	return m
}

// Table writes a readable summary of the report.
func (r Report) Table(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k string, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, args...))
	}
	note := func(format string, args ...any) { fmt.Fprintf(tw, "    "+format+"\n", args...) } // outside the columns
	sec := func(title string) { fmt.Fprintf(tw, "\n%s\n", title) }
	fmt.Fprintf(tw, "zhili bench %s\n", r.URL)
	fmt.Fprintf(tw, "%d clients × %s, %g events/s, %gs measured after %gs warm-up, batches every %s\n",
		r.Clients, strings.Join(r.Topics, ","), r.Rate, r.DurationS, r.WarmupS, r.BatchEvery)

	sec("event → screen latency")
	l := r.Latency
	row("  deliveries timed", "%d", l.Count)
	row("  p50 / p90 / p99", "%s / %s / %s", msStr(l.P50), msStr(l.P90), msStr(l.P99))
	row("  max / mean", "%s / %s", msStr(l.Max), msStr(l.Mean))

	sec("deliveries")
	d := r.Deliveries
	row("  events measured", "%d accepted", d.Events)
	row("  expected / received", "%d / %d", d.Expected, d.Received)
	miss := fmt.Sprintf("%d", d.Missing)
	if d.Expected > 0 {
		miss += fmt.Sprintf(" (%.3f%%)", 100*float64(d.Missing)/float64(d.Expected))
	}
	if d.MissingOnDropped > 0 {
		miss += fmt.Sprintf(", %d on dropped clients", d.MissingOnDropped)
	}
	row("  missing", "%s", miss)
	if d.ViaResync > 0 || d.Repeated > 0 {
		row("  via resync / repeated", "%d / %d", d.ViaResync, d.Repeated)
	}
	if !d.Deduplicated {
		row("  note", "too many to track individually: repeats are counted as received")
	}

	sec("clients")
	c := r.Connect
	row("  connected", "%d of %d (subscribed in %.0f ms)", c.Connected, r.Clients, c.ReadyMS)
	row("  dial errors / not ready", "%d / %d", c.DialErrors, c.NotReady)
	row("  dropped by server", "%d", c.Dropped)
	row("  resyncs / seq gaps", "%d / %d", c.Resyncs, c.SeqGaps)
	t := r.Throughput
	row("  pushed", "%.0f frames/s, %s/s (%d frames, %s)", t.FramesPerSec, bytesStr(t.BytesPerSec), t.Frames, bytesStr(float64(t.Bytes)))
	for _, k := range sortedKeys(c.Errors) {
		note("%s: %d", k, c.Errors[k])
	}
	for _, k := range sortedKeys(c.ServerErrors) {
		note("server error %s: %d", k, c.ServerErrors[k])
	}

	sec("ingest")
	in := r.Ingest
	row("  requests / events", "%d / %d (%.1f events/s measured)", in.Requests, in.Sent, in.AchievedRate)
	row("  accepted / duplicates / rejected", "%d / %d / %d", in.Accepted, in.Duplicates, in.Rejected)
	if in.Closes > 0 {
		row("  cases closed beside", "%d", in.Closes)
	}
	row("  HTTP errors", "%d", in.HTTPErrors)
	row("  request p50 / p99 / max", "%s / %s / %s", msStr(in.Latency.P50), msStr(in.Latency.P99), msStr(in.Latency.Max))
	for _, k := range sortedKeys(in.RejectedBy) {
		note("rejected: %s: %d", k, in.RejectedBy[k])
	}
	for _, k := range sortedKeys(in.ErrorsBy) {
		note("%s: %d", k, in.ErrorsBy[k])
	}

	sec("server")
	b, a := r.Server.Before, r.Server.After
	if !b.OK && !a.OK {
		row("  metrics", "unavailable (%s)", a.Error)
	} else {
		row("  RSS before → after", "%s → %s", bytesStr(b.RSSBytes), bytesStr(a.RSSBytes))
		row("  goroutines before → after", "%.0f → %.0f", b.Goroutines, a.Goroutines)
		if r.Soak != nil {
			row("  soak", "%s", soakLine(r.Soak))
		}
		if r.Server.CPUMicrosPerDelivery > 0 {
			row("  CPU while measuring", "%.2f s, %.3f µs per delivery", r.Server.CPUSeconds, r.Server.CPUMicrosPerDelivery)
		}
		keys := map[string]bool{}
		for k := range b.Zhili {
			keys[k] = true
		}
		for k := range a.Zhili {
			keys[k] = true
		}
		for _, k := range sortedKeys(keys) {
			if name, _, _ := strings.Cut(k, "{"); strings.HasSuffix(name, "_sum") || strings.HasSuffix(name, "_count") {
				continue // in the JSON report only
			}
			bv, bok := b.Zhili[k]
			av, aok := a.Zhili[k]
			switch {
			case bok && aok:
				row("  "+k, "%s → %s", num(bv), num(av))
			case aok:
				row("  "+k, "%s", num(av))
			default:
				row("  "+k, "%s → (gone)", num(bv))
			}
		}
	}
	tw.Flush()
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func msStr(v float64) string {
	switch {
	case v >= 10000:
		return fmt.Sprintf("%.1f s", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	}
	return fmt.Sprintf("%.1f ms", v)
}

func bytesStr(v float64) string {
	switch {
	case v >= 1<<30:
		return fmt.Sprintf("%.2f GiB", v/(1<<30))
	case v >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case v >= 1<<10:
		return fmt.Sprintf("%.1f KiB", v/(1<<10))
	}
	return fmt.Sprintf("%.0f B", v)
}

func num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// receivedTotal sums the clients' deliveries.
func (b *bench) receivedTotal() int64 {
	var n int64
	for _, c := range b.clients {
		n += c.received.Load()
	}
	return n
}

// latency merges the clients' latency histograms.
func (b *bench) latency() *hist {
	var m hist
	for _, c := range b.clients {
		for i := range c.lat.counts {
			if v := c.lat.counts[i].Load(); v > 0 {
				m.counts[i].Add(v)
			}
		}
		m.n.Add(c.lat.n.Load())
		m.sum.Add(c.lat.sum.Load())
		if v := c.lat.max.Load(); v > m.max.Load() {
			m.max.Store(v)
		}
	}
	return &m
}
