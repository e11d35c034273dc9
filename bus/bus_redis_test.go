package bus_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"zhili/bus"
	"zhili/bus/bustest"
	"zhili/errs"
	"zhili/internal/testsvc"
)

func newRedisBus(t *testing.T, addr, prefix string, opt bus.RedisBusOptions) *bus.RedisBus {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: 1, DialTimeout: time.Second})
	t.Cleanup(func() { c.Close() })
	opt.Prefix = prefix
	b := bus.NewRedisBus(c, opt)
	t.Cleanup(func() { b.Close() }) // runs before the client's Close
	return b
}

func TestRedisBus(t *testing.T) {
	t.Parallel() // each test has a Redis of its own
	srv := testsvc.StartRedis(t)
	var n atomic.Int64
	bustest.Run(t, func(t *testing.T) bus.Bus {
		return newRedisBus(t, srv.Addr, fmt.Sprintf("zhili:t%d:", n.Add(1)), bus.RedisBusOptions{Buffer: 64})
	}, bustest.Config{BackPressure: 4000}) // 60 times the buffer, 16 reads of readBatch (256)
}

func recvN(t *testing.T, s bus.Subscription, n int, name string) []string {
	t.Helper()
	out := make([]string, 0, n)
	for len(out) < n {
		select {
		case p, ok := <-s.C():
			if !ok {
				t.Fatalf("%s: channel closed after %d payloads", name, len(out))
			}
			out = append(out, string(p))
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: timeout after %d of %d payloads", name, len(out), n)
		}
	}
	return out
}

