package geo

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The count tails against sums written out: Poisson P(X ≥ 3 | μ = 0.9) = 1 − e^−0.9 (1 + 0.9 +
// 0.405) = 0.06285…; the negative binomial with mean 2 and variance 4 per draw, summed over 2
// draws (size 4, p = ½): P(S ≥ 2) = 1 − (1/16)(1 + 4·½) = 13/16.
func TestCountTailsHandWorked(t *testing.T) {
	// The sum stops once the rest cannot change the first six digits.
	if got, want := countUpper(3, 0.9, 0.1, 0.1, 9), 1-math.Exp(-0.9)*(1+0.9+0.405); math.Abs(got-want) > 1e-6*want {
		t.Fatalf("Poisson upper tail %v, want %v", got, want)
	}
	if got := countUpper(2, 4, 2, 4, 2); math.Abs(got-13.0/16) > 1e-6 {
		t.Fatalf("negative binomial upper tail %v, want 13/16", got)
	}
	if got := countUpper(0, 4, 2, 4, 2); math.Abs(got-1) > 1e-6 {
		t.Fatalf("P(S ≥ 0) = %v", got)
	}
	// The incomplete beta against the terms summed: a far tail (p = 0.01, size 0.05: counts
	// overdispersed a hundredfold) and a near one.
	for _, c := range []struct{ k, m, v, w float64 }{{12, 0.2, 20, 7}, {3, 1.5, 4, 9}, {40, 3, 9, 5}} {
		p, rr := c.m/c.v, c.w*c.m*c.m/(c.v-c.m)
		term, sum := math.Exp(lgamma(rr)-lgamma(rr)+rr*math.Log(p)), 0.0 // pmf(0)
		for j := 0.0; j < c.k; j++ {
			sum += term
			term *= (j + rr) / (j + 1) * (1 - p)
		}
		if got, want := countUpper(int(c.k), c.m*c.w, c.m, c.v, c.w), 1-sum; math.Abs(got-want) > 1e-9+1e-6*want {
			t.Fatalf("%+v: upper tail %v, want %v", c, got, want)
		}
	}
}

// On sparse counts with no signal (Poisson, mean 0.5 per location, 400 locations), the normal
// p-values of Gi* put a 95 % hot spot on the map in about one study area in five; from the count
// distribution, at most in the 5 % the FDR level allows. The same holds where counts are large
// (mean 20), where both agree.
func TestCountTailsCalibrated(t *testing.T) {
	w := ContiguityWeights(hsSquares(20, 20), 1e-9)
	poisson := func(rng *rand.Rand, lambda float64) float64 {
		l, k, prod := math.Exp(-lambda), 0, rng.Float64()
		for prod > l {
			k++
			prod *= rng.Float64()
		}
		return float64(k)
	}
	const runs = 400
	for _, lambda := range []float64{0.5, 20} {
		rng := rand.New(rand.NewPCG(5, uint64(lambda*10)))
		normal, counts := 0, 0
		for range runs {
			x := make([]float64, w.N)
			for i := range x {
				x[i] = poisson(rng, lambda)
			}
			hot := func(res HotspotResult) bool {
				for _, r := range res.Results {
					if r.Bin >= 2 {
						return true
					}
				}
				return false
			}
			if hot(Hotspots(x, w, HotspotOptions{})) {
				normal++
			}
			res := Hotspots(x, w, HotspotOptions{CountTails: true})
			if !res.CountTails {
				t.Fatal("count tails not applied to counts")
			}
			if hot(res) {
				counts++
			}
		}
		t.Logf("mean %v: no-signal runs with a 95 %% hot spot: normal %d, count tails %d of %d", lambda, normal, counts, runs)
		if lambda < 1 && normal < runs/10 {
			t.Fatalf("normal p-values: only %d of %d runs hot: the fixture must show the problem", normal, runs)
		}
		if limit := 0.05*runs + 2*math.Sqrt(0.05*0.95*runs); float64(counts) > limit {
			t.Fatalf("count tails: %d of %d no-signal runs hot", counts, runs)
		}
	}
	// Rates (not integers) keep the normal p-values.
	if res := Hotspots([]float64{0.5, 1, 2.5, 0, 3, 1}, NewWeights([][]int{{1}, {0, 2}, {1, 3}, {2, 4}, {3, 5}, {4}}, true), HotspotOptions{CountTails: true}); res.CountTails {
		t.Fatal("count tails applied to rates")
	}
}

// MannKendallAutocorrelated: with rho = [0.5] and n = 10, ρs = (6/π)·asin(¼) = 0.48254…, the
// factor 1 + 2/(10·9·8)·(9·8·7)·ρs = 1 + 1.4·ρs; without rho it is MannKendall.
func TestMannKendallAutocorrelated(t *testing.T) {
	x := []float64{1, 3, 2, 4, 6, 5, 7, 9, 8, 10}
	plain := MannKendall(x)
	if got := MannKendallAutocorrelated(x, nil); got != plain {
		t.Fatalf("no rho: %+v, want %+v", got, plain)
	}
	got := MannKendallAutocorrelated(x, []float64{0.5})
	rs := 6 / math.Pi * math.Asin(0.25)
	if want := plain.Var * (1 + 1.4*rs); math.Abs(got.Var-want) > 1e-9 || got.S != plain.S ||
		math.Abs(got.Z-(plain.S-1)/math.Sqrt(want)) > 1e-12 || got.P <= plain.P {
		t.Fatalf("corrected %+v, plain %+v", got, plain)
	}
}
