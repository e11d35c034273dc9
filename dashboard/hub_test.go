package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"zhili/clock"
	"zhili/errs"
)

// t0 is 2026-11-27 08:15:31.120 in Asia/Shanghai.
var t0 = time.Date(2026, 11, 27, 0, 15, 31, 120_000_000, time.UTC)

const waitLimit = 5 * time.Second

// counterSource opens counter topics: the state is a number, the delta its new value.
type counterSource struct {
	mu     sync.Mutex
	opens  int
	states map[string]*counterState
}

func newCounterSource() *counterSource { return &counterSource{states: map[string]*counterState{}} }

func (s *counterSource) Open(t Topic) (TopicState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &counterState{}
	s.states[t.Name] = st
	s.opens++
	return st, nil
}

func (s *counterSource) state(name string) *counterState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.states[name]
}

func (s *counterSource) openCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens
}

type counterState struct {
	mu      sync.Mutex
	n, pub  int
	closed  bool
	advance int
}

type counterData struct {
	N int `json:"n"`
}

func (s *counterState) Add(k int) { s.mu.Lock(); s.n += k; s.mu.Unlock() }

func (s *counterState) Snapshot() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return counterData{s.pub}
}

func (s *counterState) Advance() (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance++
	if s.n == s.pub {
		return nil, false
	}
	s.pub = s.n
	return counterData{s.n}, true
}

func (s *counterState) Close() { s.mu.Lock(); s.closed = true; s.mu.Unlock() }

func (s *counterState) isClosed() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.closed }

// errSource fails Open according to the region.
type errSource struct{}

func (errSource) Open(t Topic) (TopicState, error) {
	switch t.Region {
	case "unknown":
		return nil, errs.E(errs.UnknownTopic, "topic.region", "no region %q", t.Region)
	case "forbidden":
		return nil, errs.E(errs.Forbidden, "topic.region", "not yours")
	case "invalid":
		return nil, errs.E(errs.Invalid, "topic.window", "no window here")
	case "nil":
		return nil, nil
	}
	return nil, errors.New("store down")
}

type wireMsg struct {
	Op      string          `json:"op"`
	Topic   string          `json:"topic"`
	Seq     int64           `json:"seq"`
	At      string          `json:"at"`
	Data    json.RawMessage `json:"data"`
	Code    string          `json:"code"`
	Message string          `json:"message"`
}

func (m wireMsg) n(t *testing.T) int {
	t.Helper()
	var d counterData
	if err := json.Unmarshal(m.Data, &d); err != nil {
		t.Fatalf("data %s: %v", m.Data, err)
	}
	return d.N
}

// fakeConn records what the hub writes. With a gate, every Write first takes a token from it.
type fakeConn struct {
	t       *testing.T
	gate    chan struct{}
	release sync.Once
	entered chan struct{} // a token per Write started
	notify  chan struct{}
	closedC chan struct{}
	slow    bool
	delay   time.Duration // each Write sleeps this long (under mu: set it before the writes)

	mu       sync.Mutex
	frames   [][]byte
	ptrs     []*byte // first byte of each frame as written, to check that bytes are shared
	msgs     []wireMsg
	read     int // msgs consumed by the test
	pings    int
	closes   int
	writeErr error
}

func newConn(t *testing.T) *fakeConn {
	return &fakeConn{
		t:       t,
		entered: make(chan struct{}, 1024),
		notify:  make(chan struct{}, 1),
		closedC: make(chan struct{}),
	}
}

func newGatedConn(t *testing.T) *fakeConn {
	f := newConn(t)
	f.gate = make(chan struct{})
	t.Cleanup(f.open)
	return f
}

// open lets every Write through from now on.
func (f *fakeConn) open() { f.release.Do(func() { close(f.gate) }) }

func (f *fakeConn) poke() {
	select {
	case f.notify <- struct{}{}:
	default:
	}
}

func (f *fakeConn) Write(frame []byte) error {
	select {
	case f.entered <- struct{}{}:
	default:
	}
	if f.gate != nil {
		<-f.gate
	}
	if f.slow {
		for range 3 {
			runtime.Gosched()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.poke()
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	if f.writeErr != nil {
		return f.writeErr
	}
	if len(frame) == 0 {
		f.t.Errorf("empty frame")
		return nil
	}
	f.frames = append(f.frames, slices.Clone(frame))
	f.ptrs = append(f.ptrs, &frame[0])
	if frame[0] == '[' {
		var ms []wireMsg
		if err := json.Unmarshal(frame, &ms); err != nil || len(ms) < 2 {
			f.t.Errorf("bad batch frame %s: %v", frame, err)
		}
		f.msgs = append(f.msgs, ms...)
		return nil
	}
	var m wireMsg
	if err := json.Unmarshal(frame, &m); err != nil {
		f.t.Errorf("bad frame %s: %v", frame, err)
	}
	f.msgs = append(f.msgs, m)
	return nil
}

func (f *fakeConn) Ping() error {
	f.mu.Lock()
	f.pings++
	f.mu.Unlock()
	f.poke()
	return nil
}

func (f *fakeConn) Close() error {
	f.mu.Lock()
	f.closes++
	if f.closes == 1 {
		close(f.closedC)
	} else {
		f.t.Errorf("conn closed %d times", f.closes)
	}
	f.mu.Unlock()
	f.poke()
	return nil
}

// waitFor waits until cond, evaluated under f.mu, holds.
func (f *fakeConn) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	timer := time.NewTimer(waitLimit)
	defer timer.Stop()
	for {
		f.mu.Lock()
		ok := cond()
		f.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-f.notify:
		case <-timer.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// next waits for n more messages and returns them.
func (f *fakeConn) next(t *testing.T, n int) []wireMsg {
	t.Helper()
	var out []wireMsg
	f.waitFor(t, fmt.Sprintf("%d messages", n), func() bool {
		if len(f.msgs)-f.read < n {
			return false
		}
		out = slices.Clone(f.msgs[f.read : f.read+n])
		f.read += n
		return true
	})
	return out
}

func (f *fakeConn) all() []wireMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.msgs)
}

func (f *fakeConn) waitClosed(t *testing.T) {
	t.Helper()
	select {
	case <-f.closedC:
	case <-time.After(waitLimit):
		t.Fatal("connection not closed")
	}
}

func (f *fakeConn) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-f.entered:
	case <-time.After(waitLimit):
		t.Fatal("no Write started")
	}
}

