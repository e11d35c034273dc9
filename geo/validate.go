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

// Warning kinds: what the checks changed or left out without refusing the input.
const (
	WarningNormalised = "ring_normalised"     // repeated vertices or zero-area spikes removed
	WarningSkipped    = "skipped_descendants" // features under a skipped one left out with it
)

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
	// Skip names features (by code) to leave out of the tree with their descendants; their
	// problems are not reported.
	Skip map[string]bool
	// CRS is the coordinate system of the input ("wgs84" default, "gcj02", "bd09"); features
	// are converted to WGS-84, the system regions are stored in.
	CRS string
	// Forest accepts input without a single root: several top-level regions, or top-level
	// regions that all name one parent missing from the input, get a synthesized root whose
	// geometry is the MultiPolygon of their polygons.
	Forest bool
	// RootCode and RootName name the synthesized root. The code defaults to the missing parent
	// the top-level regions name, else to ForestRootCode of their codes; the name to the code.
	RootCode, RootName string
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

// Report is what CheckRegions found.
type Report struct {
	Tree     *Tree     // nil when Problems is not empty
	Problems []Problem // reasons to refuse the input, by feature
	Warnings []Problem // what was changed or left out on the way (WarningNormalised, WarningSkipped)
	// Synthesized is the root made for a forest (CheckOptions.Forest), or nil.
	Synthesized *Region
}

// CheckFeatures validates region features and builds the tree from the ones not skipped
// (CheckRegions without its warnings).
func CheckFeatures(features []*geojson.Feature, opt CheckOptions) (*Tree, []Problem) {
	r := CheckRegions(features, opt)
	return r.Tree, r.Problems
}

