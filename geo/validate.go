package geo

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/planar"
)

// Problem is one reason a region file cannot be trusted, tied to a feature.
type Problem struct {
	Feature int    `json:"feature"` // 0-based index in the input (across files, in order)
	Code    string `json:"code,omitempty"`
	Kind    string `json:"kind"` // see the Problem kinds below
	Detail  string `json:"detail"`
}

// Problem kinds.
const (
	ProblemNoCode       = "no_code"
	ProblemGeometry     = "geometry"      // not a Polygon or MultiPolygon
	ProblemUnclosed     = "unclosed_ring" // first and last points differ
	ProblemShortRing    = "short_ring"    // fewer than 4 points
	ProblemSelfCross    = "self_intersection"
	ProblemDuplicate    = "duplicate_code"
	ProblemUnknownPar   = "unknown_parent"
	ProblemCycle        = "parent_cycle"
	ProblemRoots        = "roots" // not exactly one region without a parent
	ProblemOutside      = "outside_parent"
	ProblemGap          = "sibling_gap"
	ProblemOverlap      = "sibling_overlap"
	ProblemEmptyPolygon = "empty_polygon"
	ProblemRange        = "coordinate_range" // not finite, or beyond ±180° longitude or ±90° latitude
)

func (p Problem) String() string {
	s := fmt.Sprintf("feature %d", p.Feature)
	if p.Code != "" {
		s += " (" + p.Code + ")"
	}
	return s + ": " + p.Kind + ": " + p.Detail
}

// CheckOptions tunes the region-file checks.
type CheckOptions struct {
	Props Props
	// OutsideTol is how far (in the file's units, degrees for lon/lat) a child's vertex may lie
	// outside its parent (default 1e-4, about 10 m).
	OutsideTol float64
	// AreaTol is the share of a parent's area that gaps, or overlaps, between its children may
	// reach before they are reported (default 0.005).
	AreaTol float64
	// Samples is the number of sample points per parent for the gap and overlap estimate
	// (default 20,000).
	Samples int
	// Skip names features (by code) to leave out of the tree; their problems are not reported.
	Skip map[string]bool
	// CRS is the coordinate system of the input ("wgs84" default, "gcj02", "bd09"); features
	// are converted to WGS-84, the system regions are stored in.
	CRS string
}

func (o *CheckOptions) defaults() {
	if o.Props == (Props{}) {
		o.Props = DefaultProps
	}
	if o.OutsideTol <= 0 {
		o.OutsideTol = 1e-4
	}
	if o.AreaTol <= 0 {
		o.AreaTol = 0.005
	}
	if o.Samples <= 0 {
		o.Samples = 20000
	}
}

