package dashboard

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"zhili/bus"
	"zhili/clock"
	"zhili/geo"
	"zhili/internal/testsvc"
	"zhili/update"
)

// TestModelKeepsNoPayload feeds the model Updates that each carry a megabyte the model has no use
// for, and new counter keys, whistles, duty states and feed items that it keeps: the payloads
// must not stay in memory with what was kept (the decoder's strings point into its copy of the
// payload; the model detaches them).
func TestModelKeepsNoPayload(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, loc)
	tree := geo.DemoTree()
	m := NewModel(ModelConfig{Tree: tree, Loc: loc, Clock: clock.NewFake(now)})
	b := bus.NewMemory(4)
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := b.Subscribe(ctx, update.UpdatesChannel)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Consume(ctx, sub) }()

	const n, pad = 40, 1 << 20
	heap := testsvc.HeapAfterGC
	before := heap()
	root, day := tree.Root.Code, update.DayOf(now, loc)
	at := now.UTC().Format(time.RFC3339)
	for i := 1; i <= n; i++ {
		p := fmt.Sprintf(`{"src":"p0","epoch":1,"seq":%d,"reset":%t,`+
			`"counters":[{"r":%q,"c":"cat-%d","d":%d,"m":%d,"n":1}],`+
			`"items":[{"id":"e-%d","case_id":"c-%d","type":"case.reported","category":"cat-%d","priority":"normal","status":"reported","region":[%q],"at":%q,"new":true}],`+
			`"whistles":[{"id":"w-%d","case_id":"c-%d","kind":"arrive","region":[%q],"category":"cat-%d","blown":%q,"depts":[{"dept":"d-%d","reached":{"s-%d":%q}}]}],`+
			`"duty":[{"staff":"s-%d","grid":%q,"on":true,"at":%q}],`+
			`"pad":%q}`,
			i, i == 1, root, i, day, update.MNew, i, i, i, root, at, i, i, root, i, at, i, i, at, i, root, at, strings.Repeat("x", pad))
		if err := b.Publish(ctx, update.UpdatesChannel, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if u, _, _ := m.Stats(); u == n {
			break
		}
		if time.Now().After(deadline) {
			u, _, _ := m.Stats()
			t.Fatalf("the model applied %d of %d updates", u, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	grew := int64(heap()) - int64(before)
	// Kept: n keys (and their totals), n items, n whistles, n duty states: some kilobytes. A
	// payload kept alive by any of them: a megabyte each.
	if grew > 8<<20 {
		t.Fatalf("heap grew %.1f MiB over %d updates of %d KiB unused padding each: the model keeps the payloads", float64(grew)/(1<<20), n, pad>>10)
	}
	if got := m.get(root, "cat-7", day, update.MNew); got != 1 {
		t.Fatalf("counter of cat-7: %d, want 1", got)
	}
	m.mu.RLock()
	w, ok := m.srcs["p0"].whistles["w-9"]
	m.mu.RUnlock()
	if !ok || w.CaseID != "c-9" || w.Depts[0].Dept != "d-9" || len(w.Depts[0].Reached) != 1 {
		t.Fatalf("whistle w-9 as kept: %+v (found %v)", w, ok)
	}
	cancel()
	<-done
	t.Logf("heap grew %d KiB over %d updates", grew>>10, n)
}

// TestModelCounterMemory: the model keeps every counter twice (the sum and its source's
// share) for three days of every region × category × metric; a key must cost bytes, not a
// string pair (a city of 10,000 grids has millions of them).
func TestModelCounterMemory(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, loc)
	m := NewModel(ModelConfig{Tree: geo.DemoTree(), Loc: loc, Clock: clock.NewFake(now)})
	day := update.DayOf(now, loc)
	const regions, cats, metrics = 2000, 5, 10
	heap := testsvc.HeapAfterGC
	// The names arrive as a decoder gives them: fresh strings per update.
	u := &update.Update{Source: "p0", Epoch: 1, Seq: 1, Reset: true}
	for r := range regions {
		for c := range cats {
			for k := range metrics {
				u.Counters = append(u.Counters, update.Counter{Key: update.Key{Region: fmt.Sprintf("41150200%04d", r),
					Category: fmt.Sprintf("cat-%d", c), Day: day, Metric: update.Metric(k + 1)}, N: 1})
			}
		}
	}
	before := heap()
	m.Apply(u)
	after := heap()
	runtime.KeepAlive(u) // the update's own memory is not the model's
	keys := regions * cats * metrics
	per := float64(after-before) / float64(keys)
	if got := m.get("411502000007", "cat-3", day, update.Metric(4)); got != 1 {
		t.Fatalf("a counter reads %d, want 1", got)
	}
	if got := m.get("411502000007", "", day, update.Metric(4)); got != cats {
		t.Fatalf("a total over categories reads %d, want %d", got, cats)
	}
	t.Logf("%.1f bytes per counter (%d counters, with their totals and the source's share)", per, keys)
	if per > 150 {
		t.Fatalf("%.1f bytes per counter, want at most 150", per)
	}
}
