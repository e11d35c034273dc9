package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"zhili/dashboard"
	"zhili/ingest"
	"zhili/server"
	"zhili/store"
)

// heldStore is the real history store whose hotspot (RegionCounts) and audit (Cases) queries
// can be held: while hold is set, such a query runs the real store query over and over until
// its context ends or the test releases it, and reports what the real store returned last. With
// stuck, a held query ignores its context until released (a store that hangs), and Close waits
// for it, as database/sql does for a running query. Once released, queries run as they are.
type heldStore struct {
	store.Store
	hold, stuck atomic.Bool
	release     chan struct{} // closed by the test: held queries finish
	started     chan struct{} // a token per held query started
	ended       chan heldEnd  // one per held query ended
	running     sync.WaitGroup
}

type heldEnd struct {
	err   error
	at    time.Time
	calls int // real store queries run
}

func newHeldStore() *heldStore {
	return &heldStore{release: make(chan struct{}), started: make(chan struct{}, 16), ended: make(chan heldEnd, 16)}
}

func (s *heldStore) wrap(st store.Store) store.Store { s.Store = st; return s }

// run runs query as a held query when hold is set.
func (s *heldStore) run(ctx context.Context, query func(ctx context.Context, last bool) error) error {
	select {
	case <-s.release:
		return query(ctx, true) // released: the query's later store calls run as they are
	default:
	}
	if !s.hold.Load() {
		return query(ctx, true)
	}
	s.running.Add(1)
	defer s.running.Done()
	s.started <- struct{}{}
	if s.stuck.Load() {
		<-s.release
		err := query(context.WithoutCancel(ctx), true)
		s.ended <- heldEnd{err, time.Now(), 1}
		return err
	}
	for calls := 1; ; calls++ {
		last := false
		select {
		case <-s.release:
			last = true
		default:
		}
		if err := query(ctx, last); err != nil || last {
			s.ended <- heldEnd{err, time.Now(), calls}
			return err
		}
	}
}

func (s *heldStore) RegionCounts(ctx context.Context, q store.RegionQuery) (rc []store.RegionCount, err error) {
	err = s.run(ctx, func(ctx context.Context, _ bool) error {
		rc, err = s.Store.RegionCounts(ctx, q)
		return err
	})
	return rc, err
}

func (s *heldStore) Cases(ctx context.Context, q store.CaseQuery, fn func(string, []store.Record) error) error {
	return s.run(ctx, func(ctx context.Context, last bool) error {
		if last {
			return s.Store.Cases(ctx, q, fn)
		}
		return s.Store.Cases(ctx, q, func(string, []store.Record) error { return nil })
	})
}

func (s *heldStore) Close() error {
	s.running.Wait()
	return s.Store.Close()
}

// startHeld starts an app whose history store is wrapped in a heldStore, with some history.
func startHeld(t *testing.T, cfg Config) (*App, *heldStore) {
	t.Helper()
	hs := newHeldStore()
	cfg.wrapStore = hs.wrap
	cfg.IngestKeys = map[string]*ingest.Policy{testKey: {Name: "test"}}
	cfg.ViewTokens = map[string]server.Viewer{testToken: {Name: "test"}}
	a := startWith(t, cfg)
	n := postLines(t, []string{"http://" + a.Addr}, feedLines(1500, 7), 500)
	waitStored(t, a, int64(n))
	return a, hs
}

// The history queries a viewer can start, with an export.
var heavyPaths = []string{
	"/api/v1/hotspots?token=" + testToken,
	"/api/v1/audit/rates?token=" + testToken,
	"/api/v1/audit/whistles?format=csv&token=" + testToken,
}

func waitHeld(t *testing.T, hs *heldStore) {
	t.Helper()
	select {
	case <-hs.started:
	case <-time.After(30 * time.Second):
		t.Fatal("the query did not reach the store")
	}
}

