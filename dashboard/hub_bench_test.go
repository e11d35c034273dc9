package dashboard

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"zhili/clock"
)

const benchSubscribers = 10_000

// benchState changes on every Advance; its delta is an overview-like merge patch of ~300 bytes.
type benchState struct{ n int }

func (s *benchState) Snapshot() any { return s.delta() }

func (s *benchState) Advance() (any, bool) {
	s.n++
	return s.delta(), true
}

func (s *benchState) delta() any {
	n := s.n
	return map[string]any{
		"totals":      map[string]any{"new_today": 120 + n, "open": 40 + n%7, "overdue": 3, "resolved_today": 51},
		"by_category": map[string]any{"environment": 50 + n, "dispute": 31, "traffic": 12},
		"flows":       map[string]any{"up": 100 + n, "down": 80, "horizontal": 40},
		"children": map[string]any{
			"411502001": map[string]any{"new_today": 30 + n, "open": 9, "overdue": 1},
			"411502002": map[string]any{"new_today": 21, "open": 7, "overdue": 0},
		},
	}
}

func (s *benchState) Close() {}

type benchSource struct{}

func (benchSource) Open(Topic) (TopicState, error) { return &benchState{}, nil }

// benchShard counts frames delivered to its connections; the last expected frame of a round
// marks the shard done, so that 10,000 writers do not share one counter.
type benchShard struct {
	n      atomic.Int64
	target atomic.Int64
	wg     *sync.WaitGroup
	_      [40]byte
}

// benchConn is an in-process connection whose Write only counts.
type benchConn struct {
	bytes int64
	shard *benchShard
}

func (c *benchConn) Write(frame []byte) error {
	c.bytes += int64(len(frame))
	if s := c.shard; s.n.Add(1) == s.target.Load() {
		s.wg.Done()
	}
	return nil
}

func (c *benchConn) Ping() error  { return nil }
func (c *benchConn) Close() error { return nil }

type fanoutBench struct {
	h      *Hub
	t      *hubTopic
	shards []*benchShard
	wg     sync.WaitGroup
	rounds int64
}

const benchShards = 64

func newFanoutBench(b *testing.B) *fanoutBench {
	fb := &fanoutBench{h: NewHub(HubConfig{}, clock.NewFake(t0))}
	fb.h.Register("overview", benchSource{})
	for range benchShards {
		fb.shards = append(fb.shards, &benchShard{wg: &fb.wg})
	}
	fb.expect()
	sub := []byte(`{"op":"sub","topic":"overview:root"}`)
	for i := range benchSubscribers {
		c := fb.h.Attach(&benchConn{shard: fb.shards[i%benchShards]}, nil)
		c.Handle(sub)
	}
	fb.wg.Wait() // every snapshot delivered
	fb.t = fb.h.topics["overview:root"]
	b.Cleanup(func() { _ = fb.h.Shutdown(context.Background()) })
	return fb
}

// expect arms the shards for one more frame per connection.
func (fb *fanoutBench) expect() {
	fb.rounds++
	fb.wg.Add(benchShards)
	for i, s := range fb.shards {
		conns := int64(benchSubscribers / benchShards)
		if i < benchSubscribers%benchShards {
			conns++
		}
		s.target.Store(conns * fb.rounds)
	}
}

// tickPerSubscriber is what the hub would do without encode-once: one encoding per subscriber.
func (fb *fanoutBench) tickPerSubscriber() {
	h, t := fb.h, fb.t
	now := h.clk.Now()
	t.mu.Lock()
	delta, _ := t.state.Advance()
	t.seq++
	for _, s := range t.subs {
		b, err := h.encode(opDelta, t, t.seq, now, delta)
		if err != nil {
			panic(err)
		}
		s.c.enqueue(s, b)
	}
	t.mu.Unlock()
}

// BenchmarkHubFanout delivers one ~300-byte delta per tick to 10,000 subscribers of one topic
// and waits until every subscriber has it; one op is one tick. "encode-once" is the hub;
// "encode-per-subscriber" is the baseline that encodes the message for each subscriber.
func BenchmarkHubFanout(b *testing.B) {
	for _, mode := range []string{"encode-once", "encode-per-subscriber"} {
		b.Run(mode, func(b *testing.B) {
			fb := newFanoutBench(b)
			size := len(must(fb.h.encode(opDelta, fb.t, 1, t0, (&benchState{}).delta())))
			var inTick time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				fb.expect()
				start := time.Now()
				if mode == "encode-once" {
					fb.h.Tick()
				} else {
					fb.tickPerSubscriber()
				}
				inTick += time.Since(start)
				fb.wg.Wait()
			}
			b.StopTimer()
			el := b.Elapsed()
			frames := float64(b.N) * benchSubscribers
			b.ReportMetric(frames/el.Seconds(), "frames/s")
			b.ReportMetric(float64(el.Nanoseconds())/frames, "ns/sub/delta")
			b.ReportMetric(float64(inTick.Microseconds())/float64(b.N), "µs-in-tick/op")
			b.ReportMetric(float64(size), "B/msg")
		})
	}
}

// BenchmarkHubClientMemory reports the heap and stack held per idle subscribed client.
func BenchmarkHubClientMemory(b *testing.B) {
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		fb := newFanoutBench(b)
		runtime.GC()
		runtime.ReadMemStats(&after)
		used := (after.HeapAlloc + after.StackInuse) - (before.HeapAlloc + before.StackInuse)
		b.ReportMetric(float64(used)/benchSubscribers, "B/client")
		if err := fb.h.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return b
}
