// Package scan is a prospective space-time permutation scan statistic (Kulldorff et al. 2005)
// for detecting emerging clusters of cases among grids, with Monte Carlo p-values (optionally
// sequential, Besag & Clifford 1991) and recurrence intervals. Pure: no I/O, no clock (the
// analysis time is passed in). See docs/SCAN.md.
package scan

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/paulmach/orb"

	"zhili/geo"
)

// Cell is one location of the study area (a grid), with its centroid in WGS-84 degrees.
type Cell struct {
	ID       string
	Lon, Lat float64
}

// Case is one case: the index of its cell in the scanner's cells and its time.
type Case struct {
	Cell int
	T    time.Time
}

// Config sets the scan. Zero fields take the defaults named in their comments.
type Config struct {
	Bucket      time.Duration // time bucket; default 1 h
	Study       time.Duration // study period ending at the analysis time; default 7 days
	MaxDuration time.Duration // longest window (ending at the analysis time); default 24 h
	MaxCells    int           // most grids in a circle (centre included); default 20
	MaxRadiusM  float64       // largest circle radius in metres; 0: no limit besides MaxCells
	Replicates  int           // Monte Carlo replicates R; default 999
	// EarlyStop is the sequential Monte Carlo rule: stop once this many replicates reach the
	// primary cluster's statistic (p is then EarlyStop/replicates run). 0: always run R.
	EarlyStop   int
	Every       time.Duration // interval between analyses, for the recurrence interval; default 1 h
	AlarmDays   float64       // alarm when a cluster's recurrence interval is at least this; default 100
	MaxClusters int           // most clusters reported (primary and non-overlapping secondaries); default 10
	Seed        uint64        // seed of the permutations (with the analysis time)
}

func (c *Config) defaults() error {
	if c.Bucket == 0 {
		c.Bucket = time.Hour
	}
	if c.Study == 0 {
		c.Study = 7 * 24 * time.Hour
	}
	if c.MaxDuration == 0 {
		c.MaxDuration = 24 * time.Hour
	}
	if c.MaxCells == 0 {
		c.MaxCells = 20
	}
	if c.Replicates == 0 {
		c.Replicates = 999
	}
	if c.Every == 0 {
		c.Every = time.Hour
	}
	if c.AlarmDays == 0 {
		c.AlarmDays = 100
	}
	if c.MaxClusters == 0 {
		c.MaxClusters = 10
	}
	switch {
	case c.Bucket < 0 || c.Study < 0 || c.MaxDuration < 0 || c.Every < 0:
		return errors.New("scan: durations must be positive")
	case c.Study%c.Bucket != 0 || c.MaxDuration%c.Bucket != 0:
		return fmt.Errorf("scan: study %v and max duration %v must be multiples of the bucket %v", c.Study, c.MaxDuration, c.Bucket)
	case c.MaxDuration > c.Study:
		return fmt.Errorf("scan: max duration %v longer than the study period %v", c.MaxDuration, c.Study)
	case c.MaxCells < 1 || c.MaxRadiusM < 0 || c.Replicates < 1 || c.EarlyStop < 0 || c.MaxClusters < 1 || c.AlarmDays < 0:
		return errors.New("scan: MaxCells, Replicates and MaxClusters must be ≥ 1; MaxRadiusM, EarlyStop and AlarmDays ≥ 0")
	}
	return nil
}

// Cluster is one space-time cylinder: a circle of grids over a window ending at the analysis time.
type Cluster struct {
	Center         string    `json:"center"`
	Cells          []string  `json:"cells"`    // the circle's grids, nearest first (the centre first)
	RadiusM        float64   `json:"radius_m"` // distance from the centre to the farthest grid of the circle
	Start          time.Time `json:"start"`
	End            time.Time `json:"end"`
	Observed       int       `json:"observed"`
	Expected       float64   `json:"expected"`        // under the permutation null: N_circle · N_window / N
	LLR            float64   `json:"llr"`             // log generalized likelihood ratio (Poisson approximation)
	P              float64   `json:"p"`               // Monte Carlo p-value against the replicates' maxima
	RecurrenceDays float64   `json:"recurrence_days"` // Every / P, in days
	Alarm          bool      `json:"alarm"`           // RecurrenceDays ≥ AlarmDays
}

// Result is one analysis.
type Result struct {
	Clusters   []Cluster // primary first, then secondaries not overlapping earlier ones, by LLR
	Cases      int       // cases in the study period
	Cells      int       // grids with at least one case in the study period
	Replicates int       // replicates run (fewer than R after an early stop)
	Took       time.Duration
}

