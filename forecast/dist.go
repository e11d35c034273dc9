package forecast

import "math"

// nbBand returns the whole-count band [lo, hi] of the negative binomial with mean mu and
// variance mu + alpha·mu² (the Poisson when alpha is 0) for the central quantiles qlo < qhi.
//
// A count distribution has no exact band: the smallest k with P(Y ≤ k) ≥ q overshoots the
// level, most at low means (mean 0.3 gives [0, 1], which holds 96 %). The band is read from the
// continuous Y + U instead (U uniform on [0, 1), the count "spread over its unit"): with
// c(q) its quantile, lo = round(c(qlo)) and hi = round(c(qhi)) − 1, so that Y lies in
// [lo, hi] exactly when Y + U lies in [lo, hi + 1) up to the rounding; over many hours the
// band holds the level on average, neither in excess nor short.
func nbBand(mu, alpha, qlo, qhi float64) (float64, float64) {
	if !(mu > 0) {
		return 0, 0
	}
	if mu > 1e4 {
		// Far beyond an hour's count: the normal approximation.
		sd := math.Sqrt(mu + alpha*mu*mu)
		return math.Max(0, math.Round(mu+sd*normQ(qlo))), math.Round(mu + sd*normQ(qhi))
	}
	// p(k+1) = p(k)·ratio(k), from p(0), in logs so that p(0) cannot underflow the sum.
	var logp float64
	var ratio func(k float64) float64
	if alpha <= 1e-9 {
		logp = -mu
		ratio = func(k float64) float64 { return mu / (k + 1) }
	} else {
		th := 1 / alpha
		logp = th * math.Log(th/(th+mu))
		r := mu / (th + mu)
		ratio = func(k float64) float64 { return (k + th) / (k + 1) * r }
	}
	clo, chi := -1.0, -1.0
	cdf := 0.0
	for k := 0.0; k < 1e7; k++ {
		p := math.Exp(logp)
		if p > 0 {
			if clo < 0 && cdf+p >= qlo {
				clo = k + (qlo-cdf)/p
			}
			if cdf+p >= qhi {
				chi = k + (qhi-cdf)/p
				break
			}
		}
		cdf += p
		logp += math.Log(ratio(k))
	}
	if clo < 0 {
		clo = 0
	}
	if chi < 0 {
		chi = math.Ceil(mu)
	}
	lo, hi := math.Round(clo), math.Round(chi)-1
	return lo, math.Max(lo, hi)
}

// normQ is the standard normal quantile.
func normQ(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }
