package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"zhili/errs"
	"zhili/internal/clock"
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

// Conn is one client connection. The hub calls Write, Ping and Close from one writer goroutine
// per client only. Write must neither modify nor keep frame after it returns: the bytes are
// shared with other clients. Write and Ping should be bounded by a deadline, because
// Client.Close and Hub.Shutdown wait for a write in progress.
type Conn interface {
	Write(frame []byte) error
	Ping() error
	Close() error
}

// HubConfig tunes the hub. Zero values take the defaults.
type HubConfig struct {
	Tick               time.Duration  // default 200ms: at most one delta per topic per tick
	ClientQueue        int            // default 256 frames per client
	ClientQueueBytes   int            // default 4 MiB of frames per client (shared bytes: a lag bound, not a copy)
	Retain             int            // deltas retained per topic for resume (default 300, <0 none)
	Linger             time.Duration  // keep a topic open after its last subscriber leaves (default 2m, <0 none)
	PingEvery          time.Duration  // default 20s
	MaxTopicsPerClient int            // default 64
	Loc                *time.Location // for the "at" field (default Asia/Shanghai)
	MaxResyncs         int            // resyncs allowed per ResyncWindow before disconnecting (default 3)
	ResyncWindow       time.Duration  // default 1m
}

func (c HubConfig) withDefaults() HubConfig {
	if c.Tick <= 0 {
		c.Tick = 200 * time.Millisecond
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
		c.Loc = shanghai()
	}
	if c.MaxResyncs <= 0 {
		c.MaxResyncs = 3
	}
	if c.ResyncWindow <= 0 {
		c.ResyncWindow = time.Minute
	}
	return c
}

// shanghai returns Asia/Shanghai, or UTC+8 when the zone database is missing (China has no DST).
func shanghai() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*3600)
}

// HubStats are the hub's counters. Counts are totals since NewHub.
type HubStats struct {
	Clients         int
	Messages        uint64 // messages written (a batch frame of three counts three)
	Frames          uint64 // WebSocket frames written
	Bytes           uint64 // bytes written
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
	return &Hub{
		cfg:      cfg,
		clk:      clk,
		sources:  map[string]Source{},
		topics:   map[string]*hubTopic{},
		clients:  map[*Client]struct{}{},
		nextPing: clk.Now().Add(cfg.PingEvery),
		stopped:  make(chan struct{}),
	}
}

// Register makes the hub serve topics of kind from s.
func (h *Hub) Register(kind string, s Source) {
	h.mu.Lock()
	h.sources[kind] = s
	h.mu.Unlock()
}

// Run ticks every cfg.Tick until ctx is done or the hub is shut down. It returns nil.
func (h *Hub) Run(ctx context.Context) error {
	tk := time.NewTicker(h.cfg.Tick)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-h.stopped:
			return nil
		case <-tk.C:
			h.Tick()
		}
	}
}

// Tick advances every open topic once, fans out the deltas, schedules pings and closes topics
// that have lingered without subscribers. It never waits for a client.
func (h *Hub) Tick() {
	h.tickMu.Lock()
	defer h.tickMu.Unlock()
	now := h.clk.Now()
	h.mu.Lock()
	if h.shut {
		h.mu.Unlock()
		return
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
		if h.advance(t, now) {
			expired = true
		}
	}
	clear(ts)
	h.tickBuf = ts[:0]
	if expired {
		h.closeIdle(now)
	}
}

