package geo

import (
	"math"
	"sort"
	"time"
)

// GiResult is the Getis-Ord Gi* outcome for one location.
type GiResult struct {
	Z   float64 // standardised Gi* (a z-score); > 0 high values cluster, < 0 low values
	P   float64 // two-sided p-value from the standard normal
	Q   float64 // Benjamini-Hochberg adjusted p-value when FDR was applied, else equal to P
	Bin int     // confidence bin: ±3 (99 %), ±2 (95 %), ±1 (90 %), 0 not significant
}

// Confidence levels of the bins, as in ArcGIS: |Bin| = 3, 2, 1.
var binAlphas = [3]float64{0.01, 0.05, 0.10}

// Degenerate reasons reported by Hotspots when no statistic can be formed.
const (
	ReasonTooFew     = "fewer than 3 locations: Gi* is undefined"
	ReasonNoVariance = "all values are equal: no variance, so no location can differ from the mean"
)

// HotspotOptions tunes Hotspots. The zero value is the recommended default: FDR on.
type HotspotOptions struct {
	// DisableFDR turns off the Benjamini-Hochberg correction (bins then use raw p-values).
	DisableFDR bool
	// MinLocal, when > 0, keeps a location out of the hot bins unless its neighbourhood (itself
	// and its neighbours, weighted) holds at least MinLocal events: on sparse counts (a fine
	// grid, few events) a single event among zeros is "significant" by Gi* but no hot spot to
	// act on. Cold bins are left as computed.
	MinLocal float64
	// MinEvents, when > 0, keeps every location out of the hot and cold bins unless the study
	// area holds at least MinEvents events in all: with fewer, any map of significance is noise.
	MinEvents float64
	// Counts, when set (len n), are the event counts behind x when x is something else (a rate
	// per population): the floors MinLocal and MinEvents count events, never rates. nil: x
	// are the counts.
	Counts []float64
	// CountTails takes the p-values of x's likely hot and cold spots from the distribution of
	// counts (negative binomial with the sample's mean and variance, Poisson when not
	// overdispersed) rather than the normal, when x are counts and w binary (applyCountTails;
	// ignored otherwise). Z is unchanged.
	CountTails bool
}

// HotspotResult is one hotspot analysis.
type HotspotResult struct {
	Results    []GiResult
	Mean, SD   float64 // global mean and (population) standard deviation of x
	FDR        bool    // whether bins use FDR-corrected significance
	Degenerate string  // non-empty when every z was forced to 0 (see Reason* constants)
	Sparse     int     // hot locations set to bin 0 by MinLocal
	// Events is the number of events in the study area (Σ Counts, or Σ x).
	Events float64
	// TooFewEvents: Events < MinEvents, so every bin was set to 0 (z, p and q kept).
	TooFewEvents bool
	// Withheld counts the locations in a non-zero bin that TooFewEvents set to 0.
	Withheld int
	// CountTails: the p-values come from the count distribution (HotspotOptions.CountTails).
	CountTails bool
}

// Hotspots runs Gi* over x with w and, unless disabled, the FDR correction; then the floors:
// MinEvents over the whole study area, MinLocal per location (see HotspotOptions).
func Hotspots(x []float64, w *Weights, opt HotspotOptions) HotspotResult {
	res := HotspotResult{Results: make([]GiResult, len(x)), FDR: !opt.DisableFDR}
	res.Mean, res.SD, res.Degenerate = giStarInto(res.Results, x, w)
	if opt.CountTails && opt.Counts == nil && res.Degenerate == "" {
		res.CountTails = applyCountTails(res.Results, x, w, res.Mean, res.SD, res.FDR)
	}
	if res.FDR {
		FDR(res.Results, binAlphas[2])
	}
	counts := x
	if opt.Counts != nil {
		if len(opt.Counts) != len(x) {
			panic("geo: Hotspots: counts and values differ in length")
		}
		counts = opt.Counts
	}
	for _, c := range counts {
		res.Events += c
	}
	if opt.MinEvents > 0 && res.Events < opt.MinEvents {
		res.TooFewEvents = true
		for i := range res.Results {
			if res.Results[i].Bin != 0 {
				res.Results[i].Bin = 0
				res.Withheld++
			}
		}
		return res
	}
	if opt.MinLocal > 0 {
		for i := range res.Results {
			if res.Results[i].Bin <= 0 {
				continue
			}
			var local float64
			for k := w.Start[i]; k < w.Start[i+1]; k++ {
				local += w.Value[k] * counts[w.Index[k]]
			}
			if local < opt.MinLocal {
				res.Results[i].Bin = 0
				res.Sparse++
			}
		}
	}
	return res
}

