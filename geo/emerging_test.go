package geo

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMannKendallHandWorked checks two series computed by hand.
//
// x = 1 2 2 3 1 4 (n = 6):
//
//	i=0 (1): vs 2 2 3 1 4 → + + + 0 + = 4
//	i=1 (2): vs 2 3 1 4   → 0 + − +   = 1
//	i=2 (2): vs 3 1 4     → + − +     = 1
//	i=3 (3): vs 1 4       → − +       = 0
//	i=4 (1): vs 4         → +         = 1      S = 7
//	ties: two 1s, two 2s → Σ t(t−1)(2t+5) = 2·(2·1·9) = 36
//	Var = (6·5·17 − 36)/18 = 474/18 = 26.333…
//	Z = (7 − 1)/√26.333 = 1.169226, p = 0.24232, tau = 7/15
//
// x = 5 4 3 2 1: S = −10, Var = 5·4·15/18 = 16.667, Z = (−10 + 1)/4.08248 = −2.204541,
// p = 0.02749.
func TestMannKendallHandWorked(t *testing.T) {
	tr := MannKendall([]float64{1, 2, 2, 3, 1, 4})
	if tr.S != 7 || math.Abs(tr.Var-474.0/18) > 1e-12 {
		t.Errorf("S %g Var %g", tr.S, tr.Var)
	}
	if math.Abs(tr.Z-6/math.Sqrt(474.0/18)) > 1e-12 || math.Abs(tr.Z-1.169226) > 1e-6 {
		t.Errorf("Z %g", tr.Z)
	}
	if math.Abs(tr.P-0.24232) > 1e-4 || math.Abs(tr.Tau-7.0/15) > 1e-12 {
		t.Errorf("P %g tau %g", tr.P, tr.Tau)
	}
	tr = MannKendall([]float64{5, 4, 3, 2, 1})
	if tr.S != -10 || math.Abs(tr.Z+2.204541) > 1e-6 || math.Abs(tr.P-0.02749) > 1e-4 {
		t.Errorf("decreasing: %+v", tr)
	}
	if tr := MannKendall([]float64{3, 3, 3}); tr.Z != 0 || tr.P != 1 {
		t.Errorf("all tied: %+v", tr)
	}
	if tr := MannKendall([]float64{1}); tr.Z != 0 || tr.P != 1 {
		t.Errorf("one value: %+v", tr)
	}
}

// plainMK is a second Mann-Kendall from the definition, used on random series.
func plainMK(x []float64) (s, v float64) {
	n := len(x)
	for j := 1; j < n; j++ {
		for i := 0; i < j; i++ {
			s += math.Copysign(1, x[j]-x[i]) * b2f(x[j] != x[i])
		}
	}
	v = float64(n*(n-1)*(2*n+5)) / 18
	done := map[float64]bool{}
	for _, a := range x {
		if done[a] {
			continue
		}
		done[a] = true
		c := 0
		for _, b := range x {
			if a == b {
				c++
			}
		}
		v -= float64(c*(c-1)*(2*c+5)) / 18
	}
	return s, v
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func TestMannKendallRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for trial := 0; trial < 100; trial++ {
		x := make([]float64, 2+r.IntN(30))
		for i := range x {
			x[i] = float64(r.IntN(6))
		}
		s, v := plainMK(x)
		tr := MannKendall(x)
		if tr.S != s || math.Abs(tr.Var-v) > 1e-9 {
			t.Fatalf("%v: S %g/%g Var %g/%g", x, tr.S, s, tr.Var, v)
		}
	}
}