// advance runs one tick of t and reports whether t has lingered long enough to close.
func (h *Hub) advance(t *hubTopic, now time.Time) (expired bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	if delta, changed := t.state.Advance(); changed {
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
	return len(t.subs) == 0 && !t.idleSince.IsZero() && now.Sub(t.idleSince) >= h.cfg.Linger
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
		wake:      make(chan struct{}, 1),
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
	go cl.writeLoop()
	cl.signal()
	return cl
}

// Status tells screens whether the live data behind the topics is current.
type Status struct {
	Stale  bool      `json:"stale"`
	Reason string    `json:"reason,omitempty"` // e.g. live_bus_unavailable
	Since  time.Time `json:"since"`            // when this status began
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
// connection, then closes all topics. If ctx ends first, writers stop after the write in
// progress and ctx.Err() is returned. Shutdown may be called more than once.
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
	var err error
wait:
	for _, c := range cs {
		select {
		case <-c.exited:
		case <-ctx.Done():
			err = ctx.Err()
			for _, c := range cs {
				c.stop()
			}
			break wait
		}
	}

	h.mu.Lock()
	for name, t := range h.topics {
		t.mu.Lock()
		delete(h.topics, name)
		h.closeTopicLocked(t)
		t.mu.Unlock()
	}
	h.mu.Unlock()
	return err
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

const (
	opSnapshot = "snapshot"
	opDelta    = "delta"

	codeBadRequest   = "bad_request"
	codeUnknownTopic = "unknown_topic"
	codeForbidden    = "forbidden"

	atLayout = "2006-01-02T15:04:05.000Z07:00"
)

var pongFrame = []byte(`{"op":"pong"}`)

type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

// encode builds one snapshot or delta message.
func (h *Hub) encode(op string, t *hubTopic, seq int64, at time.Time, data any) ([]byte, error) {
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	e.buf.Reset()
	if err := e.enc.Encode(data); err != nil {
		return nil, err
	}
	d := bytes.TrimSuffix(e.buf.Bytes(), []byte{'\n'})
	msg := make([]byte, 0, len(d)+len(t.nameJSON)+96)
	return appendMessage(msg, op, t.nameJSON, seq, at.In(h.cfg.Loc), d), nil
}

func appendMessage(dst []byte, op string, topicJSON []byte, seq int64, at time.Time, data []byte) []byte {
	dst = append(dst, `{"op":"`...)
	dst = append(dst, op...)
	dst = append(dst, `","topic":`...)
	dst = append(dst, topicJSON...)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, `,"at":"`...)
	dst = at.AppendFormat(dst, atLayout)
	dst = append(dst, `","data":`...)
	dst = append(dst, data...)
	return append(dst, '}')
}

func errorFrame(topic, code, message string) []byte {
	b, _ := json.Marshal(struct {
		Op      string `json:"op"`
		Topic   string `json:"topic,omitempty"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}{"error", topic, code, message})
	return b
}

// openCode maps a Source.Open error to a wire error code.
func openCode(err error) string {
	switch errs.CodeOf(err) {
	case errs.UnknownTopic:
		return codeUnknownTopic
	case errs.Forbidden:
		return codeForbidden
	}
	return codeBadRequest
}

// messageOf returns the human message of err, or fallback for errors that are not *errs.Error.
func messageOf(err error, fallback string) string {
	var e *errs.Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return fallback
}

// Client is one attached connection.
type Client struct {
	h         *Hub
	conn      Conn
	authorize func(Topic) error
	wake      chan struct{} // wakes the writer
	exited    chan struct{} // closed when the writer has closed conn and left every topic

	messages, frames, bytes atomic.Uint64

	mu        sync.Mutex
	state     clientState
	pending   [][]byte // frames for the writer, bounded by cfg.ClientQueue + extra
	pendingB  int      // bytes in pending, bounded by cfg.ClientQueueBytes
	extra     int      // resumed deltas in pending, which do not count against the bound
	subs      []*hubSub
	pingDue   bool
	resyncDue bool
	resyncs   []time.Time // recent overflows, for the disconnect rule
}

type clientState uint8

const (
	stOpen     clientState = iota
	stDraining             // flush what is queued, then close
	stClosed               // close after the write in progress
)

// hubSub is one client's subscription to one topic.
type hubSub struct {
	c   *Client
	t   *hubTopic
	idx int // position in t.subs, -1 when not there; guarded by t.mu
	// stale is set when the client's queue overflowed: deltas are dropped until a fresh
	// snapshot is queued. Guarded by c.mu.
	stale bool
}

type request struct {
	Op    string `json:"op"`
	Topic string `json:"topic"`
	Since *int64 `json:"since"`
}

// Handle processes one client→server text frame: sub, unsub or ping.
func (c *Client) Handle(msg []byte) {
	var req request
	if err := json.Unmarshal(msg, &req); err != nil {
		c.enqueue(nil, errorFrame("", codeBadRequest, "a message must be a JSON object with an op"))
		return
	}
	switch req.Op {
	case "sub":
		c.subscribe(req.Topic, req.Since)
	case "unsub":
		c.unsubscribe(req.Topic)
	case "ping":
		c.enqueue(nil, pongFrame)
	default:
		c.enqueue(nil, errorFrame(req.Topic, codeBadRequest, fmt.Sprintf("unknown op %q (sub, unsub, ping)", req.Op)))
	}
}

func (c *Client) fail(topic, code, message string) {
	c.enqueue(nil, errorFrame(topic, code, message))
}

func (c *Client) subscribe(name string, since *int64) {
	h := c.h
	tp, err := ParseTopic(name)
	if err != nil {
		c.fail(name, codeBadRequest, messageOf(err, "bad topic"))
		return
	}
	h.mu.Lock()
	src := h.sources[tp.Kind]
	h.mu.Unlock()
	if src == nil {
		c.fail(name, codeUnknownTopic, fmt.Sprintf("unknown topic kind %q", tp.Kind))
		return
	}
	if c.authorize != nil {
		if err := c.authorize(tp); err != nil {
			c.fail(name, codeForbidden, messageOf(err, "topic not allowed for this viewer"))
			return
		}
	}
	c.mu.Lock()
	full := c.state == stOpen && c.findSub(name) == nil && len(c.subs) >= h.cfg.MaxTopicsPerClient
	c.mu.Unlock()
	if full {
		c.fail(name, codeBadRequest, fmt.Sprintf("at most %d topics per connection", h.cfg.MaxTopicsPerClient))
		return
	}

	h.mu.Lock()
	if h.shut {
		h.mu.Unlock()
		return
	}
	now := h.clk.Now()
	t, fresh := h.topics[name], false
	if t == nil {
		st, err := src.Open(tp)
		if err == nil && st == nil {
			err = errs.E(errs.UnknownTopic, "topic", "no such topic")
		}
		if err != nil {
			h.mu.Unlock()
			c.fail(name, openCode(err), messageOf(err, "topic cannot be opened"))
			return
		}
		nameJSON, _ := json.Marshal(name)
		t = &hubTopic{
			name:      name,
			nameJSON:  nameJSON,
			state:     st,
			seq:       max(now.UnixMilli(), h.seqFloor+1),
			ring:      make([][]byte, 0, h.cfg.Retain),
			idleSince: now,
		}
		h.topics[name] = t
		fresh = true
	}
	t.mu.Lock()
	h.mu.Unlock()
	defer t.mu.Unlock()

	c.mu.Lock()
	if c.state != stOpen {
		c.mu.Unlock()
		return
	}
	s := c.findSub(name)
	if s != nil && s.t != t { // left over from a closed incarnation
		c.dropSub(s)
		s = nil
	}
	if s == nil {
		if len(c.subs) >= h.cfg.MaxTopicsPerClient {
			c.mu.Unlock()
			c.fail(name, codeBadRequest, fmt.Sprintf("at most %d topics per connection", h.cfg.MaxTopicsPerClient))
			return
		}
		s = &hubSub{c: c, t: t, idx: -1}
		c.subs = append(c.subs, s)
	}
	// What follows brings the client to t.seq, so a pending resync of s is moot.
	s.stale = false
	c.mu.Unlock()
	t.addSub(s)

	switch {
	case since != nil && !fresh && *since == t.seq:
		// Already current.
	case since != nil && !fresh && *since < t.seq && *since >= t.seq-int64(len(t.ring)):
		c.resume(s, int(t.seq-*since))
	default:
		b, err := h.snapshotLocked(t, now)
		if err != nil {
			b = errorFrame(name, codeBadRequest, "topic data could not be encoded")
		}
		c.enqueue(s, b)
	}
}

func (c *Client) unsubscribe(name string) {
	c.mu.Lock()
	s := c.findSub(name)
	c.mu.Unlock()
	if s == nil {
		return
	}
	// Leave c.subs and t.subs under t.mu together, so that a concurrent sub of the same
	// topic cannot leave two subscriptions in t.subs.
	t := s.t
	t.mu.Lock()
	c.mu.Lock()
	c.dropSub(s)
	c.mu.Unlock()
	t.removeSub(s, c.h.clk.Now())
	t.mu.Unlock()
}

// findSub and dropSub need c.mu.
func (c *Client) findSub(name string) *hubSub {
	for _, s := range c.subs {
		if s.t.name == name {
			return s
		}
	}
	return nil
}

func (c *Client) dropSub(s *hubSub) {
	if i := slices.Index(c.subs, s); i >= 0 {
		c.subs = slices.Delete(c.subs, i, i+1)
	}
}

// Close stops the client and waits for its writer to close the connection. It is idempotent.
func (c *Client) Close() {
	c.stop()
	<-c.exited
}

func (c *Client) stop() {
	c.mu.Lock()
	if c.state != stClosed {
		c.state = stClosed
		clear(c.pending)
		c.pending = c.pending[:0]
		c.pendingB = 0
		c.extra = 0
	}
	c.mu.Unlock()
	c.signal()
}

func (c *Client) drain() {
	c.mu.Lock()
	if c.state == stOpen {
		c.state = stDraining
	}
	c.mu.Unlock()
	c.signal()
}

func (c *Client) markPing() {
	c.mu.Lock()
	c.pingDue = c.state == stOpen
	c.mu.Unlock()
	c.signal()
}

func (c *Client) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// enqueue queues frame b for the writer. s is the subscription b belongs to, or nil for frames
// outside any topic. When s is not nil the caller holds s.t.mu.
func (c *Client) enqueue(s *hubSub, b []byte) {
	c.mu.Lock()
	if c.state != stOpen || s != nil && s.stale {
		c.mu.Unlock()
		return
	}
	if len(c.pending) >= c.h.cfg.ClientQueue+c.extra || c.pendingB+len(b) > c.h.cfg.ClientQueueBytes {
		c.overflowLocked()
		c.mu.Unlock()
		c.signal()
		return
	}
	c.pending = append(c.pending, b)
	c.pendingB += len(b)
	first := len(c.pending) == 1
	c.mu.Unlock()
	if first {
		c.signal()
	}
}

// resume queues the last n retained deltas of s.t; the caller holds s.t.mu. They do not count
// against the queue bound (Retain bounds them): a resume must not turn into a resync.
func (c *Client) resume(s *hubSub, n int) {
	t := s.t
	c.mu.Lock()
	if c.state != stOpen || s.stale {
		c.mu.Unlock()
		return
	}
	first := len(c.pending) == 0
	for i := len(t.ring) - n; i < len(t.ring); i++ {
		c.pending = append(c.pending, t.retained(i))
		c.pendingB += len(t.retained(i))
	}
	c.extra += n
	c.mu.Unlock()
	if first {
		c.signal()
	}
}

// overflowLocked drops the queue and asks the writer for fresh snapshots, or closes the
// client when it has overflowed too often. c.mu is held.
func (c *Client) overflowLocked() {
	h := c.h
	h.resyncs.Add(1)
	clear(c.pending)
	c.pending = c.pending[:0]
	c.pendingB = 0
	c.extra = 0
	for _, s := range c.subs {
		s.stale = true
	}
	c.resyncDue = true

	now := h.clk.Now()
	keep := c.resyncs[:0]
	for _, at := range c.resyncs {
		if now.Sub(at) < h.cfg.ResyncWindow {
			keep = append(keep, at)
		}
	}
	c.resyncs = append(keep, now)
	if len(c.resyncs) > h.cfg.MaxResyncs {
		h.slowDrops.Add(1)
		c.state = stClosed
	}
}

// writeLoop is the client's only writer: it owns conn.
func (c *Client) writeLoop() {
	defer c.finish()
	var spare [][]byte
	for {
		<-c.wake
		for {
			c.mu.Lock()
			st := c.state
			if st == stClosed {
				c.mu.Unlock()
				return
			}
			if c.resyncDue && st == stOpen {
				c.resyncDue = false
				subs := slices.Clone(c.subs)
				c.mu.Unlock()
				c.resync(subs)
				continue
			}
			batch := c.pending
			c.pending = spare
			c.pendingB = 0
			c.extra = 0
			ping := c.pingDue
			c.pingDue = false
			c.mu.Unlock()

			if len(batch) == 0 && !ping {
				spare = batch
				if st == stDraining {
					return
				}
				break
			}
			if len(batch) > 0 {
				if err := c.write(batch); err != nil {
					c.h.writeErrors.Add(1)
					return
				}
			}
			clear(batch)
			if cap(batch) > 32 {
				batch = nil // let a burst's queue go
			}
			spare = batch[:0]
			if ping {
				if err := c.conn.Ping(); err != nil {
					c.h.writeErrors.Add(1)
					return
				}
			}
		}
	}
}

// maxBatch bounds the size of one array frame; a larger backlog goes out in several frames.
const maxBatch = 256 << 10

var framePool = sync.Pool{New: func() any { return new([]byte) }}

// write sends batch: one message as is, several as one JSON array frame of the same bytes.
func (c *Client) write(batch [][]byte) error {
	for len(batch) > 0 {
		n, size := 1, len(batch[0])+2
		for n < len(batch) && size+len(batch[n])+1 <= maxBatch {
			size += len(batch[n]) + 1
			n++
		}
		var err error
		if n == 1 {
			err = c.conn.Write(batch[0])
			size = len(batch[0])
		} else {
			bp := framePool.Get().(*[]byte)
			buf := append((*bp)[:0], '[')
			for i, m := range batch[:n] {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = append(buf, m...)
			}
			buf = append(buf, ']')
			err = c.conn.Write(buf)
			if cap(buf) <= maxBatch+64 {
				*bp = buf[:0]
				framePool.Put(bp)
			}
		}
		if err != nil {
			return err
		}
		c.messages.Add(uint64(n))
		c.frames.Add(1)
		c.bytes.Add(uint64(size))
		batch = batch[n:]
	}
	return nil
}

// resync queues a fresh snapshot of every subscription still marked stale. Called by the
// writer without locks held.
func (c *Client) resync(subs []*hubSub) {
	h := c.h
	now := h.clk.Now()
	for _, s := range subs {
		t := s.t
		t.mu.Lock()
		if !t.closed && s.idx >= 0 {
			b, err := h.snapshotLocked(t, now)
			if err != nil {
				b = errorFrame(t.name, codeBadRequest, "topic data could not be encoded")
			}
			c.mu.Lock()
			// Snapshots bypass the bound: at most one per topic, and MaxTopicsPerClient caps those.
			if c.state == stOpen && s.stale {
				s.stale = false
				c.pending = append(c.pending, b)
				c.pendingB += len(b)
			}
			c.mu.Unlock()
		}
		t.mu.Unlock()
	}
}

// finish runs when the writer ends: it closes conn and removes the client from its topics
// and from the hub.
func (c *Client) finish() {
	_ = c.conn.Close()
	c.mu.Lock()
	c.state = stClosed
	subs := c.subs
	c.subs = nil
	clear(c.pending)
	c.pending = nil
	c.mu.Unlock()

	h := c.h
	now := h.clk.Now()
	for _, s := range subs {
		s.t.mu.Lock()
		s.t.removeSub(s, now)
		s.t.mu.Unlock()
	}
	h.mu.Lock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		h.gone.messages += c.messages.Load()
		h.gone.frames += c.frames.Load()
		h.gone.bytes += c.bytes.Load()
	}
	h.mu.Unlock()
	close(c.exited)
}
