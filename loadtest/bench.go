// Package loadtest is the load tool behind `zhili bench`: it opens many WebSocket screens,
// drives an event rate through the ingest API, and measures how long each event takes to reach
// every screen, what was lost, and what the server spent doing it.
package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/fasthttp/websocket"
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
	if c.Drain <= 0 {
		c.Drain = 10 * time.Second
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = 30*time.Second + time.Duration(c.Clients)*20*time.Millisecond
	}
	return nil
}

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
	HTTPErrors   int64          `json:"http_errors"` // failed requests (their events count as not accepted)
	ErrorsBy     map[string]int `json:"errors_by,omitempty"`
	AchievedRate float64        `json:"achieved_rate"` // events per second while measuring
	Latency      Dist           `json:"latency_ms"`    // per request
}

// ServerMetrics are the server's /metrics before and after the run.
type ServerMetrics struct {
	Before Metrics `json:"before"`
	After  Metrics `json:"after"`
}

// Metrics are the figures read from a Prometheus text page.
type Metrics struct {
	OK         bool               `json:"ok"`
	Error      string             `json:"error,omitempty"`
	RSSBytes   float64            `json:"rss_bytes"`
	Goroutines float64            `json:"goroutines"`
	Zhili      map[string]float64 `json:"zhili,omitempty"` // zhili_* series (no histogram buckets; the table also omits _sum and _count)
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
		onMeasure := func() {
			measureStart = time.Now()
			frames0, bytes0 = b.traffic()
		}
		b.send(ctx, onMeasure)
		sendEnd = time.Now()
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

type sub struct {
	topic     []byte
	cases     bool
	snapshots int64
	lastSeq   int64
	seen      []uint64 // received event indices, nil when not tracked
	received  int64
	viaResync int64
	repeated  int64
}

type client struct {
	b       *bench
	conn    atomic.Pointer[websocket.Conn] // set once subscribed
	subs    []sub
	pending int  // topics without a first snapshot (or error)
	ready   bool // done counted in the ready group
	closing atomic.Bool
	frames  atomic.Int64
	bytes   atomic.Int64
	dropped bool
	dropErr string
	dialErr string
	gaps    int64
	errs    map[string]int
	done    chan struct{}

	// Per client, so that a million deliveries a second do not share one cache line.
	lat      hist // delivery latency, µs
	received atomic.Int64
}

// connect dials every client (staggered, a few at a time) and returns a channel closed when
// every client has all its snapshots or has failed.
func (b *bench) connect(ctx context.Context) <-chan struct{} {
	ctx, b.stopDials = context.WithCancel(ctx)
	b.dialsDone = make(chan struct{})
	var readyWG sync.WaitGroup
	readyWG.Add(b.cfg.Clients)
	all := make(chan struct{})
	dialer := &websocket.Dialer{
		NetDialContext:   (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		HandshakeTimeout: 15 * time.Second,
		ReadBufferSize:   2048,
		WriteBufferSize:  512,
		WriteBufferPool:  &sync.Pool{},
		Proxy:            http.ProxyFromEnvironment,
	}
	// Bits to remember which events each client got, within a memory budget.
	nCases := 0
	for _, c := range b.isCases {
		if c {
			nCases++
		}
	}
	words := (b.capacity + 63) / 64
	track := int64(b.cfg.Clients)*int64(nCases)*int64(words)*8 <= 256<<20
	b.clients = make([]*client, b.cfg.Clients)
	for i := range b.clients {
		c := &client{b: b, done: make(chan struct{}), errs: map[string]int{}}
		for j, t := range b.cfg.Topics {
			s := sub{topic: []byte(t), cases: b.isCases[j], lastSeq: -1}
			if s.cases && track {
				s.seen = make([]uint64, words)
			}
			c.subs = append(c.subs, s)
		}
		c.pending = len(c.subs)
		b.clients[i] = c
	}
	go func() {
		sem := make(chan struct{}, b.cfg.DialConcurrency)
		var wg sync.WaitGroup
		// Stagger: at most one dial start per millisecond, DialConcurrency in flight.
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for i, c := range b.clients {
			if ctx.Err() != nil {
				close(c.done)
				readyWG.Done()
				continue
			}
			<-tick.C
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				c.dial(ctx, dialer, b.wsURL(i), &readyWG)
			}()
			if (i+1)%500 == 0 {
				b.logf("%d clients dialed", i+1)
			}
		}
		wg.Wait()
		close(b.dialsDone)
		readyWG.Wait()
		close(all)
	}()
	return all
}

func (c *client) dial(ctx context.Context, d *websocket.Dialer, wsu string, readyWG *sync.WaitGroup) {
	h := http.Header{}
	if c.b.cfg.Token != "" {
		h.Set("Authorization", "Bearer "+c.b.cfg.Token)
	}
	conn, resp, err := d.DialContext(ctx, wsu, h)
	if err != nil {
		if resp != nil {
			c.dialErr = "dial: HTTP " + strconv.Itoa(resp.StatusCode)
		} else {
			c.dialErr = "dial: " + shortErr(err)
		}
		close(c.done)
		readyWG.Done()
		return
	}
	conn.SetReadLimit(64 << 20) // snapshots can be large
	for _, s := range c.subs {
		msg, _ := json.Marshal(map[string]string{"op": "sub", "topic": string(s.topic)})
		conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := conn.WriteMessage(websocket.TextMessage, msg); err != nil {
			c.dialErr = "subscribe: " + shortErr(err)
			conn.Close()
			close(c.done)
			readyWG.Done()
			return
		}
	}
	conn.SetWriteDeadline(time.Time{})
	c.conn.Store(conn)
	go c.read(conn, readyWG)
}

// read is the client's one goroutine: it reads frames until the connection ends.
func (c *client) read(conn *websocket.Conn, readyWG *sync.WaitGroup) {
	defer close(c.done)
	defer func() {
		if !c.ready {
			c.ready = true
			readyWG.Done()
		}
	}()
	for {
		_, r, err := conn.NextReader()
		var bp *[]byte
		if err == nil {
			// A frame is here: read it into a pooled buffer, so that idle clients hold none.
			bp = framePool.Get().(*[]byte)
			*bp, err = readAll(r, (*bp)[:0])
		}
		if err != nil {
			if !c.closing.Load() {
				c.dropped = true
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					c.dropErr = fmt.Sprintf("closed by server: %d %s", ce.Code, ce.Text)
				} else {
					c.dropErr = "connection lost: " + shortErr(err)
				}
			}
			return
		}
		now := time.Now()
		frame := *bp
		c.frames.Add(1)
		c.bytes.Add(int64(len(frame)))
		if err := scanFrameFast(frame, func(m *message) { c.handle(m, now) }); err != nil {
			c.errs["unreadable frame"]++
		}
		if cap(frame) <= 1<<20 {
			framePool.Put(bp)
		}
		if !c.ready && c.pending <= 0 {
			c.ready = true
			readyWG.Done()
		}
	}
}

