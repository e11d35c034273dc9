package geo

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

// plainGiStar is a second, deliberately plain Gi* written from the textbook formula
// (Ord & Getis 1995, eq. 14 in the form ArcGIS documents) over a dense weight matrix:
//
//	z_i = (Σ_j w_ij x_j − X̄ Σ_j w_ij) / (S · sqrt((n Σ_j w_ij² − (Σ_j w_ij)²) / (n − 1)))
//	X̄ = Σ x_j / n,   S = sqrt(Σ x_j² / n − X̄²)
//
// It shares no code with GiStar (no sparse rows, no cached sums, S from Σx² rather than
// the centred sum).
func plainGiStar(x []float64, w [][]float64) []float64 {
	n := float64(len(x))
	var sx, sxx float64
	for _, v := range x {
		sx += v
		sxx += v * v
	}
	mean := sx / n
	s := math.Sqrt(sxx/n - mean*mean)
	z := make([]float64, len(x))
	for i := range x {
		var num, wsum, w2 float64
		for j := range x {
			num += w[i][j] * x[j]
			wsum += w[i][j]
			w2 += w[i][j] * w[i][j]
		}
		z[i] = (num - mean*wsum) / (s * math.Sqrt((n*w2-wsum*wsum)/(n-1)))
	}
	return z
}

func hsDense(w [][]float64) *Weights {
	cols := make([][]int, len(w))
	vals := make([][]float64, len(w))
	for i := range w {
		for j, v := range w[i] {
			if v != 0 {
				cols[i] = append(cols[i], j)
				vals[i] = append(vals[i], v)
			}
		}
	}
	return NewWeightsValues(cols, vals)
}

func TestGiStarMatchesPlainImplementation(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 50; trial++ {
		n := 3 + r.IntN(60)
		x := make([]float64, n)
		for i := range x {
			x[i] = float64(r.IntN(20)) + r.Float64()*float64(trial%3)
		}
		w := make([][]float64, n)
		for i := range w {
			w[i] = make([]float64, n)
			w[i][i] = 1
			for j := range w[i] {
				if j != i && r.Float64() < 0.2 {
					if trial%2 == 0 {
						w[i][j] = 1
					} else {
						w[i][j] = 0.1 + r.Float64()
					}
				}
			}
		}
		want := plainGiStar(x, w)
		got := GiStar(x, hsDense(w))
		for i := range want {
			if math.IsNaN(want[i]) || math.IsInf(want[i], 0) {
				continue // row covering everything: degenerate, checked elsewhere
			}
			if math.Abs(got[i].Z-want[i]) > 1e-9 {
				t.Fatalf("trial %d loc %d: z %.12f, plain %.12f", trial, i, got[i].Z, want[i])
			}
			if p := math.Erfc(math.Abs(want[i]) / math.Sqrt2); math.Abs(got[i].P-p) > 1e-12 {
				t.Fatalf("trial %d loc %d: p %g, want %g", trial, i, got[i].P, p)
			}
		}
	}
}

// hsRook3x3 is rook contiguity plus self on a 3×3 lattice indexed r*3+c.
func hsRook3x3() *Weights {
	nbrs := make([][]int, 9)
	for i := 0; i < 9; i++ {
		r, c := i/3, i%3
		for _, d := range [][2]int{{-1, 0}, {1, 0}, {0, -1}, {0, 1}} {
			rr, cc := r+d[0], c+d[1]
			if rr >= 0 && rr < 3 && cc >= 0 && cc < 3 {
				nbrs[i] = append(nbrs[i], rr*3+cc)
			}
		}
	}
	return NewWeights(nbrs, true)
}