// waitUntil polls cond, for state that has no channel to wait on.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

// testClient is an attached fake connection.
type testClient struct {
	*fakeConn
	cl *Client
}

func attach(t *testing.T, h *Hub, f *fakeConn, authorize func(Topic) error) *testClient {
	return &testClient{fakeConn: f, cl: h.Attach(f, authorize)}
}

func (c *testClient) send(format string, args ...any) { c.cl.Handle(fmt.Appendf(nil, format, args...)) }

func (c *testClient) sub(topic string) { c.send(`{"op":"sub","topic":%q}`, topic) }

// flush returns every message delivered before a pong answering a fresh ping: since the queue
// is FIFO, everything queued before the ping has been written by then.
func (c *testClient) flush(t *testing.T) []wireMsg {
	t.Helper()
	c.send(`{"op":"ping"}`)
	var out []wireMsg
	c.waitFor(t, "pong", func() bool {
		for i := c.read; i < len(c.msgs); i++ {
			if c.msgs[i].Op == "pong" {
				out = slices.Clone(c.msgs[c.read:i])
				c.read = i + 1
				return true
			}
		}
		return false
	})
	return out
}

func newTestHub(t *testing.T, cfg HubConfig) (*Hub, *clock.Fake, *counterSource) {
	t.Helper()
	clk := clock.NewFake(t0)
	if cfg.Loc == nil {
		// The deployment zone, as the process passes it: "at" carries its offset.
		cfg.Loc, _ = time.LoadLocation("Asia/Shanghai")
	}
	h := NewHub(cfg, clk)
	src := newCounterSource()
	h.Register("overview", src)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return h, clk, src
}

func wantMsg(t *testing.T, m wireMsg, op, topic string, seq int64) {
	t.Helper()
	if m.Op != op || m.Topic != topic || m.Seq != seq {
		t.Fatalf("got %s %s seq %d, want %s %s seq %d", m.Op, m.Topic, m.Seq, op, topic, seq)
	}
}

// checkOrder verifies the delivery contract on one client's stream: per topic, a snapshot
// comes first, deltas follow it contiguously, and a later snapshot never goes back.
func checkOrder(t *testing.T, msgs []wireMsg) {
	t.Helper()
	last := map[string]int64{}
	for i, m := range msgs {
		switch m.Op {
		case "snapshot":
			if l, ok := last[m.Topic]; ok && m.Seq < l {
				t.Fatalf("msg %d: snapshot %s seq %d after seq %d", i, m.Topic, m.Seq, l)
			}
			last[m.Topic] = m.Seq
		case "delta":
			l, ok := last[m.Topic]
			if !ok {
				t.Fatalf("msg %d: delta %s seq %d before any snapshot", i, m.Topic, m.Seq)
			}
			if m.Seq != l+1 {
				t.Fatalf("msg %d: delta %s seq %d after seq %d", i, m.Topic, m.Seq, l)
			}
			last[m.Topic] = m.Seq
		}
	}
}

func TestHubSnapshotFirst(t *testing.T) {
	h, clk, _ := newTestHub(t, HubConfig{})
	c := attach(t, h, newConn(t), nil)
	c.sub("overview:root")
	got := c.next(t, 1)
	if rest := c.flush(t); len(rest) != 0 {
		t.Fatalf("got %d more messages, want 1 snapshot", len(rest))
	}
	base := clk.Now().UnixMilli()
	wantMsg(t, got[0], "snapshot", "overview:root", base)
	c.mu.Lock()
	frame := string(c.frames[0])
	c.mu.Unlock()
	want := fmt.Sprintf(`{"op":"snapshot","topic":"overview:root","seq":%d,"at":"2026-11-27T08:15:31.120+08:00","data":{"n":0}}`, base)
	if frame != want {
		t.Fatalf("frame\n%s\nwant\n%s", frame, want)
	}
}

