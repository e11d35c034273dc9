package dashboard

import (
	"slices"
	"testing"

	"zhili/geo"
)

// cityLevels is the demo city's (信阳市) region sets the hot-spot views analyse: each parent's
// children and every leaf grid under the root.
func cityLevels(t testing.TB) [][]*geo.Region {
	tree, err := geo.XinyangTree()
	if err != nil {
		t.Fatal(err)
	}
	var sets [][]*geo.Region
	tree.Walk(func(r *geo.Region) {
		if len(r.Children) > 1 {
			sets = append(sets, r.Children)
		}
	})
	return append(sets, demoLeaves(tree))
}

// The memo gives each set of regions the weights geo computes for it, once: the same answer for
// the same regions, another for other regions (a reloaded tree is other regions).
func TestContiguityMemo(t *testing.T) {
	sets := cityLevels(t)
	m := &weightsMemo{max: 64}
	for _, locs := range sets {
		got := m.weights(locs)
		want := geo.ContiguityWeights(locs, contiguityTol)
		if got.N != want.N || !slices.Equal(got.Start, want.Start) || !slices.Equal(got.Index, want.Index) {
			t.Fatalf("%d regions: memo's weights differ from geo's", len(locs))
		}
		if again := m.weights(locs); again != got {
			t.Fatalf("%d regions: computed again", len(locs))
		}
	}
	leaves := sets[len(sets)-1]
	// Other regions with the same geometry (a reloaded tree): not the cached entry.
	copies := make([]*geo.Region, len(leaves))
	for i, r := range leaves {
		c := *r
		copies[i] = &c
	}
	if m.weights(copies) == m.weights(leaves) {
		t.Error("a set of other regions got the cached weights of the first")
	}
	// A full memo starts again, bounded.
	small := &weightsMemo{max: 2}
	for _, locs := range sets[:min(5, len(sets))] {
		small.weights(locs)
	}
	if len(small.m) > 2 {
		t.Errorf("memo of at most 2 holds %d", len(small.m))
	}
}

// BenchmarkContiguity: the demo city's grid weights computed (geo) against taken from the memo.
// go test -run '^$' -bench Contiguity ./dashboard
func BenchmarkContiguity(b *testing.B) {
	sets := cityLevels(b)
	leaves := sets[len(sets)-1]
	b.Run("compute", func(b *testing.B) {
		for b.Loop() {
			geo.ContiguityWeights(leaves, contiguityTol)
		}
	})
	b.Run("memo", func(b *testing.B) {
		m := &weightsMemo{max: 64}
		for b.Loop() {
			m.weights(leaves)
		}
	})
}