// Scanner holds the circles, computed once. Safe for concurrent Scan calls.
type Scanner struct {
	cells  []Cell
	cfg    Config
	k      int       // row stride of circ and dist
	circ   []int32   // circ[i*k+r]: r-th nearest cell of centre i
	dist   []float64 // distance of circ[i*k+r] from centre i, metres
	size   []int32   // cells in the circle of centre i
	invAt  []int32   // CSR: invAt[z]..invAt[z+1] index inv
	inv    []member  // (centre, rank) of every circle holding cell z
	nb, nd int       // buckets in the study period, in the longest window
}

type member struct{ centre, rank int32 }

// NewScanner checks cfg and precomputes, for each grid, its circle: itself and its nearest
// grids by centroid distance (geo.KNearestWeights, geo.Haversine), up to MaxCells grids
// within MaxRadiusM.
func NewScanner(cells []Cell, cfg Config) (*Scanner, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	n := len(cells)
	if n == 0 {
		return nil, errors.New("scan: no cells")
	}
	k := min(cfg.MaxCells, n)
	s := &Scanner{cells: cells, cfg: cfg, k: k, circ: make([]int32, n*k), dist: make([]float64, n*k),
		size: make([]int32, n), nb: int(cfg.Study / cfg.Bucket), nd: int(cfg.MaxDuration / cfg.Bucket)}
	pts := make([]orb.Point, n)
	for i, c := range cells {
		pts[i] = orb.Point{c.Lon, c.Lat}
	}
	w := geo.KNearestWeights(pts, k-1)
	type nbr struct {
		d float64
		j int
	}
	row := make([]nbr, 0, k)
	for i := 0; i < n; i++ {
		idx, _ := w.Row(i)
		row = row[:0]
		for _, j := range idx {
			if j != i {
				row = append(row, nbr{geo.Haversine(pts[i], pts[j]), j})
			}
		}
		sort.Slice(row, func(a, b int) bool {
			return row[a].d < row[b].d || (row[a].d == row[b].d && row[a].j < row[b].j)
		})
		s.circ[i*k] = int32(i)
		m := 1
		for _, x := range row {
			if cfg.MaxRadiusM > 0 && x.d > cfg.MaxRadiusM {
				break
			}
			s.circ[i*k+m], s.dist[i*k+m] = int32(x.j), x.d
			m++
		}
		s.size[i] = int32(m)
	}
	s.invAt = make([]int32, n+1)
	for i := 0; i < n; i++ {
		for r := 0; r < int(s.size[i]); r++ {
			s.invAt[s.circ[i*k+r]+1]++
		}
	}
	for z := 0; z < n; z++ {
		s.invAt[z+1] += s.invAt[z]
	}
	s.inv = make([]member, s.invAt[n])
	fill := append([]int32(nil), s.invAt[:n]...)
	for i := 0; i < n; i++ {
		for r := 0; r < int(s.size[i]); r++ {
			z := s.circ[i*k+r]
			s.inv[fill[z]] = member{int32(i), int32(r)}
			fill[z]++
		}
	}
	return s, nil
}

// Config returns the configuration in force (defaults filled in).
func (s *Scanner) Config() Config { return s.cfg }

// best is the highest-LLR cylinder of one centre.
type best struct {
	llr    float64
	centre int32
	rank   int32 // last rank of the circle
	age    int32 // window of age buckets 0..age
	c      int32
}

// work is the scratch of one Scan call; the replicate loop allocates nothing.
type work struct {
	nz     []float64 // cases per cell over the study period
	cumNz  []float64 // per centre and rank: cases of the circle over the study period
	lnW    []float64 // ln of the cases in the window of ages 0..j, all cells
	w      []float64 // cases in the window of ages 0..j, all cells
	recent []int32   // age buckets of the cases in the longest window (the values permuted in)
	perm   []int32   // case indexes, partially shuffled per replicate
	cellOf []int32   // cell of each case in the study period
	ageOf  []int32   // age bucket of each case (observed)
	head   []int32   // per cell, first recent case (index into recent order) or -1
	cnt    []int32   // per cell, recent cases
	young  []int32   // per cell, youngest recent age bucket
	next   []int32
	touch  []int32 // cells with a recent case
	chead  []int32 // per centre, first entry or -1
	ents   []entry
	cands  []int32 // centres with an entry
	ranks  []entry // one centre's entries, sorted by rank
	ages   []int32 // one circle's recent ages, sorted
	bests  []best  // observed run: best cylinder per centre
	maxima []float64
	clnc   []float64 // c·ln c for c = 0..N
	lnI    []float64 // ln c for c = 0..N
	n      float64
	lnN    float64
}