// Local is what Gi* compares at one location: its neighbourhood's observed sum against the
// sum expected were every location at the global mean.
type Local struct {
	Observed   float64 // Σ_j w_ij x_j over the neighbourhood, the location included
	Expected   float64 // X̄ · W_i: the neighbourhood's sum under the global mean
	Neighbours int     // locations j ≠ i with w_ij ≠ 0
	Events     float64 // Σ_j w_ij c_j: events in the neighbourhood (equals Observed for counts)
	// Own is the location's analysed value x_i and OwnZ its standard score (x_i − X̄) / S (0
	// when S = 0); NeighbourMean the plain mean of x_j over its neighbours (j ≠ i, w_ij ≠ 0; 0
	// without neighbours).
	Own, OwnZ, NeighbourMean float64
}

// OwnTail is the standard score from which a location's own value is remarkable by itself:
// the one-sided 95 % point of the normal.
const OwnTail = 1.645

// ThroughNeighbours reports whether a location's own value is unremarkable by itself (OwnZ
// below OwnTail) and below its neighbours' mean. Gi* weighs a location with its
// neighbourhood, so such a location, when hot, is hot because of the locations around it, not
// because of what happens in it; a location busy by itself is never so described, whatever
// its neighbours.
func (l Local) ThroughNeighbours() bool {
	return l.Neighbours > 0 && l.Own < l.NeighbourMean && l.OwnZ < OwnTail
}

// Ratio is Observed / Expected (0 when nothing was expected).
func (l Local) Ratio() float64 {
	if l.Expected <= 0 {
		return 0
	}
	return l.Observed / l.Expected
}

// LocalOf returns location i's neighbourhood figures for a result computed from x with w;
// counts are the events behind x (nil: x). O(neighbours of i).
func (r *HotspotResult) LocalOf(i int, x []float64, w *Weights, counts []float64) Local {
	if counts == nil {
		counts = x
	}
	l := Local{Own: x[i]}
	var around float64
	for k := w.Start[i]; k < w.Start[i+1]; k++ {
		j := w.Index[k]
		l.Observed += w.Value[k] * x[j]
		l.Events += w.Value[k] * counts[j]
		if j != i {
			l.Neighbours++
			around += x[j]
		}
	}
	if l.Neighbours > 0 {
		l.NeighbourMean = around / float64(l.Neighbours)
	}
	if r.SD > 0 {
		l.OwnZ = (x[i] - r.Mean) / r.SD
	}
	l.Expected = r.Mean * w.sum[i]
	return l
}

// GiStar computes the Getis-Ord Gi* z-score of every location (Ord & Getis 1995, in the
// form ArcGIS uses):
//
//	z_i = (Σ_j w_ij x_j − X̄ W_i) / (S · sqrt((n Σ_j w_ij² − W_i²) / (n − 1)))
//
// with W_i = Σ_j w_ij over the row including j = i, X̄ the mean of x and S = sqrt(Σ x²/n − X̄²).
// P is two-sided from the standard normal; Bin uses the raw P (no FDR; see FDR).
// When n < 3 or S = 0 (all values equal), or a row's denominator is 0 (a neighbourhood
// that is the whole study area), z = 0, p = 1 and bin 0 for the affected locations.
// Cost: O(n + nnz(w)). Panics when w.N != len(x) (a wiring error).
func GiStar(x []float64, w *Weights) []GiResult {
	out := make([]GiResult, len(x))
	giStarInto(out, x, w)
	return out
}

// Moments returns the mean and the population standard deviation of x (centred, two passes),
// as Gi* takes them; 0, 0 for no values.
func Moments(x []float64) (mean, sd float64) {
	if len(x) == 0 {
		return 0, 0
	}
	var s, s2 float64
	for _, v := range x {
		s += v
	}
	mean = s / float64(len(x))
	for _, v := range x {
		d := v - mean
		s2 += d * d
	}
	return mean, math.Sqrt(s2 / float64(len(x)))
}

