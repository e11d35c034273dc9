package geo

import (
	"math"
	"sort"

	"github.com/paulmach/orb"
)

// Weights is a sparse spatial weights matrix in compressed-row form: row i lists the
// locations j with w_ij != 0. Rows built by this package include i itself with w_ii = 1,
// because Gi* (unlike Gi) counts the location in its own neighbourhood. Rows need not be
// symmetric (k nearest neighbours is not). Weights are binary (1) unless stated otherwise.
// A Weights is immutable once built and safe for concurrent reads.
type Weights struct {
	N     int
	Start []int     // row i is Index[Start[i]:Start[i+1]]; len N+1
	Index []int     // column (neighbour) indexes, ascending within a row
	Value []float64 // w_ij for each entry of Index

	sum    []float64 // Σ_j w_ij per row
	sumSq  []float64 // Σ_j w_ij² per row
	binary bool      // every weight is 1
}

// NewWeights builds binary weights from neighbour lists (nbrs[i] holds the neighbours of i).
// When self is true, i is added to its own row with w_ii = 1. Duplicates and out-of-range
// indexes are dropped.
func NewWeights(nbrs [][]int, self bool) *Weights {
	n := len(nbrs)
	w := &Weights{N: n, Start: make([]int, n+1)}
	row := make([]int, 0, 16)
	for i, ns := range nbrs {
		row = row[:0]
		if self {
			row = append(row, i)
		}
		for _, j := range ns {
			if j >= 0 && j < n && j != i {
				row = append(row, j)
			}
		}
		sort.Ints(row)
		for k, j := range row {
			if k > 0 && row[k-1] == j {
				continue
			}
			w.Index = append(w.Index, j)
			w.Value = append(w.Value, 1)
		}
		w.Start[i+1] = len(w.Index)
	}
	w.finish()
	return w
}

// NewWeightsValues builds weights from explicit rows: cols[i] and vals[i] have equal length.
// Self entries are taken as given (add i with weight 1 for the Gi* convention).
func NewWeightsValues(cols [][]int, vals [][]float64) *Weights {
	n := len(cols)
	w := &Weights{N: n, Start: make([]int, n+1)}
	for i := range cols {
		type e struct {
			j int
			v float64
		}
		row := make([]e, 0, len(cols[i]))
		for k, j := range cols[i] {
			if j >= 0 && j < n && vals[i][k] != 0 {
				row = append(row, e{j, vals[i][k]})
			}
		}
		sort.Slice(row, func(a, b int) bool { return row[a].j < row[b].j })
		for _, x := range row {
			w.Index = append(w.Index, x.j)
			w.Value = append(w.Value, x.v)
		}
		w.Start[i+1] = len(w.Index)
	}
	w.finish()
	return w
}

func (w *Weights) finish() {
	w.sum = make([]float64, w.N)
	w.sumSq = make([]float64, w.N)
	w.binary = true
	for i := 0; i < w.N; i++ {
		for k := w.Start[i]; k < w.Start[i+1]; k++ {
			v := w.Value[k]
			w.sum[i] += v
			w.sumSq[i] += v * v
			w.binary = w.binary && v == 1
		}
	}
}

// Row returns the neighbour indexes and weights of location i (shared slices; do not modify).
func (w *Weights) Row(i int) ([]int, []float64) {
	a, b := w.Start[i], w.Start[i+1]
	return w.Index[a:b], w.Value[a:b]
}

// Subset returns the weights among the locations keep (ascending indexes into w), renumbered
// 0..len(keep)-1 in that order: rows and columns of the other locations are dropped. Used to
// leave out locations that cannot take part (a region without the denominator of a rate).
func (w *Weights) Subset(keep []int) *Weights {
	pos := make(map[int]int, len(keep))
	for k, i := range keep {
		pos[i] = k
	}
	s := &Weights{N: len(keep), Start: make([]int, len(keep)+1)}
	for k, i := range keep {
		for e := w.Start[i]; e < w.Start[i+1]; e++ {
			if j, ok := pos[w.Index[e]]; ok {
				s.Index = append(s.Index, j)
				s.Value = append(s.Value, w.Value[e])
			}
		}
		s.Start[k+1] = len(s.Index)
	}
	s.finish()
	return s
}

// NNZ is the number of stored entries (self entries included).
func (w *Weights) NNZ() int { return len(w.Index) }

// MeanDegree is NNZ / N (self entries included).
func (w *Weights) MeanDegree() float64 {
	if w.N == 0 {
		return 0
	}
	return float64(len(w.Index)) / float64(w.N)
}

// earthRadiusM is the mean Earth radius in metres (IUGG), used by Haversine.
const earthRadiusM = 6371008.8

// Haversine is the great-circle distance in metres between two lon/lat points (degrees).
func Haversine(a, b orb.Point) float64 {
	const rad = math.Pi / 180
	lat1, lat2 := a[1]*rad, b[1]*rad
	dlat := lat2 - lat1
	dlon := (b[0] - a[0]) * rad
	s := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1)*math.Cos(lat2)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * earthRadiusM * math.Asin(math.Min(1, math.Sqrt(s)))
}