type entry struct {
	rank, cell, next int32
}

// Scan analyses the cases at time now: the study period is [now−Study, now), cut into
// half-open buckets ending at now (as geo.LiveWindow's), so a case at a bucket's start belongs
// to that bucket; cases outside it (or with a cell out of range) are ignored. Deterministic for
// given cases, now and Seed. Took is the only wall-clock reading.
func (s *Scanner) Scan(cases []Case, now time.Time) Result {
	t0 := time.Now()
	res := s.scan(cases, now)
	res.Took = time.Since(t0)
	return res
}

func (s *Scanner) scan(cases []Case, now time.Time) Result {
	wk, res, obsCells, obsAges := s.prepare(cases, now)
	if wk == nil {
		return res
	}
	obs := s.maxLLR(wk, obsCells, obsAges, true)
	if obs <= 0 {
		return res
	}

	// Replicates: give the recent time buckets to a uniformly random ordered subset of the
	// cases (a partial Fisher-Yates shuffle), which is the recent part of a full permutation.
	rng := rand.New(rand.NewPCG(s.cfg.Seed, uint64(now.UnixNano())))
	repCells := make([]int32, len(wk.recent))
	wk.maxima = make([]float64, 0, s.cfg.Replicates)
	tol := obs * 1e-9
	exceed := 0
	for r := 0; r < s.cfg.Replicates; r++ {
		s.permute(wk, rng, repCells)
		v := s.maxLLR(wk, repCells, wk.recent, false)
		wk.maxima = append(wk.maxima, v)
		if v >= obs-tol {
			exceed++
			if s.cfg.EarlyStop > 0 && exceed >= s.cfg.EarlyStop {
				break
			}
		}
	}
	res.Replicates = len(wk.maxima)
	res.Clusters = s.clusters(wk, now)
	return res
}

// permute draws the cells of the cases that receive the recent buckets in one replicate.
func (s *Scanner) permute(wk *work, rng *rand.Rand, cells []int32) {
	for x := range cells {
		y := x + rng.IntN(len(wk.perm)-x)
		wk.perm[x], wk.perm[y] = wk.perm[y], wk.perm[x]
		cells[x] = wk.cellOf[wk.perm[x]]
	}
}

// prepare counts the cases of the study period and the tables every cylinder uses; it returns
// a nil work when there is nothing to scan, and the observed recent cases' cells and ages.
func (s *Scanner) prepare(cases []Case, now time.Time) (*work, Result, []int32, []int32) {
	nc := len(s.cells)
	wk := &work{nz: make([]float64, nc), head: make([]int32, nc), chead: make([]int32, nc),
		cnt: make([]int32, nc), young: make([]int32, nc)}
	for i := range wk.head {
		wk.head[i], wk.chead[i] = -1, -1
	}
	counts := make([]int, s.nd)
	for _, c := range cases {
		age := now.Sub(c.T)
		if c.Cell < 0 || c.Cell >= nc || age <= 0 || age > s.cfg.Study {
			continue
		}
		b := int32((age - 1) / s.cfg.Bucket) // bucket b is [now−(b+1)·Bucket, now−b·Bucket)
		wk.cellOf = append(wk.cellOf, int32(c.Cell))
		wk.ageOf = append(wk.ageOf, b)
		wk.nz[c.Cell]++
		if int(b) < s.nd {
			counts[b]++
		}
	}
	res := Result{Cases: len(wk.cellOf)}
	for _, v := range wk.nz {
		if v > 0 {
			res.Cells++
		}
	}
	if res.Cases == 0 {
		return nil, res, nil, nil
	}
	wk.n = float64(res.Cases)
	wk.lnN = math.Log(wk.n)
	wk.clnc, wk.lnI = make([]float64, res.Cases+1), make([]float64, res.Cases+1)
	for c := 1; c <= res.Cases; c++ {
		wk.lnI[c] = math.Log(float64(c))
		wk.clnc[c] = float64(c) * wk.lnI[c]
	}
	wk.w, wk.lnW = make([]float64, s.nd), make([]float64, s.nd)
	acc := 0
	for j := 0; j < s.nd; j++ {
		acc += counts[j]
		wk.w[j] = float64(acc)
		wk.lnW[j] = math.Log(float64(acc))
		for x := 0; x < counts[j]; x++ {
			wk.recent = append(wk.recent, int32(j))
		}
	}
	if acc == 0 {
		return nil, res, nil, nil
	}
	k := s.k
	wk.cumNz = make([]float64, nc*k)
	for i := 0; i < nc; i++ {
		a := 0.0
		for r := 0; r < int(s.size[i]); r++ {
			a += wk.nz[s.circ[i*k+r]]
			wk.cumNz[i*k+r] = a
		}
	}
	wk.next = make([]int32, len(wk.recent))
	wk.perm = make([]int32, res.Cases)
	for i := range wk.perm {
		wk.perm[i] = int32(i)
	}
	wk.bests = make([]best, 0, 256)
	wk.ents = make([]entry, 0, 1024)

	// Observed: the recent cases as they are.
	obsCells := make([]int32, 0, len(wk.recent))
	obsAges := make([]int32, 0, len(wk.recent))
	for i, b := range wk.ageOf {
		if int(b) < s.nd {
			obsCells = append(obsCells, wk.cellOf[i])
			obsAges = append(obsAges, b)
		}
	}
	return wk, res, obsCells, obsAges
}

