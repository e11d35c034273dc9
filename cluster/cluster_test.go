package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"zhili/internal/testsvc"
)

func client(t *testing.T) *redis.Client {
	t.Helper()
	r := testsvc.StartRedis(t)
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRedisLeases(t *testing.T) {
	c := client(t)
	ctx := context.Background()
	a := NewRedisLeases(c, "t:", "a", 300*time.Millisecond)
	b := NewRedisLeases(c, "t:", "b", 300*time.Millisecond)
	must := func(ok bool, err error) bool {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !must(a.Acquire(ctx, 1)) || must(b.Acquire(ctx, 1)) {
		t.Fatal("partition 1: a must get it, b must not")
	}
	if must(b.Renew(ctx, 1)) || !must(a.Renew(ctx, 1)) {
		t.Fatal("only the holder renews")
	}
	_ = b.Release(ctx, 1) // not b's: no effect
	if must(b.Acquire(ctx, 1)) {
		t.Fatal("b released a's lease")
	}
	time.Sleep(400 * time.Millisecond) // a stops renewing: the lease expires
	if !must(b.Acquire(ctx, 1)) || must(a.Renew(ctx, 1)) {
		t.Fatal("after expiry b must hold the lease and a must know it lost it")
	}
	if n, err := a.Heartbeat(ctx); err != nil || n != 1 {
		t.Fatalf("heartbeat: %d owners (%v), want 1", n, err)
	}
	if n, _ := b.Heartbeat(ctx); n != 2 {
		t.Fatalf("heartbeat: %d owners, want 2", n)
	}
	time.Sleep(400 * time.Millisecond)
	if n, _ := b.Heartbeat(ctx); n != 1 {
		t.Fatalf("a stopped beating: %d owners, want 1", n)
	}
}

// runs records which owner runs which partition, and fails on two at once.
type runs struct {
	t       *testing.T
	mu      sync.Mutex
	owner   map[int]string
	causes  []error
	started int
}

func (r *runs) fn(name string) RunFunc {
	return func(ctx context.Context, p int) error {
		r.mu.Lock()
		if o, ok := r.owner[p]; ok {
			r.t.Errorf("partition %d run by %s while %s runs it", p, name, o)
		}
		r.owner[p] = name
		r.started++
		r.mu.Unlock()
		<-ctx.Done()
		r.mu.Lock()
		delete(r.owner, p)
		r.causes = append(r.causes, context.Cause(ctx))
		r.mu.Unlock()
		return nil
	}
}

func (r *runs) held(name string) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for p, o := range r.owner {
		if o == name {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// Two managers share four partitions two and two; when one stops, the other takes all four;
// a lease taken away stops its partition at once with ErrLeaseLost.
func TestManagerBalanceHandOverAndLoss(t *testing.T) {
	c := client(t)
	r := &runs{t: t, owner: map[int]string{}}
	ttl := 600 * time.Millisecond
	mk := func(name string) (*Manager, context.CancelFunc, chan struct{}) {
		m := &Manager{Partitions: 4, Leases: NewRedisLeases(c, "m:", name, ttl), Run: r.fn(name)}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { m.Serve(ctx); close(done) }()
		return m, cancel, done
	}
	a, stopA, doneA := mk("a")
	b, stopB, doneB := mk("b")
	defer func() { stopB(); <-doneB; b.StopAll(context.Background()) }()
	waitUntil(t, "two partitions each", func() bool { return len(r.held("a")) == 2 && len(r.held("b")) == 2 })

	stopA()
	<-doneA
	a.StopAll(context.Background())
	a.Leases.(*RedisLeases).Leave(context.Background())
	waitUntil(t, "b to hold all four", func() bool { return len(r.held("b")) == 4 })
	r.mu.Lock()
	for _, cause := range r.causes {
		if cause != context.Canceled {
			t.Errorf("a graceful hand-over ended with cause %v", cause)
		}
	}
	r.causes = nil
	r.mu.Unlock()

	// Someone else owns partition 2 now (b's lease expired while it was paused, say).
	if err := c.Set(context.Background(), "m:lease:2", "intruder", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "b to stop partition 2", func() bool { return !slices.Contains(r.held("b"), 2) })
	r.mu.Lock()
	got := fmt.Sprint(r.causes)
	lost := len(r.causes) == 1 && errors.Is(r.causes[0], ErrLeaseLost)
	r.mu.Unlock()
	if !lost {
		t.Fatalf("causes %s, want one ErrLeaseLost", got)
	}
	if h := b.Held(); len(h) != 3 {
		t.Fatalf("b holds %v, want the other three", h)
	}
}

// stuckLeases grants every lease and then never answers a renewal: a process too starved
// (or cut off) to renew.
type stuckLeases struct {
	ttl     time.Duration
	mu      sync.Mutex
	granted map[int]time.Time
	unstick chan struct{}
}

func (l *stuckLeases) Acquire(ctx context.Context, p int) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.granted[p]; ok {
		return false, nil
	}
	l.granted[p] = time.Now()
	return true, nil
}
func (l *stuckLeases) Renew(ctx context.Context, p int) (bool, error) {
	select {
	case <-l.unstick:
	case <-ctx.Done():
	}
	return false, ctx.Err()
}
func (l *stuckLeases) Release(ctx context.Context, p int) error { return nil }
func (l *stuckLeases) Heartbeat(ctx context.Context) (int, error) {
	return 1, nil
}
func (l *stuckLeases) TTL() time.Duration { return l.ttl }
func (l *stuckLeases) Owner() string      { return "stuck" }

// A partition's work starts a grace after its lease is taken (a write of the previous owner
// may still be landing), and stops with ErrLeaseLost before its lease can expire when no
// renewal gets through, even while the renewal itself hangs.
func TestManagerFencesUnrenewedLease(t *testing.T) {
	ttl := 800 * time.Millisecond
	l := &stuckLeases{ttl: ttl, granted: map[int]time.Time{}, unstick: make(chan struct{})}
	type run struct {
		started, stopped time.Time
		cause            error
	}
	runs := make(chan run, 1)
	m := &Manager{Partitions: 1, Leases: l, Run: func(ctx context.Context, p int) error {
		r := run{started: time.Now()}
		<-ctx.Done()
		r.stopped, r.cause = time.Now(), context.Cause(ctx)
		runs <- r
		return nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Serve(ctx); close(done) }()
	defer func() { cancel(); close(l.unstick); <-done; m.StopAll(context.Background()) }()
	var r run
	select {
	case r = <-runs:
	case <-time.After(10 * time.Second):
		t.Fatal("the work was not stopped")
	}
	l.mu.Lock()
	granted := l.granted[0]
	l.mu.Unlock()
	if !errors.Is(r.cause, ErrLeaseLost) {
		t.Errorf("stopped with cause %v, want ErrLeaseLost", r.cause)
	}
	if d := r.started.Sub(granted); d < ttl/4 {
		t.Errorf("the work started %v after the lease was taken, want the grace of %v", d, ttl/4)
	}
	if d := r.stopped.Sub(granted); d >= ttl {
		t.Errorf("the work stopped %v after the lease was taken, when it may have expired (TTL %v)", d, ttl)
	}
}
