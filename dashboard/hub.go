// The hub fans live topics out to clients: it opens a topic on its first subscriber, advances
// every open topic when a source says it changed (Poke) or at the latest once per tick, and
// enqueues each encoded delta to every subscriber.

package dashboard

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"zhili/clock"
)

// The hub fans live topics out to clients.
//
// Delivery contract, per client and topic:
//   - the first message after sub is a snapshot, unless a resume with since is served from
//     retained deltas (or since is already the current seq);
//   - after a snapshot at seq S, only deltas S+1, S+2, ... follow, in order, until the client
//     overflows its queue, after which it gets a fresh snapshot at the then current seq;
//   - each delta and snapshot is encoded once and the same bytes go to every client.
//
// Lock order: Hub.mu, then hubTopic.mu, then Client.mu. Hub.tickMu is taken before all of them
// and only by Tick.

// HubConfig tunes the hub. Zero values take the defaults.
//
// Push is adaptive: a Poke (a source changed) advances the topics at once when the last
// fan-out has been written, so a quiet system shows an event within milliseconds; under load
// the next advance waits Coalesce times as long as the last fan-out took to write (the writers'
// share of the time stays near 1/Coalesce), so deltas coalesce and frames stay few. Tick is the
// ceiling: every open topic advances at least once per Tick, poked or not.
type HubConfig struct {
	Tick               time.Duration  // default 200ms: the longest an event waits for its delta
	Coalesce           float64        // default 10; <0: advance only on the Tick (no adaptive push)
	ClientQueue        int            // default 256 frames per client
	ClientQueueBytes   int            // default 4 MiB of frames per client (shared bytes: a lag bound, not a copy)
	Retain             int            // deltas retained per topic for resume (default 300, <0 none)
	Linger             time.Duration  // keep a topic open after its last subscriber leaves (default 2m, <0 none)
	PingEvery          time.Duration  // default 20s
	MaxTopicsPerClient int            // default 64
	Loc                *time.Location // the deployment zone of the "at" field (nil: UTC)
	MaxResyncs         int            // resyncs allowed per ResyncWindow before disconnecting (default 3)
	ResyncWindow       time.Duration  // default 1m
}

func (c HubConfig) withDefaults() HubConfig {
	if c.Tick <= 0 {
		c.Tick = 200 * time.Millisecond
	}
	if c.Coalesce == 0 {
		c.Coalesce = 10
	}
	if c.ClientQueue <= 0 {
		c.ClientQueue = 256
	}
	if c.ClientQueueBytes <= 0 {
		c.ClientQueueBytes = 4 << 20
	}
	switch {
	case c.Retain == 0:
		c.Retain = 300
	case c.Retain < 0:
		c.Retain = 0
	}
	switch {
	case c.Linger == 0:
		c.Linger = 2 * time.Minute
	case c.Linger < 0:
		c.Linger = 0
	}
	if c.PingEvery <= 0 {
		c.PingEvery = 20 * time.Second
	}
	if c.MaxTopicsPerClient <= 0 {
		c.MaxTopicsPerClient = 64
	}
	if c.Loc == nil {
		c.Loc = time.UTC
	}
	if c.MaxResyncs <= 0 {
		c.MaxResyncs = 3
	}
	if c.ResyncWindow <= 0 {
		c.ResyncWindow = time.Minute
	}
	return c
}

// HubStats are the hub's counters. Counts are totals since NewHub.
type HubStats struct {
	Clients         int
	Messages        uint64 // messages written (a batch frame of three counts three)
	Frames          uint64 // WebSocket frames written
	Bytes           uint64 // bytes written
	Advances        uint64 // advances of the open topics (on a poke or the tick)
	Resyncs         uint64 // client queue overflows answered with fresh snapshots
	SlowDisconnects uint64 // clients closed for resyncing too often
	WriteErrors     uint64 // clients closed because Write or Ping failed
	EncodeErrors    uint64 // snapshots or deltas that could not be JSON-encoded
	Topics          []TopicStat
}

// TopicStat describes one open topic.
type TopicStat struct {
	Name        string
	Seq         int64
	Subscribers int
	Retained    int // deltas retained for resume
}