var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func readAll(r io.Reader, buf []byte) ([]byte, error) {
	if cap(buf) == 0 {
		buf = make([]byte, 0, 1024)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func (c *client) sub(topic []byte) *sub {
	for i := range c.subs {
		if bytes.Equal(c.subs[i].topic, topic) {
			return &c.subs[i]
		}
	}
	return nil
}

func (c *client) handle(m *message, now time.Time) {
	switch string(m.op) {
	case "snapshot":
		s := c.sub(m.topic)
		if s == nil {
			return
		}
		s.snapshots++
		s.lastSeq = m.seq
		if s.snapshots == 1 {
			c.pending--
			return
		}
		if s.cases && s.seen != nil { // a resync: events missed from the queue may be here
			c.items(s, m.data, now, true)
		}
	case "delta":
		s := c.sub(m.topic)
		if s == nil {
			return
		}
		if s.lastSeq >= 0 && m.seq != s.lastSeq+1 {
			c.gaps++
		}
		s.lastSeq = m.seq
		if s.cases {
			c.items(s, m.data, now, false)
		}
	case "error":
		c.errs["server: "+string(m.code)]++
		if s := c.sub(m.topic); s != nil && s.snapshots == 0 {
			s.snapshots = -1 // never coming
			c.pending--
		}
	}
}

// items records the run's events listed in a cases message's data.
func (c *client) items(s *sub, data []byte, now time.Time, resync bool) {
	b := c.b
	from, to := b.measureFrom.Load(), b.measureTo.Load()
	forEachEventID(data, func(id []byte) {
		idx, ok := b.index(id)
		if !ok || idx < from || idx >= to {
			return
		}
		if s.seen != nil {
			w, bit := idx/64, uint64(1)<<(idx%64)
			if s.seen[w]&bit != 0 {
				s.repeated++
				return
			}
			s.seen[w] |= bit
		}
		sent := b.sendNs[idx].Load()
		if sent == 0 {
			return
		}
		s.received++
		c.received.Add(1)
		if resync {
			s.viaResync++
		}
		d := now.Sub(b.base) - time.Duration(sent)
		c.lat.record(d.Microseconds())
	})
}

// index parses "<prefix>-<n>".
func (b *bench) index(id []byte) (int64, bool) {
	p := b.prefix
	if len(id) <= len(p)+1 || string(id[:len(p)]) != p || id[len(p)] != '-' {
		return 0, false
	}
	var n int64
	for _, ch := range id[len(p)+1:] {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		n = n*10 + int64(ch-'0')
		if n >= int64(b.capacity) {
			return 0, false
		}
	}
	return n, true
}

func (b *bench) traffic() (frames, byts int64) {
	for _, c := range b.clients {
		frames += c.frames.Load()
		byts += c.bytes.Load()
	}
	return
}

func (b *bench) closeClients() {
	b.stopDials()
	<-b.dialsDone
	for _, c := range b.clients {
		if conn := c.conn.Load(); conn != nil {
			c.closing.Store(true)
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bench done"), time.Now().Add(time.Second))
			_ = conn.Close()
		}
	}
	for _, c := range b.clients {
		<-c.done
	}
}

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

var (
	benchSources    = []string{"hotline12345", "grid", "app", "sensor"}
	benchCategories = []string{"environment", "cityorder", "livelihood", "dispute", "safety"}
	zone            = time.FixedZone("CST", 8*3600)
)

type batch struct {
	from, to int
	body     []byte
}

// send paces case.reported events at the configured rate until warm-up plus duration have
// passed, calling onMeasure when the measured period starts.
func (b *bench) send(ctx context.Context, onMeasure func()) {
	cfg := b.cfg
	work := make(chan batch, cfg.Senders)
	var wg sync.WaitGroup
	for i := 0; i < cfg.Senders; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for bt := range work {
				b.post(ctx, bt)
			}
		}()
	}
	rng := rand.New(rand.NewPCG(uint64(b.base.UnixNano()), 11))
	start := time.Now()
	measureAt := start.Add(cfg.Warmup)
	endAt := measureAt.Add(cfg.Duration)
	tick := time.NewTicker(cfg.BatchEvery)
	defer tick.Stop()
	lastLog := start
	issued := 0
	measuring := false
	if cfg.Warmup == 0 {
		b.measureFrom.Store(0)
		measuring = true
		onMeasure()
	}
loop:
	for {
		now := time.Now()
		if !measuring && !now.Before(measureAt) {
			measuring = true
			b.measureFrom.Store(int64(issued))
			onMeasure()
			b.logf("warm-up done; measuring")
		}
		due := int(cfg.Rate*now.Sub(start).Seconds()) - issued
		if !now.Before(endAt) {
			due = int(cfg.Rate*endAt.Sub(start).Seconds()) - issued
		}
		for due > 0 && issued < b.capacity {
			n := min(due, 10000, b.capacity-issued)
			bt := b.build(rng, issued, issued+n, now)
			select {
			case work <- bt:
			case <-ctx.Done():
				break loop
			}
			issued += n
			due -= n
		}
		if now.Sub(lastLog) >= 5*time.Second {
			lastLog = now
			b.logf("sent %d events, %d deliveries, p99 %.1f ms so far", issued, b.receivedTotal(), b.latency().dist().P99)
		}
		if !now.Before(endAt) {
			break
		}
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
		}
	}
	b.measureTo.Store(int64(issued))
	if !measuring {
		b.measureFrom.Store(int64(issued))
	}
	close(work)
	wg.Wait()
}