// CheckFeatures validates region features and builds the tree from the ones not skipped. It
// reports every problem it finds (by feature), never silently dropping one; the tree is nil when
// problems remain. Gaps and overlaps between siblings are estimated from a regular grid of
// sample points over each parent (documented tolerance: AreaTol of the parent's area).
func CheckFeatures(features []*geojson.Feature, opt CheckOptions) (*Tree, []Problem) {
	opt.defaults()
	var probs []Problem
	report := func(i int, code, kind, format string, args ...any) {
		probs = append(probs, Problem{Feature: i, Code: code, Kind: kind, Detail: fmt.Sprintf(format, args...)})
	}
	var regions []*Region
	index := map[*Region]int{}
	seen := map[string]int{}
	switch opt.CRS {
	case "", "wgs84":
	case "gcj02", "bd09":
		for _, f := range features {
			if f.Geometry != nil {
				f.Geometry = TransformGeometry(f.Geometry, func(lon, lat float64) (float64, float64) { return ToWGS84(opt.CRS, lon, lat) })
			}
		}
	default:
		report(-1, "", ProblemGeometry, "unknown coordinate system %q (wgs84, gcj02, bd09)", opt.CRS)
		return nil, probs
	}
	for i, f := range features {
		code := propString(f.Properties, opt.Props.Code)
		if code == "" {
			report(i, "", ProblemNoCode, "property %q missing", opt.Props.Code)
			continue
		}
		if opt.Skip[code] {
			continue
		}
		if j, dup := seen[code]; dup {
			report(i, code, ProblemDuplicate, "code also used by feature %d", j)
			continue
		}
		seen[code] = i
		var polys orb.MultiPolygon
		switch g := f.Geometry.(type) {
		case orb.Polygon:
			polys = orb.MultiPolygon{g}
		case orb.MultiPolygon:
			polys = g
		default:
			report(i, code, ProblemGeometry, "geometry is %T, want Polygon or MultiPolygon", f.Geometry)
			continue
		}
		ok := len(polys) > 0
		if !ok {
			report(i, code, ProblemEmptyPolygon, "no polygon")
		}
		for pi, poly := range polys {
			if len(poly) == 0 {
				report(i, code, ProblemEmptyPolygon, "polygon %d has no ring", pi)
				ok = false
			}
			for ri, ring := range poly {
				switch {
				case len(ring) < 4:
					report(i, code, ProblemShortRing, "polygon %d ring %d has %d points", pi, ri, len(ring))
					ok = false
				case outOfRange(ring) >= 0:
					v := ring[outOfRange(ring)]
					report(i, code, ProblemRange, "polygon %d ring %d point %d: %v is not a longitude, latitude pair (±180, ±90)", pi, ri, outOfRange(ring), v)
					ok = false
				case ring[0] != ring[len(ring)-1]:
					report(i, code, ProblemUnclosed, "polygon %d ring %d: first point %v, last %v", pi, ri, ring[0], ring[len(ring)-1])
					ok = false
				default:
					if a, b, x, found := selfIntersection(ring); found {
						report(i, code, ProblemSelfCross, "polygon %d ring %d: edges %d and %d cross near %.6f,%.6f", pi, ri, a, b, x[0], x[1])
						ok = false
					}
				}
			}
		}
		if !ok {
			continue
		}
		r := &Region{Code: code, Name: propString(f.Properties, opt.Props.Name), Parent: propString(f.Properties, opt.Props.Parent),
			Kind: propString(f.Properties, opt.Props.Kind), Geometry: f.Geometry, Bound: f.Geometry.Bound()}
		if w, ok := f.Properties["weight"].(float64); ok && w > 0 && w <= 1 {
			r.Weight = w
		}
		regions = append(regions, r)
		index[r] = i
	}

	// Parents, roots and cycles.
	byCode := map[string]*Region{}
	for _, r := range regions {
		byCode[r.Code] = r
	}
	var roots []*Region
	var linked []*Region
	for _, r := range regions {
		if r.Parent == "" {
			roots = append(roots, r)
			linked = append(linked, r)
			continue
		}
		if _, ok := byCode[r.Parent]; !ok {
			report(index[r], r.Code, ProblemUnknownPar, "parent %q is not in the input", r.Parent)
			continue
		}
		linked = append(linked, r)
	}
	if len(roots) != 1 {
		codes := make([]string, len(roots))
		for i, r := range roots {
			codes[i] = r.Code
		}
		report(-1, "", ProblemRoots, "%d regions without a parent (%s): exactly one must contain all", len(roots), strings.Join(codes, ", "))
	}
	for _, r := range linked {
		// Walk up; more steps than regions means a cycle.
		x, steps := r, 0
		for x != nil && x.Parent != "" && steps <= len(regions) {
			x = byCode[x.Parent]
			steps++
		}
		if steps > len(regions) {
			report(index[r], r.Code, ProblemCycle, "following parents from %s never reaches a root", r.Code)
		}
	}
	if len(probs) > 0 {
		return nil, probs
	}
	tree, err := NewTree(regions)
	if err != nil {
		report(-1, "", ProblemRoots, "%v", err)
		return nil, probs
	}

	// Geometry of the hierarchy: children inside parents, siblings tiling them.
	tree.Walk(func(p *Region) {
		if len(p.Children) == 0 {
			return
		}
		ps := newFastShape(p.Geometry)
		for _, c := range p.Children {
			if v, d := farthestOutside(c.Geometry, p.Geometry, &ps); d > opt.OutsideTol {
				report(index[c], c.Code, ProblemOutside, "vertex %.6f,%.6f lies %.6f outside parent %s (tolerance %g)", v[0], v[1], d, p.Code, opt.OutsideTol)
			}
		}
		gap, overlap, where := siblingCoverage(p, opt.Samples)
		if gap > opt.AreaTol {
			report(index[p], p.Code, ProblemGap, "children leave %.2f%% of the region uncovered (e.g. near %.6f,%.6f; tolerance %.2f%%)", 100*gap, where[0][0], where[0][1], 100*opt.AreaTol)
		}
		if overlap > opt.AreaTol {
			report(index[p], p.Code, ProblemOverlap, "children overlap on %.2f%% of the region (e.g. near %.6f,%.6f; tolerance %.2f%%)", 100*overlap, where[1][0], where[1][1], 100*opt.AreaTol)
		}
	})
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Feature < probs[j].Feature })
	if len(probs) > 0 {
		return nil, probs
	}
	return tree, nil
}