func giStarInto(out []GiResult, x []float64, w *Weights) (mean, sd float64, reason string) {
	n := len(x)
	if w.N != n {
		panic("geo: GiStar: weights and values differ in length")
	}
	for i := range out {
		out[i] = GiResult{P: 1, Q: 1}
	}
	if n < 3 {
		return 0, 0, ReasonTooFew
	}
	mean, sd = Moments(x)
	// Relative test: equal values summed in floating point may leave a tiny residue.
	if sd <= 1e-12*math.Max(1, math.Abs(mean)) {
		return mean, 0, ReasonNoVariance
	}
	fn := float64(n)
	for i := 0; i < n; i++ {
		var lag float64
		for k := w.Start[i]; k < w.Start[i+1]; k++ {
			lag += w.Value[k] * x[w.Index[k]]
		}
		wi := w.sum[i]
		den2 := (fn*w.sumSq[i] - wi*wi) / (fn - 1)
		if den2 <= 1e-12 {
			continue
		}
		z := (lag - mean*wi) / (sd * math.Sqrt(den2))
		p := PValue(z)
		out[i] = GiResult{Z: z, P: p, Q: p, Bin: giBin(z, p)}
	}
	return mean, sd, ""
}

// PValue is the two-sided p-value of a standard normal z: P(|Z| ≥ |z|) = erfc(|z|/√2).
func PValue(z float64) float64 { return math.Erfc(math.Abs(z) / math.Sqrt2) }

func giBin(z, p float64) int {
	b := 0
	for k, a := range binAlphas {
		if p <= a*(1+1e-12) {
			b = 3 - k
			break
		}
	}
	if z < 0 {
		return -b
	}
	return b
}

// FDR applies the Benjamini-Hochberg false-discovery-rate correction to results in place
// and re-bins them, following ArcGIS: for each confidence level α in {0.01, 0.05, 0.10}
// that is ≤ alpha, rank the m p-values ascending, find the largest rank k with
// p_(k) ≤ k·α/m, and call significant at that level every location with p ≤ p_(k) (the
// FDR-corrected critical p-value). |Bin| is the strictest level at which the location is
// significant (3, 2, 1), signed by z; levels above alpha give bin 0. Q is set to the BH
// adjusted p-value q_(i) = min_{k≥i} min(1, m·p_(k)/k); a location is significant at α
// exactly when Q ≤ α, which is how the bins are computed. Returns how many locations are
// significant at alpha. Cost: O(m), the ranking being a radix sort.
func FDR(results []GiResult, alpha float64) int {
	return fdrInto(results, alpha, nil)
}

// rankedP is a p-value (as its IEEE bits, which order like the value for p ≥ 0) with its
// location, for ranking.
type rankedP struct {
	key uint64
	i   int32
}

// radixSortP sorts by key, stable (ties keep location order): LSD radix, 8-bit digits,
// skipping digits on which all keys agree. tmp must have len(a).
func radixSortP(a, tmp []rankedP) {
	var all, any uint64 = ^uint64(0), 0
	for _, x := range a {
		all &= x.key
		any |= x.key
	}
	for shift := uint(0); shift < 64; shift += 8 {
		if (all>>shift)&0xff == (any>>shift)&0xff {
			continue // every key has the same digit here
		}
		var count [257]int
		for _, x := range a {
			count[(x.key>>shift)&0xff+1]++
		}
		for d := 1; d < 257; d++ {
			count[d] += count[d-1]
		}
		for _, x := range a {
			d := (x.key >> shift) & 0xff
			tmp[count[d]] = x
			count[d]++
		}
		copy(a, tmp)
	}
}