// build writes events [from, to) as NDJSON.
func (b *bench) build(rng *rand.Rand, from, to int, now time.Time) batch {
	var buf bytes.Buffer
	buf.Grow((to - from) * 260)
	at := now.In(zone).Format("2006-01-02T15:04:05.000Z07:00")
	for i := from; i < to; i++ {
		pi := rng.IntN(len(b.points))
		b.pointOf[i] = uint16(pi)
		p := b.points[pi]
		fmt.Fprintf(&buf, `{"id":"%s-%d","type":"case.reported","case_id":"%s-c%d","at":"%s","source":"%s","category":"%s","location":{"lon":%s,"lat":%s,"crs":"wgs84"}}`+"\n",
			b.prefix, i, b.prefix, i, at, benchSources[rng.IntN(len(benchSources))], benchCategories[rng.IntN(len(benchCategories))],
			strconv.FormatFloat(p.lon, 'f', -1, 64), strconv.FormatFloat(p.lat, 'f', -1, 64))
	}
	return batch{from: from, to: to, body: buf.Bytes()}
}

type ingestResponse struct {
	Accepted   int64 `json:"accepted"`
	Duplicates int64 `json:"duplicates"`
	Rejected   []struct {
		Line  int    `json:"line"`
		ID    string `json:"id"`
		Error string `json:"error"`
	} `json:"rejected"`
}

