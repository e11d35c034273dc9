package dashboard

import (
	"context"
	"testing"
	"time"
)

// runHub runs h.Run until the test ends.
func runHub(t *testing.T, h *Hub) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = h.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// pokeEach makes three changes, poking after each, and checks that each reaches c at once as
// the next delta with the count so far.
func pokeEach(t *testing.T, h *Hub, c *testClient, st *counterState, base int64) {
	t.Helper()
	for i := range 3 {
		st.Add(1)
		h.Poke()
		got := c.next(t, 1)
		wantMsg(t, got[0], "delta", "overview:root", base+int64(i)+1)
		if got[0].n(t) != i+1 {
			t.Fatalf("delta %d: n = %d", i, got[0].n(t))
		}
	}
}

// A poke pushes the change at once when the hub is idle: with a tick of an hour, every delta
// the client sees came from a poke.
func TestHubPokePushesAtOnce(t *testing.T) {
	h, _, src := newTestHub(t, HubConfig{Tick: time.Hour})
	runHub(t, h)
	c := attach(t, h, newConn(t), nil)
	c.sub("overview:root")
	pokeEach(t, h, c, src.state("overview:root"), c.flush(t)[0].Seq)
	if st := h.Stats(); st.Advances < 3 {
		t.Fatalf("advances %d after three pokes", st.Advances)
	}
}

// Under load (a fan-out that takes long to write), pokes coalesce: the changes made while the
// hub waits go out as one delta, not one each.
func TestHubPokeCoalescesUnderLoad(t *testing.T) {
	h, _, src := newTestHub(t, HubConfig{Tick: time.Hour, Coalesce: 10})
	runHub(t, h)
	f := newConn(t)
	c := attach(t, h, f, nil)
	c.sub("overview:root")
	base := c.flush(t)[0].Seq
	st := src.state("overview:root")

	// A slow writer: each frame takes 100 ms to write, so the hub holds the next advance for
	// about a second after the first delta. The five changes below take a few milliseconds;
	// the margin is for a machine busy with other tests (at 20 ms, a 200 ms hold, a run under
	// the race detector beside the browser tests once saw only two of them).
	f.mu.Lock()
	f.delay = 100 * time.Millisecond
	f.mu.Unlock()
	// The pong that flush waited for may still be in the writer's hand (flush returns when the
	// frame reaches the connection, before Write returns). A client busy before a fan-out is
	// not waited for by the fan-out's measure (a stalled client must not hold the others), so
	// the first delta's write would be measured as instant and nothing held.
	waitUntil(t, "the writer idle after the pong", func() bool { return h.busy.Load() == 0 })
	st.Add(1)
	h.Poke()
	wantMsg(t, c.next(t, 1)[0], "delta", "overview:root", base+1)
	waitUntil(t, "the writer idle", func() bool { return h.busy.Load() == 0 })
	for range 5 {
		st.Add(1)
		h.Poke()
		time.Sleep(time.Millisecond)
	}
	got := c.next(t, 1)
	wantMsg(t, got[0], "delta", "overview:root", base+2)
	if got[0].n(t) != 6 {
		t.Fatalf("the held delta has n = %d, want all five changes (6)", got[0].n(t))
	}
	if extra := c.flush(t); len(extra) != 0 {
		t.Fatalf("%d more messages after the coalesced delta: %+v", len(extra), extra)
	}
}

// A client that never finishes a write does not hold back the others: their deltas still
// leave on the poke, not on the tick.
func TestHubPokeNotHeldByStalledClient(t *testing.T) {
	h, _, src := newTestHub(t, HubConfig{Tick: time.Hour})
	runHub(t, h)
	stalled := attach(t, h, newGatedConn(t), nil)
	stalled.sub("overview:root")
	stalled.waitEntered(t) // its snapshot write hangs
	c := attach(t, h, newConn(t), nil)
	c.sub("overview:root")
	pokeEach(t, h, c, src.state("overview:root"), c.flush(t)[0].Seq)
}

// With Coalesce < 0 a poke does nothing: deltas leave on the tick only.
func TestHubTickOnly(t *testing.T) {
	h, _, src := newTestHub(t, HubConfig{Tick: time.Hour, Coalesce: -1})
	runHub(t, h)
	c := attach(t, h, newConn(t), nil)
	c.sub("overview:root")
	c.flush(t)
	src.state("overview:root").Add(1)
	h.Poke()
	time.Sleep(50 * time.Millisecond)
	if got := c.flush(t); len(got) != 0 {
		t.Fatalf("a poke pushed %d messages with push on the tick only", len(got))
	}
	if st := h.Stats(); st.Advances != 0 {
		t.Fatalf("%d advances without a tick", st.Advances)
	}
}