// TestGiStarHandWorked checks a 3×3 lattice with a hot corner, computed by hand.
//
//	x = 6 4 1      n = 9, Σx = 18, X̄ = 2
//	    4 1 0      Σx² = 36+16+1+16+1+0+1+0+1 = 72, S² = 72/9 − 4 = 4, S = 2
//	    1 0 1
//
// Rook contiguity plus self, binary: corners W = Σw² = 3, edges 4, centre 5.
//
//	corner: den = 2·sqrt((9·3 − 9)/8)  = 2·1.5     = 3
//	edge:   den = 2·sqrt((9·4 − 16)/8) = 2·sqrt(2.5) = √10
//	centre: den = 2·sqrt((9·5 − 25)/8) = 2·sqrt(2.5) = √10
//
//	loc 0 corner {0,1,3}:     lag 6+4+4 = 14,   z = (14 − 6)/3   =  8/3
//	loc 1 edge {0,1,2,4}:     lag 6+4+1+1 = 12, z = (12 − 8)/√10 =  4/√10
//	loc 2 corner {1,2,5}:     lag 4+1+0 = 5,    z = (5 − 6)/3    = −1/3
//	loc 3 edge {0,3,4,6}:     lag 6+4+1+1 = 12, z =  4/√10
//	loc 4 centre {1,3,4,5,7}: lag 4+4+1+0+0 = 9, z = (9 − 10)/√10 = −1/√10
//	loc 5 edge {2,4,5,8}:     lag 1+1+0+1 = 3,  z = (3 − 8)/√10  = −5/√10
//	loc 6 corner {3,6,7}:     lag 4+1+0 = 5,    z = −1/3
//	loc 7 edge {4,6,7,8}:     lag 1+1+0+1 = 3,  z = −5/√10
//	loc 8 corner {5,7,8}:     lag 0+0+1 = 1,    z = (1 − 6)/3    = −5/3
//
// Raw bins: 8/3 = 2.667 (p = 0.0077) → +3; −5/3 = −1.667 (p = 0.0956) → −1; the rest 0.
func TestGiStarHandWorked(t *testing.T) {
	x := []float64{6, 4, 1, 4, 1, 0, 1, 0, 1}
	r10 := math.Sqrt(10)
	want := []float64{8.0 / 3, 4 / r10, -1.0 / 3, 4 / r10, -1 / r10, -5 / r10, -1.0 / 3, -5 / r10, -5.0 / 3}
	wantBin := []int{3, 0, 0, 0, 0, 0, 0, 0, -1}
	got := GiStar(x, hsRook3x3())
	for i := range want {
		if math.Abs(got[i].Z-want[i]) > 1e-12 {
			t.Errorf("loc %d: z = %.12f, want %.12f", i, got[i].Z, want[i])
		}
		if got[i].Bin != wantBin[i] {
			t.Errorf("loc %d: bin = %d, want %d", i, got[i].Bin, wantBin[i])
		}
	}
	if p := got[0].P; math.Abs(p-0.00766) > 5e-5 {
		t.Errorf("p(8/3) = %g, want ≈ 0.00766", p)
	}
	// With FDR (9 tests): loc 0 has q = 9·0.00766/1 = 0.069 → only the 90 % bin.
	res := Hotspots(x, hsRook3x3(), HotspotOptions{})
	if !res.FDR || res.Results[0].Bin != 1 || res.Results[8].Bin != 0 {
		t.Errorf("FDR bins: loc0 %d (want 1), loc8 %d (want 0)", res.Results[0].Bin, res.Results[8].Bin)
	}
	if res.Mean != 2 || res.SD != 2 {
		t.Errorf("mean %g sd %g, want 2 2", res.Mean, res.SD)
	}
}

