package dashboard

import (
	"slices"
	"sync"

	"zhili/geo"
)

// contiguityTol is the tolerance, in degrees, within which two regions' boundaries touch.
const contiguityTol = 1e-7

// contiguity memoises the queen contiguity of the region sets the hot-spot analyses use (a
// level under a parent): a tree's regions never change once loaded, yet computing their
// weights (every vertex near a neighbour against its edges) cost each period review and each
// alert evaluation 13 ms on the demo city's grids (BenchmarkContiguity). A set is known by the
// identity of its regions, in order (a reloaded tree is other regions).
var contiguity = &weightsMemo{max: 64}

type weightsMemo struct {
	mu sync.Mutex
	m  map[weightsKey]weightsEntry
	// max bounds the entries (a tree has one set per parent and level asked about); a full
	// memo starts again empty.
	max int
}

type weightsKey struct {
	first, last *geo.Region
	n           int
}

type weightsEntry struct {
	locs []*geo.Region
	w    *geo.Weights
}

// weights returns geo.ContiguityWeights(locs, contiguityTol), computed once per set of regions.
// The result is shared: callers must not change it (geo.Weights has no mutating methods).
func (m *weightsMemo) weights(locs []*geo.Region) *geo.Weights {
	if len(locs) == 0 {
		return geo.ContiguityWeights(locs, contiguityTol)
	}
	key := weightsKey{locs[0], locs[len(locs)-1], len(locs)}
	m.mu.Lock()
	e, ok := m.m[key]
	m.mu.Unlock()
	if ok && slices.Equal(e.locs, locs) {
		return e.w
	}
	w := geo.ContiguityWeights(locs, contiguityTol)
	m.mu.Lock()
	if m.m == nil || len(m.m) >= m.max {
		m.m = map[weightsKey]weightsEntry{}
	}
	m.m[key] = weightsEntry{locs: slices.Clone(locs), w: w}
	m.mu.Unlock()
	return w
}