// CheckRegions validates region features and builds the tree from the ones not skipped. It
// reports every problem it finds (by feature), never silently dropping one, except that a
// feature under a refused or missing parent is counted in that parent's problem rather than
// reported on its own; the tree is nil when problems remain. Rings are normalised first
// (repeated vertices and zero-area spikes removed, each feature's removal a warning). Gaps and
// overlaps between siblings are estimated from a regular grid of sample points over each parent
// (documented tolerance: AreaTol of the parent's area).
func CheckRegions(features []*geojson.Feature, opt CheckOptions) Report {
	opt.defaults()
	var rep Report
	firstProb := map[int]int{} // feature index → its first problem in rep.Problems
	report := func(i int, code, kind, format string, args ...any) {
		if _, ok := firstProb[i]; !ok {
			firstProb[i] = len(rep.Problems)
		}
		rep.Problems = append(rep.Problems, Problem{Feature: i, Code: code, Kind: kind, Detail: fmt.Sprintf(format, args...)})
	}
	warn := func(i int, code, kind, format string, args ...any) {
		rep.Warnings = append(rep.Warnings, Problem{Feature: i, Code: code, Kind: kind, Detail: fmt.Sprintf(format, args...)})
	}
	finish := func() Report {
		sort.SliceStable(rep.Problems, func(i, j int) bool { return rep.Problems[i].Feature < rep.Problems[j].Feature })
		sort.SliceStable(rep.Warnings, func(i, j int) bool { return rep.Warnings[i].Feature < rep.Warnings[j].Feature })
		if len(rep.Problems) > 0 {
			rep.Tree, rep.Synthesized = nil, nil
		}
		return rep
	}
	var regions []*Region
	index := map[*Region]int{}
	seen := map[string]int{}    // code → feature index, every feature not skipped
	refused := map[string]int{} // code → feature index, features refused for their own problems
	skipped := map[string]int{} // code → feature index
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
		return finish()
	}
	// A skipped feature's descendants are left out with it, unchecked.
	parentOf := map[string]string{}
	if len(opt.Skip) > 0 {
		for _, f := range features {
			if code := propString(f.Properties, opt.Props.Code); code != "" {
				if _, ok := parentOf[code]; !ok {
					parentOf[code] = propString(f.Properties, opt.Props.Parent)
				}
			}
		}
	}
	skippedUnder := map[string]int{}
	for i, f := range features {
		code := propString(f.Properties, opt.Props.Code)
		if code == "" {
			report(i, "", ProblemNoCode, "property %q missing", opt.Props.Code)
			continue
		}
		if opt.Skip[code] {
			if _, ok := skipped[code]; !ok {
				skipped[code] = i
			}
			continue
		}
		if len(opt.Skip) > 0 {
			p := parentOf[code]
			for steps := 0; p != "" && !opt.Skip[p] && steps <= len(parentOf); steps++ {
				p = parentOf[p]
			}
			if opt.Skip[p] {
				skippedUnder[p]++
				continue
			}
		}
		if j, dup := seen[code]; dup {
			report(i, code, ProblemDuplicate, "code also used by feature %d", j)
			continue
		}
		seen[code] = i
		geom, ok := checkGeometry(f.Geometry, func(kind, format string, args ...any) { report(i, code, kind, format, args...) },
			func(format string, args ...any) { warn(i, code, WarningNormalised, format, args...) })
		if !ok {
			refused[code] = i
			continue
		}
		f.Geometry = geom
		r := &Region{Code: code, Name: propString(f.Properties, opt.Props.Name), Parent: propString(f.Properties, opt.Props.Parent),
			Kind: propString(f.Properties, opt.Props.Kind), Geometry: geom, Bound: geom.Bound()}
		if w, ok := f.Properties["weight"].(float64); ok && w > 0 && w <= 1 {
			r.Weight = w
		}
		r.Denominators = parseDenominators(f.Properties)
		regions = append(regions, r)
		index[r] = i
	}

	// Parents, roots and cycles. A region whose chain of parents stops at a code that is no
	// region here (refused, skipped or missing) is left out, counted under that code.
	byCode := make(map[string]*Region, len(regions))
	for _, r := range regions {
		byCode[r.Code] = r
	}
	below := map[string][]*Region{} // stopping code → regions left out under it, in input order
	var tops, linked []*Region
	for _, r := range regions {
		p, steps := r.Parent, 0
		for p != "" && steps <= len(regions) {
			x, ok := byCode[p]
			if !ok {
				break
			}
			p = x.Parent
			steps++
		}
		switch {
		case steps > len(regions):
			report(index[r], r.Code, ProblemCycle, "following parents from %s never reaches a root", r.Code)
		case p != "":
			below[p] = append(below[p], r)
		default:
			linked = append(linked, r)
			if r.Parent == "" {
				tops = append(tops, r)
			}
		}
	}
	var missing []string
	for code := range below {
		if _, ok := refused[code]; !ok {
			if _, ok := skipped[code]; !ok {
				missing = append(missing, code)
			}
		}
	}
	sort.Slice(missing, func(i, j int) bool { return index[below[missing[i]][0]] < index[below[missing[j]][0]] })
	for code, rs := range below {
		if i, ok := refused[code]; ok {
			rep.Problems[firstProb[i]].Detail += "; " + descendants(len(rs)) + " left out"
		}
	}
	for code, n := range skippedUnder {
		i, ok := skipped[code]
		if !ok {
			i = -1 // skipped, and not in the input
		}
		warn(i, code, WarningSkipped, "%s left out with it", descendants(n))
	}

	var root *Region
	forest := opt.Forest && (len(tops) >= 2 && len(missing) == 0 || len(tops) == 0 && len(missing) == 1)
	if forest {
		code, name, kids := opt.RootCode, opt.RootName, tops
		if len(missing) == 1 {
			if code == "" {
				code = missing[0]
			}
			kids = nil
			for _, r := range below[missing[0]] {
				if r.Parent == missing[0] {
					kids = append(kids, r)
				}
			}
			linked = append(linked, below[missing[0]]...)
			delete(below, missing[0])
			missing = nil
		}
		if code == "" {
			codes := make([]string, len(kids))
			for i, r := range kids {
				codes[i] = r.Code
			}
			code = ForestRootCode(codes)
		}
		if name == "" {
			name = code
		}
		if i, taken := seen[code]; taken {
			report(i, code, ProblemRoots, "the synthesized root's code %q is this feature's: choose another root code", code)
		} else if i, taken := skipped[code]; taken {
			report(i, code, ProblemRoots, "the synthesized root's code %q is this skipped feature's: choose another root code", code)
		} else {
			root = synthesizeRoot(code, name, kids)
			index[root] = -1
			linked = append(linked, root)
		}
	}
	for _, code := range missing {
		rs := below[code]
		first := rs[0]
		for _, r := range rs {
			if r.Parent == code {
				first = r
				break
			}
		}
		if len(rs) == 1 {
			report(index[first], first.Code, ProblemUnknownPar, "parent %q is not in the input", code)
		} else {
			report(index[first], first.Code, ProblemUnknownPar, "parent %q is not in the input; %s left out", code, plural(len(rs)-1, "other feature under it", "other features under it"))
		}
	}
	if !forest && len(tops) != 1 && !(opt.Forest && len(tops) > 1) {
		codes := make([]string, len(tops))
		for i, r := range tops {
			codes[i] = r.Code
		}
		report(-1, "", ProblemRoots, "%d regions without a parent (%s): exactly one must contain all", len(tops), strings.Join(codes, ", "))
	}
	if len(rep.Problems) > 0 {
		return finish()
	}
	tree, err := NewTree(linked)
	if err != nil {
		report(-1, "", ProblemRoots, "%v", err)
		return finish()
	}
	rep.Tree, rep.Synthesized = tree, root

	// Geometry of the hierarchy: children inside parents, siblings tiling them.
	shapes := map[*Region]*shape{}
	shapeOf := func(r *Region) *shape {
		s, ok := shapes[r]
		if !ok {
			s = newShape(r.Geometry)
			shapes[r] = s
		}
		return s
	}
	tree.Walk(func(p *Region) {
		if len(p.Children) == 0 {
			return
		}
		ps := shapeOf(p)
		if p != root { // the synthesized root is made of its children
			for _, c := range p.Children {
				if v, d := farthestOutside(c.Geometry, ps, opt.OutsideTol); d > opt.OutsideTol {
					report(index[c], c.Code, ProblemOutside, "vertex %.6f,%.6f lies %.6f outside parent %s (tolerance %g)", v[0], v[1], d, p.Code, opt.OutsideTol)
				}
			}
		}
		children := make([]*shape, len(p.Children))
		for i, c := range p.Children {
			children[i] = shapeOf(c)
		}
		gap, overlap, where := siblingCoverage(p.Bound, ps, children, opt.Samples)
		if gap > opt.AreaTol {
			report(index[p], p.Code, ProblemGap, "children leave %.2f%% of the region uncovered (e.g. near %.6f,%.6f; tolerance %.2f%%)", 100*gap, where[0][0], where[0][1], 100*opt.AreaTol)
		}
		if overlap > opt.AreaTol {
			report(index[p], p.Code, ProblemOverlap, "children overlap on %.2f%% of the region (e.g. near %.6f,%.6f; tolerance %.2f%%)", 100*overlap, where[1][0], where[1][1], 100*opt.AreaTol)
		}
		// A parent's shape is not needed again once its children are checked.
		delete(shapes, p)
	})
	return finish()
}