func TestHubDeltaSeq(t *testing.T) {
	h, clk, src := newTestHub(t, HubConfig{})
	c := attach(t, h, newConn(t), nil)
	c.sub("overview:root")
	base := c.flush(t)[0].Seq
	st := src.state("overview:root")

	st.Add(1)
	clk.Add(200 * time.Millisecond)
	h.Tick()
	got := c.next(t, 1)
	wantMsg(t, got[0], "delta", "overview:root", base+1)
	if got[0].n(t) != 1 || got[0].At != "2026-11-27T08:15:31.320+08:00" {
		t.Fatalf("delta data %s at %s", got[0].Data, got[0].At)
	}
	c.mu.Lock()
	frame := string(c.frames[len(c.frames)-1])
	c.mu.Unlock()
	if want := fmt.Sprintf(`{"op":"delta","topic":"overview:root","seq":%d,"at":"2026-11-27T08:15:31.320+08:00","data":{"n":1}}`, base+1); frame != want {
		t.Fatalf("frame\n%s\nwant\n%s", frame, want)
	}

	// No change, no delta, no seq.
	h.Tick()
	h.Tick()
	if got := c.flush(t); len(got) != 0 {
		t.Fatalf("got %v without a change", got)
	}

	// Many changes in one tick coalesce into one delta.
	for range 5 {
		st.Add(2)
	}
	h.Tick()
	got = c.flush(t)
	if len(got) != 1 {
		t.Fatalf("got %d messages, want 1 coalesced delta", len(got))
	}
	wantMsg(t, got[0], "delta", "overview:root", base+2)
	if got[0].n(t) != 11 {
		t.Fatalf("coalesced delta %s, want n=11", got[0].Data)
	}
	if s := h.Stats(); len(s.Topics) != 1 || s.Topics[0].Seq != base+2 || s.Topics[0].Subscribers != 1 {
		t.Fatalf("stats %+v", s.Topics)
	}
}

func TestHubBatchesPendingFrames(t *testing.T) {
	h, _, src := newTestHub(t, HubConfig{})
	f := newGatedConn(t)
	c := attach(t, h, f, nil)
	c.sub("overview:root")
	f.waitEntered(t) // the writer holds the snapshot
	st := src.state("overview:root")
	for range 3 {
		st.Add(1)
		h.Tick()
	}
	c.send(`{"op":"ping"}`)
	f.open()
	got := c.next(t, 5)
	base := got[0].Seq
	wantMsg(t, got[0], "snapshot", "overview:root", base)
	for i := 1; i <= 3; i++ {
		wantMsg(t, got[i], "delta", "overview:root", base+int64(i))
	}
	if got[4].Op != "pong" {
		t.Fatalf("last message %+v, want pong", got[4])
	}
	c.mu.Lock()
	frames := slices.Clone(c.frames)
	c.mu.Unlock()
	if len(frames) != 2 || frames[1][0] != '[' {
		t.Fatalf("want the snapshot and one array frame, got %d frames: %q", len(frames), frames)
	}
	if !strings.HasSuffix(string(frames[1]), `,{"op":"pong"}]`) {
		t.Fatalf("batch is not a plain concatenation: %s", frames[1])
	}
}

func TestHubEncodesOnce(t *testing.T) {
	h, _, src := newTestHub(t, HubConfig{})
	a := attach(t, h, newConn(t), nil)
	b := attach(t, h, newConn(t), nil)
	a.sub("overview:root")
	b.sub("overview:root")
	a.next(t, 1)
	b.next(t, 1)
	src.state("overview:root").Add(1)
	h.Tick()
	a.next(t, 1)
	b.next(t, 1)
	c := attach(t, h, newConn(t), nil)
	c.sub("overview:root")
	c.next(t, 1)

	// Frames: snapshot, delta.
	if a.ptrs[0] != b.ptrs[0] {
		t.Error("snapshot at the same seq encoded twice")
	}
	if a.ptrs[1] != b.ptrs[1] {
		t.Error("delta encoded per subscriber")
	}
	if c.ptrs[0] == a.ptrs[0] {
		t.Error("snapshot at a newer seq reused the old bytes")
	}
}

func TestHubSlowClientResync(t *testing.T) {
	h, _, src := newTestHub(t, HubConfig{ClientQueue: 4})
	fast := attach(t, h, newConn(t), nil)
	sf := newGatedConn(t)
	slow := attach(t, h, sf, nil)
	fast.sub("overview:root")
	slow.sub("overview:root")
	base := fast.flush(t)[0].Seq
	sf.waitEntered(t) // blocked writing its snapshot
	st := src.state("overview:root")

	for i := 1; i <= 10; i++ {
		st.Add(1)
		h.Tick()
		m := fast.next(t, 1)[0]
		wantMsg(t, m, "delta", "overview:root", base+int64(i))
	}
	if s := h.Stats(); s.Resyncs != 1 || s.SlowDisconnects != 0 {
		t.Fatalf("resyncs %d, slow disconnects %d; want 1, 0", s.Resyncs, s.SlowDisconnects)
	}

	sf.open()
	got := slow.next(t, 2)
	wantMsg(t, got[0], "snapshot", "overview:root", base)
	wantMsg(t, got[1], "snapshot", "overview:root", base+10)
	if got[1].n(t) != 10 {
		t.Fatalf("resync snapshot %s, want n=10", got[1].Data)
	}
	for i := 11; i <= 12; i++ {
		st.Add(1)
		h.Tick()
	}
	got = slow.flush(t)
	if len(got) != 2 {
		t.Fatalf("after resync got %v", got)
	}
	wantMsg(t, got[0], "delta", "overview:root", base+11)
	wantMsg(t, got[1], "delta", "overview:root", base+12)
	fast.flush(t)
	checkOrder(t, fast.all())
	checkOrder(t, slow.all())
}

