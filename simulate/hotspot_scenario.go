package simulate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/paulmach/orb"

	"zhili/geo"
)

// PlantedConfig describes a hotspot scenario with a known truth, to validate the hotspot
// statistics: new cases per grid and day drawn from Poisson distributions, a background rate
// everywhere, and (unless Control) two planted clusters of grids, each a grid and its queen
// neighbours (a 3 × 3 block on a lattice):
//
//   - a persistent cluster at Persistent × the background rate every day;
//   - an intensifying cluster whose multiple rises linearly from IntensifyFrom on the first
//     day to IntensifyTo on the last.
//
// Zero fields take the defaults noted.
type PlantedConfig struct {
	Tree *geo.Tree // default PlantedTree(): a county of 20 × 20 grids in 4 × 4 townships
	Seed uint64
	Days int     // default 30
	Base float64 // background new cases per grid per day (default 2)
	// Persistent is the persistent cluster's rate multiple (default 3).
	Persistent float64
	// IntensifyFrom and IntensifyTo bound the intensifying cluster's multiple (defaults 2 and 5).
	IntensifyFrom, IntensifyTo float64
	// Control: no cluster, the background only (the no-signal control).
	Control bool
}

// Planted is a generated scenario: counts per grid and day, and where the truth lies.
type Planted struct {
	Days   int
	Grids  []*geo.Region // the tree's leaves, in tree order
	Counts [][]int       // Counts[grid][day]
	// PersistentCore and IntensifyingCore are the centre grids of the clusters (−1 in a
	// control); Persistent and Intensifying all their grids (core first).
	PersistentCore, IntensifyingCore int
	Persistent, Intensifying         []int
}

// DefaultPlanted returns cfg with its defaults filled in.
func (cfg PlantedConfig) withDefaults() PlantedConfig {
	if cfg.Tree == nil {
		cfg.Tree = PlantedTree()
	}
	def := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	if cfg.Days <= 0 {
		cfg.Days = 30
	}
	def(&cfg.Base, 2)
	def(&cfg.Persistent, 3)
	def(&cfg.IntensifyFrom, 2)
	def(&cfg.IntensifyTo, 5)
	return cfg
}

// PlantHotspots generates the scenario. The same configuration gives the same counts. The
// clusters sit on two grids chosen by the seed, a quarter of the way in from opposite corners
// of the tree's grid list (on the default lattice: far apart, away from the edges).
func PlantHotspots(cfg PlantedConfig) *Planted {
	cfg = cfg.withDefaults()
	p := &Planted{Days: cfg.Days, PersistentCore: -1, IntensifyingCore: -1}
	cfg.Tree.Walk(func(r *geo.Region) {
		if len(r.Children) == 0 {
			p.Grids = append(p.Grids, r)
		}
	})
	n := len(p.Grids)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed_4075_9075))
	mult := make([][]float64, n) // nil: background
	if !cfg.Control && n >= 9 {
		w := geo.ContiguityWeights(p.Grids, 1e-7)
		// Interior grids (8 neighbours) in the first and last thirds of the list.
		pick := func(lo, hi int) int {
			for range 1000 {
				i := lo + rng.IntN(max(hi-lo, 1))
				if cols, _ := w.Row(i); len(cols) == 9 {
					return i
				}
			}
			return lo
		}
		block := func(core int) []int {
			cols, _ := w.Row(core)
			out := []int{core}
			for _, j := range cols {
				if j != core {
					out = append(out, j)
				}
			}
			return out
		}
		p.PersistentCore = pick(n/6, n/3)
		p.Persistent = block(p.PersistentCore)
		near := map[int]bool{} // the persistent block and its neighbours: the other stays apart
		for _, i := range p.Persistent {
			cols, _ := w.Row(i)
			for _, j := range cols {
				near[j] = true
			}
		}
		for range 1000 {
			p.IntensifyingCore = pick(2*n/3, 5*n/6)
			p.Intensifying = block(p.IntensifyingCore)
			apart := true
			for _, i := range p.Intensifying {
				apart = apart && !near[i]
			}
			if apart {
				break
			}
		}
		for _, i := range p.Persistent {
			mult[i] = make([]float64, cfg.Days)
			for d := range mult[i] {
				mult[i][d] = cfg.Persistent
			}
		}
		for _, i := range p.Intensifying {
			mult[i] = make([]float64, cfg.Days)
			for d := range mult[i] {
				f := 0.0
				if cfg.Days > 1 {
					f = float64(d) / float64(cfg.Days-1)
				}
				mult[i][d] = cfg.IntensifyFrom + f*(cfg.IntensifyTo-cfg.IntensifyFrom)
			}
		}
	}
	p.Counts = make([][]int, n)
	for i := range p.Counts {
		p.Counts[i] = make([]int, cfg.Days)
		for d := range p.Counts[i] {
			lambda := cfg.Base
			if mult[i] != nil {
				lambda *= mult[i][d]
			}
			p.Counts[i][d] = Poisson(rng, lambda)
		}
	}
	return p
}

