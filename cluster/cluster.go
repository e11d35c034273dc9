// Package cluster shares the intake partitions among the aggregator processes of a scaled-out
// deployment. Each partition has one owner at a time, holding a lease in Redis; owners renew
// their leases, and a process that dies loses its leases after their TTL, when the others take
// its partitions over (with the pending intake entries of the dead consumer, see intake.Redis).
// Live processes balance: each holds at most ⌈partitions / live processes⌉.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Leases is the lease and membership store.
//
// Contract:
//   - Acquire takes partition p's lease for owner when nobody holds it, for ttl.
//   - Renew extends the lease only while owner still holds it, and reports whether it does.
//   - Release gives the lease up if owner holds it.
//   - Heartbeat records owner as alive for ttl and returns how many owners are alive.
type Leases interface {
	Acquire(ctx context.Context, p int) (bool, error)
	Renew(ctx context.Context, p int) (bool, error)
	Release(ctx context.Context, p int) error
	Heartbeat(ctx context.Context) (alive int, err error)
	TTL() time.Duration
	Owner() string
}

// RunFunc runs the owner's work for partition p until ctx is done. Done with a nil cause
// means a graceful hand-over (finish and store what was read); a lost lease cancels ctx with
// ErrLeaseLost, when the work must stop at once.
type RunFunc func(ctx context.Context, p int) error

// ErrLeaseLost is the cancel cause when a partition's lease was lost.
var ErrLeaseLost = errors.New("cluster: partition lease lost")

// Manager acquires, renews, balances and releases partition leases, running fn for each
// partition held.
type Manager struct {
	Partitions int
	Leases     Leases
	Run        RunFunc
	Logger     *slog.Logger

	mu   sync.Mutex
	held map[int]*owned
}

type owned struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
	fence  *time.Timer // stops the work when the lease may have run out (no renewal in time)
}

// fenceAt is when the work of a lease taken or renewed by a call that started at start must
// stop, by this process's clock: a quarter of the TTL before the lease can expire in the lease
// store, so that a process too starved to renew in time stops writing before another can take
// the partition.
func (m *Manager) fenceAt(start time.Time) time.Time {
	return start.Add(m.Leases.TTL() - m.Leases.TTL()/4)
}

// takeoverGrace is how long a newly taken partition waits before its work starts: a write the
// previous owner began just before it stopped may still be landing in the store, and the new
// owner reads the stored ids when it starts.
func (m *Manager) takeoverGrace() time.Duration { return m.Leases.TTL() / 4 }

// Held returns the partitions this process holds.
func (m *Manager) Held() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]int, 0, len(m.held))
	for p := range m.held {
		out = append(out, p)
	}
	return out
}

// Serve takes, renews and balances leases until ctx is done. The partitions held then keep
// running until StopAll.
func (m *Manager) Serve(ctx context.Context) error {
	if m.Logger == nil {
		m.Logger = slog.Default()
	}
	m.mu.Lock()
	if m.held == nil {
		m.held = map[int]*owned{}
	}
	m.mu.Unlock()
	every := m.Leases.TTL() / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		m.step(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (m *Manager) step(ctx context.Context) {
	alive, err := m.Leases.Heartbeat(ctx)
	if err != nil {
		m.Logger.Warn("cluster: heartbeat", "err", err)
		// Keep renewing what we hold: losing Redis for a moment must not drop every partition.
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for p, o := range m.held {
		select {
		case <-o.done:
			// The work ended by itself (an error): give the partition back for a new try.
			delete(m.held, p)
			_ = m.Leases.Release(ctx, p)
			continue
		default:
		}
		start := time.Now()
		ok, err := m.Leases.Renew(ctx, p)
		if ok && err == nil {
			o.fence.Reset(time.Until(m.fenceAt(start)))
		}
		if err != nil {
			m.Logger.Warn("cluster: renew lease", "partition", p, "err", err)
			continue // the lease may still be valid; try again next step
		}
		if !ok {
			m.Logger.Error("cluster: lost partition lease; stopping its aggregator", "partition", p)
			o.cancel(ErrLeaseLost)
			<-o.done
			delete(m.held, p)
		}
	}
	if err != nil || alive <= 0 {
		return
	}
	target := (m.Partitions + alive - 1) / alive
	for len(m.held) > target {
		for p, o := range m.held {
			m.Logger.Info("cluster: handing partition over", "partition", p, "target", target)
			o.cancel(nil)
			<-o.done
			delete(m.held, p)
			_ = m.Leases.Release(ctx, p)
			break
		}
	}
	if len(m.held) >= target {
		return
	}
	for _, p := range rand.Perm(m.Partitions) {
		if len(m.held) >= target {
			break
		}
		if _, ok := m.held[p]; ok {
			continue
		}
		start := time.Now()
		ok, err := m.Leases.Acquire(ctx, p)
		if err != nil || !ok {
			continue
		}
		m.Logger.Info("cluster: took partition", "partition", p, "owner", m.Leases.Owner())
		pctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
		o := &owned{cancel: cancel, done: make(chan struct{})}
		o.fence = time.AfterFunc(time.Until(m.fenceAt(start)), func() {
			m.Logger.Error("cluster: lease not renewed in time; stopping its aggregator", "partition", p)
			cancel(ErrLeaseLost)
		})
		m.held[p] = o
		go func(p int) {
			defer close(o.done)
			defer o.fence.Stop()
			select {
			case <-time.After(m.takeoverGrace()):
			case <-pctx.Done():
				return
			}
			if err := m.Run(pctx, p); err != nil && !errors.Is(err, context.Canceled) {
				m.Logger.Error("cluster: partition stopped", "partition", p, "err", err)
				time.Sleep(time.Second) // back off before the partition is tried again
			}
		}(p)
	}
}

// StopAll hands every partition held over gracefully (each finishes and stores what it read),
// bounded by ctx, and releases the leases. Call it after Serve returned.
func (m *Manager) StopAll(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.held {
		o.cancel(nil)
	}
	for p, o := range m.held {
		select {
		case <-o.done:
		case <-ctx.Done():
		}
		_ = m.Leases.Release(context.WithoutCancel(ctx), p)
	}
	m.held = nil
}

// String describes the manager for logs.
func (m *Manager) String() string {
	return fmt.Sprintf("cluster manager %s: %d partitions", m.Leases.Owner(), m.Partitions)
}