// outOfRange returns the index of the first point of ring that is not a finite longitude,
// latitude pair, or -1. (A point far out of range would also make the sibling-coverage
// sampling and the index cost without bound.)
func outOfRange(ring orb.Ring) int {
	for i, p := range ring {
		if !(p[0] >= -180 && p[0] <= 180 && p[1] >= -90 && p[1] <= 90) {
			return i
		}
	}
	return -1
}

// selfIntersection finds two non-adjacent edges of a closed ring that intersect. Edges are
// sorted by their lowest x so that only overlapping x-ranges are compared.
func selfIntersection(ring orb.Ring) (int, int, orb.Point, bool) {
	n := len(ring) - 1
	type edge struct {
		i          int
		minX, maxX float64
	}
	edges := make([]edge, n)
	for i := 0; i < n; i++ {
		a, b := ring[i], ring[i+1]
		edges[i] = edge{i, math.Min(a[0], b[0]), math.Max(a[0], b[0])}
	}
	sort.Slice(edges, func(x, y int) bool { return edges[x].minX < edges[y].minX })
	for x := 0; x < n; x++ {
		ex := edges[x]
		for y := x + 1; y < n && edges[y].minX <= ex.maxX; y++ {
			ey := edges[y]
			i, j := ex.i, ey.i
			if i > j {
				i, j = j, i
			}
			if j == i+1 || (i == 0 && j == n-1) {
				continue // adjacent edges share a vertex
			}
			if p, ok := segmentsCross(ring[i], ring[i+1], ring[j], ring[j+1]); ok {
				return i, j, p, true
			}
		}
	}
	return 0, 0, orb.Point{}, false
}

// segmentsCross reports whether segments ab and cd share a point.
func segmentsCross(a, b, c, d orb.Point) (orb.Point, bool) {
	orient := func(p, q, r orb.Point) float64 { return (q[0]-p[0])*(r[1]-p[1]) - (q[1]-p[1])*(r[0]-p[0]) }
	onSeg := func(p, q, r orb.Point) bool {
		return math.Min(p[0], r[0]) <= q[0] && q[0] <= math.Max(p[0], r[0]) && math.Min(p[1], r[1]) <= q[1] && q[1] <= math.Max(p[1], r[1])
	}
	d1, d2, d3, d4 := orient(c, d, a), orient(c, d, b), orient(a, b, c), orient(a, b, d)
	if (d1 > 0 && d2 < 0 || d1 < 0 && d2 > 0) && (d3 > 0 && d4 < 0 || d3 < 0 && d4 > 0) {
		t := d1 / (d1 - d2)
		return orb.Point{a[0] + t*(b[0]-a[0]), a[1] + t*(b[1]-a[1])}, true
	}
	switch {
	case d1 == 0 && onSeg(c, a, d):
		return a, true
	case d2 == 0 && onSeg(c, b, d):
		return b, true
	case d3 == 0 && onSeg(a, c, b):
		return c, true
	case d4 == 0 && onSeg(a, d, b):
		return d, true
	}
	return orb.Point{}, false
}

// farthestOutside returns the vertex of child farthest outside parent and its distance (0 when
// every vertex is inside or on the boundary).
func farthestOutside(child, parent orb.Geometry, ps *fastShape) (orb.Point, float64) {
	var worst orb.Point
	max := 0.0
	forEachVertex(child, func(v orb.Point) {
		if ps.contains(v) {
			return
		}
		if d := distanceToBoundary(parent, v); d > max {
			max, worst = d, v
		}
	})
	return worst, max
}