// TestLocalOfHandWorked checks the neighbourhood figures on the hand-worked lattice above
// (rook contiguity plus self; X̄ 2, S 2), with events twice the analysed value as for a rate:
//
//	loc 0 (6): neighbours 4 4      observed 14, expected 2·3 = 6,  mean around 4,   own z 2
//	loc 1 (4): neighbours 6 1 1    observed 12, expected 2·4 = 8,  mean around 8/3, own z 1
//	loc 2 (1): neighbours 4 0      observed 5,  expected 6,        mean around 2,   own z −0.5
//	loc 4 (1): neighbours 4 4 0 0  observed 9,  expected 10,       mean around 2,   own z −0.5
//
// Locs 2 and 4 are below their neighbours and unremarkable by themselves: through them.
func TestLocalOfHandWorked(t *testing.T) {
	x := []float64{6, 4, 1, 4, 1, 0, 1, 0, 1}
	counts := make([]float64, len(x))
	for i, v := range x {
		counts[i] = 2 * v
	}
	w := hsRook3x3()
	res := Hotspots(x, w, HotspotOptions{})
	for _, c := range []struct {
		i                        int
		observed, expected, mean float64
		neighbours               int
		ownZ                     float64
		through                  bool
	}{
		{0, 14, 6, 4, 2, 2, false},
		{1, 12, 8, 8.0 / 3, 3, 1, false},
		{2, 5, 6, 2, 2, -0.5, true},
		{4, 9, 10, 2, 4, -0.5, true},
	} {
		l := res.LocalOf(c.i, x, w, counts)
		if l.Observed != c.observed || l.Expected != c.expected || l.Neighbours != c.neighbours ||
			math.Abs(l.NeighbourMean-c.mean) > 1e-12 || l.Own != x[c.i] || l.OwnZ != c.ownZ || l.Events != 2*c.observed {
			t.Errorf("loc %d: %+v; want observed %g, expected %g, %d neighbours, mean around %g, own %g, events %g",
				c.i, l, c.observed, c.expected, c.neighbours, c.mean, x[c.i], 2*c.observed)
		}
		if l.ThroughNeighbours() != c.through {
			t.Errorf("loc %d: through neighbours %v, want %v", c.i, l.ThroughNeighbours(), c.through)
		}
	}
	// Without neighbours, never; below its neighbours but remarkable by itself, never.
	for _, l := range []Local{{Own: 0}, {Own: 5, OwnZ: OwnTail, NeighbourMean: 9, Neighbours: 4}} {
		if l.ThroughNeighbours() {
			t.Errorf("%+v: hot through its neighbours", l)
		}
	}
	if l := (Local{Own: 5, OwnZ: OwnTail - 0.01, NeighbourMean: 9, Neighbours: 4}); !l.ThroughNeighbours() {
		t.Errorf("%+v: not hot through its neighbours", l)
	}
}

func TestGiStarDegenerate(t *testing.T) {
	w := hsRook3x3()
	res := Hotspots([]float64{5, 5, 5, 5, 5, 5, 5, 5, 5}, w, HotspotOptions{})
	if res.Degenerate != ReasonNoVariance {
		t.Errorf("equal counts: reason %q", res.Degenerate)
	}
	for i, r := range res.Results {
		if r.Z != 0 || r.P != 1 || r.Bin != 0 {
			t.Errorf("equal counts loc %d: %+v", i, r)
		}
	}
	res = Hotspots([]float64{1, 2}, NewWeights([][]int{{1}, {0}}, true), HotspotOptions{})
	if res.Degenerate != ReasonTooFew || res.Results[0].Z != 0 {
		t.Errorf("n = 2: %+v", res)
	}
	// A row covering the whole area has zero denominator: z = 0 there only.
	all := NewWeights([][]int{{1, 2, 3}, {0}, {3}, {2}}, true)
	got := GiStar([]float64{1, 5, 2, 9}, all)
	if got[0].Z != 0 || got[0].P != 1 || got[1].Z == 0 {
		t.Errorf("whole-area row: %+v", got)
	}
}

// TestBHHandWorked: p = 0.01, 0.04, 0.03, 0.005, 0.2 (m = 5).
//
//	ranked:  0.005 (k=1), 0.01 (2), 0.03 (3), 0.04 (4), 0.2 (5)
//	m·p/k:   0.025,       0.025,    0.05,     0.05,     0.2
//	q (running min from the top): 0.025, 0.025, 0.05, 0.05, 0.2
//	critical at α = 0.05: thresholds k·α/m = 0.01 0.02 0.03 0.04 0.05 → ranks 1-4 pass → 0.04
//	critical at α = 0.01: thresholds 0.002 0.004 0.006 0.008 0.01 → none pass → 0
//
// Bins: q 0.025 → ±2, q 0.05 → ±2, q 0.2 → 0; nothing reaches ±3.
func TestBHHandWorked(t *testing.T) {
	p := []float64{0.01, 0.04, 0.03, 0.005, 0.2}
	wantQ := []float64{0.025, 0.05, 0.05, 0.025, 0.2}
	q := BHAdjust(p)
	for i := range q {
		if math.Abs(q[i]-wantQ[i]) > 1e-15 {
			t.Errorf("q[%d] = %g, want %g", i, q[i], wantQ[i])
		}
	}
	if c := BHCritical(p, 0.05); c != 0.04 {
		t.Errorf("critical(0.05) = %g, want 0.04", c)
	}
	if c := BHCritical(p, 0.01); c != 0 {
		t.Errorf("critical(0.01) = %g, want 0", c)
	}
	rs := make([]GiResult, len(p))
	sign := []float64{1, 1, -1, 1, 1}
	for i := range p {
		rs[i] = GiResult{Z: sign[i] * 3, P: p[i], Bin: 3}
	}
	if n := FDR(rs, 0.10); n != 4 {
		t.Errorf("significant at 0.10: %d, want 4", n)
	}
	wantBin := []int{2, 2, -2, 2, 0}
	for i := range rs {
		if rs[i].Bin != wantBin[i] {
			t.Errorf("bin[%d] = %d, want %d", i, rs[i].Bin, wantBin[i])
		}
	}
	// alpha 0.01 keeps only the 99 % level: nothing passes.
	if n := FDR(rs, 0.01); n != 0 || rs[0].Bin != 0 {
		t.Errorf("alpha 0.01: %d significant, bin %d", n, rs[0].Bin)
	}
}

