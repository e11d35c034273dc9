// Package bustest is the conformance suite every bus.Bus implementation runs.
package bustest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"zhili/bus"
)

// Run runs the suite. open returns a fresh bus; channel names are unique per subtest.
func Run(t *testing.T, open func(t *testing.T) bus.Bus) {
	t.Run("DeliversInOrderToEverySubscriber", func(t *testing.T) {
		b := open(t)
		defer b.Close()
		ctx := context.Background()
		s1, err := b.Subscribe(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		s2, _ := b.Subscribe(ctx, "a")
		other, _ := b.Subscribe(ctx, "b")
		const n = 500
		go func() {
			for i := 0; i < n; i++ {
				if err := b.Publish(ctx, "a", []byte(fmt.Sprint(i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		var wg sync.WaitGroup
		for _, s := range []bus.Subscription{s1, s2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < n; i++ {
					select {
					case p := <-s.C():
						if string(p) != fmt.Sprint(i) {
							t.Errorf("got %q, want %d", p, i)
							return
						}
					case <-time.After(5 * time.Second):
						t.Errorf("timeout at %d", i)
						return
					}
				}
			}()
		}
		wg.Wait()
		select {
		case p := <-other.C():
			t.Fatalf("other channel got %q", p)
		default:
		}
	})
	t.Run("BackPressureNotLoss", func(t *testing.T) {
		b := open(t)
		defer b.Close()
		ctx := context.Background()
		s, _ := b.Subscribe(ctx, "bp")
		const n = 20000 // larger than any buffer
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if err := b.Publish(ctx, "bp", []byte{byte(i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		time.Sleep(50 * time.Millisecond) // let the publisher fill the buffer
		for i := 0; i < n; i++ {
			select {
			case p := <-s.C():
				if p[0] != byte(i) {
					t.Fatalf("payload %d out of order", i)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("lost payload %d", i)
			}
		}
		wg.Wait()
	})
	t.Run("PublishHonoursContext", func(t *testing.T) {
		b := open(t)
		defer b.Close()
		s, _ := b.Subscribe(context.Background(), "full")
		defer s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		var err error
		for i := 0; i < 1_000_000 && err == nil; i++ {
			err = b.Publish(ctx, "full", []byte("x"))
		}
		if err == nil {
			t.Fatal("publish to a full subscription never blocked")
		}
	})
	t.Run("UnsubscribeAndClose", func(t *testing.T) {
		b := open(t)
		ctx := context.Background()
		s, _ := b.Subscribe(ctx, "u")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := b.Publish(ctx, "u", []byte("x")); err != nil {
			t.Fatalf("publish with no subscribers: %v", err)
		}
		s2, _ := b.Subscribe(ctx, "u")
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		select {
		case _, ok := <-s2.C():
			if ok {
				t.Fatal("subscription still open after Close")
			}
		case <-time.After(2 * time.Second):
			t.Fatal("subscription channel not closed by Close")
		}
		if err := b.Publish(ctx, "u", []byte("x")); err == nil {
			t.Fatal("publish after Close succeeded")
		}
	})
}