func (b *bench) post(ctx context.Context, bt batch) {
	urls := b.cfg.urls()
	u := urls[int(b.posts.Add(1))%len(urls)] + "/api/v1/events"
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, u, bytes.NewReader(bt.body))
	if err != nil {
		panic(err) // the URL was checked
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if b.cfg.Key != "" {
		req.Header.Set("Authorization", "Bearer "+b.cfg.Key)
	}
	t := time.Now()
	stamp := int64(t.Sub(b.base))
	for i := bt.from; i < bt.to; i++ {
		b.sendNs[i].Store(stamp)
		b.status[i] = stSent
	}
	resp, err := b.http.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
	}
	b.ingLat.record(time.Since(t).Microseconds())
	n := int64(bt.to - bt.from)
	fail := func(reason string) {
		for i := bt.from; i < bt.to; i++ {
			b.status[i] = stFailed
		}
		b.ingMu.Lock()
		b.ing.HTTPErrors++
		b.ing.ErrorsBy = inc(b.ing.ErrorsBy, reason)
		b.ingMu.Unlock()
	}
	b.ingMu.Lock()
	b.ing.Requests++
	b.ing.Sent += n
	b.ingMu.Unlock()
	if err != nil {
		fail(shortErr(err))
		return
	}
	if resp.StatusCode != http.StatusOK {
		fail(fmt.Sprintf("HTTP %d %s", resp.StatusCode, firstLine(body)))
		return
	}
	var r ingestResponse
	if err := json.Unmarshal(body, &r); err != nil {
		fail("unreadable response")
		return
	}
	for i := bt.from; i < bt.to; i++ {
		b.status[i] = stAccepted
	}
	b.ingMu.Lock()
	defer b.ingMu.Unlock()
	b.ing.Accepted += r.Accepted
	b.ing.Duplicates += r.Duplicates
	b.ing.Rejected += int64(len(r.Rejected))
	for _, rj := range r.Rejected {
		if idx, ok := b.index([]byte(rj.ID)); ok && int(idx) >= bt.from && int(idx) < bt.to {
			b.status[idx] = stRejected
		} else if rj.Line >= 1 && rj.Line <= bt.to-bt.from {
			b.status[bt.from+rj.Line-1] = stRejected
		}
		reason := rj.Error
		if len(b.ing.RejectedBy) >= 20 {
			reason = "other"
		}
		b.ing.RejectedBy = inc(b.ing.RejectedBy, reason)
	}
}

func inc(m map[string]int, k string) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	m[k]++
	return m
}

func firstLine(b []byte) string {
	s := string(b)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:120]
	}
	return strings.TrimSpace(s)
}

// ---- accounting ----

// expected returns the deliveries expected over all subscribed clients, and the measured
// events accepted. Valid once sending has stopped.
func (b *bench) expected() (int64, int) {
	from, to := b.measureFrom.Load(), b.measureTo.Load()
	perTopic := make([]int64, len(b.cfg.Topics))
	events := 0
	for i := from; i < to && i < int64(b.capacity); i++ {
		if b.status[i] != stAccepted {
			continue
		}
		events++
		for t, m := range b.topicRg {
			if m != nil && m[b.pointOf[i]] {
				perTopic[t]++
			}
		}
	}
	var n int64
	for _, c := range b.clients {
		if c.conn.Load() == nil {
			continue
		}
		for t := range c.subs {
			if c.subs[t].cases {
				n += perTopic[t]
			}
		}
	}
	return n, events
}

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

// ---- metrics ----

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

// ---- report table ----

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

// ---- histogram ----

// hist is a log-linear histogram of non-negative integers (µs) with < 1% relative error,
// safe for concurrent use; its memory does not grow with the number of samples.
type hist struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Int64
}

const (
	histSubBits = 7 // 128 sub-buckets per power of two
	histSub     = 1 << histSubBits
	histBuckets = 2*histSub + 40*histSub
)

func histIndex(v int64) int {
	if v < 2*histSub {
		return int(v)
	}
	m := bits.Len64(uint64(v)) - histSubBits - 1 // ≥ 1
	i := 2*histSub + (m-1)*histSub + int(v>>m) - histSub
	return min(i, histBuckets-1)
}