// Q ≤ α must agree with the step-up rule p ≤ critical(α) on random p-values.
func TestBHAdjustAgreesWithCritical(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 200; trial++ {
		m := 1 + r.IntN(50)
		p := make([]float64, m)
		for i := range p {
			p[i] = math.Pow(r.Float64(), 3)
		}
		q := BHAdjust(p)
		for _, a := range []float64{0.01, 0.05, 0.1} {
			c := BHCritical(p, a)
			for i := range p {
				if (q[i] <= a) != (c > 0 && p[i] <= c) {
					t.Fatalf("trial %d α %g: p %g q %g crit %g", trial, a, p[i], q[i], c)
				}
			}
		}
	}
}

// squares returns a rows×cols tiling of unit squares (closed rings), indexed r*cols+c.
func hsSquares(rows, cols int) []*Region {
	var out []*Region
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			x, y := float64(c), float64(r)
			out = append(out, &Region{Geometry: orb.Polygon{{{x, y}, {x + 1, y}, {x + 1, y + 1}, {x, y + 1}, {x, y}}}})
		}
	}
	return out
}

func hsRow(w *Weights, i int) []int {
	cols, _ := w.Row(i)
	return append([]int(nil), cols...)
}

func hsEqualInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestContiguityWeights(t *testing.T) {
	w := ContiguityWeights(hsSquares(3, 3), 1e-9)
	// Queen: the centre touches all, a corner touches 3 (+ self).
	if got := hsRow(w, 4); len(got) != 9 {
		t.Errorf("centre row %v", got)
	}
	if got := hsRow(w, 0); !hsEqualInts(got, []int{0, 1, 3, 4}) {
		t.Errorf("corner row %v", got)
	}
	// T-junction: a 2-wide bottom square under two unit squares; the top squares' corner
	// (1,1) lies inside the bottom's top edge, which has no vertex there.
	regs := []*Region{
		{Geometry: orb.Polygon{{{0, 0}, {2, 0}, {2, 1}, {0, 1}, {0, 0}}}},
		{Geometry: orb.Polygon{{{0, 1.0000000001}, {1, 1}, {1, 2}, {0, 2}, {0, 1.0000000001}}}},
		{Geometry: orb.Polygon{{{1.5, 1}, {2, 1}, {2, 2}, {1.5, 2}, {1.5, 1}}}},
		{Geometry: orb.Polygon{{{5, 5}, {6, 5}, {6, 6}, {5, 6}, {5, 5}}}},
	}
	w = ContiguityWeights(regs, 1e-6)
	if got := hsRow(w, 0); !hsEqualInts(got, []int{0, 1, 2}) {
		t.Errorf("T-junction row %v", got)
	}
	if got := hsRow(w, 3); !hsEqualInts(got, []int{3}) {
		t.Errorf("isolated row %v", got)
	}
}

func hsRandomPoints(r *rand.Rand, n int) []orb.Point {
	pts := make([]orb.Point, n)
	for i := range pts {
		pts[i] = orb.Point{114 + r.Float64()*0.5, 32 + r.Float64()*0.5}
	}
	return pts
}

func TestKNearestAndDistanceBandMatchBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	pts := hsRandomPoints(r, 300)
	const k = 6
	w := KNearestWeights(pts, k)
	for i := range pts {
		if got, want := hsRow(w, i), hsKNearestBrute(pts, i, k); !hsEqualInts(got, want) {
			t.Fatalf("knn row %d = %v, want %v", i, got, want)
		}
	}
	const d = 3000.0
	b := DistanceBandWeights(pts, d)
	for i := range pts {
		want := hsBandBrute(pts, i, d)
		if got := hsRow(b, i); !hsEqualInts(got, want) {
			t.Fatalf("band row %d = %v, want %v", i, got, want)
		}
	}
}

func TestHaversine(t *testing.T) {
	// One degree of latitude on the mean sphere: R·π/180 = 111,195.08 m.
	if d := Haversine(orb.Point{114, 32}, orb.Point{114, 33}); math.Abs(d-111195.08) > 0.1 {
		t.Errorf("1° lat = %f m", d)
	}
}

func TestHex(t *testing.T) {
	p := orb.Point{114.0913, 32.1470} // Xinyang
	c := HexCell(p, DefaultHexRes)
	if c == 0 {
		t.Fatal("zero cell")
	}
	cen := HexCentroid(c)
	if Haversine(p, cen) > 1000 {
		t.Errorf("centroid %v too far from %v", cen, p)
	}
	if HexCell(cen, DefaultHexRes) != c {
		t.Error("centroid not in its own cell")
	}
	b := HexBoundary(c)
	if len(b) != 1 || len(b[0]) != 7 || b[0][0] != b[0][6] {
		t.Errorf("boundary %v", b)
	}
	nb := HexNeighbours(c)
	if len(nb) != 6 {
		t.Fatalf("neighbours %d", len(nb))
	}
	for _, n := range nb {
		if d := Haversine(cen, HexCentroid(n)); d < 500 || d > 1200 {
			t.Errorf("neighbour at %f m", d)
		}
	}
	if a := HexAreaKm2(8); math.Abs(a-0.737) > 0.01 {
		t.Errorf("res 8 area %f", a)
	}
	cells := append([]uint64{c}, nb...)
	w, idx := HexWeights(cells, 1)
	if len(hsRow(w, idx[c])) != 7 || len(hsRow(w, idx[nb[0]])) != 4 {
		t.Errorf("hex weights rows %v / %v", hsRow(w, idx[c]), hsRow(w, idx[nb[0]]))
	}
	cover := HexCover(orb.Polygon{{{114, 32}, {114.05, 32}, {114.05, 32.05}, {114, 32.05}, {114, 32}}}, 8)
	// ≈ 5.2 km × 5.6 km ≈ 26 km² / 0.74 ≈ 35 cells.
	if len(cover) < 25 || len(cover) > 50 {
		t.Errorf("cover %d cells", len(cover))
	}
}

type hsEvent struct {
	loc int
	t   time.Time
}

