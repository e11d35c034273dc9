package geo

import (
	"math"
)

// Cube is a space-time cube of counts: Counts[loc*Steps+step], step 0 the oldest.
type Cube struct {
	Locs, Steps int
	Counts      []float64
}

// NewCube makes an empty cube.
func NewCube(locs, steps int) *Cube {
	return &Cube{Locs: locs, Steps: steps, Counts: make([]float64, locs*steps)}
}

// Add adds v to bin (loc, step).
func (c *Cube) Add(loc, step int, v float64) { c.Counts[loc*c.Steps+step] += v }

// At returns bin (loc, step).
func (c *Cube) At(loc, step int) float64 { return c.Counts[loc*c.Steps+step] }

// SpaceTimeWeights expands spatial weights w (rows including self) to the cube: bin
// (i, t) is linked to every bin (j, s) with w_ij != 0 and t−k ≤ s ≤ t, with weight w_ij.
// This is ArcGIS's "neighborhood time step" k: the same step and the k previous steps,
// never later ones. Bin (i, t) is indexed i*steps+t. k = 0 gives purely spatial rows.
func SpaceTimeWeights(w *Weights, steps, k int) *Weights {
	if k < 0 {
		k = 0
	}
	n := w.N * steps
	per := 0 // time-neighbour bins summed over the steps of one location
	for t := 0; t < steps; t++ {
		per += min(t, k) + 1
	}
	st := &Weights{N: n, Start: make([]int, n+1)}
	st.Index = make([]int, 0, w.NNZ()*per)
	st.Value = make([]float64, 0, w.NNZ()*per)
	for i := 0; i < w.N; i++ {
		cols, vals := w.Row(i)
		for t := 0; t < steps; t++ {
			lo := max(t-k, 0)
			for x, j := range cols {
				for s := lo; s <= t; s++ {
					st.Index = append(st.Index, j*steps+s)
					st.Value = append(st.Value, vals[x])
				}
			}
			st.Start[i*steps+t+1] = len(st.Index)
		}
	}
	st.finish()
	return st
}

// Trend is the Mann-Kendall monotonic trend test of one series.
type Trend struct {
	S   float64 // Σ_{i<j} sign(x_j − x_i)
	Var float64 // variance of S under no trend, with the tie correction
	Z   float64 // continuity-corrected: (S−1)/√Var if S > 0, (S+1)/√Var if S < 0, else 0
	P   float64 // two-sided p-value of Z
	Tau float64 // Kendall's tau-a: S / (n(n−1)/2)
}

// MannKendall tests x for a monotonic trend:
//
//	S = Σ_{i<j} sign(x_j − x_i)
//	Var(S) = [n(n−1)(2n+5) − Σ_g t_g(t_g−1)(2t_g+5)] / 18
//
// where t_g is the size of the g-th group of tied values. O(n²), fine for the tens to
// hundreds of time steps of a cube. Fewer than 2 values (or all tied) give Z = 0, P = 1.
func MannKendall(x []float64) Trend {
	n := len(x)
	var s float64
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			switch {
			case x[j] > x[i]:
				s++
			case x[j] < x[i]:
				s--
			}
		}
	}
	fn := float64(n)
	v := fn * (fn - 1) * (2*fn + 5)
	seen := make(map[float64]int, n)
	for _, a := range x {
		seen[a]++
	}
	for _, t := range seen {
		if t > 1 {
			ft := float64(t)
			v -= ft * (ft - 1) * (2*ft + 5)
		}
	}
	v /= 18
	tr := Trend{S: s, Var: v, P: 1}
	if n >= 2 {
		tr.Tau = s / (fn * (fn - 1) / 2)
	}
	if v > 0 {
		switch {
		case s > 0:
			tr.Z = (s - 1) / math.Sqrt(v)
		case s < 0:
			tr.Z = (s + 1) / math.Sqrt(v)
		}
		tr.P = PValue(tr.Z)
	}
	return tr
}