// fdrInto is FDR with an optional reusable ranking buffer.
func fdrInto(results []GiResult, alpha float64, buf *[]rankedP) int {
	m := len(results)
	if m == 0 {
		return 0
	}
	var rk []rankedP
	if buf != nil && cap(*buf) >= 2*m {
		rk = (*buf)[:2*m]
	} else {
		rk = make([]rankedP, 2*m)
		if buf != nil {
			*buf = rk
		}
	}
	rk, tmp := rk[:m], rk[m:]
	for i, r := range results {
		p := r.P
		if !(p >= 0) { // NaN or negative: never significant
			p = 1
		}
		rk[i] = rankedP{math.Float64bits(p), int32(i)}
	}
	radixSortP(rk, tmp)
	run := 1.0
	for k := m - 1; k >= 0; k-- {
		v := math.Float64frombits(rk[k].key) * float64(m) / float64(k+1)
		if v < run {
			run = v
		}
		results[rk[k].i].Q = run
	}
	sig := 0
	for i := range results {
		r := &results[i]
		b := 0
		for k, a := range binAlphas {
			if a <= alpha && r.Q <= a*(1+1e-12) && r.Z != 0 {
				b = 3 - k
				break
			}
		}
		if r.Z < 0 {
			b = -b
		}
		r.Bin = b
		if r.Q <= alpha*(1+1e-12) && r.Z != 0 {
			sig++
		}
	}
	return sig
}

// BHAdjust returns Benjamini-Hochberg adjusted p-values (q-values), in input order:
// q_(i) = min_{k ≥ i} min(1, m·p_(k)/k) for the p-values ranked ascending.
func BHAdjust(p []float64) []float64 {
	m := len(p)
	ord := make([]int, m)
	for i := range ord {
		ord[i] = i
	}
	sort.SliceStable(ord, func(a, b int) bool { return p[ord[a]] < p[ord[b]] })
	q := make([]float64, m)
	run := 1.0
	for r := m - 1; r >= 0; r-- {
		i := ord[r]
		v := p[i] * float64(m) / float64(r+1)
		if v < run {
			run = v
		}
		q[i] = run
	}
	return q
}

// BHCritical is the FDR-corrected critical p-value at level alpha: the largest p_(k) with
// p_(k) ≤ k·alpha/m, or 0 when none passes (nothing is significant).
func BHCritical(p []float64, alpha float64) float64 {
	s := append([]float64(nil), p...)
	sort.Float64s(s)
	m := float64(len(s))
	crit := 0.0
	for k, v := range s {
		if v <= float64(k+1)*alpha/m {
			crit = v
		}
	}
	return crit
}

// LiveWindow keeps per-location event counts over a sliding window made of a ring of time
// buckets (e.g. 60 one-minute buckets for the last hour, 24 one-hour buckets for a day).
// Add is O(1); Advance is O(locations × expired buckets); Compute is O(n + nnz(weights))
// plus O(n) for the FDR ranking (radix sort): a tick never costs anything proportional to the
// number of events. Not safe for concurrent use: the owner serialises calls.
type LiveWindow struct {
	n       int
	bucket  time.Duration
	nb      int
	counts  []int32 // counts[b*n+loc]
	totals  []int64 // Σ over buckets, per location
	head    int     // ring index of the current (newest) bucket
	headT   time.Time
	scratch []float64
	ranks   []rankedP
}

// WindowSpec names a sliding window: Buckets buckets of Bucket each.
type WindowSpec struct {
	Name    string
	Bucket  time.Duration
	Buckets int
}

// StandardWindows are the live windows the dashboard keeps per topic.
var StandardWindows = []WindowSpec{
	{"1h", time.Minute, 60},
	{"24h", time.Hour, 24},
	{"7d", time.Hour, 7 * 24},
	{"30d", time.Hour, 30 * 24},
}

// Span is the window length.
func (s WindowSpec) Span() time.Duration { return s.Bucket * time.Duration(s.Buckets) }

// NewLiveWindow makes a window over n locations whose newest bucket starts at the bucket
// boundary at or before start (boundaries are multiples of bucket since Go's zero time:
// whole minutes and hours of UTC for minute and hour buckets).
func NewLiveWindow(n int, spec WindowSpec, start time.Time) *LiveWindow {
	if spec.Buckets < 1 || spec.Bucket <= 0 {
		panic("geo: LiveWindow needs at least one bucket of positive length")
	}
	return &LiveWindow{
		n: n, bucket: spec.Bucket, nb: spec.Buckets,
		counts: make([]int32, n*spec.Buckets),
		totals: make([]int64, n),
		headT:  start.Truncate(spec.Bucket),
	}
}