func TestRedisBusTwoProcesses(t *testing.T) {
	t.Parallel() // each test has a Redis of its own
	srv := testsvc.StartRedis(t)
	ctx := context.Background()
	p1 := newRedisBus(t, srv.Addr, "two:", bus.RedisBusOptions{})
	p2 := newRedisBus(t, srv.Addr, "two:", bus.RedisBusOptions{})
	if err := p1.Retain(ctx, "u", "agg-1", []byte("state-1")); err != nil {
		t.Fatal(err)
	}
	s1, err := p1.Subscribe(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := p2.Subscribe(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	var wg sync.WaitGroup
	for _, pub := range []struct {
		b    *bus.RedisBus
		name string
	}{{p1, "a"}, {p2, "b"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				if err := pub.b.Publish(ctx, "u", fmt.Appendf(nil, "%s%d", pub.name, i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i, s := range []bus.Subscription{s1, s2} {
		got := recvN(t, s, 2*n+1, fmt.Sprint("process ", i+1))
		if got[0] != "state-1" {
			t.Fatalf("process %d: first payload %q, want the retained state", i+1, got[0])
		}
		next := map[byte]int{}
		for _, p := range got[1:] {
			if want := fmt.Sprintf("%c%d", p[0], next[p[0]]); p != want {
				t.Fatalf("process %d: got %s, want %s (per-publisher order)", i+1, p, want)
			}
			next[p[0]]++
		}
	}
}

func TestRedisBusOutage(t *testing.T) {
	t.Parallel() // each test has a Redis of its own
	srv := testsvc.StartRedis(t)
	ctx := context.Background()
	pub := newRedisBus(t, srv.Addr, "out:", bus.RedisBusOptions{})
	sub := newRedisBus(t, srv.Addr, "out:", bus.RedisBusOptions{BlockSlice: 100 * time.Millisecond})
	s, err := sub.Subscribe(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}

	const n = 300
	var unhealthy atomic.Bool
	var failures atomic.Int64
	var retried sync.Map // payloads whose Publish failed at least once
	var pubErr atomic.Value
	pubDone := make(chan struct{})
	go func() { // publishes one payload per 10 ms, retrying each until it is accepted
		defer close(pubDone)
		for i := 0; i < n; {
			err := pub.Publish(ctx, "u", []byte(fmt.Sprint(i)))
			if err != nil {
				if errs.CodeOf(err) != errs.Unavailable {
					pubErr.Store(fmt.Sprintf("publish during the outage: %v, want unavailable", err))
					return
				}
				failures.Add(1)
				retried.Store(i, true)
				time.Sleep(50 * time.Millisecond)
				continue
			}
			i++
			time.Sleep(10 * time.Millisecond)
		}
	}()
	defer func() { <-pubDone }()
	time.Sleep(500 * time.Millisecond)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if sub.Health() != nil && pub.Health() != nil {
			unhealthy.Store(true)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	// Every payload arrives, in order. A Publish whose reply was lost when the server stopped
	// may have been stored before the publisher retried it: that payload may then arrive twice
	// in a row (at-least-once for a retrying publisher; the read model drops repeats by seq).
	repeats := 0
	for want := 0; want < n; {
		p := recvN(t, s, 1, "subscriber")[0]
		switch {
		case p == fmt.Sprint(want):
			want++
		case want > 0 && p == fmt.Sprint(want-1):
			if _, ok := retried.Load(want - 1); !ok {
				t.Fatalf("payload %d repeated although its Publish never failed", want-1)
			}
			repeats++
		default:
			t.Fatalf("payload %s while waiting for %d (lost or out of order)", p, want)
		}
	}
	<-pubDone
	if e := pubErr.Load(); e != nil {
		t.Fatal(e)
	}
	t.Logf("%d payloads in order through the outage; %d publishes failed and were retried, %d of them had been stored (delivered twice)", n, failures.Load(), repeats)
	select {
	case p := <-s.C():
		t.Fatalf("extra payload %q", p)
	case <-time.After(200 * time.Millisecond):
	}
	if !unhealthy.Load() {
		t.Fatal("Health() stayed nil during the outage")
	}
	if failures.Load() == 0 {
		t.Fatal("no Publish failed during the outage")
	}
	deadline = time.Now().Add(5 * time.Second)
	for sub.Health() != nil || pub.Health() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("Health after the outage: %v, %v", sub.Health(), pub.Health())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if g := sub.Gaps(); g != 0 || sub.Lost() != 0 {
		t.Fatalf("%d gaps (%d payloads) after a short outage", g, sub.Lost())
	}
}

func TestRedisBusGap(t *testing.T) {
	t.Parallel() // each test has a Redis of its own
	srv := testsvc.StartRedis(t)
	ctx := context.Background()
	// A tiny stream cap and an unread subscription: the publisher trims past its position.
	b := newRedisBus(t, srv.Addr, "gap:", bus.RedisBusOptions{MaxLen: 10, Buffer: 1})
	s, err := b.Subscribe(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		if err := b.Publish(ctx, "g", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	var last int
	deadline := time.After(10 * time.Second)
	prev, received := -1, 0
	for last != 1999 {
		select {
		case p := <-s.C():
			received++
			fmt.Sscan(string(p), &last)
			if last <= prev {
				t.Fatalf("payload %d after %d", last, prev)
			}
			prev = last
		case <-deadline:
			t.Fatalf("stuck at %d", last)
		}
	}
	if b.Gaps() == 0 || b.Lost() == 0 {
		t.Fatal("trimmed payloads were not counted as a gap")
	}
	if int64(received)+b.Lost() != 2000 {
		t.Fatalf("received %d + lost %d, want 2000", received, b.Lost())
	}
}

func TestRedisBusUnavailableAtSubscribe(t *testing.T) {
	t.Parallel() // each test has a Redis of its own
	srv := testsvc.StartRedis(t)
	b := newRedisBus(t, srv.Addr, "x:", bus.RedisBusOptions{})
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := b.Subscribe(ctx, "u"); errs.CodeOf(err) != errs.Unavailable {
		t.Fatalf("Subscribe with Redis down: %v", err)
	}
	if err := b.Retain(ctx, "u", "k", []byte("x")); errs.CodeOf(err) != errs.Unavailable {
		t.Fatalf("Retain with Redis down: %v", err)
	}
	if b.Health() == nil {
		t.Fatal("Health nil with Redis down")
	}
}