// MannKendallAutocorrelated is MannKendall with the variance of S corrected for serial
// correlation (Hamed & Rao 1998): rho[l−1] is the series' correlation at lag l (0 beyond
// len(rho)); as a correlation of ranks ρs = (6/π)·asin(ρ/2), and
//
//	Var*(S) = Var(S) · [1 + 2/(n(n−1)(n−2)) · Σ_l (n−l)(n−l−1)(n−l−2) ρs(l)]
//
// Z and P follow from Var*. With rho empty it equals MannKendall.
func MannKendallAutocorrelated(x []float64, rho []float64) Trend {
	tr := MannKendall(x)
	n := float64(len(x))
	if len(rho) == 0 || n < 3 || tr.Var <= 0 {
		return tr
	}
	var sum float64
	for l, r := range rho {
		fl := float64(l + 1)
		if fl > n-3 {
			break
		}
		rs := 6 / math.Pi * math.Asin(r/2)
		sum += (n - fl) * (n - fl - 1) * (n - fl - 2) * rs
	}
	factor := 1 + 2/(n*(n-1)*(n-2))*sum
	if factor <= 0 {
		return tr
	}
	tr.Var *= factor
	switch {
	case tr.S > 0:
		tr.Z = (tr.S - 1) / math.Sqrt(tr.Var)
	case tr.S < 0:
		tr.Z = (tr.S + 1) / math.Sqrt(tr.Var)
	}
	tr.P = PValue(tr.Z)
	return tr
}

// Pattern is an emerging hot/cold spot class.
type Pattern int

// Patterns, as named by ArcGIS Emerging Hot Spot Analysis.
const (
	NoPattern Pattern = iota
	NewHot
	ConsecutiveHot
	IntensifyingHot
	PersistentHot
	DiminishingHot
	SporadicHot
	OscillatingHot
	HistoricalHot
	NewCold
	ConsecutiveCold
	IntensifyingCold
	PersistentCold
	DiminishingCold
	SporadicCold
	OscillatingCold
	HistoricalCold
	// InsufficientData: the cube holds too few time steps with data for any class (see
	// EmergingOptions.MinSteps).
	InsufficientData
)

var patternNames = [...]string{
	"no_pattern",
	"new_hot", "consecutive_hot", "intensifying_hot", "persistent_hot",
	"diminishing_hot", "sporadic_hot", "oscillating_hot", "historical_hot",
	"new_cold", "consecutive_cold", "intensifying_cold", "persistent_cold",
	"diminishing_cold", "sporadic_cold", "oscillating_cold", "historical_cold",
	"insufficient_data",
}

// String is the stable snake_case name used in the API.
func (p Pattern) String() string {
	if p < 0 || int(p) >= len(patternNames) {
		return "unknown"
	}
	return patternNames[p]
}

// Hot reports whether p is one of the hot-spot patterns.
func (p Pattern) Hot() bool { return p >= NewHot && p <= HistoricalHot }

// Cold reports whether p is one of the cold-spot patterns.
func (p Pattern) Cold() bool { return p >= NewCold && p <= HistoricalCold }

// DefaultMinSteps is the least number of time steps holding data for emerging classes: ArcGIS
// Emerging Hot Spot Analysis needs ten time steps (fewer give a Mann-Kendall trend of no use
// and make "90 % of the steps" meaningless).
const DefaultMinSteps = 10

// EmergingOptions tunes EmergingHotspots. Zero values take the defaults noted.
type EmergingOptions struct {
	TimeNeighbours int     // neighbourhood time step k (0 → 1; use SpaceTimeWeights directly for k = 0)
	DisableFDR     bool    // FDR across all bins is on by default
	Alpha          float64 // significance of a hot/cold bin (0 → 0.05)
	TrendAlpha     float64 // significance of the Mann-Kendall trend (0 → 0.05)
	// MinSteps: at least this many time steps must hold an event (anywhere in the study area),
	// otherwise no location is classified (InsufficientData) and nothing is computed.
	// 0 → DefaultMinSteps; < 0: no minimum.
	MinSteps int
	// KeepLeadingEmpty analyses the steps before the first step holding any event too. By
	// default they are left out: a window that began before the data did (a deployment started
	// yesterday, a 7-day window) would otherwise read "no data yet" as "zero everywhere", and
	// every location would seem to have changed in the last steps.
	KeepLeadingEmpty bool
	// MinEvents: the cube must hold at least this many events in all, otherwise no location is
	// classified (InsufficientData). 0: no minimum.
	MinEvents float64
	// MinLocal: a bin counts as a hot spot only when its space-time neighbourhood (the
	// location and its neighbours, in the step and the k previous ones) holds at least MinLocal
	// events, as HotspotOptions.MinLocal. 0: no floor.
	MinLocal float64
	// Counts, when set (the cube's layout), are the events behind the cube's values when these
	// are rates: steps with data, MinEvents and MinLocal count them. nil: the cube's values.
	Counts []float64
	// CountTails: p-values of the bins from the count distribution, as HotspotOptions.CountTails.
	CountTails bool
}