// Hub fans live topics out to clients. It is safe for concurrent use.
type Hub struct {
	cfg HubConfig
	clk clock.Clock

	tickMu  sync.Mutex
	tickBuf []*hubTopic // guarded by tickMu

	mu       sync.Mutex
	sources  map[string]Source
	topics   map[string]*hubTopic
	clients  map[*Client]struct{}
	nextPing time.Time
	status   []byte // the current status frame; nil while live data is fresh and never was stale
	seqFloor int64  // highest seq of any closed topic; a new topic starts above it
	shut     bool
	stopped  chan struct{}
	gone     counters // written by clients that have left

	// Adaptive push (Run): poke wakes Run when a source changed; busy counts the clients whose
	// writer has frames queued or in hand; when it falls to flushTarget the last fan-out has
	// been written (flushed wakes Run to measure it).
	poke        chan struct{}
	flushed     chan struct{}
	busy        atomic.Int64
	flushTarget atomic.Int64 // -1 while no fan-out is being measured
	advances    atomic.Uint64

	resyncs      atomic.Uint64
	slowDrops    atomic.Uint64
	writeErrors  atomic.Uint64
	encodeErrors atomic.Uint64
}

type counters struct{ messages, frames, bytes uint64 }

// NewHub returns a hub. Call Run (or Tick) to advance topics.
func NewHub(cfg HubConfig, clk clock.Clock) *Hub {
	if clk == nil {
		clk = clock.Real{}
	}
	cfg = cfg.withDefaults()
	h := &Hub{
		cfg:      cfg,
		clk:      clk,
		sources:  map[string]Source{},
		topics:   map[string]*hubTopic{},
		clients:  map[*Client]struct{}{},
		nextPing: clk.Now().Add(cfg.PingEvery),
		stopped:  make(chan struct{}),
		poke:     make(chan struct{}, 1),
		flushed:  make(chan struct{}, 1),
	}
	h.flushTarget.Store(-1)
	return h
}

// Poke tells the hub that a source changed: Run advances the topics as soon as the last
// fan-out has been written (see HubConfig). It never blocks.
func (h *Hub) Poke() {
	select {
	case h.poke <- struct{}{}:
	default:
	}
}

// writerIdle is called by a client's writer (under its lock) when its queue ran empty.
func (h *Hub) writerIdle() {
	if n := h.busy.Add(-1); n <= h.flushTarget.Load() {
		select {
		case h.flushed <- struct{}{}:
		default:
		}
	}
}

// Register makes the hub serve topics of kind from s.
func (h *Hub) Register(kind string, s Source) {
	h.mu.Lock()
	h.sources[kind] = s
	h.mu.Unlock()
}

// Run advances the topics on a Poke (adaptively, see HubConfig) and at least every cfg.Tick,
// until ctx is done or the hub is shut down. It returns nil.
func (h *Hub) Run(ctx context.Context) error {
	tk := time.NewTicker(h.cfg.Tick)
	defer tk.Stop()
	hold := time.NewTimer(time.Hour)
	hold.Stop()
	var (
		last    time.Time     // start of the last advance
		flush   time.Duration // how long the last measured fan-out took to be written
		held    bool          // hold is set: a poke waits for the gap to pass
		measure time.Time     // start of the fan-out being measured; zero when none
	)
	poke := h.poke
	if h.cfg.Coalesce < 0 {
		poke = nil
	}
	// measured ends the measure of the last fan-out when it has been written, or after a tick
	// (a fan-out not written within a tick coalesces most).
	measured := func() {
		switch {
		case measure.IsZero():
			return
		case h.busy.Load() <= h.flushTarget.Load():
			flush = time.Since(measure)
		case time.Since(measure) >= h.cfg.Tick:
			flush = h.cfg.Tick
		default:
			return
		}
		measure = time.Time{}
		h.flushTarget.Store(-1)
	}
	advance := func() {
		if held {
			hold.Stop()
			held = false
		}
		measured()
		last = time.Now()
		before := h.busy.Load()
		if h.Tick() && measure.IsZero() {
			// Measure this fan-out: it is written when the clients busy before it are again
			// all that is busy (a stalled client does not hold the measure forever).
			measure = last
			h.flushTarget.Store(before)
			measured()
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-h.stopped:
			return nil
		case <-tk.C:
			if time.Since(last) >= h.cfg.Tick/2 || held {
				advance()
			}
		case <-h.flushed:
			measured()
		case <-poke:
			if held {
				continue
			}
			measured()
			gap := min(time.Duration(h.cfg.Coalesce*float64(flush)), h.cfg.Tick)
			if wait := gap - time.Since(last); wait > 0 {
				hold.Reset(wait)
				held = true
				continue
			}
			advance()
		case <-hold.C:
			held = false
			advance()
		}
	}
}

