package evaluation

import "math"

// Rate adjustments (Config.RateAdjust): how a peer group's rates are made comparable before
// they are normalised.
const (
	// AdjustPeer pulls each subject's rate toward its peer group's pooled rate, the more the
	// fewer cases it rests on (empirical Bayes, beta-binomial): 9 of 10 says less than 90 of 100.
	AdjustPeer = "peer"
	// AdjustNone compares the rates as measured.
	AdjustNone = "none"
)

// peerPrior is what a peer group's rates are pulled toward: the pooled rate (Σ good ÷ Σ cases)
// and the prior's strength in cases (Strength; +Inf when the rates differ no more than chance
// would make them: every subject then stands at the pooled rate).
type peerPrior struct {
	Rate, Strength float64
}

// priorOf estimates the prior of a peer group's rates from its subjects' good cases and
// denominators (at least two subjects, every denominator > 0), by the method of moments: the
// spread of the rates between subjects, S² (sample variance of good ÷ den), is the true
// spread τ² plus what chance adds, p̄(1 − p̄) × mean(1 ÷ den); a beta prior with mean p̄ and
// variance τ² has strength m = p̄(1 − p̄) ÷ τ² − 1 (at least 0).
func priorOf(good, den []float64) peerPrior {
	var sg, sd, sinv, sp float64
	for i := range good {
		sg, sd, sinv, sp = sg+good[i], sd+den[i], sinv+1/den[i], sp+good[i]/den[i]
	}
	n := float64(len(good))
	pr := peerPrior{Rate: sg / sd, Strength: math.Inf(1)}
	if n < 2 || pr.Rate <= 0 || pr.Rate >= 1 {
		return pr // every rate is the pooled one (all 0 or all 1), or nothing to compare
	}
	mean := sp / n
	var s2 float64
	for i := range good {
		d := good[i]/den[i] - mean
		s2 += d * d
	}
	s2 /= n - 1
	v := pr.Rate * (1 - pr.Rate)
	if tau2 := s2 - v*sinv/n; tau2 > 0 {
		pr.Strength = max(0, v/tau2-1)
	}
	return pr
}

// adjust returns a subject's rate pulled toward the prior, (good + m·p̄) ÷ (den + m), and its
// credibility den ÷ (den + m): the share of the adjusted rate that is the subject's own.
func (p peerPrior) adjust(good, den float64) (rate, credibility float64) {
	if math.IsInf(p.Strength, 1) {
		return p.Rate, 0
	}
	return (good + p.Strength*p.Rate) / (den + p.Strength), den / (den + p.Strength)
}
