// The WebSocket clients: dial, subscribe, read every frame, and record each delivered event.

package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
)

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
	// The server shows an event's id under its tenant's namespace ("default/lt…-7").
	if i := bytes.LastIndexByte(id, '/'); i >= 0 {
		id = id[i+1:]
	}
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