// Tick advances every open topic once, fans out the deltas, schedules pings and closes topics
// that have lingered without subscribers. It never waits for a client. It reports whether any
// frame was enqueued.
func (h *Hub) Tick() (sent bool) {
	h.tickMu.Lock()
	defer h.tickMu.Unlock()
	h.advances.Add(1)
	now := h.clk.Now()
	h.mu.Lock()
	if h.shut {
		h.mu.Unlock()
		return false
	}
	ts := h.tickBuf[:0]
	for _, t := range h.topics {
		ts = append(ts, t)
	}
	if !now.Before(h.nextPing) {
		h.nextPing = now.Add(h.cfg.PingEvery)
		for c := range h.clients {
			c.markPing()
		}
	}
	h.mu.Unlock()

	expired := false
	for _, t := range ts {
		exp, fanned := h.advance(t, now)
		expired = expired || exp
		sent = sent || fanned
	}
	clear(ts)
	h.tickBuf = ts[:0]
	if expired {
		h.closeIdle(now)
	}
	return sent
}

// advance runs one tick of t and reports whether t has lingered long enough to close and
// whether it enqueued a frame.
func (h *Hub) advance(t *hubTopic, now time.Time) (expired, sent bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false, false
	}
	if delta, changed := t.state.Advance(); changed {
		sent = len(t.subs) > 0
		t.seq++
		b, err := h.encode(opDelta, t, t.seq, now, delta)
		if err == nil {
			t.retain(b)
			for _, s := range t.subs {
				s.c.enqueue(s, b)
			}
		} else {
			// The delta is lost: no resume may span it, and every subscriber starts over.
			h.encodeErrors.Add(1)
			t.resetRing()
			b, err = h.snapshotLocked(t, now)
			if err != nil {
				b = errorFrame(t.name, codeBadRequest, "topic data could not be encoded")
			}
			for _, s := range t.subs {
				s.c.enqueue(s, b)
			}
		}
	}
	return len(t.subs) == 0 && !t.idleSince.IsZero() && now.Sub(t.idleSince) >= h.cfg.Linger, sent
}

// closeIdle closes the topics that have had no subscriber for cfg.Linger.
func (h *Hub) closeIdle(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for name, t := range h.topics {
		t.mu.Lock()
		if len(t.subs) == 0 && !t.idleSince.IsZero() && now.Sub(t.idleSince) >= h.cfg.Linger {
			delete(h.topics, name)
			h.closeTopicLocked(t)
		}
		t.mu.Unlock()
	}
}

// closeTopicLocked closes t; h.mu and t.mu are held.
func (h *Hub) closeTopicLocked(t *hubTopic) {
	if t.closed {
		return
	}
	t.closed = true
	h.seqFloor = max(h.seqFloor, t.seq)
	t.state.Close()
	t.resetRing()
	t.snap = nil
}

// Attach starts serving c. authorize, when not nil, is asked before every subscription.
// The caller feeds every text frame read from c to Client.Handle and calls Client.Close when
// its read loop ends.
func (h *Hub) Attach(c Conn, authorize func(Topic) error) *Client {
	cl := &Client{
		h:         h,
		conn:      c,
		authorize: authorize,
		exited:    make(chan struct{}),
	}
	h.mu.Lock()
	if h.shut {
		cl.state = stDraining // the writer closes c at once
	} else {
		h.clients[cl] = struct{}{}
	}
	status := h.status
	h.mu.Unlock()
	if status != nil {
		cl.enqueue(nil, status)
	}
	cl.signal() // a writer: the status queued above, or closing c at once after Shutdown
	return cl
}

// SetStatus sends {"op":"status",...} to every client when the status changes, and to every
// client that connects afterwards. Snapshots and deltas keep flowing from the last state.
func (h *Hub) SetStatus(st Status) {
	b, _ := json.Marshal(struct {
		Op string `json:"op"`
		Status
	}{"status", st})
	h.mu.Lock()
	if h.status == nil && !st.Stale {
		h.mu.Unlock()
		return // never stale: nothing to tell
	}
	h.status = b
	clients := make([]*Client, 0, len(h.clients))
	for c := range h.clients {
		clients = append(clients, c)
	}
	h.mu.Unlock()
	for _, c := range clients {
		c.enqueue(nil, b)
	}
}