// TestLiveWindowMatchesRecount: incremental totals equal a recount from the event log.
func TestLiveWindowMatchesRecount(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const n = 25
	spec := WindowSpec{"test", time.Minute, 10}
	t0 := time.Date(2026, 11, 27, 8, 0, 30, 0, time.UTC)
	lw := NewLiveWindow(n, spec, t0)
	now := t0
	var log []hsEvent
	for step := 0; step < 5000; step++ {
		switch r.IntN(10) {
		case 0:
			now = now.Add(time.Duration(r.IntN(180)) * time.Second)
			lw.Advance(now)
		case 1:
			now = now.Add(time.Duration(r.IntN(30)) * time.Minute) // sometimes past the whole window
			lw.Advance(now)
		default:
			// mostly current, some late, some too old, some slightly ahead
			at := now.Add(time.Duration(r.IntN(900)-780) * time.Second)
			loc := r.IntN(n)
			if lw.Add(loc, at) {
				log = append(log, hsEvent{loc, at})
				if at.After(now) {
					now = at
				}
			} else if from, _ := lw.Range(); !at.Before(from) {
				t.Fatalf("in-window event refused at %v (from %v)", at, from)
			}
		}
		if step%50 == 0 {
			from, to := lw.Range()
			want := make([]int64, n)
			for _, e := range log {
				if !e.t.Before(from) && e.t.Before(to) {
					want[e.loc]++
				}
			}
			for i := range want {
				if lw.Totals()[i] != want[i] {
					t.Fatalf("step %d loc %d: total %d, recount %d", step, i, lw.Totals()[i], want[i])
				}
			}
			// Each gives every event's bucket: the recount per (location, bucket start).
			type lb struct {
				loc   int
				start time.Time
			}
			byBucket := map[lb]int32{}
			for _, e := range log {
				if !e.t.Before(from) && e.t.Before(to) {
					byBucket[lb{e.loc, e.t.Truncate(spec.Bucket)}]++
				}
			}
			seen := 0
			lw.Each(func(loc int, start time.Time, c int32) {
				if byBucket[lb{loc, start}] != c {
					t.Fatalf("step %d loc %d bucket %v: Each %d, recount %d", step, loc, start, c, byBucket[lb{loc, start}])
				}
				seen++
			})
			if seen != len(byBucket) {
				t.Fatalf("step %d: Each gave %d buckets, recount %d", step, seen, len(byBucket))
			}
		}
	}
	// Compute over the window equals GiStar over the recount.
	w := hsRook3x3()
	lw9 := NewLiveWindow(9, spec, t0)
	x := []float64{6, 4, 1, 4, 1, 0, 1, 0, 1}
	for i, c := range x {
		for k := 0; k < int(c); k++ {
			lw9.Add(i, t0.Add(time.Duration(k)*time.Second))
		}
	}
	got := lw9.Compute(w, HotspotOptions{DisableFDR: true})
	want := GiStar(x, w)
	for i := range want {
		if got.Results[i] != want[i] {
			t.Errorf("loc %d: %+v vs %+v", i, got.Results[i], want[i])
		}
	}
	if lw.Add(n, now) || lw.Add(-1, now) {
		t.Error("out-of-range location accepted")
	}
}

// FDR's radix ranking must give the same q-values as the sort-based BHAdjust, ties included.
func TestFDRMatchesBHAdjust(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for trial := 0; trial < 200; trial++ {
		m := 1 + r.IntN(300)
		rs := make([]GiResult, m)
		p := make([]float64, m)
		for i := range rs {
			switch r.IntN(4) {
			case 0:
				p[i] = 1 // the z = 0 case
			case 1:
				p[i] = float64(r.IntN(5)) / 100 // exact ties
			default:
				p[i] = math.Pow(r.Float64(), 4)
			}
			rs[i] = GiResult{Z: 1, P: p[i]}
		}
		FDR(rs, 0.10)
		q := BHAdjust(p)
		for i := range rs {
			if rs[i].Q != q[i] {
				t.Fatalf("trial %d loc %d: p %g, FDR q %g, BHAdjust q %g", trial, i, p[i], rs[i].Q, q[i])
			}
		}
	}
}

func TestLiveWindowCubeOf(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	lw := NewLiveWindow(3, WindowSpec{Name: "3m", Bucket: time.Minute, Buckets: 3}, start)
	lw.Add(0, start)                    // bucket 10:00
	lw.Add(2, start.Add(time.Minute))   // 10:01
	lw.Add(2, start.Add(2*time.Minute)) // 10:02 (newest)
	lw.Add(1, start.Add(2*time.Minute))
	c := lw.CubeOf([]int{2, 0})
	if c.Locs != 2 || c.Steps != 3 {
		t.Fatalf("cube %dx%d", c.Locs, c.Steps)
	}
	want := []float64{0, 1, 1, 1, 0, 0} // location 2 then 0, oldest bucket first
	for i, v := range want {
		if c.Counts[i] != v {
			t.Fatalf("cube counts %v, want %v", c.Counts, want)
		}
	}
}