// latOrder sorts point indexes by latitude. The great-circle distance is at least
// R·|Δlat|, so a scan outward in latitude order can stop once that bound passes the radius
// of interest: exact results, far fewer distance evaluations than all pairs.
func latOrder(points []orb.Point) []int {
	ord := make([]int, len(points))
	for i := range ord {
		ord[i] = i
	}
	sort.Slice(ord, func(a, b int) bool { return points[ord[a]][1] < points[ord[b]][1] })
	return ord
}

const metresPerDegLat = earthRadiusM * math.Pi / 180

// boundSlack widens the distance bounds that stop or skip a neighbour search: a bound and the
// haversine it stands for round differently, and a point at exactly the k-th distance (a tie,
// decided by the lower index) or at exactly a band's radius (inclusive) must still be compared.
// It only lets a few more candidates through to the haversine, which alone decides a row.
const boundSlack = 1 + 1e-9

// lonBound is a lower bound, in metres, on the great-circle distance between two points of
// longitudes lon1 and lon2 (degrees) whose latitudes both have a cosine of at least c: the
// haversine's sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2) is at least c² sin²(Δλ/2), and
// 2R asin(x) ≥ 2R x, sin h ≥ h − h³/6. It costs no trigonometry; 0 when Δλ is too large for
// the series (over 90° of half-angle: no bound).
func lonBound(lon1, lon2, c float64) float64 {
	h := math.Abs(lon2-lon1) * (math.Pi / 360)
	if h > math.Pi/2 {
		return 0
	}
	return 2 * earthRadiusM * c * (h - h*h*h/6)
}

// KNearestWeights links each point (lon/lat degrees) to its k nearest other points by
// great-circle distance, plus itself (w_ii = 1); all weights 1. Ties at the k-th distance
// are broken by the lower index, so every row has exactly min(k, n-1) neighbours. The
// result is not symmetric. Cost: exact search pruned by latitude, and a candidate surely farther
// than the k-th found so far (lonBound) skips the haversine; worst case O(n²).
func KNearestWeights(points []orb.Point, k int) *Weights {
	n := len(points)
	if k > n-1 {
		k = n - 1
	}
	if k < 0 {
		k = 0
	}
	ord := latOrder(points)
	pos := make([]int, n)
	for r, i := range ord {
		pos[i] = r
	}
	type cand struct {
		d float64
		j int
	}
	less := func(a, b cand) bool { return a.d < b.d || (a.d == b.d && a.j < b.j) }
	cosLat := make([]float64, n)
	for i, p := range points {
		cosLat[i] = math.Cos(p[1] * math.Pi / 180)
	}
	nbrs := make([][]int, n)
	best := make([]cand, 0, k+1)
	for i := 0; i < n; i++ {
		best = best[:0]
		p := points[i]
		insert := func(j int) {
			// A point that is surely farther than the k-th so far (by a lower bound on its
			// distance) cannot enter: skip the haversine.
			if len(best) == k && lonBound(p[0], points[j][0], min(cosLat[i], cosLat[j])) > best[k-1].d*boundSlack {
				return
			}
			c := cand{Haversine(p, points[j]), j}
			if len(best) == k && !less(c, best[k-1]) {
				return
			}
			at := sort.Search(len(best), func(x int) bool { return less(c, best[x]) })
			if len(best) < k {
				best = append(best, cand{})
			}
			copy(best[at+1:], best[at:len(best)-1])
			best[at] = c
		}
		lo, hi := pos[i]-1, pos[i]+1
		for k > 0 && (lo >= 0 || hi < n) {
			bound := math.Inf(1)
			if len(best) == k {
				bound = best[k-1].d
			}
			dlo, dhi := math.Inf(1), math.Inf(1)
			if lo >= 0 {
				dlo = (p[1] - points[ord[lo]][1]) * metresPerDegLat
			}
			if hi < n {
				dhi = (points[ord[hi]][1] - p[1]) * metresPerDegLat
			}
			if math.Min(dlo, dhi) > bound*boundSlack {
				break
			}
			if dlo <= dhi {
				insert(ord[lo])
				lo--
			} else {
				insert(ord[hi])
				hi++
			}
		}
		row := make([]int, len(best))
		for x, c := range best {
			row[x] = c.j
		}
		nbrs[i] = row
	}
	return NewWeights(nbrs, true)
}

// DistanceBandWeights links each point (lon/lat degrees) to every other point within d
// metres great-circle distance (haversine, inclusive), plus itself (w_ii = 1); all weights
// 1. Symmetric. A point with no neighbour in the band keeps only itself; choose d so that
// every location has at least one neighbour (ArcGIS warns likewise).
func DistanceBandWeights(points []orb.Point, d float64) *Weights {
	n := len(points)
	ord := latOrder(points)
	nbrs := make([][]int, n)
	for a := 0; a < n; a++ {
		i := ord[a]
		for b := a + 1; b < n; b++ {
			j := ord[b]
			if (points[j][1]-points[i][1])*metresPerDegLat > d*boundSlack {
				break
			}
			if Haversine(points[i], points[j]) <= d {
				nbrs[i] = append(nbrs[i], j)
				nbrs[j] = append(nbrs[j], i)
			}
		}
	}
	return NewWeights(nbrs, true)
}

