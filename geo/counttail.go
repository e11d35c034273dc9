package geo

import "math"

// countTailCut: p-values from the count distribution are computed where the normal p-value is
// at most this; beyond it they stay normal (no location there can be significant).
const countTailCut = 0.2

// countTailMaxMean: above this expected neighbourhood count the normal approximation is kept
// (its skew is negligible and the tail sums would be long).
const countTailMaxMean = 5000

// applyCountTails replaces the normal p-values of results by tail probabilities of the
// neighbourhood sum under the counts' own distribution, when x are counts (non-negative
// integers) and w is binary. For location i the null is estimated outside its neighbourhood:
// the mean m and variance v of the counts of the other locations (so that a cluster does not
// inflate the spread it is judged against; the global ones when nothing is counted outside).
// The sum of W_i independent draws with mean m and variance v is negative binomial when v > m
// (overdispersed, as case counts are), Poisson otherwise. Gi*'s normal p-value is too small for
// a hot spot over sparse, skewed counts (with a mean of 0.5 case per location, one no-signal
// study area in five shows a "95 %" hot spot); the count tail is right there. Only locations
// with a normal p ≤ countTailCut are recomputed; Z is kept, P, Q and the raw Bin are set (FDR
// redoes the bins). Returns false, changing nothing, when x or w do not qualify.
func applyCountTails(results []GiResult, x []float64, w *Weights, mean, sd float64) bool {
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
	for _, v := range w.Value {
		if v != 1 {
			return false
		}
	}
	n := float64(len(x))
	for i := range results {
		r := &results[i]
		if r.Z == 0 || r.P > countTailCut {
			continue
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
		var tail float64
		if r.Z > 0 {
			tail = countUpper(int(lag), mu, m, variance, w.sum[i])
		} else {
			tail = countLower(int(lag), mu, m, variance, w.sum[i])
		}
		p := math.Min(1, 2*tail)
		r.P, r.Q, r.Bin = p, p, giBin(r.Z, p)
	}
	return true
}

// countPMF returns log pmf(k) and the ratio pmf(k+1)/pmf(k) as a function of k, for the sum
// of wsum draws of mean m and variance v: negative binomial (v > m) or Poisson (mean mu).
func countDist(mu, m, v, wsum float64) (logPMF func(k int) float64, next func(k int) float64) {
	if v > m*(1+1e-9) {
		p := m / v                   // success probability
		rr := wsum * m * m / (v - m) // size of the sum
		lp, lq, lgR := math.Log(p), math.Log1p(-p), lgamma(rr)
		return func(k int) float64 {
				return lgamma(float64(k)+rr) - lgR - lgamma(float64(k)+1) + rr*lp + float64(k)*lq
			}, func(k int) float64 {
				return (float64(k) + rr) / float64(k+1) * (1 - p)
			}
	}
	lmu := math.Log(mu)
	return func(k int) float64 { return float64(k)*lmu - mu - lgamma(float64(k)+1) },
		func(k int) float64 { return mu / float64(k+1) }
}

func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}

// countUpper is P(S ≥ k).
func countUpper(k int, mu, m, v, wsum float64) float64 {
	logPMF, next := countDist(mu, m, v, wsum)
	t := math.Exp(logPMF(k))
	sum := 0.0
	for j := k; t > 0; j++ {
		sum += t
		if float64(j) > mu && t < 1e-14*sum {
			break
		}
		t *= next(j)
		if j-k > 1_000_000 {
			break
		}
	}
	return math.Min(1, sum)
}

// countLower is P(S ≤ k).
func countLower(k int, mu, m, v, wsum float64) float64 {
	logPMF, next := countDist(mu, m, v, wsum)
	sum, t := 0.0, math.Exp(logPMF(k))
	for j := k; j >= 0 && t > 0; j-- {
		sum += t
		if t < 1e-14*sum {
			break
		}
		// pmf(j-1) = pmf(j) / next(j-1)
		if j > 0 {
			t /= next(j - 1)
		}
	}
	return math.Min(1, sum)
}
