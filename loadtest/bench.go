// Package loadtest is the load tool behind `zhili bench`: it opens many WebSocket screens,
// drives an event rate through the ingest API, and measures how long each event takes to reach
// every screen, what was lost, and what the server spent doing it.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paulmach/orb"

	"zhili/geo"
)

// Config configures a run. Zero fields take defaults.
type Config struct {
	URL        string        // server base URL, e.g. http://127.0.0.1:8080; several, comma-separated, spread clients and posts round-robin (scaled-out servers)
	Key        string        // ingest key (Bearer on POST /api/v1/events)
	Token      string        // view token (?token= on /ws)
	Clients    int           // WebSocket clients (default 100)
	Topics     []string      // topics per client (default cases:root)
	Rate       float64       // events per second (default 100)
	Duration   time.Duration // measured period (default 30 s)
	Warmup     time.Duration // events sent before measuring (default 5 s; negative: none)
	BatchEvery time.Duration // events are posted in NDJSON batches this often (default 20 ms)

	// Optional tuning.
	Tree            *geo.Tree     // where events are placed (default geo.DemoTree())
	DialConcurrency int           // dials in flight (default 32)
	Senders         int           // ingest requests in flight (default 8)
	Drain           time.Duration // wait for deliveries after the last event (default 10 s)
	ReadyTimeout    time.Duration // wait for every snapshot (default 30 s + 20 ms per client)
	// SampleEvery > 0 reads the server's metrics this often while measuring (Report.Samples)
	// and judges them (Report.Soak) after Settle (default a sixth of Duration, at most 5 min).
	SampleEvery time.Duration
	Settle      time.Duration
	// CloseAfter > 0 closes every case the bench reports this long after its report (a
	// case.closed event, posted beside the reports and not counted in Rate or the deliveries):
	// the server's open cases stay about Rate × CloseAfter, as a center's do, instead of
	// growing for as long as the bench runs.
	CloseAfter time.Duration
}

func (c *Config) defaults() error {
	if c.URL == "" {
		return errors.New("bench: URL is required")
	}
	for _, one := range c.urls() {
		u, err := url.Parse(one)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("bench: URL %q must be http(s)://host[:port]", one)
		}
	}
	if c.Clients < 0 {
		return errors.New("bench: clients must be ≥ 0")
	}
	if c.Clients == 0 {
		c.Clients = 100
	}
	if len(c.Topics) == 0 {
		c.Topics = []string{"cases:root"}
	}
	if c.Rate <= 0 {
		c.Rate = 100
	}
	if c.Duration <= 0 {
		c.Duration = 30 * time.Second
	}
	switch {
	case c.Warmup == 0:
		c.Warmup = 5 * time.Second
	case c.Warmup < 0:
		c.Warmup = 0
	}
	if c.BatchEvery <= 0 {
		c.BatchEvery = 20 * time.Millisecond
	}
	if c.Tree == nil {
		c.Tree = geo.DemoTree()
	}
	if c.DialConcurrency <= 0 {
		c.DialConcurrency = 32
	}
	if c.Senders <= 0 {
		c.Senders = 8
	}
	if c.SampleEvery > 0 && c.Settle <= 0 {
		c.Settle = min(c.Duration/6, 5*time.Minute)
	}
	if c.Drain <= 0 {
		c.Drain = 10 * time.Second
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = 30*time.Second + time.Duration(c.Clients)*20*time.Millisecond
	}
	return nil
}

// ---- run ----

const (
	stNone uint8 = iota
	stSent
	stAccepted
	stRejected
	stFailed
)

type bench struct {
	cfg     Config
	log     io.Writer
	logMu   sync.Mutex
	base    time.Time
	prefix  string // event id prefix, "<prefix>-<index>"
	http    *http.Client
	points  []point
	topicRg [][]bool // per topic: whether each point's path is in the topic's region (cases topics)
	isCases []bool

	capacity    int
	posts       atomic.Uint64  // ingest requests started (round-robin over the servers)
	sendNs      []atomic.Int64 // ns after base when the event's request started; 0 not sent
	pointOf     []uint16
	status      []uint8 // written by the sender that owns the event, read after senders stop
	measureFrom atomic.Int64
	measureTo   atomic.Int64 // exclusive; set when sending stops
	measuring   atomic.Bool

	ingLat hist // request latency, µs

	ingMu sync.Mutex
	ing   IngestStats

	clients   []*client
	stopDials context.CancelFunc
	dialsDone chan struct{}
}

type point struct {
	lon, lat float64
	path     []string
}