func TestHubDisconnectsRepeatedlySlowClient(t *testing.T) {
	for _, tc := range []struct {
		name    string
		spacing time.Duration
		kicked  bool
	}{
		{"within a minute", 10 * time.Second, true},
		{"spread out", 61 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, clk, src := newTestHub(t, HubConfig{ClientQueue: 2})
			f := newConn(t)
			f.gate = make(chan struct{})
			c := attach(t, h, f, nil)
			c.sub("overview:root")
			f.waitEntered(t)
			st := src.state("overview:root")
			for k := 1; k <= 4; k++ {
				clk.Add(tc.spacing)
				for range 3 { // two fill the queue, the third overflows
					st.Add(1)
					h.Tick()
				}
				if got := h.Stats().Resyncs; got != uint64(k) {
					t.Fatalf("overflow %d: resyncs %d", k, got)
				}
				if k < 4 {
					f.gate <- struct{}{} // finish the write in progress
					f.waitEntered(t)     // the writer now holds the resync snapshot
				}
			}
			s := h.Stats()
			if kicked := s.SlowDisconnects == 1; kicked != tc.kicked {
				t.Fatalf("slow disconnects %d, want kicked=%v", s.SlowDisconnects, tc.kicked)
			}
			close(f.gate)
			if !tc.kicked {
				cur := s.Topics[0].Seq
				c.waitFor(t, "the resync snapshot", func() bool {
					return len(c.msgs) > 0 && c.msgs[len(c.msgs)-1].Op == "snapshot" && c.msgs[len(c.msgs)-1].Seq == cur
				})
				checkOrder(t, f.all())
				return
			}
			f.waitClosed(t)
			c.cl.Close()
			if s := h.Stats(); s.Clients != 0 || s.Topics[0].Subscribers != 0 {
				t.Fatalf("after disconnect: %+v", s)
			}
			checkOrder(t, f.all())
		})
	}
}

func TestHubResume(t *testing.T) {
	h, clk, src := newTestHub(t, HubConfig{Retain: 3})
	a := attach(t, h, newConn(t), nil)
	a.sub("overview:root")
	base := a.flush(t)[0].Seq
	st := src.state("overview:root")
	for range 5 {
		st.Add(1)
		h.Tick()
	}
	a.cl.Close() // the topic lingers, retaining base+3..base+5
	var resumed []*testClient
	resume := func(since int64) *testClient {
		c := attach(t, h, newConn(t), nil)
		resumed = append(resumed, c)
		c.send(`{"op":"sub","topic":"overview:root","since":%d}`, since)
		return c
	}

	b := resume(base + 3)
	got := b.flush(t)
	if len(got) != 2 {
		t.Fatalf("since base+3: got %v", got)
	}
	wantMsg(t, got[0], "delta", "overview:root", base+4)
	wantMsg(t, got[1], "delta", "overview:root", base+5)

	e := resume(base + 2)
	if got := e.flush(t); len(got) != 3 || got[0].Seq != base+3 || got[0].Op != "delta" {
		t.Fatalf("since base+2: got %v", got)
	}

	c := resume(base + 5)
	if got := c.flush(t); len(got) != 0 {
		t.Fatalf("since == seq: got %v", got)
	}

	for _, since := range []int64{base + 1, base + 9, 0, -1} {
		d := resume(since)
		got := d.flush(t)
		if len(got) != 1 {
			t.Fatalf("since %d: got %v", since, got)
		}
		wantMsg(t, got[0], "snapshot", "overview:root", base+5)
	}

	// Every resumed client continues with the next delta.
	st.Add(1)
	h.Tick()
	for _, x := range []*testClient{b, c, e} {
		got := x.flush(t)
		if len(got) != 1 {
			t.Fatalf("after resume: got %v", got)
		}
		wantMsg(t, got[0], "delta", "overview:root", base+6)
	}

	// A since from a closed incarnation gets a snapshot of the new one.
	for _, x := range resumed {
		x.send(`{"op":"unsub","topic":"overview:root"}`)
	}
	clk.Add(3 * time.Minute)
	h.Tick() // closes the lingering topic
	clk.Add(time.Second)
	f := resume(base + 6)
	got = f.flush(t)
	if len(got) != 1 {
		t.Fatalf("new incarnation: got %v", got)
	}
	wantMsg(t, got[0], "snapshot", "overview:root", clk.Now().UnixMilli())
}

func TestHubResumeLongerThanQueue(t *testing.T) {
	h, _, src := newTestHub(t, HubConfig{Retain: 10, ClientQueue: 4})
	a := attach(t, h, newConn(t), nil)
	a.sub("overview:root")
	base := a.next(t, 1)[0].Seq
	st := src.state("overview:root")
	for i := 1; i <= 8; i++ {
		st.Add(1)
		h.Tick()
		a.next(t, 1)
	}
	b := attach(t, h, newConn(t), nil)
	b.send(`{"op":"sub","topic":"overview:root","since":%d}`, base)
	got := b.flush(t)
	if len(got) != 8 || got[0].Op != "delta" || got[0].Seq != base+1 || got[7].Seq != base+8 {
		t.Fatalf("got %+v, want deltas %d..%d", got, base+1, base+8)
	}
	if s := h.Stats(); s.Resyncs != 0 {
		t.Fatalf("a resume counted as %d resyncs", s.Resyncs)
	}
}