// EmergingResult holds the per-bin Gi* and per-location trend and class.
type EmergingResult struct {
	Bins     []GiResult // Bins[loc*Steps+step], step 0 being the cube's step FirstStep
	Trends   []Trend    // Mann-Kendall over each location's z-scores
	Patterns []Pattern
	Steps    int // steps analysed: the cube's steps from FirstStep on
	// FirstStep is the first step analysed (the first holding an event, unless
	// KeepLeadingEmpty); the steps before it are left out.
	FirstStep int
	// StepsWithData counts the cube's steps holding at least one event anywhere.
	StepsWithData int
	// Insufficient: StepsWithData < MinSteps, every pattern is InsufficientData and Bins and
	// Trends are empty.
	Insufficient bool
	MinSteps     int // the minimum applied (0: none)
	// Events is the number of events in the cube; TooFewEvents: fewer than MinEvents (every
	// pattern is InsufficientData).
	Events       float64
	TooFewEvents bool
	// Sparse counts the hot bins MinLocal kept from counting as hot spots.
	Sparse   int
	Mean, SD float64
	// Degenerate is non-empty when the cube has no variance (every bin 0, no pattern).
	Degenerate string
}

// EmergingHotspots runs Emerging Hot Spot Analysis on cube c with spatial weights w (rows
// including self): Gi* per bin over the whole cube (global mean and S over all bins) with
// space-time neighbours (SpaceTimeWeights), BH FDR across all bins unless disabled, a
// Mann-Kendall trend per location over its z-scores, and a class per location (Classify).
// Before that, the data sufficiency rules of EmergingOptions: with fewer than MinSteps steps
// holding data, or fewer than MinEvents events, every location is InsufficientData; leading
// steps without any event are left out; a hot bin whose space-time neighbourhood holds fewer
// than MinLocal events does not count as hot.
func EmergingHotspots(c *Cube, w *Weights, opt EmergingOptions) EmergingResult {
	if opt.TimeNeighbours <= 0 {
		opt.TimeNeighbours = 1
	}
	if opt.Alpha <= 0 {
		opt.Alpha = 0.05
	}
	if opt.TrendAlpha <= 0 {
		opt.TrendAlpha = 0.05
	}
	switch {
	case opt.MinSteps == 0:
		opt.MinSteps = DefaultMinSteps
	case opt.MinSteps < 0:
		opt.MinSteps = 0
	}
	res := EmergingResult{MinSteps: opt.MinSteps, Patterns: make([]Pattern, c.Locs)}
	counts := c.Counts
	if opt.Counts != nil {
		if len(opt.Counts) != len(c.Counts) {
			panic("geo: EmergingHotspots: counts and cube differ in length")
		}
		counts = opt.Counts
	}
	for _, v := range counts {
		res.Events += v
	}
	first := -1
	for t := 0; t < c.Steps; t++ {
		for i := 0; i < c.Locs; i++ {
			if counts[i*c.Steps+t] != 0 {
				res.StepsWithData++
				if first < 0 {
					first = t
				}
				break
			}
		}
	}
	res.TooFewEvents = opt.MinEvents > 0 && res.Events < opt.MinEvents
	if res.StepsWithData < opt.MinSteps || res.TooFewEvents {
		res.Insufficient = true
		res.Steps = c.Steps
		for i := range res.Patterns {
			res.Patterns[i] = InsufficientData
		}
		return res
	}
	if first > 0 && !opt.KeepLeadingEmpty {
		res.FirstStep = first
		trim := func(v []float64) []float64 {
			n := c.Steps - first
			out := make([]float64, c.Locs*n)
			for i := 0; i < c.Locs; i++ {
				copy(out[i*n:(i+1)*n], v[i*c.Steps+first:(i+1)*c.Steps])
			}
			return out
		}
		trimmed := &Cube{Locs: c.Locs, Steps: c.Steps - first, Counts: trim(c.Counts)}
		if opt.Counts != nil {
			counts = trim(counts)
		} else {
			counts = trimmed.Counts
		}
		c = trimmed
	}
	st := SpaceTimeWeights(w, c.Steps, opt.TimeNeighbours)
	bins := make([]GiResult, len(c.Counts))
	mean, sd, reason := giStarInto(bins, c.Counts, st)
	if opt.CountTails && opt.Counts == nil && reason == "" {
		applyCountTails(bins, c.Counts, st, mean, sd, !opt.DisableFDR)
	}
	if !opt.DisableFDR {
		FDR(bins, binAlphas[2])
	}
	res.Bins, res.Steps, res.Mean, res.SD, res.Degenerate = bins, c.Steps, mean, sd, reason
	var floored []bool
	if opt.MinLocal > 0 {
		floored = make([]bool, len(bins))
		for b := range bins {
			if bins[b].Z <= 0 || bins[b].Q > opt.Alpha*(1+1e-12) {
				continue
			}
			var local float64
			for k := st.Start[b]; k < st.Start[b+1]; k++ {
				local += st.Value[k] * counts[st.Index[k]]
			}
			if local < opt.MinLocal {
				floored[b] = true
				res.Sparse++
			}
		}
	}
	res.Trends = make([]Trend, c.Locs)
	z := make([]float64, c.Steps)
	sig := make([]int, c.Steps)
	// Consecutive z-scores share time steps of their neighbourhoods: with k time neighbours,
	// steps l apart share k+1−l of their k+1 steps, a correlation of (k+1−l)/(k+1) between
	// them when the counts are independent. The trend test allows for it (Hamed & Rao 1998);
	// without, a persistent spot comes out intensifying or diminishing several times as often
	// as the trend level says.
	rho := make([]float64, opt.TimeNeighbours)
	for l := 1; l <= opt.TimeNeighbours; l++ {
		rho[l-1] = float64(opt.TimeNeighbours+1-l) / float64(opt.TimeNeighbours+1)
	}
	for i := 0; i < c.Locs; i++ {
		row := bins[i*c.Steps : (i+1)*c.Steps]
		for t, b := range row {
			z[t] = b.Z
			sig[t] = 0
			if b.Q <= opt.Alpha*(1+1e-12) && b.Z != 0 && (floored == nil || !floored[i*c.Steps+t]) {
				sig[t] = 1
				if b.Z < 0 {
					sig[t] = -1
				}
			}
		}
		// The first k steps have fewer time neighbours (none before the cube), so their z-scores
		// are smaller in size for the same excess: left in, they read as a trend (a persistent
		// spot would look intensifying). The trend is taken over the steps with full
		// neighbourhoods when at least 3 remain.
		from := 0
		if c.Steps-opt.TimeNeighbours >= 3 {
			from = opt.TimeNeighbours
		}
		res.Trends[i] = MannKendallAutocorrelated(z[from:], rho)
		res.Patterns[i] = Classify(sig, res.Trends[i], opt.TrendAlpha)
	}
	return res
}