// Shutdown stops ticking, lets every client's writer flush what is queued and close its
// connection, then closes all topics. If ctx ends first, every writer is stopped, a write in
// progress is cut short when the connection can abort it (Aborter), the topics are closed in
// the background (a snapshot being encoded holds its topic) and ctx.Err() is returned at once:
// a client that does not read never holds Shutdown past its limit. Shutdown may be called more
// than once.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	if !h.shut {
		h.shut = true
		close(h.stopped)
	}
	cs := make([]*Client, 0, len(h.clients))
	for c := range h.clients {
		cs = append(cs, c)
	}
	h.mu.Unlock()

	for _, c := range cs {
		c.drain()
	}
	for _, c := range cs {
		select {
		case <-c.exited:
		case <-ctx.Done():
			for _, c := range cs {
				c.abort()
			}
			go h.closeTopics()
			return ctx.Err()
		}
	}
	h.closeTopics()
	return nil
}

// closeTopics closes every open topic.
func (h *Hub) closeTopics() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for name, t := range h.topics {
		t.mu.Lock()
		delete(h.topics, name)
		h.closeTopicLocked(t)
		t.mu.Unlock()
	}
}

// Stats returns the current counters and the open topics sorted by name.
func (h *Hub) Stats() HubStats {
	h.mu.Lock()
	st := HubStats{
		Clients:  len(h.clients),
		Messages: h.gone.messages,
		Frames:   h.gone.frames,
		Bytes:    h.gone.bytes,
	}
	for c := range h.clients {
		st.Messages += c.messages.Load()
		st.Frames += c.frames.Load()
		st.Bytes += c.bytes.Load()
	}
	ts := make([]*hubTopic, 0, len(h.topics))
	for _, t := range h.topics {
		ts = append(ts, t)
	}
	h.mu.Unlock()

	st.Advances = h.advances.Load()
	st.Resyncs = h.resyncs.Load()
	st.SlowDisconnects = h.slowDrops.Load()
	st.WriteErrors = h.writeErrors.Load()
	st.EncodeErrors = h.encodeErrors.Load()
	st.Topics = make([]TopicStat, 0, len(ts))
	for _, t := range ts {
		t.mu.Lock()
		st.Topics = append(st.Topics, TopicStat{Name: t.name, Seq: t.seq, Subscribers: len(t.subs), Retained: len(t.ring)})
		t.mu.Unlock()
	}
	slices.SortFunc(st.Topics, func(a, b TopicStat) int { return strings.Compare(a.Name, b.Name) })
	return st
}

// hubTopic is one open topic.
type hubTopic struct {
	name     string
	nameJSON []byte // name as a JSON string
	state    TopicState

	mu        sync.Mutex
	seq       int64
	subs      []*hubSub
	ring      [][]byte // retained delta messages, seqs seq-len+1 .. seq, oldest at head
	head      int
	snap      []byte // encoded snapshot at snapSeq
	snapSeq   int64
	idleSince time.Time // when it last had no subscriber; zero while it has some
	closed    bool
}

func (t *hubTopic) retain(b []byte) {
	switch {
	case cap(t.ring) == 0:
	case len(t.ring) < cap(t.ring): // still filling, head is 0
		t.ring = append(t.ring, b)
	default:
		t.ring[t.head] = b
		t.head = (t.head + 1) % len(t.ring)
	}
}

func (t *hubTopic) resetRing() {
	clear(t.ring)
	t.ring = t.ring[:0]
	t.head = 0
}

// retained returns the i-th retained delta, oldest first.
func (t *hubTopic) retained(i int) []byte { return t.ring[(t.head+i)%len(t.ring)] }

func (t *hubTopic) addSub(s *hubSub) {
	if s.idx >= 0 {
		return
	}
	s.idx = len(t.subs)
	t.subs = append(t.subs, s)
	t.idleSince = time.Time{}
}

func (t *hubTopic) removeSub(s *hubSub, now time.Time) {
	i := s.idx
	if i < 0 || i >= len(t.subs) || t.subs[i] != s {
		return
	}
	last := len(t.subs) - 1
	t.subs[i] = t.subs[last]
	t.subs[i].idx = i
	t.subs[last] = nil
	t.subs = t.subs[:last]
	s.idx = -1
	if len(t.subs) == 0 {
		t.idleSince = now
	}
}

// snapshotLocked returns the snapshot message at t.seq, encoding it at most once per seq.
func (h *Hub) snapshotLocked(t *hubTopic, now time.Time) ([]byte, error) {
	if t.snap != nil && t.snapSeq == t.seq {
		return t.snap, nil
	}
	b, err := h.encode(opSnapshot, t, t.seq, now, t.state.Snapshot())
	if err != nil {
		h.encodeErrors.Add(1)
		return nil, err
	}
	t.snap, t.snapSeq = b, t.seq
	return b, nil
}