func TestHubLinger(t *testing.T) {
	h, clk, src := newTestHub(t, HubConfig{Linger: 2 * time.Minute})
	a := attach(t, h, newConn(t), nil)
	a.sub("overview:root")
	base := a.flush(t)[0].Seq
	a.cl.Close()
	a.cl.Close() // idempotent
	st := src.state("overview:root")

	clk.Add(time.Minute)
	st.Add(1)
	h.Tick()
	s := h.Stats()
	if len(s.Topics) != 1 || s.Topics[0].Seq != base+1 || s.Topics[0].Subscribers != 0 || s.Topics[0].Retained != 1 || st.isClosed() {
		t.Fatalf("lingering topic should still advance: %+v closed=%v", s.Topics, st.isClosed())
	}

	clk.Add(time.Minute + time.Second)
	h.Tick()
	if s := h.Stats(); len(s.Topics) != 0 || !st.isClosed() {
		t.Fatalf("topic should be closed after linger: %+v closed=%v", s.Topics, st.isClosed())
	}

	b := attach(t, h, newConn(t), nil)
	b.sub("overview:root")
	got := b.flush(t)
	if src.openCount() != 2 {
		t.Fatalf("opens %d, want 2", src.openCount())
	}
	wantMsg(t, got[0], "snapshot", "overview:root", clk.Now().UnixMilli())

	// Coming back within the linger keeps the same state.
	b.send(`{"op":"unsub","topic":"overview:root"}`)
	clk.Add(time.Minute)
	h.Tick()
	b.sub("overview:root")
	b.flush(t)
	if src.openCount() != 2 {
		t.Fatalf("opens %d, want 2", src.openCount())
	}
}

func TestHubLingerReopenSameMillisecond(t *testing.T) {
	h, _, src := newTestHub(t, HubConfig{Linger: -1})
	a := attach(t, h, newConn(t), nil)
	a.sub("overview:root")
	base := a.flush(t)[0].Seq
	src.state("overview:root").Add(1)
	h.Tick()
	a.send(`{"op":"unsub","topic":"overview:root"}`)
	h.Tick() // closes at once; the clock has not moved
	a.sub("overview:root")
	got := a.flush(t)
	if got[len(got)-1].Seq <= base+1 {
		t.Fatalf("reopened topic reuses seq %d (old seq %d)", got[len(got)-1].Seq, base+1)
	}
}

func TestHubErrors(t *testing.T) {
	h, _, src := newTestHub(t, HubConfig{MaxTopicsPerClient: 2})
	h.Register("bad", errSource{})
	deny := func(tp Topic) error {
		if tp.Region == "411502" {
			return errs.E(errs.Forbidden, "region", "outside the screen's region")
		}
		return nil
	}
	for _, tc := range []struct{ msg, topic, code string }{
		{`not json`, "", "bad_request"},
		{`[]`, "", "bad_request"},
		{`{"op":"nope","topic":"overview:root"}`, "overview:root", "bad_request"},
		{`{"op":"sub","topic":"overview"}`, "overview", "bad_request"},
		{`{"op":"sub","topic":"overview:root:2h"}`, "overview:root:2h", "bad_request"},
		{`{"op":"sub","topic":"overview:root","since":"x"}`, "", "bad_request"},
		{`{"op":"sub","topic":"whistles:root"}`, "whistles:root", "unknown_topic"},
		{`{"op":"sub","topic":"bad:unknown"}`, "bad:unknown", "unknown_topic"},
		{`{"op":"sub","topic":"bad:nil"}`, "bad:nil", "unknown_topic"},
		{`{"op":"sub","topic":"bad:forbidden"}`, "bad:forbidden", "forbidden"},
		{`{"op":"sub","topic":"bad:invalid"}`, "bad:invalid", "bad_request"},
		{`{"op":"sub","topic":"bad:boom"}`, "bad:boom", "bad_request"},
		{`{"op":"sub","topic":"overview:411502"}`, "overview:411502", "forbidden"},
	} {
		c := attach(t, h, newConn(t), deny)
		c.send("%s", tc.msg)
		got := c.next(t, 1)
		if rest := c.flush(t); len(rest) != 0 {
			t.Errorf("%s: more messages %+v", tc.msg, rest)
		}
		if got[0].Op != "error" || got[0].Code != tc.code || got[0].Topic != tc.topic || got[0].Message == "" {
			t.Errorf("%s: got %+v, want error %s for %q", tc.msg, got, tc.code, tc.topic)
		}
		c.mu.Lock()
		var keys map[string]any
		_ = json.Unmarshal(c.frames[0], &keys)
		c.mu.Unlock()
		for k := range keys {
			if !slices.Contains([]string{"op", "topic", "code", "message"}, k) {
				t.Errorf("%s: unexpected field %q", tc.msg, k)
			}
		}
	}
	if src.openCount() != 0 {
		t.Fatalf("a refused subscription opened %d topics", src.openCount())
	}
	if s := h.Stats(); len(s.Topics) != 0 {
		t.Fatalf("failed subscriptions left topics open: %+v", s.Topics)
	}

	// Too many topics.
	c := attach(t, h, newConn(t), deny)
	c.sub("overview:a")
	c.sub("overview:b")
	c.sub("overview:c")
	c.sub("overview:a") // already subscribed: allowed
	got := c.flush(t)
	if len(got) != 4 || got[2].Op != "error" || got[2].Code != "bad_request" || got[3].Op != "snapshot" {
		t.Fatalf("max topics: got %+v", got)
	}
}