// ContiguityWeights is queen contiguity between polygon regions (Polygon or MultiPolygon
// geometry): two regions are neighbours when their boundaries share at least one point
// within tol (coordinate units, e.g. 1e-7 degrees ≈ 1 cm). Each row also holds the region
// itself (w_ii = 1); weights are binary and symmetric.
//
// Method: (1) vertices are hashed by coordinates rounded to tol; regions with a vertex in
// the same hash cell are neighbours (the common case for tilings, where neighbours share
// vertices); (2) for pairs whose bounds (grown by tol) overlap and that (1) did not link,
// every vertex of one is tested against every edge of the other (distance ≤ tol), which
// catches T-junctions where a vertex lies inside a neighbour's edge.
//
// Limits: regions that touch only where two edges cross without a vertex of either lying on
// the other are not linked (this does not happen in a valid tiling); holes are treated as
// boundary too; step (2) is O(V_a·V_b) per candidate pair, fine for tilings of a few
// thousand polygons with tens to hundreds of vertices but not for huge detailed outlines.
func ContiguityWeights(regions []*Region, tol float64) *Weights {
	n := len(regions)
	if tol <= 0 {
		tol = 1e-9
	}
	rings := make([][]orb.Ring, n)
	bounds := make([]orb.Bound, n)
	for i, r := range regions {
		switch g := r.Geometry.(type) {
		case orb.Polygon:
			rings[i] = append(rings[i], g...)
		case orb.MultiPolygon:
			for _, p := range g {
				rings[i] = append(rings[i], p...)
			}
		}
		if r.Geometry != nil {
			bounds[i] = r.Geometry.Bound()
		}
	}
	adj := make([]map[int]bool, n)
	link := func(a, b int) {
		if a == b {
			return
		}
		if adj[a] == nil {
			adj[a] = map[int]bool{}
		}
		if adj[b] == nil {
			adj[b] = map[int]bool{}
		}
		adj[a][b], adj[b][a] = true, true
	}
	linked := func(a, b int) bool { return adj[a] != nil && adj[a][b] }

	type key struct{ x, y int64 }
	cells := map[key][]int{}
	for i := range rings {
		for _, ring := range rings[i] {
			for _, p := range ring {
				k := key{int64(math.Round(p[0] / tol)), int64(math.Round(p[1] / tol))}
				ids := cells[k]
				if len(ids) > 0 && ids[len(ids)-1] == i {
					continue
				}
				for _, j := range ids {
					link(i, j)
				}
				cells[k] = append(ids, i)
			}
		}
	}

	// Sweep over bounds sorted by MinX to find candidate pairs.
	ord := make([]int, n)
	for i := range ord {
		ord[i] = i
	}
	sort.Slice(ord, func(a, b int) bool { return bounds[ord[a]].Min[0] < bounds[ord[b]].Min[0] })
	for a := 0; a < n; a++ {
		i := ord[a]
		if rings[i] == nil {
			continue
		}
		for b := a + 1; b < n; b++ {
			j := ord[b]
			if bounds[j].Min[0] > bounds[i].Max[0]+tol {
				break
			}
			if rings[j] == nil || linked(i, j) {
				continue
			}
			if bounds[j].Min[1] > bounds[i].Max[1]+tol || bounds[i].Min[1] > bounds[j].Max[1]+tol {
				continue
			}
			if vertexOnEdges(rings[i], rings[j], bounds[j], tol) || vertexOnEdges(rings[j], rings[i], bounds[i], tol) {
				link(i, j)
			}
		}
	}
	nbrs := make([][]int, n)
	for i, m := range adj {
		for j := range m {
			nbrs[i] = append(nbrs[i], j)
		}
	}
	return NewWeights(nbrs, true)
}

// vertexOnEdges reports whether any vertex of a lies within tol of an edge of b.
func vertexOnEdges(a, b []orb.Ring, bb orb.Bound, tol float64) bool {
	grown := bb.Pad(tol)
	for _, ra := range a {
		for _, p := range ra {
			if !grown.Contains(p) {
				continue
			}
			for _, rb := range b {
				for k := 1; k < len(rb); k++ {
					if pointSegDist(p, rb[k-1], rb[k]) <= tol {
						return true
					}
				}
			}
		}
	}
	return false
}

// segDist is the planar distance from p to segment ab.
func pointSegDist(p, a, b orb.Point) float64 {
	dx, dy := b[0]-a[0], b[1]-a[1]
	l2 := dx*dx + dy*dy
	t := 0.0
	if l2 > 0 {
		t = ((p[0]-a[0])*dx + (p[1]-a[1])*dy) / l2
		t = math.Max(0, math.Min(1, t))
	}
	qx, qy := a[0]+t*dx-p[0], a[1]+t*dy-p[1]
	return math.Hypot(qx, qy)
}