// Run runs the benchmark described by cfg, writing progress to log (nil: none).
func Run(ctx context.Context, cfg Config, log io.Writer) (Report, error) {
	if err := cfg.defaults(); err != nil {
		return Report{}, err
	}
	if log == nil {
		log = io.Discard
	}
	b := &bench{cfg: cfg, log: log, base: time.Now()}
	b.prefix = "lt" + strconv.FormatInt(b.base.UnixMilli(), 36)
	b.http = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: cfg.Senders + 2,
		DialContext: (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}}
	defer b.http.CloseIdleConnections()
	b.capacity = int(cfg.Rate*(cfg.Warmup+cfg.Duration).Seconds()*1.1) + 1024
	b.sendNs = make([]atomic.Int64, b.capacity)
	b.pointOf = make([]uint16, b.capacity)
	b.status = make([]uint8, b.capacity)
	b.measureFrom.Store(math.MaxInt64)
	b.measureTo.Store(math.MaxInt64)
	b.preparePoints()

	rep := Report{Started: b.base, URL: cfg.URL, Clients: cfg.Clients, Topics: cfg.Topics, Rate: cfg.Rate,
		DurationS: cfg.Duration.Seconds(), WarmupS: cfg.Warmup.Seconds(), BatchEvery: cfg.BatchEvery.String()}
	rep.Server.Before = b.metrics(ctx)
	if !rep.Server.Before.OK {
		b.logf("metrics: %s", rep.Server.Before.Error)
	}

	// Connect and subscribe.
	b.logf("connecting %d clients to %s (topics %s)", cfg.Clients, redact(b.wsURL(0)), strings.Join(cfg.Topics, ","))
	dialStart := time.Now()
	ready := b.connect(ctx)
	select {
	case <-ready:
	case <-time.After(cfg.ReadyTimeout):
		b.logf("not every snapshot arrived within %s; going on", cfg.ReadyTimeout)
	case <-ctx.Done():
	}
	rep.Connect.ReadyMS = ms(time.Since(dialStart))
	connected := 0
	for _, c := range b.clients {
		if c.conn.Load() != nil {
			connected++
		}
	}
	b.logf("%d/%d clients connected, subscribed in %.0f ms", connected, cfg.Clients, rep.Connect.ReadyMS)
	if connected == 0 && ctx.Err() == nil {
		err := errors.New("bench: no client could connect")
		b.closeClients()
		b.fillClientStats(&rep)
		return rep, err
	}

	// Drive the rate.
	var frames0, bytes0 int64
	var measureStart, sendEnd time.Time
	if ctx.Err() == nil {
		b.logf("sending %.0f events/s: warm-up %s, then %s measured", cfg.Rate, cfg.Warmup, cfg.Duration)
		stopSampling := make(chan struct{})
		var sampler sync.WaitGroup
		onMeasure := func() {
			measureStart = time.Now()
			frames0, bytes0 = b.traffic()
			rep.Server.Measure = b.metrics(ctx)
			if cfg.SampleEvery > 0 {
				sampler.Go(func() { b.sample(ctx, measureStart, stopSampling, &rep.Samples) })
			}
		}
		b.send(ctx, onMeasure)
		sendEnd = time.Now()
		close(stopSampling)
		sampler.Wait()
		if cfg.SampleEvery > 0 {
			rep.Soak = judgeSoak(rep.Samples, cfg.Settle)
		}
	}
	frames1, bytes1 := b.traffic()

	// Drain: wait until every expected delivery is in, or nothing moves.
	expected, _ := b.expected()
	b.drain(ctx, expected)
	rep.Server.After = b.metrics(context.WithoutCancel(ctx)) // under load: clients still connected
	b.closeClients()

	// Figures.
	b.fillClientStats(&rep)
	mdur := sendEnd.Sub(measureStart).Seconds()
	if measureStart.IsZero() || mdur <= 0 {
		mdur = 0
	}
	rep.Throughput = Throughput{Frames: frames1 - frames0, Bytes: bytes1 - bytes0}
	if mdur > 0 {
		rep.Throughput.FramesPerSec = float64(rep.Throughput.Frames) / mdur
		rep.Throughput.BytesPerSec = float64(rep.Throughput.Bytes) / mdur
	}
	rep.Latency = b.latency().dist()
	b.ingMu.Lock()
	rep.Ingest = b.ing
	b.ingMu.Unlock()
	rep.Ingest.Latency = b.ingLat.dist()
	if mdur > 0 {
		from, to := b.measureFrom.Load(), b.measureTo.Load()
		if to > from {
			rep.Ingest.AchievedRate = float64(to-from) / mdur
		}
	}
	b.fillDeliveries(&rep)
	if m0, m1 := rep.Server.Measure, rep.Server.After; m0.OK && m1.OK && len(cfg.urls()) == 1 && rep.Deliveries.Received > 0 {
		rep.Server.CPUSeconds = m1.CPUSeconds - m0.CPUSeconds
		rep.Server.CPUMicrosPerDelivery = rep.Server.CPUSeconds * 1e6 / float64(rep.Deliveries.Received)
	}
	return rep, ctx.Err()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (b *bench) logf(format string, args ...any) {
	b.logMu.Lock()
	defer b.logMu.Unlock()
	fmt.Fprintf(b.log, "%s bench: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// preparePoints samples points inside the tree's leaves and matches them against the topics.
func (b *bench) preparePoints() {
	rng := rand.New(rand.NewPCG(uint64(b.base.UnixNano()), 7))
	var leaves []*geo.Region
	b.cfg.Tree.Walk(func(r *geo.Region) {
		if len(r.Children) == 0 && !r.Bound.IsEmpty() {
			leaves = append(leaves, r)
		}
	})
	loc := geo.TreeLocator{T: b.cfg.Tree}
	for len(b.points) < 4096 && len(leaves) > 0 {
		r := leaves[rng.IntN(len(leaves))]
		for i := 0; i < 100; i++ {
			p := orb.Point{r.Bound.Min[0] + rng.Float64()*(r.Bound.Max[0]-r.Bound.Min[0]),
				r.Bound.Min[1] + rng.Float64()*(r.Bound.Max[1]-r.Bound.Min[1])}
			p = orb.Point{math.Round(p[0]*1e6) / 1e6, math.Round(p[1]*1e6) / 1e6}
			if path := loc.Locate(p); len(path) > 0 && path[len(path)-1] == r.Code {
				b.points = append(b.points, point{lon: p[0], lat: p[1], path: path})
				break
			}
		}
	}
	if len(b.points) == 0 { // a degenerate tree: the root's centre
		c := b.cfg.Tree.Root.Bound.Center()
		b.points = append(b.points, point{lon: c[0], lat: c[1], path: []string{b.cfg.Tree.Root.Code}})
	}
	b.topicRg = make([][]bool, len(b.cfg.Topics))
	b.isCases = make([]bool, len(b.cfg.Topics))
	for i, t := range b.cfg.Topics {
		parts := strings.Split(t, ":")
		if len(parts) < 2 || parts[0] != "cases" {
			continue
		}
		b.isCases[i] = true
		region := parts[1]
		if region == "root" {
			region = b.cfg.Tree.Root.Code
		}
		m := make([]bool, len(b.points))
		for j, p := range b.points {
			for _, c := range p.path {
				if c == region {
					m[j] = true
				}
			}
		}
		b.topicRg[i] = m
	}
}

// urls are the servers' base URLs.
func (c *Config) urls() []string {
	var out []string
	for _, u := range strings.Split(c.URL, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, strings.TrimRight(u, "/"))
		}
	}
	return out
}

