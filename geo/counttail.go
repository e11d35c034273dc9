package geo

import "math"

// countTailMaxMean: above this expected neighbourhood count the normal approximation is kept
// (its skew is negligible and the tail sums would be long).
const countTailMaxMean = 2000

// applyCountTails replaces the normal p-values of results by tail probabilities of the
// neighbourhood sum under the counts' own distribution, when x are counts (non-negative
// integers) and w is binary. For location i the null is estimated outside its neighbourhood:
// the mean m and variance v of the counts of the other locations (so that a cluster does not
// inflate the spread it is judged against; the global ones when nothing is counted outside).
// Hot spots only: for right-skewed counts the normal lower tail is the wider one (Poisson mean
// 4: P(S = 0) = 0.018 against the normal's 0.023), so cold spots keep their normal p-value.
// The sum of W_i independent draws with mean m and variance v is negative binomial when v > m
// (overdispersed, as case counts are), Poisson otherwise. Gi*'s normal p-value is too small for
// a hot spot over sparse, skewed counts (with a mean of 0.5 case per location, one no-signal
// study area in five shows a "95 %" hot spot); the count tail is right there. Only locations
// with z > 0 and a normal p ≤ cut are recomputed (for a hot spot the count tail is the wider
// one: it removes hot spots the counts do not support and adds none); Z is kept, P, Q and the
// raw Bin are set, and the caller applies FDR. With fdr, cut is 0.10 · K / m, K the locations
// with p ≤ 0.10 (no location above it can pass Benjamini-Hochberg at 0.10), else 0.10. Returns false, changing nothing, when x or w do not qualify.
func applyCountTails(results []GiResult, x []float64, w *Weights, mean, sd float64, fdr bool) bool {
	if mean <= 0 || sd <= 0 {
		return false
	}
	var s1, s2 float64
	for _, v := range x {
		if v < 0 || v != math.Trunc(v) {
			return false
		}
		s1 += v
		s2 += v * v
	}
	if !w.binary {
		return false
	}
	alpha := binAlphas[2]
	cut := alpha
	if fdr && len(results) > 0 {
		k := 0
		for _, r := range results {
			if r.P <= alpha {
				k++
			}
		}
		cut = alpha * float64(k) / float64(len(results))
	}
	n := float64(len(x))
	for i := range results {
		r := &results[i]
		if r.Z <= 0 || r.P > cut*(1+1e-12) {
			continue // cannot be hot; cold spots keep the normal p-value, the cautious one
		}
		var lag, lag2 float64
		for k := w.Start[i]; k < w.Start[i+1]; k++ {
			v := x[w.Index[k]]
			lag += v
			lag2 += v * v
		}
		m, variance := mean, sd*sd
		if rest := n - w.sum[i]; rest >= 2 && s1-lag > 0 {
			m = (s1 - lag) / rest
			variance = math.Max(0, (s2-lag2)/rest-m*m)
		}
		mu := m * w.sum[i]
		if mu > countTailMaxMean {
			continue
		}
		p := math.Min(1, 2*countUpper(int(lag), mu, m, variance, w.sum[i]))
		r.P, r.Q, r.Bin = p, p, giBin(r.Z, p)
	}
	return true
}

// countUpper is P(S ≥ k) for the sum S of wsum draws of mean m and variance v: negative
// binomial when v > m (size R = wsum·m²/(v−m), success probability p = m/v; then
// P(S ≥ k) = I_{1−p}(k, R), the regularized incomplete beta), else Poisson with mean mu (the
// terms summed from k up, their ratio μ/(j+1) falling).
func countUpper(k int, mu, m, v, wsum float64) float64 {
	if k <= 0 {
		return 1
	}
	fk := float64(k)
	if v > m*(1+1e-9) {
		p := m / v
		return math.Min(1, math.Max(0, betaInc(fk, wsum*m*m/(v-m), 1-p)))
	}
	t := math.Exp(fk*math.Log(mu) - mu - lgamma(fk+1))
	sum := 0.0
	for j := fk; t > 0 && j-fk < 1e6; j++ {
		sum += t
		r := mu / (j + 1)
		// Past the mean the ratios only fall, so what is left is below t·r/(1−r): stop once
		// that no longer changes the p-value's first six digits.
		if r < 1 && t*r/(1-r) < 1e-7*sum {
			break
		}
		t *= r
	}
	return math.Min(1, sum)
}

// betaInc is the regularized incomplete beta function I_x(a, b), by its continued fraction
// (modified Lentz), on the side of x where it converges fast (Numerical Recipes, 6.4).
func betaInc(a, b, x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	front := math.Exp(lgamma(a+b) - lgamma(a) - lgamma(b) + a*math.Log(x) + b*math.Log1p(-x))
	if x < (a+1)/(a+b+2) {
		return front * betaCF(a, b, x) / a
	}
	return 1 - front*betaCF(b, a, 1-x)/b
}

func betaCF(a, b, x float64) float64 {
	const tiny, eps = 1e-300, 1e-12
	qab, qap, qam := a+b, a+1, a-1
	c, d := 1.0, 1-qab*x/qap
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1; m <= 500; m++ {
		fm := float64(m)
		m2 := 2 * fm
		aa := fm * (b - fm) * x / ((qam + m2) * (a + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		h *= d * c
		aa = -(a + fm) * (qab + fm) * x / ((a + m2) * (qap + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return h
}

func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}
