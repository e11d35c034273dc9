package dashboard

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/paulmach/orb/planar"

	"zhili/clock"
	"zhili/geo"
	"zhili/update"
)

// BenchmarkHotspotTopicTick measures one tick of the root hotspot topic over the demo
// geography — Xinyang: 3,634 grids, 10 counties, ~25,000 H3 cells at resolution 8 — (grids,
// child regions and H3 cells, 24h window), while new cases arrive at
// eventsPerTick per tick (one tick a second: that many events per second), spread over the
// grids with a few dense ones. The op is: observe the tick's events, then recompute and diff.
func BenchmarkHotspotTopicTick(b *testing.B) { benchTopicTick(b, 0) }

// BenchmarkHotspotTopicTickGiOnly is the same without the once-a-minute emerging
// reclassification: the Gi* levels, their explanations and the merge patch alone.
func BenchmarkHotspotTopicTickGiOnly(b *testing.B) { benchTopicTick(b, 1000*time.Hour) }

func benchTopicTick(b *testing.B, emergingEvery time.Duration) {
	const eventsPerTick = 200
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, loc)
	clk := clock.NewFake(now)
	tree, err := geo.XinyangTree()
	if err != nil {
		b.Fatal(err)
	}
	h := NewHotspots(tree, clk, HotspotConfig{Every: time.Nanosecond, EmergingEvery: emergingEvery})
	var leaves []*geo.Region
	tree.Walk(func(r *geo.Region) {
		if len(r.Children) == 0 {
			leaves = append(leaves, r)
		}
	})
	rng := rand.New(rand.NewPCG(1, 2))
	items := make([]update.Item, 4096)
	for i := range items {
		l := leaves[rng.IntN(len(leaves))]
		if rng.IntN(3) == 0 {
			l = leaves[rng.IntN(1+len(leaves)/20)] // dense towns
		}
		c, _ := planar.CentroidArea(l.Geometry)
		items[i] = update.Item{Type: "case.reported", New: true, Region: tree.Path(l.Code), Point: &[2]float64{c[0], c[1]}}
	}
	st, err := HotspotSource{H: h}.Open(Topic{Name: "hotspots:root:24h", Kind: "hotspots", Region: "root", Window: "24h"})
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]update.Item, eventsPerTick)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clk.Add(time.Second)
		t := clk.Now()
		for k := range batch {
			batch[k] = items[(i*eventsPerTick+k)%len(items)]
			batch[k].At = t
		}
		h.Observe(batch)
		st.Advance()
	}
	b.ReportMetric(float64(len(leaves)), "grids")
	b.ReportMetric(float64(len(h.hexCells)), "hex-cells")
	b.ReportMetric(eventsPerTick, "events/tick")
}