func waitEnded(t *testing.T, hs *heldStore, within time.Duration) heldEnd {
	t.Helper()
	select {
	case e := <-hs.ended:
		return e
	case <-time.After(within):
		t.Fatalf("the store query did not end within %s", within)
	}
	return heldEnd{}
}

// counterValue reads a counter (with labels) from the registry, also after the server is down.
func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func cancelled(t *testing.T, a *App, reason string) float64 {
	return counterValue(t, a.Reg, "zhili_queries_cancelled_total", map[string]string{"reason": reason})
}

// goroutines returns the stacks of the goroutines that mention any of funcs.
func goroutines(funcs ...string) []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, f := range funcs {
			if strings.Contains(g, f) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// waitNoGoroutines fails when goroutines in funcs are still there after within. It looks at
// the whole process: the tests that use it do not run in parallel.
func waitNoGoroutines(t *testing.T, within time.Duration, funcs ...string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		left := goroutines(funcs...)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines still running, e.g.\n%s", len(left), left[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// shutdownWithin calls a.Shutdown with limit and returns its error and how long it took. If it
// has not returned well after the limit, the test fails (after unblock, so the app can stop).
func shutdownWithin(t *testing.T, a *App, limit time.Duration, unblock func()) (time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- a.Shutdown(ctx) }()
	select {
	case err := <-done:
		took := time.Since(start)
		if took > limit+time.Second {
			t.Errorf("shutdown took %s, limit %s", took, limit)
		}
		return took, err
	case <-time.After(limit + 10*time.Second):
		unblock()
		t.Fatalf("shutdown had not returned %s after its limit of %s", 10*time.Second, limit)
	}
	return 0, nil
}

// A viewer starts a history query and closes its connection: the query's context is
// cancelled, the store query returns context.Canceled, the work stops and the metric names why.
func TestHeavyQueryCancelledWhenClientLeaves(t *testing.T) {
	a, hs := startHeld(t, Config{})
	hs.hold.Store(true)
	for i, path := range heavyPaths {
		conn, err := net.Dial("tcp", a.Addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: zhili\r\n\r\n", path)
		waitHeld(t, hs)
		closed := time.Now()
		conn.Close()
		e := waitEnded(t, hs, 10*time.Second)
		if !errors.Is(e.err, context.Canceled) {
			t.Fatalf("%s: the store query returned %v, want context.Canceled", path, e.err)
		}
		eventually(t, 10*time.Second, func() string {
			if n := cancelled(t, a, "client_gone"); n != float64(i+1) {
				return fmt.Sprintf("%s: zhili_queries_cancelled_total{reason=client_gone} = %v, want %d", path, n, i+1)
			}
			return ""
		})
		t.Logf("%s: the store query stopped %s after the client closed (%d real queries ran)",
			path[:strings.IndexByte(path, '?')], e.at.Sub(closed).Round(time.Millisecond), e.calls)
	}
	waitNoGoroutines(t, 5*time.Second, "app.(*heldStore)")
	route := counterValue(t, a.Reg, "zhili_http_requests_total", map[string]string{"route": "/api/v1/hotspots", "status": "499"})
	if route != 1 {
		t.Errorf("zhili_http_requests_total{route=/api/v1/hotspots,status=499} = %v, want 1", route)
	}
	if n := cancelled(t, a, "deadline") + cancelled(t, a, "shutdown"); n != 0 {
		t.Errorf("%v queries cancelled for another reason", n)
	}
	// The slots of the cancelled queries are free: a token may run three at once again.
	hs.hold.Store(false)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, b := get(t, "http://"+a.Addr+heavyPaths[0]); code != 200 {
				t.Errorf("after the cancellations: %d %s", code, b)
			}
		}()
	}
	wg.Wait()
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Error(err)
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// The watch for a leaving client never disturbs a keep-alive connection that stays: a next
// request sent behind the running one (in the same write, or later while the query runs) is
// answered after it, intact, and nothing is cancelled.
func TestHeavyQueryKeepAliveUntouched(t *testing.T) {
	a, hs := startHeld(t, Config{})
	hs.hold.Store(true)
	for _, sameWrite := range []bool{true, false} {
		hs.release = make(chan struct{})
		conn, err := net.Dial("tcp", a.Addr)
		if err != nil {
			t.Fatal(err)
		}
		first := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: zhili\r\n\r\n", heavyPaths[0])
		second := "GET /healthz HTTP/1.1\r\nHost: zhili\r\n\r\n"
		if sameWrite {
			fmt.Fprint(conn, first+second)
			waitHeld(t, hs)
		} else {
			fmt.Fprint(conn, first)
			waitHeld(t, hs)
			fmt.Fprint(conn, second)
		}
		// Let the watch look at the connection a few times while the query runs.
		time.Sleep(500 * time.Millisecond)
		close(hs.release)
		if e := waitEnded(t, hs, 30*time.Second); e.err != nil {
			t.Fatalf("held query: %v", e.err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReader(conn)
		for i, want := range []string{`"cells"`, `"status":"ok"`} {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("same write %v, response %d: %v", sameWrite, i+1, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
				t.Fatalf("same write %v, response %d: %d %.200s", sameWrite, i+1, resp.StatusCode, b)
			}
		}
		conn.Close()
	}
	if n := cancelled(t, a, "client_gone"); n != 0 {
		t.Fatalf("%v queries cancelled as client_gone on a live connection", n)
	}
}

// A query past its deadline is cancelled in the store and answered 504 query_timeout, without
// Retry-After.
func TestHeavyQueryDeadline(t *testing.T) {
	a, hs := startHeld(t, Config{QueryTimeout: time.Second})
	hs.hold.Store(true)
	start := time.Now()
	resp, err := http.Get("http://" + a.Addr + heavyPaths[1])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	e := waitEnded(t, hs, 10*time.Second)
	if !errors.Is(e.err, context.DeadlineExceeded) {
		t.Fatalf("the store query returned %v, want context.DeadlineExceeded", e.err)
	}
	var body struct{ Error struct{ Code, Reason string } }
	_ = json.Unmarshal(b, &body)
	if resp.StatusCode != http.StatusGatewayTimeout || body.Error.Reason != "query_timeout" || resp.Header.Get("Retry-After") != "" {
		t.Fatalf("got %d %s (Retry-After %q), want 504 query_timeout without Retry-After", resp.StatusCode, b, resp.Header.Get("Retry-After"))
	}
	if n := cancelled(t, a, "deadline"); n != 1 {
		t.Fatalf("zhili_queries_cancelled_total{reason=deadline} = %v, want 1", n)
	}
	t.Logf("deadline 1s: answered 504 after %s (%d real queries ran)", took.Round(time.Millisecond), e.calls)
}

// Shutdown with a history query running: the query is cancelled (503 shutting_down), Shutdown
// returns well within its limit and the query's goroutines are gone.
func TestShutdownCancelsHeavyQuery(t *testing.T) {
	a, hs := startHeld(t, Config{})
	hs.hold.Store(true)
	type reply struct {
		code int
		body []byte
		err  error
	}
	replies := make(chan reply, 1)
	go func() {
		resp, err := http.Get("http://" + a.Addr + heavyPaths[0])
		if err != nil {
			replies <- reply{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		replies <- reply{code: resp.StatusCode, body: b}
	}()
	waitHeld(t, hs)
	const limit = 3 * time.Second
	start := time.Now()
	took, err := shutdownWithin(t, a, limit, func() { close(hs.release) })
	if err != nil {
		t.Errorf("shutdown: %v", err)
	}
	e := waitEnded(t, hs, time.Second)
	if !errors.Is(e.err, context.Canceled) {
		t.Fatalf("the store query returned %v, want context.Canceled", e.err)
	}
	r := <-replies
	if r.err != nil || r.code != 503 || !strings.Contains(string(r.body), `"reason":"shutting_down"`) {
		t.Fatalf("the viewer got %d %s (%v), want 503 shutting_down", r.code, r.body, r.err)
	}
	if n := cancelled(t, a, "shutdown"); n != 1 {
		t.Fatalf("zhili_queries_cancelled_total{reason=shutdown} = %v, want 1", n)
	}
	waitNoGoroutines(t, time.Second, "app.(*heldStore)", "server.(*Server).runHeavy", "dashboard.PeriodHotspots")
	t.Logf("shutdown with a history query running: %s (limit %s); the query stopped %s after shutdown began",
		took.Round(time.Millisecond), limit, e.at.Sub(start).Round(time.Millisecond))
}

// A store that does not stop when told (its query ignores the context, and closing it waits
// for the query): Shutdown still returns by its limit, and says it did not finish.
func TestShutdownBoundedWithStuckStore(t *testing.T) {
	a, hs := startHeld(t, Config{})
	hs.hold.Store(true)
	hs.stuck.Store(true)
	go func() {
		if resp, err := http.Get("http://" + a.Addr + heavyPaths[1]); err == nil {
			resp.Body.Close()
		}
	}()
	waitHeld(t, hs)
	const limit = 2 * time.Second
	took, err := shutdownWithin(t, a, limit, func() { close(hs.release) })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown with a stuck store returned %v, want the limit named", err)
	}
	expired, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	if err2 := a.Shutdown(expired); !errors.Is(err2, context.DeadlineExceeded) {
		t.Fatalf("second shutdown: %v", err2)
	}
	t.Logf("shutdown with a stuck store returned after %s (limit %s): %v", took.Round(time.Millisecond), limit, err)
	// Released, the rest of the shutdown finishes in the background.
	close(hs.release)
	if err := a.Shutdown(context.Background()); err != nil {
		t.Logf("shutdown finished: %v", err)
	}
}

// bigSource serves one topic whose snapshot is size bytes of JSON and never changes.
type bigSource struct{ size int }

type bigState struct{ blob string }

func (s bigSource) Open(dashboard.Topic) (dashboard.TopicState, error) {
	return &bigState{blob: strings.Repeat("x", s.size)}, nil
}
func (b *bigState) Snapshot() any        { return map[string]string{"blob": b.blob} }
func (b *bigState) Advance() (any, bool) { return nil, false }
func (b *bigState) Close()               {}

// Shutdown with a client that never reads and a large snapshot on its way: Shutdown returns by
// its limit, the client's writer is gone, and the client's connection is closed.
func TestShutdownWithClientThatNeverReads(t *testing.T) {
	a := startApp(t, t.TempDir())
	a.Hub.Register("big", bigSource{size: 16 << 20})
	d := websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if err == nil {
			_ = c.(*net.TCPConn).SetReadBuffer(4 << 10) // fills at once
		}
		return c, err
	}}
	ws, _, err := d.Dial("ws://"+a.Addr+"/ws?token="+testToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.WriteJSON(map[string]string{"op": "sub", "topic": "big:root"}); err != nil {
		t.Fatal(err)
	}
	// The writer is blocked on the client that does not read.
	eventually(t, 30*time.Second, func() string {
		if len(goroutines("dashboard.(*Client).write(")) == 0 {
			return "the writer never started writing the snapshot"
		}
		return ""
	})
	time.Sleep(200 * time.Millisecond)
	if len(goroutines("dashboard.(*Client).write(")) == 0 {
		t.Fatal("the writer finished: the client's buffers took the snapshot")
	}
	const limit = 3 * time.Second
	took, err := shutdownWithin(t, a, limit, func() { ws.Close() })
	t.Logf("shutdown with a client that never reads: %s (limit %s): %v", took.Round(time.Millisecond), limit, err)
	waitNoGoroutines(t, time.Second, "dashboard.(*Client).writeLoop")
	// The client, reading at last, finds its connection closed (reset: the rest of the
	// snapshot is dropped), not left open until a read deadline.
	nc := ws.NetConn()
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, nc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the connection was still open 10s after shutdown (%d bytes read)", n)
	}
	t.Logf("the client read %d bytes, then: %v", n, err)
}