func TestClassify(t *testing.T) {
	none := Trend{P: 1}
	up := Trend{Z: 3, P: 0.003}
	down := Trend{Z: -3, P: 0.003}
	H, C, o := 1, -1, 0
	cases := []struct {
		name string
		sig  []int
		tr   Trend
		want Pattern
	}{
		{"no pattern", []int{o, o, o, o, o, o, o, o, o, o}, none, NoPattern},
		{"no pattern: old hot, not 90 %", []int{H, H, H, o, o, o, o, o, o, o}, none, NoPattern},
		{"new hot", []int{o, o, o, o, o, o, o, o, o, H}, up, NewHot},
		{"consecutive hot", []int{o, o, o, o, o, o, o, H, H, H}, up, ConsecutiveHot},
		{"intensifying hot", []int{H, H, H, H, H, H, H, H, H, H}, up, IntensifyingHot},
		{"intensifying hot at 90 %", []int{o, H, H, H, H, H, H, H, H, H}, up, IntensifyingHot},
		{"persistent hot", []int{H, H, H, H, H, H, H, H, H, H}, none, PersistentHot},
		{"persistent hot, one gap", []int{H, H, H, H, o, H, H, H, H, H}, none, PersistentHot},
		{"diminishing hot", []int{H, H, H, H, H, H, H, H, H, H}, down, DiminishingHot},
		{"sporadic hot", []int{o, H, o, o, H, o, H, o, o, H}, none, SporadicHot},
		{"sporadic hot: run with earlier hot", []int{H, o, o, o, o, o, o, o, H, H}, none, SporadicHot},
		{"oscillating hot", []int{C, C, o, o, o, o, o, o, o, H}, none, OscillatingHot},
		{"oscillating hot over new", []int{o, C, o, o, o, o, o, o, H, H}, none, OscillatingHot},
		{"historical hot", []int{H, H, H, H, H, H, H, H, H, o}, down, HistoricalHot},
		{"new cold", []int{o, o, o, o, o, o, o, o, o, C}, none, NewCold},
		{"consecutive cold", []int{o, o, o, o, o, o, o, o, C, C}, none, ConsecutiveCold},
		{"intensifying cold", []int{C, C, C, C, C, C, C, C, C, C}, down, IntensifyingCold},
		{"persistent cold", []int{C, C, C, C, C, C, C, C, C, C}, none, PersistentCold},
		{"diminishing cold", []int{C, C, C, C, C, C, C, C, C, C}, up, DiminishingCold},
		{"sporadic cold", []int{C, o, C, o, o, o, C, o, o, C}, none, SporadicCold},
		{"oscillating cold", []int{o, H, H, o, o, o, o, o, o, C}, none, OscillatingCold},
		{"historical cold", []int{C, C, C, C, C, C, C, C, C, o}, none, HistoricalCold},
		{"80 % is not persistent", []int{o, o, H, H, H, H, H, H, H, H}, none, ConsecutiveHot},
		{"empty", nil, none, NoPattern},
	}
	for _, c := range cases {
		if got := Classify(c.sig, c.tr, 0.05); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if NewHot.String() != "new_hot" || HistoricalCold.String() != "historical_cold" || !PersistentHot.Hot() || !NewCold.Cold() || NoPattern.Hot() {
		t.Error("pattern names or families")
	}
}

// TestSpaceTimeWeights: bin (i, t) sees spatial neighbours at steps t−k..t, never later.
func TestSpaceTimeWeights(t *testing.T) {
	w := NewWeights([][]int{{1}, {0}, {}}, true) // 0–1 linked, 2 alone
	st := SpaceTimeWeights(w, 4, 1)
	// bin (0, 2) = index 2: (0,1) (0,2) (1,1) (1,2) = 1, 2, 5, 6
	if got := hsRow(st, 2); !hsEqualInts(got, []int{1, 2, 5, 6}) {
		t.Errorf("row (0,2) %v", got)
	}
	// bin (0, 0): no earlier step.
	if got := hsRow(st, 0); !hsEqualInts(got, []int{0, 4}) {
		t.Errorf("row (0,0) %v", got)
	}
	if got := hsRow(st, 2*4+3); !hsEqualInts(got, []int{10, 11}) {
		t.Errorf("row (2,3) %v", got)
	}
}

// TestEmergingCube builds a 15×15 lattice (queen contiguity) over 20 steps with a random
// background (0-9 events per bin) and planted 3×3 clusters, then checks the class of each
// cluster's centre cell:
//
//	A, centre (2,2): 30 + 3t events in every step, hot throughout and rising → intensifying
//	B, centre (12,12): 60 events in the last step only                          → new
//	C, centre (2,12): 40 events in the last three steps only                   → consecutive
//	D, centre (12,2): 40 events in steps 0-17 (hot to step 18 through the time lag) → historical
//
// It also checks the per-bin Gi* against the plain implementation over the dense space-time
// weight matrix (an independent computation of every bin's z).
func TestEmergingCube(t *testing.T) {
	const side, steps = 15, 20
	n := side * side
	nbrs := make([][]int, n)
	for i := 0; i < n; i++ {
		r, c := i/side, i%side
		for _, d := range [][2]int{{-1, 0}, {1, 0}, {0, -1}, {0, 1}, {-1, -1}, {-1, 1}, {1, -1}, {1, 1}} {
			rr, cc := r+d[0], c+d[1]
			if rr >= 0 && rr < side && cc >= 0 && cc < side {
				nbrs[i] = append(nbrs[i], rr*side+cc)
			}
		}
	}
	w := NewWeights(nbrs, true)
	rng := rand.New(rand.NewPCG(11, 12))
	cube := NewCube(n, steps)
	for i := 0; i < n; i++ {
		for s := 0; s < steps; s++ {
			cube.Add(i, s, float64(rng.IntN(10)))
		}
	}
	block := func(r0, c0 int) []int {
		var out []int
		for r := r0 - 1; r <= r0+1; r++ {
			for c := c0 - 1; c <= c0+1; c++ {
				out = append(out, r*side+c)
			}
		}
		return out
	}
	plant := func(r0, c0 int, f func(s int) float64) int {
		for _, i := range block(r0, c0) {
			for s := 0; s < steps; s++ {
				cube.Add(i, s, f(s))
			}
		}
		return r0*side + c0
	}
	a := plant(2, 2, func(s int) float64 { return float64(30 + 3*s) })
	b := plant(12, 12, func(s int) float64 { return 60 * b2f(s == steps-1) })
	c := plant(2, 12, func(s int) float64 { return 40 * b2f(s >= steps-3) })
	d := plant(12, 2, func(s int) float64 { return 40 * b2f(s < steps-2) })
	res := EmergingHotspots(cube, w, EmergingOptions{})
	for _, x := range []struct {
		name string
		loc  int
		want Pattern
	}{{"A", a, IntensifyingHot}, {"B", b, NewHot}, {"C", c, ConsecutiveHot}, {"D", d, HistoricalHot}} {
		if got := res.Patterns[x.loc]; got != x.want {
			for s := 0; s < steps; s++ {
				bn := res.Bins[x.loc*steps+s]
				t.Logf("%s step %d: z %.2f q %.4f", x.name, s, bn.Z, bn.Q)
			}
			t.Errorf("%s (loc %d): %v (trend %+v), want %v", x.name, x.loc, got, res.Trends[x.loc], x.want)
		}
	}

	// Independent check of every bin's z.
	st := SpaceTimeWeights(w, steps, 1)
	dense := make([][]float64, st.N)
	for a := range dense {
		dense[a] = make([]float64, st.N)
		cols, vals := st.Row(a)
		for k, b := range cols {
			dense[a][b] = vals[k]
		}
	}
	want := plainGiStar(cube.Counts, dense)
	for a := range want {
		if math.Abs(res.Bins[a].Z-want[a]) > 1e-9 {
			t.Fatalf("bin %d: z %g, plain %g", a, res.Bins[a].Z, want[a])
		}
	}

	// A flat cube is degenerate: no variance, no pattern anywhere.
	flat := NewCube(n, steps)
	for k := range flat.Counts {
		flat.Counts[k] = 3
	}
	fr := EmergingHotspots(flat, w, EmergingOptions{})
	if fr.Degenerate != ReasonNoVariance {
		t.Errorf("flat cube reason %q", fr.Degenerate)
	}
	for i, p := range fr.Patterns {
		if p != NoPattern {
			t.Errorf("flat cube loc %d: %v", i, p)
		}
	}
}