// chanState's delta cannot be encoded to JSON.
type chanState struct{ counterState }

func (s *chanState) Advance() (any, bool) {
	if _, changed := s.counterState.Advance(); changed {
		return make(chan int), true
	}
	return nil, false
}

type chanSource struct{ st *chanState }

func (s chanSource) Open(Topic) (TopicState, error) { return s.st, nil }

func TestHubDeltaEncodeError(t *testing.T) {
	h, _, _ := newTestHub(t, HubConfig{})
	st := &chanState{}
	h.Register("chan", chanSource{st})
	c := attach(t, h, newConn(t), nil)
	c.sub("chan:root")
	base := c.flush(t)[0].Seq
	st.Add(1)
	h.Tick()
	got := c.flush(t)
	if len(got) != 1 {
		t.Fatalf("got %+v, want a snapshot in place of the lost delta", got)
	}
	wantMsg(t, got[0], "snapshot", "chan:root", base+1)
	if got[0].n(t) != 1 {
		t.Fatalf("snapshot %s", got[0].Data)
	}
	// No resume may span the lost delta.
	d := attach(t, h, newConn(t), nil)
	d.send(`{"op":"sub","topic":"chan:root","since":%d}`, base)
	if got := d.flush(t); len(got) != 1 || got[0].Op != "snapshot" {
		t.Fatalf("resume across a lost delta: %+v", got)
	}
	if s := h.Stats(); s.EncodeErrors != 1 || s.Topics[0].Retained != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestHubSubscribeTwice(t *testing.T) {
	h, _, src := newTestHub(t, HubConfig{})
	c := attach(t, h, newConn(t), nil)
	c.sub("overview:root")
	c.sub("overview:root")
	got := c.flush(t)
	if len(got) != 2 || got[0].Op != "snapshot" || got[1].Op != "snapshot" || got[0].Seq != got[1].Seq {
		t.Fatalf("got %+v, want two snapshots", got)
	}
	src.state("overview:root").Add(1)
	h.Tick()
	if got := c.flush(t); len(got) != 1 {
		t.Fatalf("got %+v, want one delta", got)
	}
	if s := h.Stats(); s.Topics[0].Subscribers != 1 {
		t.Fatalf("subscribers %d", s.Topics[0].Subscribers)
	}
}

func TestHubUnsub(t *testing.T) {
	h, _, src := newTestHub(t, HubConfig{})
	c := attach(t, h, newConn(t), nil)
	c.sub("overview:a")
	c.sub("overview:b")
	c.flush(t)
	c.send(`{"op":"unsub","topic":"overview:a"}`)
	c.send(`{"op":"unsub","topic":"overview:zzz"}`) // not subscribed: ignored
	src.state("overview:a").Add(1)
	src.state("overview:b").Add(1)
	h.Tick()
	got := c.flush(t)
	if len(got) != 1 || got[0].Topic != "overview:b" || got[0].Op != "delta" {
		t.Fatalf("got %+v, want only the delta of overview:b", got)
	}
}

func TestHubPing(t *testing.T) {
	h, clk, _ := newTestHub(t, HubConfig{PingEvery: 20 * time.Second})
	c := attach(t, h, newConn(t), nil)
	c.send(`{"op":"ping"}`)
	c.waitFor(t, "pong", func() bool { return len(c.frames) == 1 })
	c.mu.Lock()
	if string(c.frames[0]) != `{"op":"pong"}` {
		t.Errorf("pong frame %s", c.frames[0])
	}
	c.mu.Unlock()

	clk.Add(19 * time.Second)
	h.Tick()
	c.flush(t)
	c.mu.Lock()
	pings := c.pings
	c.mu.Unlock()
	if pings != 0 {
		t.Fatalf("pinged %d times before PingEvery", pings)
	}
	clk.Add(time.Second)
	h.Tick()
	c.waitFor(t, "a ping", func() bool { return c.pings == 1 })
	clk.Add(20 * time.Second)
	h.Tick()
	c.waitFor(t, "a second ping", func() bool { return c.pings == 2 })
}

func TestHubWriteErrorCloses(t *testing.T) {
	h, _, _ := newTestHub(t, HubConfig{})
	f := newConn(t)
	f.writeErr = errors.New("broken pipe")
	c := attach(t, h, f, nil)
	c.sub("overview:root")
	f.waitClosed(t)
	c.cl.Close()
	c.cl.Handle([]byte(`{"op":"sub","topic":"overview:root"}`)) // after close: ignored
	s := h.Stats()
	if s.Clients != 0 || s.WriteErrors != 1 || len(s.Topics) != 1 || s.Topics[0].Subscribers != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestHubShutdown(t *testing.T) {
	h, _, src := newTestHub(t, HubConfig{})
	f := newGatedConn(t)
	a := attach(t, h, f, nil)
	b := attach(t, h, newConn(t), nil)
	a.sub("overview:root")
	b.sub("overview:root")
	b.flush(t)
	f.waitEntered(t)
	st := src.state("overview:root")
	for range 2 {
		st.Add(1)
		h.Tick()
	}
	done := make(chan error, 1)
	go func() { done <- h.Shutdown(context.Background()) }()
	b.waitClosed(t)
	waitUntil(t, "a draining", func() bool {
		a.cl.mu.Lock()
		defer a.cl.mu.Unlock()
		return a.cl.state == stDraining
	})
	f.open()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLimit):
		t.Fatal("shutdown did not return")
	}
	f.waitClosed(t)
	b.waitClosed(t)
	if got := f.all(); len(got) != 3 || got[2].Op != "delta" {
		t.Fatalf("queued frames not flushed: %+v", got)
	}
	if !st.isClosed() {
		t.Fatal("topic not closed")
	}
	if err := h.Shutdown(context.Background()); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	adv := st.advance
	h.Tick()
	if st.advance != adv {
		t.Fatal("tick after shutdown advanced a topic")
	}
	s := h.Stats()
	var msgs, frames, bytes int
	for _, x := range []*fakeConn{f, b.fakeConn} {
		msgs += len(x.msgs)
		frames += len(x.frames)
		for _, fr := range x.frames {
			bytes += len(fr)
		}
	}
	if s.Clients != 0 || len(s.Topics) != 0 || s.Messages != uint64(msgs) || s.Frames != uint64(frames) || s.Bytes != uint64(bytes) {
		t.Fatalf("stats after shutdown %+v (messages %d, frames %d, bytes %d)", s, msgs, frames, bytes)
	}

	// Attaching after shutdown closes the connection at once.
	late := attach(t, h, newConn(t), nil)
	late.waitClosed(t)
	late.sub("overview:root")
	late.cl.Close()
	if len(late.all()) != 0 {
		t.Fatal("late client got messages")
	}
}