// MinLocal keeps lone events among zeros out of the hot bins, and leaves a real cluster hot.
func TestHotspotsMinLocal(t *testing.T) {
	// A chain of 2,000 locations, each linked to the next: one lone event at 100, a cluster of
	// 2 + 3 + 2 at 999..1001.
	n := 2000
	nbrs := make([][]int, n)
	for i := range n {
		if i > 0 {
			nbrs[i] = append(nbrs[i], i-1)
		}
		if i < n-1 {
			nbrs[i] = append(nbrs[i], i+1)
		}
	}
	w := NewWeights(nbrs, true)
	x := make([]float64, n)
	x[100] = 1
	x[999], x[1000], x[1001] = 2, 3, 2
	plain := Hotspots(x, w, HotspotOptions{})
	if plain.Results[100].Bin <= 0 || plain.Results[101].Bin <= 0 {
		t.Fatalf("without a floor the lone event and its neighbour should be hot by Gi*: %+v %+v", plain.Results[100], plain.Results[101])
	}
	floor := Hotspots(x, w, HotspotOptions{MinLocal: 3})
	for _, i := range []int{99, 100, 101} {
		if floor.Results[i].Bin != 0 || floor.Results[i].Z != plain.Results[i].Z {
			t.Fatalf("location %d with the floor: %+v (z must stay %v)", i, floor.Results[i], plain.Results[i].Z)
		}
	}
	if floor.Results[1000].Bin != 3 {
		t.Fatalf("the cluster's centre: %+v", floor.Results[1000])
	}
	hot := func(r HotspotResult) int {
		k := 0
		for _, g := range r.Results {
			if g.Bin > 0 {
				k++
			}
		}
		return k
	}
	if floor.Sparse == 0 || hot(plain)-hot(floor) != floor.Sparse {
		t.Fatalf("sparse %d; hot %d without the floor, %d with it", floor.Sparse, hot(plain), hot(floor))
	}
}

// The bounds that let KNearestWeights and DistanceBandWeights skip haversines must not change
// a row: on a square lattice (many equal distances, decided by the lower index) in Xinyang's
// latitudes and near the pole, and on points spread over half the globe, every row equals the
// brute force's, ties and a band radius equal to a distance included.
func TestKNearestBoundKeepsRows(t *testing.T) {
	var lattice, polar, wide []orb.Point
	for y := range 15 {
		for x := range 20 {
			lattice = append(lattice, orb.Point{114 + float64(x)*0.01, 32 + float64(y)*0.01})
			polar = append(polar, orb.Point{float64(x) * 9, 80 + float64(y)*0.6})
		}
	}
	r := rand.New(rand.NewPCG(7, 8))
	for range 300 {
		wide = append(wide, orb.Point{-90 + r.Float64()*180, -60 + r.Float64()*120})
	}
	for name, pts := range map[string][]orb.Point{"lattice": lattice, "polar": polar, "wide": wide} {
		for _, k := range []int{1, 6, 19} {
			w := KNearestWeights(pts, k)
			for i := range pts {
				if got, want := hsRow(w, i), hsKNearestBrute(pts, i, k); !hsEqualInts(got, want) {
					t.Fatalf("%s, k=%d: row %d = %v, want %v", name, k, i, got, want)
				}
			}
		}
		// The band's radius exactly the lattice's step along a meridian: inclusive.
		d := Haversine(pts[0], pts[20])
		b := DistanceBandWeights(pts, d)
		for i := range pts {
			if got, want := hsRow(b, i), hsBandBrute(pts, i, d); !hsEqualInts(got, want) {
				t.Fatalf("%s, band %.3f m: row %d = %v, want %v", name, d, i, got, want)
			}
		}
	}
}

// hsKNearestBrute is row i of KNearestWeights(pts, k) by comparing every pair: i and its k
// nearest by haversine, ties to the lower index, sorted.
func hsKNearestBrute(pts []orb.Point, i, k int) []int {
	type c struct {
		d float64
		j int
	}
	var all []c
	for j := range pts {
		if j != i {
			all = append(all, c{Haversine(pts[i], pts[j]), j})
		}
	}
	sort.Slice(all, func(a, b int) bool { return all[a].d < all[b].d || (all[a].d == all[b].d && all[a].j < all[b].j) })
	want := []int{i}
	for _, x := range all[:k] {
		want = append(want, x.j)
	}
	sort.Ints(want)
	return want
}

// hsBandBrute is row i of DistanceBandWeights(pts, d) by comparing every pair.
func hsBandBrute(pts []orb.Point, i int, d float64) []int {
	want := []int{}
	for j := range pts {
		if j == i || Haversine(pts[i], pts[j]) <= d {
			want = append(want, j)
		}
	}
	return want
}