// Advance rotates the ring so that the newest bucket contains now, zeroing expired buckets.
// Times before the newest bucket are ignored (the window never goes back).
func (lw *LiveWindow) Advance(now time.Time) {
	if now.Before(lw.headT.Add(lw.bucket)) {
		return
	}
	steps := int64(now.Sub(lw.headT) / lw.bucket)
	lw.headT = lw.headT.Add(time.Duration(steps) * lw.bucket)
	if steps >= int64(lw.nb) {
		clear(lw.counts)
		clear(lw.totals)
		lw.head = 0
		return
	}
	for s := int64(0); s < steps; s++ {
		lw.head = (lw.head + 1) % lw.nb
		row := lw.counts[lw.head*lw.n : (lw.head+1)*lw.n]
		for i, c := range row {
			if c != 0 {
				lw.totals[i] -= int64(c)
				row[i] = 0
			}
		}
	}
}

// Add counts one event at loc at time t. An event newer than the newest bucket advances the
// window first; a late event still inside the window goes to its own bucket; an event older
// than the window, or with loc out of range, is dropped and Add returns false.
func (lw *LiveWindow) Add(loc int, t time.Time) bool {
	if loc < 0 || loc >= lw.n {
		return false
	}
	if !t.Before(lw.headT.Add(lw.bucket)) {
		lw.Advance(t)
	}
	back := 0
	if t.Before(lw.headT) {
		back = int((lw.headT.Sub(t) + lw.bucket - 1) / lw.bucket)
		if back >= lw.nb {
			return false
		}
	}
	b := (lw.head - back + lw.nb) % lw.nb
	lw.counts[b*lw.n+loc]++
	lw.totals[loc]++
	return true
}

// Totals returns the per-location counts over the window (shared; do not modify).
func (lw *LiveWindow) Totals() []int64 { return lw.totals }

// Each calls fn for every non-zero count of the window: its location, the start of its bucket
// and the count, oldest bucket first.
func (lw *LiveWindow) Each(fn func(loc int, start time.Time, n int32)) {
	for back := lw.nb - 1; back >= 0; back-- {
		b := (lw.head - back + lw.nb) % lw.nb
		start := lw.headT.Add(-time.Duration(back) * lw.bucket)
		for loc, c := range lw.counts[b*lw.n : (b+1)*lw.n] {
			if c != 0 {
				fn(loc, start, c)
			}
		}
	}
}

// Range is the half-open time range [from, to) the window covers.
func (lw *LiveWindow) Range() (from, to time.Time) {
	to = lw.headT.Add(lw.bucket)
	return to.Add(-time.Duration(lw.nb) * lw.bucket), to
}

// Compute runs Hotspots over the window totals with w (w.N must equal the location count).
func (lw *LiveWindow) Compute(w *Weights, opt HotspotOptions) HotspotResult {
	var res HotspotResult
	lw.ComputeInto(&res, w, opt)
	return res
}

// ComputeInto is Compute reusing res.Results when it has the right length.
func (lw *LiveWindow) ComputeInto(res *HotspotResult, w *Weights, opt HotspotOptions) {
	if len(lw.scratch) != lw.n {
		lw.scratch = make([]float64, lw.n)
	}
	for i, c := range lw.totals {
		lw.scratch[i] = float64(c)
	}
	if len(res.Results) != lw.n {
		res.Results = make([]GiResult, lw.n)
	}
	res.FDR = !opt.DisableFDR
	res.Mean, res.SD, res.Degenerate = giStarInto(res.Results, lw.scratch, w)
	if res.FDR {
		fdrInto(res.Results, binAlphas[2], &lw.ranks)
	}
}

// CubeOf returns the window's counts at locations locs as a space-time cube, one step per
// bucket, oldest first (for emerging-hotspot analysis of the live window).
func (lw *LiveWindow) CubeOf(locs []int) *Cube {
	c := NewCube(len(locs), lw.nb)
	for s := 0; s < lw.nb; s++ {
		b := (lw.head + 1 + s) % lw.nb // head is the newest bucket, head+1 the oldest
		row := lw.counts[b*lw.n : (b+1)*lw.n]
		for i, loc := range locs {
			c.Counts[i*lw.nb+s] = float64(row[loc])
		}
	}
	return c
}
