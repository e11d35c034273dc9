package scan

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"zhili/geo"
	"zhili/simulate"
)

// lattice is an n×n square of cells about spacing metres apart near Xinyang.
func lattice(n int, spacing float64) []Cell {
	dLat := spacing / 111195.0
	dLon := dLat / math.Cos(32.1*math.Pi/180)
	cells := make([]Cell, 0, n*n)
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			cells = append(cells, Cell{ID: fmt.Sprintf("g%02d_%02d", x, y), Lon: 114 + float64(x)*dLon, Lat: 32 + float64(y)*dLat})
		}
	}
	return cells
}

var (
	demoOnce    sync.Once
	demoCells   []Cell
	demoWeights []float64
	demoErr     error
)

// demo returns the demo geography's grids (Xinyang, the deepest level) with their bounding-box
// centres and density weights, parsed once per test binary.
func demo(tb testing.TB) ([]Cell, []float64) {
	demoOnce.Do(func() {
		t, err := geo.XinyangTree()
		if err != nil {
			demoErr = err
			return
		}
		t.Walk(func(r *geo.Region) {
			if len(r.Children) == 0 {
				c := r.Bound.Center()
				demoCells = append(demoCells, Cell{ID: r.Code, Lon: c[0], Lat: c[1]})
				demoWeights = append(demoWeights, 0.05+r.Weight)
			}
		})
	})
	if demoErr != nil {
		tb.Fatal(demoErr)
	}
	return demoCells, demoWeights
}

// diurnal is the share of a day's cases by hour (quiet nights, busy office hours).
var diurnal = func() [24]float64 {
	raw := [24]float64{1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.5, 3, 6, 8, 8, 7, 5, 6, 8, 8, 7, 6, 4, 3, 2.5, 2, 1.5, 1}
	var out [24]float64
	s := 0.0
	for _, v := range raw {
		s += v
	}
	for i, v := range raw {
		out[i] = v / s
	}
	return out
}()

// background draws cases with no cluster: each case's cell from the fixed weights, its time
// from the diurnal profile (perDay cases a day on average, Poisson per hour), over [from, to).
type background struct {
	cdf    []float64
	perDay float64
}

func newBackground(weights []float64, perDay float64) *background {
	b := &background{cdf: make([]float64, len(weights)), perDay: perDay}
	s := 0.0
	for i, w := range weights {
		s += w
		b.cdf[i] = s
	}
	for i := range b.cdf {
		b.cdf[i] /= s
	}
	return b
}

func (b *background) cell(rng *rand.Rand) int {
	return sort.SearchFloat64s(b.cdf, rng.Float64())
}

func (b *background) cases(rng *rand.Rand, from, to time.Time) []Case {
	var out []Case
	for h := from.Truncate(time.Hour); h.Before(to); h = h.Add(time.Hour) {
		n := simulate.Poisson(rng, b.perDay*diurnal[h.Hour()])
		for i := 0; i < n; i++ {
			t := h.Add(time.Duration(rng.Int64N(int64(time.Hour))))
			if t.Before(from) || !t.Before(to) {
				continue
			}
			out = append(out, Case{Cell: b.cell(rng), T: t})
		}
	}
	return out
}

// outbreak draws perDay extra cases a day (diurnal profile) from start to to, spread evenly
// over the given cells.
func outbreak(rng *rand.Rand, cells []int, perDay float64, start, to time.Time) []Case {
	var out []Case
	for h := start.Truncate(time.Hour); h.Before(to); h = h.Add(time.Hour) {
		n := simulate.Poisson(rng, perDay*diurnal[h.Hour()])
		for i := 0; i < n; i++ {
			t := h.Add(time.Duration(rng.Int64N(int64(time.Hour))))
			if t.Before(start) || !t.Before(to) {
				continue
			}
			out = append(out, Case{Cell: cells[rng.IntN(len(cells))], T: t})
		}
	}
	return out
}

// nearest returns cell c and its m−1 nearest cells (by the scanner's circle of c).
func nearest(s *Scanner, c, m int) []int {
	out := make([]int, m)
	for r := range out {
		out[r] = int(s.circ[c*s.k+r])
	}
	return out
}

// t0 is a Monday 00:00 in China Standard Time.
var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
