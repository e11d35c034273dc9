package simulate

import (
	"slices"
	"testing"
	"time"

	"zhili/geo"
)

// The planted scenario is deterministic, plants its blocks apart (3 × 3, interior), at the
// stated multiples of the background, and the control has none.
func TestPlantHotspots(t *testing.T) {
	tree := PlantedTree()
	a := PlantHotspots(PlantedConfig{Tree: tree, Seed: 7})
	b := PlantHotspots(PlantedConfig{Tree: tree, Seed: 7})
	for i := range a.Counts {
		if !slices.Equal(a.Counts[i], b.Counts[i]) {
			t.Fatal("two runs with the same seed differ")
		}
	}
	if len(a.Grids) != 400 || a.Days != 30 || len(a.Persistent) != 9 || len(a.Intensifying) != 9 {
		t.Fatalf("%d grids, %d days, blocks %v %v", len(a.Grids), a.Days, a.Persistent, a.Intensifying)
	}
	w := geo.ContiguityWeights(a.Grids, 1e-7)
	for _, i := range a.Persistent {
		cols, _ := w.Row(i)
		for _, j := range cols {
			if slices.Contains(a.Intensifying, j) {
				t.Fatalf("the blocks touch: %d and %d", i, j)
			}
		}
	}
	// Mean per grid and day: background 2, persistent 3 × 2, intensifying 2 × 2 → 5 × 2.
	mean := func(grids []int, from, to int) float64 {
		s := 0
		for _, i := range grids {
			for d := from; d < to; d++ {
				s += a.Counts[i][d]
			}
		}
		return float64(s) / float64(len(grids)*(to-from))
	}
	var rest []int
	for i := range a.Grids {
		if !slices.Contains(a.Persistent, i) && !slices.Contains(a.Intensifying, i) {
			rest = append(rest, i)
		}
	}
	if m := mean(rest, 0, 30); m < 1.9 || m > 2.1 {
		t.Fatalf("background mean %.2f", m)
	}
	if m := mean(a.Persistent, 0, 30); m < 5 || m > 7 {
		t.Fatalf("persistent mean %.2f", m)
	}
	if e, l := mean(a.Intensifying, 0, 5), mean(a.Intensifying, 25, 30); e > 6 || l < 8 {
		t.Fatalf("intensifying: first five days %.2f, last five %.2f", e, l)
	}
	c := PlantHotspots(PlantedConfig{Tree: tree, Seed: 7, Control: true})
	if c.PersistentCore != -1 || c.Persistent != nil {
		t.Fatalf("control planted %v", c.Persistent)
	}
	n := 0
	c.Reports(time.Date(2026, 10, 28, 0, 0, 0, 0, time.UTC), func(id string, g *geo.Region, at time.Time) {
		if at.Before(time.Date(2026, 10, 28, 0, 0, 0, 0, time.UTC)) || !at.Before(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("case %s at %s", id, at)
		}
		n++
	})
	total := 0
	for _, row := range c.Counts {
		for _, k := range row {
			total += k
		}
	}
	if n != total {
		t.Fatalf("%d reports for %d counted", n, total)
	}
}