// wsURL is the WebSocket URL of client i (clients are spread over the servers).
func (b *bench) wsURL(i int) string {
	urls := b.cfg.urls()
	u, _ := url.Parse(urls[i%len(urls)])
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/ws"
	q := url.Values{}
	if b.cfg.Token != "" {
		q.Set("token", b.cfg.Token)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// ---- clients ----

// redact hides the token in a URL for logs.
func redact(u string) string {
	if i := strings.Index(u, "token="); i >= 0 {
		return u[:i] + "token=…"
	}
	return u
}

func shortErr(err error) string {
	s := err.Error()
	// Keep the reason, not the addresses: "read tcp 1.2.3.4:5->6.7.8.9:10: read: connection reset by peer".
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.Contains(s[:i], "->") {
		s = s[i+2:]
	}
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

// ---- sending ----

// ---- accounting ----

func (b *bench) drain(ctx context.Context, expected int64) {
	deadline := time.Now().Add(b.cfg.Drain)
	last, lastChange := b.receivedTotal(), time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		got := b.receivedTotal()
		if got >= expected || b.allGone() {
			return
		}
		if got != last {
			last, lastChange = got, time.Now()
		} else if time.Since(lastChange) > 3*time.Second {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *bench) allGone() bool {
	for _, c := range b.clients {
		if c.conn.Load() != nil {
			select {
			case <-c.done:
			default:
				return false
			}
		}
	}
	return true
}

// ---- metrics ----

// ---- report table ----

// ---- histogram ----

// ---- frame scanning ----