// maxLLR returns the largest LLR over all cylinders for recent cases at cells[x] with age
// buckets ages[x]. With record, it keeps the best cylinder of each centre in wk.bests.
//
// Only cylinders whose last grid (farthest rank) and oldest bucket both hold a case can be a
// centre's maximum: adding a grid or a bucket without a case raises the expected count and
// keeps the observed one, which lowers the LLR whenever observed > expected. So the loop runs
// over the (centre, rank) pairs of grids with a recent case, and over the distinct ages of the
// circle's cases; the maximum is exact.
func (s *Scanner) maxLLR(wk *work, cells, ages []int32, record bool) float64 {
	wk.touch = wk.touch[:0]
	for x, z := range cells {
		if wk.head[z] < 0 {
			wk.touch = append(wk.touch, z)
			wk.young[z] = ages[x]
		}
		wk.next[x] = wk.head[z]
		wk.head[z] = int32(x)
		wk.cnt[z]++
		wk.young[z] = min(wk.young[z], ages[x])
	}
	wk.ents = wk.ents[:0]
	wk.cands = wk.cands[:0]
	for _, z := range wk.touch {
		for _, mb := range s.inv[s.invAt[z]:s.invAt[z+1]] {
			if wk.chead[mb.centre] < 0 {
				wk.cands = append(wk.cands, mb.centre)
			}
			wk.ents = append(wk.ents, entry{mb.rank, z, wk.chead[mb.centre]})
			wk.chead[mb.centre] = int32(len(wk.ents) - 1)
		}
	}
	n, lnN := wk.n, wk.lnN
	top := 0.0
	k := s.k
	for _, i := range wk.cands {
		if !record && top > 0 {
			// Every cylinder of this centre has c ≤ C (its circle's recent cases) and
			// μ ≥ μ0 (the smallest circle holding a recent case, over the youngest such
			// case's window); the LLR grows with c and falls with μ, so LLR ≤ LLR(C, μ0) ≤
			// C·ln(C/μ0) + (μ0−C)(N−C)/(N−μ0): skip the centre when that cannot beat top.
			var cc, r0, y0 int32 = 0, math.MaxInt32, math.MaxInt32
			for e := wk.chead[i]; e >= 0; e = wk.ents[e].next {
				en := wk.ents[e]
				cc += wk.cnt[en.cell]
				r0, y0 = min(r0, en.rank), min(y0, wk.young[en.cell])
			}
			n0 := wk.cumNz[int(i)*k+int(r0)]
			lnMu0 := wk.lnI[int(n0)] - lnN + wk.lnW[y0]
			c, mu0 := float64(cc), n0*wk.w[y0]/n
			if wk.clnc[cc]-c*lnMu0+(mu0-c)*(n-c)/(n-mu0) <= top {
				wk.chead[i] = -1
				continue
			}
		}
		// The centre's entries, by rank (insertion sort: usually one or two).
		wk.ranks = wk.ranks[:0]
		for e := wk.chead[i]; e >= 0; e = wk.ents[e].next {
			en := wk.ents[e]
			at := len(wk.ranks)
			wk.ranks = append(wk.ranks, en)
			for at > 0 && wk.ranks[at-1].rank > en.rank {
				wk.ranks[at] = wk.ranks[at-1]
				at--
			}
			wk.ranks[at] = en
		}
		wk.chead[i] = -1
		wk.ages = wk.ages[:0]
		cb := best{centre: i}
		for _, en := range wk.ranks {
			for x := wk.head[en.cell]; x >= 0; x = wk.next[x] {
				a := ages[x]
				at := len(wk.ages)
				wk.ages = append(wk.ages, a)
				for at > 0 && wk.ages[at-1] > a {
					wk.ages[at] = wk.ages[at-1]
					at--
				}
				wk.ages[at] = a
			}
			ncirc := wk.cumNz[int(i)*k+int(en.rank)]
			lnC := wk.lnI[int(ncirc)] - lnN
			for t, a := range wk.ages {
				if t+1 < len(wk.ages) && wk.ages[t+1] == a {
					continue
				}
				c := float64(t + 1)
				mu := ncirc * wk.w[a] / n
				if c <= mu {
					continue
				}
				// LLR = c·ln(c/μ) + (N−c)·ln(1+x) with x = (μ−c)/(N−μ); ln(1+x) ≤ x bounds it
				// from above without a logarithm, so only a possible new best pays for one.
				v := wk.clnc[t+1] - c*(lnC+wk.lnW[a])
				floor := cb.llr
				if !record && top > floor {
					floor = top
				}
				if v+(mu-c)*(n-c)/(n-mu) <= floor {
					continue
				}
				if c < n {
					v += (n - c) * math.Log((n-c)/(n-mu))
				}
				if v > cb.llr {
					cb.llr, cb.rank, cb.age, cb.c = v, en.rank, a, int32(c)
				}
			}
		}
		if cb.llr > top {
			top = cb.llr
		}
		if record && cb.llr > 0 {
			wk.bests = append(wk.bests, cb)
		}
	}
	for _, z := range wk.touch {
		wk.head[z], wk.cnt[z] = -1, 0
	}
	return top
}

