package dashboard

import (
	"context"

	"zhili/geo"
	"zhili/store"
)

// periodCounts reads the period's count of every location of locs (under rq.Region) from the
// store: one grouped query per depth, as regions shallower than the deepest level are counted
// at their own depth.
func periodCounts(ctx context.Context, st store.Store, rq store.RegionQuery, locs []*geo.Region) ([]float64, error) {
	idx := make(map[string]int, len(locs))
	depths := map[int]bool{}
	for i, l := range locs {
		idx[l.Code] = i
		depths[l.Level] = true
	}
	x := make([]float64, len(locs))
	for d := range depths {
		rq.Level = d
		rc, err := st.RegionCounts(ctx, rq)
		if err != nil {
			return nil, err
		}
		for _, c := range rc {
			if i, ok := idx[c.Region]; ok && locs[i].Level == d {
				x[i] = float64(c.Count)
			}
		}
	}
	return x, ctx.Err()
}

// leavesUnder lists the deepest regions under r (r itself when it has no children).
func leavesUnder(r *geo.Region) []*geo.Region {
	var out []*geo.Region
	var walk func(x *geo.Region)
	walk = func(x *geo.Region) {
		if len(x.Children) == 0 {
			out = append(out, x)
			return
		}
		for _, c := range x.Children {
			walk(c)
		}
	}
	walk(r)
	return out
}

// childrenAreLeaves: r's children are its grids (the grid and child levels are one).
func childrenAreLeaves(r *geo.Region) bool {
	for _, c := range r.Children {
		if len(c.Children) > 0 {
			return false
		}
	}
	return true
}

// otherLevel is a period's Gi* bins at the level the reply does not show, for footprints.
type otherLevel struct {
	tree  *geo.Tree
	level string                 // the reply's level: grid or child
	bins  map[string]int         // code → bin at the other level
	kids  map[string][]string    // child code → its grids (level child)
	top   map[string]*geo.Region // grid code → its child region (level grid)
}

// periodOtherLevel computes the other level of a period hotspot query: child regions for a grid
// query, grids for a child query (the same period, category, types and floors). Nil when the
// children are the grids.
func periodOtherLevel(ctx context.Context, st store.Store, tree *geo.Tree, r *geo.Region, q HotspotQuery, fl HotspotFloors) (*otherLevel, error) {
	if childrenAreLeaves(r) {
		return nil, nil
	}
	o := &otherLevel{tree: tree, level: q.Level, bins: map[string]int{}, kids: map[string][]string{}, top: map[string]*geo.Region{}}
	for _, c := range r.Children {
		for _, l := range leavesUnder(c) {
			o.kids[c.Code] = append(o.kids[c.Code], l.Code)
			o.top[l.Code] = c
		}
	}
	var locs []*geo.Region
	key := "child"
	if q.Level == "grid" {
		locs = r.Children
	} else {
		locs = leavesUnder(r)
		key = "grid"
	}
	rq := store.RegionQuery{Region: r.Code, Depth: r.Level, From: q.From, To: q.To, Category: q.Category, Types: q.Types}
	x, err := periodCounts(ctx, st, rq, locs)
	if err != nil {
		return nil, err
	}
	an := analyseLevel(newTopicLevel(key, locs, contiguity.weights(locs), q.Per), x, q.Per, fl, q.DisableFDR)
	for i, l := range locs {
		if b := an.bin(i); b != 0 {
			o.bins[l.Code] = int(b)
		}
	}
	return o, nil
}

// footprint of location l of the reply's level.
func (o *otherLevel) footprint(l *geo.Region) *HotspotFootprint {
	if o == nil {
		return nil
	}
	if o.level == "grid" {
		c := o.top[l.Code]
		if c == nil {
			return nil
		}
		return &HotspotFootprint{Child: &FootprintRegion{Code: c.Code, Bin: o.bins[c.Code]}}
	}
	set := &FootprintSet{Cells: len(o.kids[l.Code]), Bins: map[string]int{}}
	for _, g := range o.kids[l.Code] {
		if b := o.bins[g]; b != 0 {
			set.Bins[g] = b
		}
	}
	return &HotspotFootprint{Grids: set}
}

// pathNames returns the names from the root down to code, kept in cache.
func pathNames(tree *geo.Tree, code string, cache map[string][]string) []string {
	if p, ok := cache[code]; ok {
		return p
	}
	codes := tree.Path(code)
	p := make([]string, len(codes))
	for i, c := range codes {
		p[i] = tree.Get(c).Name
	}
	cache[code] = p
	return p
}

func sum(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s
}