func histValue(i int) int64 {
	if i < 2*histSub {
		return int64(i)
	}
	k := i - 2*histSub
	m := k/histSub + 1
	lo := int64(k%histSub+histSub) << m
	return lo + (int64(1)<<m)/2
}

func (h *hist) record(v int64) {
	if v < 0 {
		v = 0
	}
	h.counts[histIndex(v)].Add(1)
	h.n.Add(1)
	h.sum.Add(uint64(v))
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			break
		}
	}
}

func (h *hist) quantile(q float64) int64 {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	target := uint64(math.Ceil(q * float64(n)))
	if target < 1 {
		target = 1
	}
	var cum uint64
	for i := range h.counts {
		cum += h.counts[i].Load()
		if cum >= target {
			return min(histValue(i), h.max.Load())
		}
	}
	return h.max.Load()
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

func (h *hist) dist() Dist {
	n := h.n.Load()
	if n == 0 {
		return Dist{}
	}
	us := func(v int64) float64 { return float64(v) / 1000 }
	return Dist{Count: n, Mean: float64(h.sum.Load()) / float64(n) / 1000,
		P50: us(h.quantile(0.5)), P90: us(h.quantile(0.9)), P99: us(h.quantile(0.99)), Max: us(h.max.Load())}
}

// ---- frame scanning ----

// message is one server message; the slices point into the frame.
type message struct {
	op, topic, code []byte
	seq             int64
	data            []byte
}

var errFrame = errors.New("malformed frame")

// scanFrame calls fn for each message of a frame: one JSON object or an array of them. It reads
// only the keys it needs and skips the rest without decoding them.
func scanFrame(b []byte, fn func(*message)) error {
	i := skipWS(b, 0)
	if i >= len(b) {
		return errFrame
	}
	var m message
	one := func(i int) (int, error) {
		m = message{seq: -1}
		end, err := walkObject(b, i, func(key []byte, vs, ve int) error {
			switch string(key) {
			case "op":
				m.op = unquote(b[vs:ve])
			case "topic":
				m.topic = unquote(b[vs:ve])
			case "code":
				m.code = unquote(b[vs:ve])
			case "seq":
				n, err := strconv.ParseInt(string(b[vs:ve]), 10, 64)
				if err == nil {
					m.seq = n
				}
			case "data":
				m.data = b[vs:ve]
			}
			return nil
		})
		if err == nil {
			fn(&m)
		}
		return end, err
	}
	if b[i] == '[' {
		_, err := walkArray(b, i, func(vs, ve int) error {
			if b[vs] != '{' {
				return errFrame
			}
			_, err := one(vs)
			return err
		})
		return err
	}
	_, err := one(i)
	return err
}

// envelopeStart begins every message of Zhili's own encoding: "op" first, "data" last.
var envelopeStart = []byte(`{"op":"`)

// scanFrameFast is scanFrame for frames in Zhili's own message layout, which it recognises: it
// splits an array frame at each message start (item objects never hold an "op" key) and takes
// "data" as the rest of its message, so the large part of a frame is never walked byte by byte.
// Frames in any other layout go to scanFrame.
func scanFrameFast(b []byte, fn func(*message)) error {
	i := skipWS(b, 0)
	if i >= len(b) {
		return errFrame
	}
	body := b[i:]
	if body[0] == '[' {
		body = body[1:]
		body = body[skipWS(body, 0):]
	}
	if !bytes.HasPrefix(body, envelopeStart) {
		return scanFrame(b, fn)
	}
	for len(body) > 0 {
		next := bytes.Index(body[1:], envelopeStart)
		seg := body
		if next >= 0 {
			seg, body = body[:next+1], body[next+1:]
		} else {
			body = nil
		}
		m, ok := envelope(seg)
		if !ok {
			return scanFrame(b, fn)
		}
		fn(&m)
	}
	return nil
}

// envelope reads one message of seg (which may end with the separators of an array frame).
func envelope(seg []byte) (message, bool) {
	m := message{seq: -1}
	i := 1 // after '{'
	for {
		i = skipWS(seg, i)
		if i >= len(seg) || seg[i] != '"' {
			return m, false
		}
		ke, err := skipString(seg, i)
		if err != nil {
			return m, false
		}
		key := seg[i+1 : ke-1]
		i = skipWS(seg, ke)
		if i >= len(seg) || seg[i] != ':' {
			return m, false
		}
		vs := skipWS(seg, i+1)
		if string(key) == "data" {
			// The rest of the message: trim the array separator and the closing brace.
			e := len(seg)
			for e > vs && (seg[e-1] == ']' || seg[e-1] == ',' || seg[e-1] == ' ' || seg[e-1] == '\n' || seg[e-1] == '\r' || seg[e-1] == '\t') {
				e--
			}
			if e <= vs || seg[e-1] != '}' {
				return m, false
			}
			m.data = seg[vs : e-1]
			return m, true
		}
		ve, err := skipValue(seg, vs)
		if err != nil {
			return m, false
		}
		switch string(key) {
		case "op":
			m.op = unquote(seg[vs:ve])
		case "topic":
			m.topic = unquote(seg[vs:ve])
		case "code":
			m.code = unquote(seg[vs:ve])
		case "seq":
			if n, err := strconv.ParseInt(string(seg[vs:ve]), 10, 64); err == nil {
				m.seq = n
			}
		}
		i = skipWS(seg, ve)
		if i < len(seg) && seg[i] == '}' {
			return m, true // a message without data (pong, error)
		}
		if i >= len(seg) || seg[i] != ',' {
			return m, false
		}
		i++
	}
}

// forEachEventID calls fn with the value of every "id" key in data: the id of each item of
// data.events ("case_id" and "whistle_id" end differently; an escaped key inside a string does
// not match). A nested object's "id" is reported too; callers keep only ids of their own run.
// A vectorised search is far cheaper than walking the JSON at hundreds of MB/s.
func forEachEventID(data []byte, fn func(id []byte)) {
	key := []byte(`"id":"`)
	for {
		k := bytes.Index(data, key)
		if k < 0 {
			return
		}
		data = data[k+len(key):]
		e := bytes.IndexByte(data, '"')
		if e < 0 {
			return
		}
		fn(data[:e])
		data = data[e+1:]
	}
}

// unquote strips the quotes of a JSON string token. Escapes are left as they are: the values
// read here (ops, topics, ids) do not need them.
func unquote(tok []byte) []byte {
	if len(tok) >= 2 && tok[0] == '"' {
		return tok[1 : len(tok)-1]
	}
	return tok
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// walkObject walks the object at b[i] and calls fn with each key (raw, unquoted) and the span
// of its value. It returns the index after the object.
func walkObject(b []byte, i int, fn func(key []byte, vs, ve int) error) (int, error) {
	if i >= len(b) || b[i] != '{' {
		return i, errFrame
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, errFrame
		}
		ke, err := skipString(b, i)
		if err != nil {
			return i, err
		}
		key := b[i+1 : ke-1]
		i = skipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			return i, errFrame
		}
		vs := skipWS(b, i+1)
		ve, err := skipValue(b, vs)
		if err != nil {
			return i, err
		}
		if err := fn(key, vs, ve); err != nil {
			return i, err
		}
		i = skipWS(b, ve)
		if i >= len(b) {
			return i, errFrame
		}
		if b[i] == '}' {
			return i + 1, nil
		}
		if b[i] != ',' {
			return i, errFrame
		}
		i = skipWS(b, i+1)
	}
}