func TestHubShutdownDeadline(t *testing.T) {
	h, _, src := newTestHub(t, HubConfig{})
	f := newGatedConn(t)
	a := attach(t, h, f, nil)
	a.sub("overview:root")
	f.waitEntered(t)
	src.state("overview:root").Add(1)
	h.Tick()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("shutdown with a blocked writer: %v", err)
	}
	f.open()
	f.waitClosed(t)
	a.cl.Close()
	if got := f.all(); len(got) != 1 {
		t.Fatalf("aborted writer still flushed: %+v", got)
	}
}

func TestHubRun(t *testing.T) {
	h, _, src := newTestHub(t, HubConfig{Tick: time.Millisecond})
	c := attach(t, h, newConn(t), nil)
	c.sub("overview:root")
	c.flush(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	src.state("overview:root").Add(1)
	if m := c.next(t, 1)[0]; m.Op != "delta" || m.n(t) != 1 {
		t.Fatalf("got %+v", m)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Run did not return")
	}
}

func TestHubConcurrent(t *testing.T) {
	t.Run("churn", func(t *testing.T) { testHubConcurrent(t, false) })
	t.Run("shutdown during churn", func(t *testing.T) { testHubConcurrent(t, true) })
}

func testHubConcurrent(t *testing.T, shutdownEarly bool) {
	h, clk, src := newTestHub(t, HubConfig{ClientQueue: 8, Linger: time.Second, MaxResyncs: 1000})
	topics := []string{"overview:a", "overview:b", "overview:c", "overview:d"}
	stop := make(chan struct{})
	ticks := make(chan struct{}) // each send waits for another tick
	var bg sync.WaitGroup
	bg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-ticks:
			default:
			}
			for _, name := range topics {
				if st := src.state(name); st != nil {
					st.Add(1)
				}
			}
			clk.Add(50 * time.Millisecond)
			h.Tick()
			h.Stats()
		}
	})

	var conns []*fakeConn
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 20 {
				f := newConn(t)
				f.slow = g%2 == 0
				mu.Lock()
				conns = append(conns, f)
				mu.Unlock()
				c := h.Attach(f, nil)
				for range 30 {
					name := topics[r.IntN(len(topics))]
					switch r.IntN(4) {
					case 0, 1:
						c.Handle(fmt.Appendf(nil, `{"op":"sub","topic":%q}`, name))
					case 2:
						c.Handle(fmt.Appendf(nil, `{"op":"unsub","topic":%q}`, name))
					case 3:
						c.Handle([]byte(`{"op":"ping"}`))
					}
				}
				if r.IntN(2) == 0 {
					c.Close()
				}
			}
		})
	}
	wg.Wait()
	if shutdownEarly {
		// Shut down while ticks and (below) late clients are still running.
		wg.Go(func() {
			f := newConn(t)
			mu.Lock()
			conns = append(conns, f)
			mu.Unlock()
			c := h.Attach(f, nil)
			c.Handle([]byte(`{"op":"sub","topic":"overview:a"}`))
			c.Close()
		})
		if err := h.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
	} else {
		// Let the survivors receive a while.
		for range 200 {
			ticks <- struct{}{}
		}
	}
	close(stop)
	bg.Wait()
	if err := h.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	deltas := 0
	for _, f := range conns {
		f.waitClosed(t)
		msgs := f.all()
		checkOrder(t, msgs)
		for _, m := range msgs {
			if m.Op == "delta" {
				deltas++
			}
		}
	}
	if s := h.Stats(); s.Clients != 0 || len(s.Topics) != 0 {
		t.Fatalf("after shutdown: %+v", s)
	}
	t.Logf("%d connections, %d deltas, %+v", len(conns), deltas, h.Stats())
}