// Poisson draws from a Poisson distribution (Knuth's product method; for small rates).
func Poisson(rng *rand.Rand, lambda float64) int {
	l, k, prod := math.Exp(-lambda), 0, rng.Float64()
	for prod > l {
		k++
		prod *= rng.Float64()
	}
	return k
}

// Reports calls fn for every case of the scenario: an id, the grid, and a time on its day
// (day 0 starting at start), spread evenly over the day.
func (p *Planted) Reports(start time.Time, fn func(id string, grid *geo.Region, at time.Time)) {
	var id []byte
	for i, g := range p.Grids {
		for d, c := range p.Counts[i] {
			day := start.AddDate(0, 0, d)
			for k := range c {
				id = strconv.AppendInt(append(id[:0], 'P'), int64(i), 10)
				id = strconv.AppendInt(append(id, '-'), int64(d), 10)
				id = strconv.AppendInt(append(id, '-'), int64(k), 10)
				fn(string(id), g, day.Add(time.Duration(k+1)*24*time.Hour/time.Duration(c+1)))
			}
		}
	}
}

// PlantedTree is the scenario's default geography: a county (990000) of 4 × 4 townships, each
// of 5 × 5 square grids about 500 m across (400 grids), south of Xinyang. WGS-84.
func PlantedTree() *geo.Tree {
	const (
		towns, sub = 4, 5
		d          = 0.005
		x0, y0     = 114.0, 31.9
	)
	sq := func(i0, j0, i1, j1 int) orb.Polygon {
		var r orb.Ring
		for i := i0; i < i1; i++ {
			r = append(r, orb.Point{x0 + float64(i)*d, y0 + float64(j0)*d})
		}
		for j := j0; j < j1; j++ {
			r = append(r, orb.Point{x0 + float64(i1)*d, y0 + float64(j)*d})
		}
		for i := i1; i > i0; i-- {
			r = append(r, orb.Point{x0 + float64(i)*d, y0 + float64(j1)*d})
		}
		for j := j1; j > j0; j-- {
			r = append(r, orb.Point{x0 + float64(i0)*d, y0 + float64(j)*d})
		}
		return orb.Polygon{append(r, r[0])}
	}
	var regions []*geo.Region
	add := func(code, name, parent, kind string, g orb.Polygon) {
		regions = append(regions, &geo.Region{Code: code, Name: name, Parent: parent, Kind: kind, Geometry: g, Bound: g.Bound()})
	}
	add("990000", "验证县", "", "county", sq(0, 0, towns*sub, towns*sub))
	for a := range towns {
		for b := range towns {
			t := a*towns + b + 1
			town := fmt.Sprintf("990000%03d", t)
			add(town, fmt.Sprintf("验证%d镇", t), "990000", "township", sq(a*sub, b*sub, (a+1)*sub, (b+1)*sub))
			for i := range sub {
				for j := range sub {
					g := i*sub + j + 1
					add(fmt.Sprintf("%s%03d", town, g), fmt.Sprintf("验证%d镇第%d网格", t, g), town, "grid",
						sq(a*sub+i, b*sub+j, a*sub+i+1, b*sub+j+1))
				}
			}
		}
	}
	tree, err := geo.NewTree(regions)
	if err != nil {
		panic(err) // fixed geometry: a failure is a bug
	}
	return tree
}
