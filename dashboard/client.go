// The client side of the hub: one attached connection, its subscriptions, its bounded queue
// and its single writer, which combines pending messages into one frame. The writer runs only
// while the client has something to write: an idle screen holds no goroutine of the hub.

package dashboard

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"zhili/errs"
)

// Conn is one client connection. The hub calls Write, Ping and Close from one writer goroutine
// per client only. Write must neither modify nor keep frame after it returns: the bytes are
// shared with other clients. Write and Ping should be bounded by a deadline, because
// Client.Close and Hub.Shutdown wait for a write in progress.
type Conn interface {
	Write(frame []byte) error
	Ping() error
	Close() error
}

// Aborter is implemented by a Conn whose Write in progress can be cut short from another
// goroutine (by closing the transport under it). Hub.Shutdown calls Abort when its limit
// passes, so that a client that does not read holds no writer past it; the writer still calls
// Close afterwards.
type Aborter interface {
	Abort()
}

// Client is one attached connection.
type Client struct {
	h         *Hub
	conn      Conn
	authorize func(Topic) error
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
	busy      bool        // counted in Hub.busy: frames queued or in the writer's hand
	writing   bool        // a writer goroutine runs (or has finished: it stays true then)
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
			code := codeForbidden
			if errs.CodeOf(err) == errs.UnknownTopic {
				code = codeUnknownTopic // a topic the viewer must not learn exists
			}
			c.fail(name, code, messageOf(err, "topic not allowed for this viewer"))
			return
		}
	}
	// The limit holds before any topic opens, for every client: one draining or closing (a slow
	// one) opens nothing.
	c.mu.Lock()
	open := c.state == stOpen
	full := c.findSub(name) == nil && len(c.subs) >= h.cfg.MaxTopicsPerClient
	c.mu.Unlock()
	if !open {
		return
	}
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

// abort stops the client and cuts a write in progress short when the connection can.
func (c *Client) abort() {
	c.stop()
	select {
	case <-c.exited:
	default:
		if a, ok := c.conn.(Aborter); ok {
			a.Abort()
		}
	}
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

// signal makes sure a writer runs: it starts one when none does. Callers change c's state
// under c.mu first; a running writer reads it under c.mu before it leaves, so no change is
// missed. c.mu must not be held.
func (c *Client) signal() {
	c.mu.Lock()
	start := c.wakeLocked()
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// wakeLocked marks the writer as running and reports whether the caller must start it (go
// c.writeLoop() once c.mu is released); c.mu is held. The fan-out calls it under the lock it
// already holds instead of signal, which would take the lock again for every subscriber.
func (c *Client) wakeLocked() bool {
	start := !c.writing
	c.writing = true
	return start
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
	} else {
		c.pending = append(c.pending, b)
		c.pendingB += len(b)
		c.markBusy()
	}
	start := c.wakeLocked()
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// markBusy counts c in Hub.busy; c.mu is held.
func (c *Client) markBusy() {
	if !c.busy {
		c.busy = true
		c.h.busy.Add(1)
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
	for i := len(t.ring) - n; i < len(t.ring); i++ {
		c.pending = append(c.pending, t.retained(i))
		c.pendingB += len(t.retained(i))
	}
	c.extra += n
	c.markBusy()
	start := c.wakeLocked()
	c.mu.Unlock()
	if start {
		go c.writeLoop()
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

// writeLoop is the client's only writer: it owns conn. It writes until nothing is left to
// write and leaves; signal starts it again. When the client is closed (or drained) it closes
// conn and stays finished.
func (c *Client) writeLoop() {
	var spare [][]byte
	for {
		c.mu.Lock()
		st := c.state
		if st == stClosed {
			c.mu.Unlock()
			c.finish()
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
		ping := c.pingDue
		if len(batch) == 0 && !ping {
			if c.busy {
				c.busy = false
				c.h.writerIdle()
			}
			if st == stDraining {
				c.mu.Unlock()
				c.finish()
				return
			}
			if c.pending == nil {
				c.pending = spare // the next enqueue appends without allocating
			}
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.pending = spare
		c.pendingB = 0
		c.extra = 0
		c.pingDue = false
		c.mu.Unlock()

		if len(batch) > 0 {
			if err := c.write(batch); err != nil {
				c.h.writeErrors.Add(1)
				c.finish()
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
				c.finish()
				return
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
	if c.busy {
		c.busy = false
		c.h.writerIdle()
	}
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