// Classify assigns the emerging pattern of one location from its per-step significance
// (sig[t] = +1 significant hot, −1 significant cold, 0 not significant; oldest first) and
// the Mann-Kendall trend of its z-scores (significant when P ≤ trendAlpha). The rules,
// written for hot (cold mirrors them with the trend sign flipped), with n steps, h hot
// steps and "≥ 90 %" meaning h ≥ 0.9 n:
//
//   - last step hot and h ≥ 90 %: intensifying if the trend is significant and increasing,
//     diminishing if significant and decreasing, else persistent;
//   - last step hot and h < 90 %, checked in order: oscillating if any step was cold;
//     new if only the last step is hot; consecutive if the hot steps are exactly one final
//     run of at least 2; otherwise sporadic;
//   - last step not hot (nor cold) and h ≥ 90 %: historical;
//   - otherwise no pattern.
func Classify(sig []int, tr Trend, trendAlpha float64) Pattern {
	n := len(sig)
	if n == 0 {
		return NoPattern
	}
	var hot, cold int
	for _, s := range sig {
		switch s {
		case 1:
			hot++
		case -1:
			cold++
		}
	}
	last := sig[n-1]
	up := tr.P <= trendAlpha && tr.Z > 0
	down := tr.P <= trendAlpha && tr.Z < 0
	mostly := func(c int) bool { return 10*c >= 9*n }
	run := 0
	for t := n - 1; t >= 0 && sig[t] == last && last != 0; t-- {
		run++
	}
	switch last {
	case 1:
		switch {
		case mostly(hot) && up:
			return IntensifyingHot
		case mostly(hot) && down:
			return DiminishingHot
		case mostly(hot):
			return PersistentHot
		case cold > 0:
			return OscillatingHot
		case hot == 1:
			return NewHot
		case run >= 2 && run == hot:
			return ConsecutiveHot
		default:
			return SporadicHot
		}
	case -1:
		switch {
		case mostly(cold) && down:
			return IntensifyingCold
		case mostly(cold) && up:
			return DiminishingCold
		case mostly(cold):
			return PersistentCold
		case hot > 0:
			return OscillatingCold
		case cold == 1:
			return NewCold
		case run >= 2 && run == cold:
			return ConsecutiveCold
		default:
			return SporadicCold
		}
	}
	switch {
	case hot > 0 && mostly(hot):
		return HistoricalHot
	case cold > 0 && mostly(cold):
		return HistoricalCold
	}
	return NoPattern
}