// walkArray walks the array at b[i], calling fn with the span of each element.
func walkArray(b []byte, i int, fn func(vs, ve int) error) (int, error) {
	if i >= len(b) || b[i] != '[' {
		return i, errFrame
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		ve, err := skipValue(b, i)
		if err != nil {
			return i, err
		}
		if err := fn(i, ve); err != nil {
			return i, err
		}
		i = skipWS(b, ve)
		if i >= len(b) {
			return i, errFrame
		}
		if b[i] == ']' {
			return i + 1, nil
		}
		if b[i] != ',' {
			return i, errFrame
		}
		i = skipWS(b, i+1)
	}
}

func skipString(b []byte, i int) (int, error) {
	// Jump from quote to quote (IndexByte is vectorised); a quote preceded by an odd number of
	// backslashes is escaped.
	j := i + 1
	for j < len(b) {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			break
		}
		j += k
		bs := 0
		for x := j - 1; x > i && b[x] == '\\'; x-- {
			bs++
		}
		if bs%2 == 0 {
			return j + 1, nil
		}
		j++
	}
	return len(b), errFrame
}

// skipValue returns the index after the JSON value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return i, errFrame
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e, err := skipString(b, j)
				if err != nil {
					return e, err
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return len(b), errFrame
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\r' && b[j] != '\t' {
		j++
	}
	if j == i {
		return i, errFrame
	}
	return j, nil
}
