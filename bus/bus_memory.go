package bus

import (
	"context"
	"errors"
	"sync"
)

// Memory is the in-process bus.
type Memory struct {
	mu      sync.RWMutex
	subs    map[string]map[*memSub]struct{}
	kept    map[string]map[string][]byte // channel → key → retained payload
	closed  bool
	closing chan struct{}
	once    sync.Once
	buf     int
}

var _ Bus = (*Memory)(nil)

// ErrClosed is returned by Publish, Retain, Subscribe and Health after Close.
var ErrClosed = errors.New("bus: closed")

// NewMemory returns an in-process bus whose subscriptions buffer buf payloads.
func NewMemory(buf int) *Memory {
	if buf <= 0 {
		buf = 1024
	}
	return &Memory{subs: map[string]map[*memSub]struct{}{}, kept: map[string]map[string][]byte{}, buf: buf, closing: make(chan struct{})}
}

type memSub struct {
	b      *Memory
	ch     string
	c      chan []byte
	done   chan struct{}
	closed sync.Once
}

func (s *memSub) C() <-chan []byte { return s.c }

func (s *memSub) Close() error {
	s.closed.Do(func() {
		close(s.done) // first, so a Publish blocked on this subscription lets go of the lock
		s.b.mu.Lock()
		delete(s.b.subs[s.ch], s)
		s.b.mu.Unlock()
	})
	return nil
}

func (b *Memory) Publish(ctx context.Context, channel string, payload []byte) error {
	// The read lock is held while sending so that Close cannot close a channel under us;
	// every blocking send also watches the subscription, the bus and ctx.
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	for s := range b.subs[channel] {
		select {
		case s.c <- payload:
		case <-s.done: // unsubscribed meanwhile
		case <-b.closing:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (b *Memory) Subscribe(ctx context.Context, channel string) (Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	// The buffer has room for the retained messages on top of buf, so Subscribe never waits.
	kept := b.kept[channel]
	s := &memSub{b: b, ch: channel, c: make(chan []byte, b.buf+len(kept)), done: make(chan struct{})}
	for _, p := range kept {
		s.c <- p
	}
	if b.subs[channel] == nil {
		b.subs[channel] = map[*memSub]struct{}{}
	}
	b.subs[channel][s] = struct{}{}
	return s, nil
}

// Retain stores payload as channel's retained message under key (see Bus).
func (b *Memory) Retain(ctx context.Context, channel, key string, payload []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if b.kept[channel] == nil {
		b.kept[channel] = map[string][]byte{}
	}
	b.kept[channel][key] = payload
	return nil
}

// Health returns nil, or ErrClosed after Close.
func (b *Memory) Health() error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	return nil
}

func (b *Memory) Close() error {
	b.once.Do(func() { close(b.closing) })
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	all := b.subs
	b.subs = map[string]map[*memSub]struct{}{}
	b.mu.Unlock()
	for _, m := range all {
		for s := range m {
			s.closed.Do(func() { close(s.done) })
			close(s.c)
		}
	}
	return nil
}