func forEachVertex(g orb.Geometry, fn func(orb.Point)) {
	switch x := g.(type) {
	case orb.Polygon:
		for _, r := range x {
			for _, v := range r {
				fn(v)
			}
		}
	case orb.MultiPolygon:
		for _, p := range x {
			forEachVertex(p, fn)
		}
	}
}

func distanceToBoundary(g orb.Geometry, p orb.Point) float64 {
	best := math.Inf(1)
	var rings []orb.Ring
	switch x := g.(type) {
	case orb.Polygon:
		rings = x
	case orb.MultiPolygon:
		for _, poly := range x {
			rings = append(rings, poly...)
		}
	}
	for _, r := range rings {
		for i := 0; i+1 < len(r); i++ {
			if d := planar.DistanceFromSegment(r[i], r[i+1], p); d < best {
				best = d
			}
		}
	}
	return best
}

// siblingCoverage estimates, on a regular grid of about n sample points over p's bound, the
// shares of p's area covered by no child (gap) and by two or more children (overlap), with an
// example point of each.
func siblingCoverage(p *Region, n int) (gap, overlap float64, where [2]orb.Point) {
	b := p.Bound
	w, h := b.Max[0]-b.Min[0], b.Max[1]-b.Min[1]
	if w <= 0 || h <= 0 {
		return 0, 0, where
	}
	parent := newFastShape(p.Geometry)
	children := make([]fastShape, len(p.Children))
	for i, c := range p.Children {
		children[i] = newFastShape(c.Geometry)
	}
	step := math.Sqrt(w * h / float64(n))
	inside, gaps, overlaps := 0, 0, 0
	for y := b.Min[1] + step/2; y < b.Max[1]; y += step {
		for x := b.Min[0] + step/2; x < b.Max[0]; x += step {
			pt := orb.Point{x, y}
			if !parent.contains(pt) {
				continue
			}
			inside++
			k := 0
			for i := range children {
				if children[i].contains(pt) {
					k++
				}
			}
			switch {
			case k == 0:
				if gaps == 0 {
					where[0] = pt
				}
				gaps++
			case k > 1:
				if overlaps == 0 {
					where[1] = pt
				}
				overlaps++
			}
		}
	}
	if inside == 0 {
		return 0, 0, where
	}
	return float64(gaps) / float64(inside), float64(overlaps) / float64(inside), where
}

// fastShape is a (multi)polygon with its ring bounds computed once, for many containment tests
// (orb's PolygonContains recomputes them on every call).
type fastShape struct {
	bound orb.Bound
	polys [][]fastRing
}

type fastRing struct {
	bound orb.Bound
	ring  orb.Ring
}

func newFastShape(g orb.Geometry) fastShape {
	var polys []orb.Polygon
	switch x := g.(type) {
	case orb.Polygon:
		polys = []orb.Polygon{x}
	case orb.MultiPolygon:
		polys = x
	}
	s := fastShape{bound: g.Bound()}
	for _, p := range polys {
		var rs []fastRing
		for _, r := range p {
			rs = append(rs, fastRing{bound: r.Bound(), ring: r})
		}
		s.polys = append(s.polys, rs)
	}
	return s
}

// contains uses even-odd crossing over each polygon's rings (holes subtract).
func (s *fastShape) contains(p orb.Point) bool {
	if !s.bound.Contains(p) {
		return false
	}
	for _, poly := range s.polys {
		if len(poly) == 0 || !poly[0].bound.Contains(p) {
			continue
		}
		in := false
		for _, r := range poly {
			if r.bound.Contains(p) && crossings(r.ring, p)%2 == 1 {
				in = !in
			}
		}
		if in {
			return true
		}
	}
	return false
}

func crossings(r orb.Ring, p orb.Point) int {
	n := 0
	for i := 0; i+1 < len(r); i++ {
		a, b := r[i], r[i+1]
		if (a[1] > p[1]) != (b[1] > p[1]) && p[0] < (b[0]-a[0])*(p[1]-a[1])/(b[1]-a[1])+a[0] {
			n++
		}
	}
	return n
}