func descendants(n int) string { return plural(n, "descendant", "descendants") }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// checkGeometry checks a feature's geometry ring by ring, normalising rings first (see
// normaliseRing). It returns the normalised geometry (the input when nothing changed) and
// whether it is usable.
func checkGeometry(g orb.Geometry, report func(kind, format string, args ...any), warn func(format string, args ...any)) (orb.Geometry, bool) {
	var polys orb.MultiPolygon
	switch x := g.(type) {
	case orb.Polygon:
		polys = orb.MultiPolygon{x}
	case orb.MultiPolygon:
		polys = x
	default:
		report(ProblemGeometry, "geometry is %T, want Polygon or MultiPolygon", g)
		return g, false
	}
	ok := len(polys) > 0
	if !ok {
		report(ProblemEmptyPolygon, "no polygon")
	}
	var out orb.MultiPolygon // copied on the first change
	total, repeated, spikes := 0, 0, 0
	for pi, poly := range polys {
		if len(poly) == 0 {
			report(ProblemEmptyPolygon, "polygon %d has no ring", pi)
			ok = false
		}
		for ri, ring := range poly {
			total += len(ring)
			switch {
			case len(ring) < 4:
				report(ProblemShortRing, "polygon %d ring %d has %d points", pi, ri, len(ring))
				ok = false
				continue
			case outOfRange(ring) >= 0:
				v := ring[outOfRange(ring)]
				report(ProblemRange, "polygon %d ring %d point %d: %v is not a longitude, latitude pair (±180, ±90)", pi, ri, outOfRange(ring), v)
				ok = false
				continue
			case ring[0] != ring[len(ring)-1]:
				report(ProblemUnclosed, "polygon %d ring %d: first point %v, last %v", pi, ri, ring[0], ring[len(ring)-1])
				ok = false
				continue
			}
			norm, rp, sp := normaliseRing(ring)
			if rp+sp > 0 {
				repeated, spikes = repeated+rp, spikes+sp
				if out == nil {
					out = make(orb.MultiPolygon, len(polys))
					for i := range polys {
						out[i] = append(orb.Polygon(nil), polys[i]...)
					}
				}
				out[pi][ri] = norm
			}
			if len(norm) < 4 {
				report(ProblemShortRing, "polygon %d ring %d has %d distinct points once %d repeated and %d spike vertices are removed", pi, ri, max(len(norm)-1, 0), rp, sp)
				ok = false
				continue
			}
			if a, b, x, found := selfIntersection(norm); found {
				report(ProblemSelfCross, "polygon %d ring %d: edges %d and %d cross near %.6f,%.6f", pi, ri, a, b, x[0], x[1])
				ok = false
			}
		}
	}
	if !ok {
		return g, false
	}
	if out == nil {
		return g, true
	}
	warn("removed %d of %d vertices: %d repeated, %d in zero-area spikes", repeated+spikes, total, repeated, spikes)
	if _, single := g.(orb.Polygon); single {
		return out[0], true
	}
	return out, true
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

// normaliseRing removes from a closed ring what GeoJSON allows but the checks would take for a
// self-intersection: repeated consecutive vertices, and zero-area spikes (a vertex where the
// ring turns back along the same line, A→B→A or A→B→C with C on AB; exact arithmetic, no
// tolerance). It returns the ring (the input itself when nothing changed) and how many
// vertices of each sort it removed; a ring that collapses comes back with fewer than 4 points.
func normaliseRing(r orb.Ring) (orb.Ring, int, int) {
	open := r[:len(r)-1]
	changed := false
	for i := range open {
		a, b, c := open[(i+len(open)-1)%len(open)], open[i], open[(i+1)%len(open)]
		if a == b || spike(a, b, c) {
			changed = true
			break
		}
	}
	if !changed {
		return r, 0, 0
	}
	s := make([]orb.Point, 0, len(open))
	repeated, spikes := 0, 0
	for _, p := range open {
		if len(s) > 0 && s[len(s)-1] == p {
			repeated++
			continue
		}
		s = append(s, p)
		for len(s) >= 3 && spike(s[len(s)-3], s[len(s)-2], s[len(s)-1]) {
			s[len(s)-2] = s[len(s)-1] // drop the tip
			s = s[:len(s)-1]
			spikes++
			if s[len(s)-1] == s[len(s)-2] { // A→B→A: the second A goes too
				s = s[:len(s)-1]
				spikes++
			}
		}
	}
	// Where the ring closes: the same, across the seam.
	for tip := false; len(s) >= 3; {
		n := len(s)
		switch {
		case s[n-1] == s[0]:
			s = s[:n-1]
			if tip { // the second A of an A→B→A spike
				spikes++
			} else {
				repeated++
			}
			tip = false
		case spike(s[n-2], s[n-1], s[0]):
			s = s[:n-1]
			spikes++
			tip = true
		case spike(s[n-1], s[0], s[1]):
			s = s[1:]
			spikes++
			tip = true
		default:
			return append(orb.Ring(s), s[0]), repeated, spikes
		}
	}
	return append(orb.Ring(s), s[0]), repeated, spikes
}

// spike reports whether the ring turns back at b: a, b, c on one line, c-b against b-a.
func spike(a, b, c orb.Point) bool {
	ux, uy, vx, vy := b[0]-a[0], b[1]-a[1], c[0]-b[0], c[1]-b[1]
	return ux*vy-uy*vx == 0 && ux*vx+uy*vy < 0
}

// farthestOutside returns the vertex of child farthest outside the parent and its distance,
// when that distance exceeds tol; else a distance of at most tol. Vertices inside, or within
// tol of an edge nearby (latitude bands), cost no scan of the parent's whole boundary.
func farthestOutside(child orb.Geometry, ps *shape, tol float64) (orb.Point, float64) {
	var worst orb.Point
	max := 0.0
	forEachVertex(child, func(v orb.Point) {
		if ps.contains(v) || ps.within(v, tol) {
			return
		}
		if d := ps.distanceAbove(v, math.Max(tol, max)); d > max {
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

// siblingCoverage estimates, on a regular grid of about n sample points over the parent's bound
// b, the shares of its area covered by no child (gap) and by two or more children (overlap),
// with an example point of each.
func siblingCoverage(b orb.Bound, parent *shape, children []*shape, n int) (gap, overlap float64, where [2]orb.Point) {
	w, h := b.Max[0]-b.Min[0], b.Max[1]-b.Min[1]
	if w <= 0 || h <= 0 {
		return 0, 0, where
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
			for _, c := range children {
				if c.contains(pt) {
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

// shape is a (multi)polygon compiled for many containment and distance tests: its parts as the
// locator's ring sets, whose edges are banded by latitude.
type shape struct {
	bound orb.Bound
	parts []ringSet
}

func newShape(g orb.Geometry) *shape {
	return &shape{bound: g.Bound(), parts: compileGeometry(g)}
}

// contains is the locator's half-open test: parity over a part's rings, union over parts.
func (s *shape) contains(p orb.Point) bool {
	if !s.bound.Contains(p) {
		return false
	}
	for _, rs := range s.parts {
		if rs.contains(p) {
			return true
		}
	}
	return false
}

// within reports whether an edge of s lies within d of p; only the edges of the latitude bands
// that meet [y-d, y+d] are measured.
func (s *shape) within(p orb.Point, d float64) bool {
	if !s.bound.Pad(d).Contains(p) {
		return false
	}
	for _, rs := range s.parts {
		for i := range rs {
			r := &rs[i]
			if !r.bound.Pad(d).Contains(p) {
				continue
			}
			if r.nb == 0 {
				if edgesWithin(r.edges, p, d) {
					return true
				}
				continue
			}
			for b, b1 := r.band(p[1]-d), r.band(p[1]+d); b <= b1; b++ {
				if edgesWithin(r.edges[r.start[b]:r.start[b+1]], p, d) {
					return true
				}
			}
		}
	}
	return false
}

func edgesWithin(es []edge, p orb.Point, d float64) bool {
	for i := range es {
		e := &es[i]
		if p[1] < e.ay-d || p[1] > e.by+d || p[0] < min(e.ax, e.bx)-d || p[0] > max(e.ax, e.bx)+d {
			continue
		}
		if edgeDistance(e, p) <= d {
			return true
		}
	}
	return false
}

func edgeDistance(e *edge, p orb.Point) float64 {
	return planar.DistanceFromSegment(orb.Point{e.ax, e.ay}, orb.Point{e.bx, e.by}, p)
}

// distanceAbove returns the distance from p to the boundary of s when it exceeds floor; else
// it stops at the first edge within floor and returns that edge's distance.
func (s *shape) distanceAbove(p orb.Point, floor float64) float64 {
	best := math.Inf(1)
	for _, rs := range s.parts {
		for i := range rs {
			es := rs[i].edges // banded copies hold every edge at least once
			for j := range es {
				if d := edgeDistance(&es[j], p); d < best {
					if best = d; best <= floor {
						return best
					}
				}
			}
		}
	}
	return best
}