// The queue is bounded in bytes too: a client lagging by more bytes than ClientQueueBytes is
// resynced even when few frames are queued.
func TestHubSlowClientByteBound(t *testing.T) {
	h, _, src := newTestHub(t, HubConfig{ClientQueue: 1000, ClientQueueBytes: 300})
	sf := newGatedConn(t)
	slow := attach(t, h, sf, nil)
	slow.sub("overview:root")
	sf.waitEntered(t) // blocked writing its snapshot
	st := src.state("overview:root")
	for i := 1; i <= 6; i++ { // each delta message is about 90 bytes
		st.Add(1)
		h.Tick()
	}
	if s := h.Stats(); s.Resyncs != 1 {
		t.Fatalf("resyncs %d after ~540 bytes queued against a 300-byte bound; want 1", s.Resyncs)
	}
	sf.open()
	got := slow.next(t, 2)
	if got[1].Op != "snapshot" || got[1].n(t) != 6 {
		t.Fatalf("after the byte overflow got %v", got)
	}
}

// The live-data status reaches every client when it changes, and every client that connects
// while it is stale; a hub that was never stale sends nothing.
func TestHubStatus(t *testing.T) {
	h, clk, _ := newTestHub(t, HubConfig{})
	a := attach(t, h, newConn(t), nil)
	h.SetStatus(Status{Stale: false, Since: clk.Now()})
	a.sub("overview:root")
	if got := a.next(t, 1); got[0].Op != "snapshot" {
		t.Fatalf("first message %q, want the snapshot (no status while never stale)", got[0].Op)
	}
	lastFrame := func(c *testClient) string {
		c.mu.Lock()
		defer c.mu.Unlock()
		return string(c.frames[len(c.frames)-1])
	}
	h.SetStatus(Status{Stale: true, Reason: "live_bus_unavailable", Since: clk.Now()})
	if got := a.next(t, 1); got[0].Op != "status" || !strings.Contains(lastFrame(a), `"stale":true`) {
		t.Fatalf("got %+v, want a stale status", got[0])
	}
	b := attach(t, h, newConn(t), nil)
	if got := b.next(t, 1); got[0].Op != "status" || !strings.Contains(lastFrame(b), `"reason":"live_bus_unavailable"`) {
		t.Fatalf("a client connecting while stale got %+v first", got[0])
	}
	h.SetStatus(Status{Stale: false, Since: clk.Now()})
	for _, c := range []*testClient{a, b} {
		if got := c.next(t, 1); got[0].Op != "status" {
			t.Fatalf("got %+v, want the fresh status", got[0])
		}
		if last := lastFrame(c); !strings.Contains(last, `"stale":false`) {
			t.Fatalf("last frame %s, want stale false", last)
		}
	}
}

// TestTopicLimitBeforeOpen: a client past its topic limit, or one being closed as slow, opens
// no topic at all (a topic costs the hub memory and work whether or not anyone reads it).
func TestTopicLimitBeforeOpen(t *testing.T) {
	h, _, src := newTestHub(t, HubConfig{MaxTopicsPerClient: 2})
	c := attach(t, h, newConn(t), nil)
	for i := range 10 {
		c.sub(fmt.Sprintf("overview:r%d", i))
	}
	c.flush(t)
	src.mu.Lock()
	opens := src.opens
	src.mu.Unlock()
	if opens != 2 {
		t.Fatalf("a client limited to 2 topics opened %d", opens)
	}
	// A draining client (flagged slow) asks for more: nothing opens.
	d := attach(t, h, newConn(t), nil)
	d.cl.mu.Lock()
	d.cl.state = stDraining
	d.cl.mu.Unlock()
	for i := range 100 {
		d.sub(fmt.Sprintf("overview:s%d", i))
	}
	src.mu.Lock()
	opens = src.opens
	src.mu.Unlock()
	h.mu.Lock()
	topics := len(h.topics)
	h.mu.Unlock()
	if opens != 2 || topics != 2 {
		t.Fatalf("a draining client opened topics: %d opens, %d topics in the hub", opens, topics)
	}
}

// An idle client holds no goroutine of the hub: its writer runs while it has frames to write
// and leaves, and the next delta, ping or Close starts one again.
func TestHubIdleClientHoldsNoWriter(t *testing.T) {
	h, clk, src := newTestHub(t, HubConfig{})
	const n = 50
	base := runtime.NumGoroutine()
	cs := make([]*testClient, n)
	for i := range cs {
		cs[i] = attach(t, h, newConn(t), nil)
		cs[i].sub("overview:root")
		cs[i].next(t, 1)
	}
	// Attach runs no goroutine for the caller; the writers leave once the snapshots are out.
	waitUntil(t, "writers to leave", func() bool { return runtime.NumGoroutine() < base+n/5 })

	src.state("overview:root").Add(3)
	clk.Add(200 * time.Millisecond)
	h.Tick()
	for _, c := range cs {
		if got := c.next(t, 1); got[0].Op != "delta" || got[0].n(t) != 3 {
			t.Fatalf("after idling: %+v, want the delta n=3", got)
		}
	}
	waitUntil(t, "writers to leave after the delta", func() bool { return runtime.NumGoroutine() < base+n/5 })

	// Close starts a writer that closes the connection; the client stays closed.
	cs[0].cl.Close()
	cs[0].waitClosed(t)
	cs[0].cl.Close() // idempotent
	if got := h.Stats(); got.Clients != n-1 {
		t.Fatalf("clients after one Close: %d, want %d", got.Clients, n-1)
	}
}