// clusters turns the observed run's per-centre bests into the primary cluster and the
// secondaries that share no grid with a cluster of higher LLR.
func (s *Scanner) clusters(wk *work, now time.Time) []Cluster {
	sort.Slice(wk.bests, func(a, b int) bool {
		x, y := wk.bests[a], wk.bests[b]
		return x.llr > y.llr || (x.llr == y.llr && x.centre < y.centre)
	})
	sorted := append([]float64(nil), wk.maxima...)
	sort.Float64s(sorted)
	used := make(map[int32]bool)
	var out []Cluster
	k := s.k
	days := s.cfg.Every.Hours() / 24
	for _, b := range wk.bests {
		if len(out) == s.cfg.MaxClusters {
			break
		}
		members := s.circ[int(b.centre)*k : int(b.centre)*k+int(b.rank)+1]
		overlap := false
		for _, z := range members {
			overlap = overlap || used[z]
		}
		if overlap {
			continue
		}
		for _, z := range members {
			used[z] = true
		}
		cl := Cluster{
			Center:   s.cells[b.centre].ID,
			RadiusM:  s.dist[int(b.centre)*k+int(b.rank)],
			Start:    now.Add(-time.Duration(b.age+1) * s.cfg.Bucket),
			End:      now,
			Observed: int(b.c),
			Expected: wk.cumNz[int(b.centre)*k+int(b.rank)] * wk.w[b.age] / wk.n,
			LLR:      b.llr,
		}
		for _, z := range members {
			cl.Cells = append(cl.Cells, s.cells[z].ID)
		}
		cl.P = s.pValue(sorted, b.llr)
		cl.RecurrenceDays = days / cl.P
		cl.Alarm = cl.RecurrenceDays >= s.cfg.AlarmDays
		out = append(out, cl)
	}
	return out
}

// pValue ranks v among the replicates' maxima (sorted ascending): (g+1)/(L+1) with g the
// replicates at or above v, or g/L after a sequential stop (g ≥ EarlyStop).
func (s *Scanner) pValue(sorted []float64, v float64) float64 {
	l := len(sorted)
	g := l - sort.SearchFloat64s(sorted, v-v*1e-9)
	if s.cfg.EarlyStop > 0 && l < s.cfg.Replicates {
		// stopped early: the primary reached EarlyStop exceedances, and so did every secondary
		return float64(g) / float64(l)
	}
	return float64(g+1) / float64(l+1)
}
