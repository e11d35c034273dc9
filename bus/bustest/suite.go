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

// Config says which of the implementation-specific promises the suite checks.
type Config struct {
	// BlockingPublish: Publish waits while a subscription's buffer is full (the in-process
	// bus). Otherwise the bus buffers (e.g. a Redis stream) and Publish never waits for
	// subscribers.
	BlockingPublish bool
	// BackPressure is the number of payloads of BackPressureNotLoss, published at once while
	// the subscriber starts late (default 20000). It must be well over the subscription's
	// buffer and, for a bus that reads in batches, over many batches.
	BackPressure int
}

// Run runs the suite. open returns a fresh bus; channel names are unique per subtest.
func Run(t *testing.T, open func(t *testing.T) bus.Bus, cfg Config) {
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
		n := cfg.BackPressure // larger than any buffer
		if n <= 0 {
			n = 20000
		}
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
	if cfg.BlockingPublish {
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
	} else {
		t.Run("PublishNeverWaitsForSubscribers", func(t *testing.T) {
			b := open(t)
			defer b.Close()
			s, err := b.Subscribe(context.Background(), "idle")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// Well over the subscription's buffer and a read batch; the deadline only catches a
			// publish that waits for the subscriber (a round trip each, slow on a busy machine).
			const n = 1000
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			for i := 0; i < n; i++ {
				if err := b.Publish(ctx, "idle", []byte(fmt.Sprint(i))); err != nil {
					t.Fatalf("publish %d with an idle subscriber: %v", i, err)
				}
			}
			for i := 0; i < n; i++ {
				select {
				case p := <-s.C():
					if string(p) != fmt.Sprint(i) {
						t.Fatalf("got %q, want %d", p, i)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("lost payload %d", i)
				}
			}
		})
	}
	t.Run("RetainedFirst", func(t *testing.T) {
		b := open(t)
		defer b.Close()
		ctx := context.Background()
		early, err := b.Subscribe(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		defer early.Close()
		for _, kv := range [][2]string{{"k1", "one"}, {"k2", "two"}, {"k1", "one-b"}} {
			if err := b.Retain(ctx, "r", kv[0], []byte(kv[1])); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Retain(ctx, "other", "k1", []byte("elsewhere")); err != nil {
			t.Fatal(err)
		}
		late, err := b.Subscribe(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		defer late.Close()
		if err := b.Publish(ctx, "r", []byte("live")); err != nil {
			t.Fatal(err)
		}
		recv := func(s bus.Subscription) string {
			t.Helper()
			select {
			case p := <-s.C():
				return string(p)
			case <-time.After(5 * time.Second):
				t.Fatal("timeout")
				return ""
			}
		}
		// The new subscription gets the retained messages (latest per key, any order), then live.
		got := map[string]bool{recv(late): true, recv(late): true}
		if !got["one-b"] || !got["two"] || len(got) != 2 {
			t.Fatalf("retained messages %v, want one-b and two", got)
		}
		if p := recv(late); p != "live" {
			t.Fatalf("after the retained messages got %q, want live", p)
		}
		// The existing subscription only gets the published payload.
		if p := recv(early); p != "live" {
			t.Fatalf("existing subscription got %q, want live (retained messages are not published)", p)
		}
		select {
		case p := <-early.C():
			t.Fatalf("existing subscription got %q", p)
		case p := <-late.C():
			t.Fatalf("new subscription got %q", p)
		case <-time.After(50 * time.Millisecond):
		}
	})
	t.Run("RetainThenPublishReachesEveryNewSubscriber", func(t *testing.T) {
		// A publisher retains its state and then publishes it while subscribers join: whatever
		// the interleaving, each new subscription receives it (retained or live).
		b := open(t)
		defer b.Close()
		ctx := context.Background()
		for i := range 40 {
			msg := fmt.Sprintf("state-%d", i)
			ch := fmt.Sprintf("race-%d", i)
			subc := make(chan bus.Subscription, 1)
			go func() {
				s, err := b.Subscribe(ctx, ch)
				if err != nil {
					t.Error(err)
					subc <- nil
					return
				}
				subc <- s
			}()
			if err := b.Retain(ctx, ch, "src", []byte(msg)); err != nil {
				t.Fatal(err)
			}
			if err := b.Publish(ctx, ch, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			s := <-subc
			if s == nil {
				t.FailNow()
			}
			select {
			case p := <-s.C():
				if string(p) != msg {
					t.Fatalf("round %d: got %q", i, p)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("round %d: a subscription joining during Retain+Publish got nothing", i)
			}
			s.Close()
		}
	})
	t.Run("Health", func(t *testing.T) {
		b := open(t)
		if err := b.Health(); err != nil {
			t.Fatalf("Health of a fresh bus: %v", err)
		}
		b.Close()
		if b.Health() == nil {
			t.Fatal("Health after Close: nil")
		}
		ctx := context.Background()
		if err := b.Retain(ctx, "h", "k", []byte("x")); err == nil {
			t.Fatal("Retain after Close succeeded")
		}
		if _, err := b.Subscribe(ctx, "h"); err == nil {
			t.Fatal("Subscribe after Close succeeded")
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
