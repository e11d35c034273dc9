package geo

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/paulmach/orb"
)

// DemoTree returns the small built-in demo county used until an operator supplies region files:
// 浉河区 (Shihe District of Xinyang, code 411502) as 6 townships and 24 village/community grids.
// The outline is a jittered lattice, so children tile their parents exactly. WGS-84. Each grid
// has a demo population and households (denominators; its parents take the sums).
func DemoTree() *Tree {
	const (
		cols, rows   = 3, 2 // townships
		sub          = 2    // grids per township side
		lon0, lat0   = 113.93, 32.02
		dLon, dLat   = 0.055, 0.05 // grid cell size in degrees
		nx, ny       = cols*sub + 1, rows*sub + 1
		countyCode   = "411502"
		countyName   = "浉河区"
		jitterFactor = 0.28
	)
	townNames := []string{"老城街道", "民权街道", "湖东街道", "五星街道", "东双河镇", "浉河港镇"}
	rng := rand.New(rand.NewPCG(411502, 2026))
	pts := make([][]orb.Point, nx)
	for i := range pts {
		pts[i] = make([]orb.Point, ny)
		for j := range pts[i] {
			jx := (rng.Float64()*2 - 1) * jitterFactor * dLon
			jy := (rng.Float64()*2 - 1) * jitterFactor * dLat
			pts[i][j] = orb.Point{lon0 + float64(i)*dLon + jx, lat0 + float64(j)*dLat + jy}
		}
	}
	// ring walks the lattice boundary of the cell block [i0,i1]×[j0,j1] counter-clockwise.
	ring := func(i0, j0, i1, j1 int) orb.Polygon {
		var r orb.Ring
		for i := i0; i < i1; i++ {
			r = append(r, pts[i][j0])
		}
		for j := j0; j < j1; j++ {
			r = append(r, pts[i1][j])
		}
		for i := i1; i > i0; i-- {
			r = append(r, pts[i][j1])
		}
		for j := j1; j > j0; j-- {
			r = append(r, pts[i0][j])
		}
		r = append(r, r[0])
		return orb.Polygon{r}
	}
	var regions []*Region
	prng := rand.New(rand.NewPCG(411502, 7)) // denominators, apart from the outline's draws
	add := func(code, name, parent, kind string, g orb.Polygon) {
		r := &Region{Code: code, Name: name, Parent: parent, Kind: kind, Geometry: g, Bound: g.Bound()}
		if kind == "grid" {
			pop := 10 * math.Round((12000+30000*prng.Float64())/10)
			r.Denominators = map[string]float64{"population": pop, "households": math.Round(pop / (2.6 + 0.6*prng.Float64()))}
		}
		regions = append(regions, r)
	}
	add(countyCode, countyName, "", "county", ring(0, 0, nx-1, ny-1))
	n := 0
	for ty := rows - 1; ty >= 0; ty-- {
		for tx := 0; tx < cols; tx++ {
			town := fmt.Sprintf("%s%03d", countyCode, n+1)
			add(town, townNames[n], countyCode, "township", ring(tx*sub, ty*sub, (tx+1)*sub, (ty+1)*sub))
			g := 0
			for gy := sub - 1; gy >= 0; gy-- {
				for gx := 0; gx < sub; gx++ {
					g++
					i0, j0 := tx*sub+gx, ty*sub+gy
					add(fmt.Sprintf("%s%03d", town, g), fmt.Sprintf("%s第%d网格", townNames[n], g), town, "grid", ring(i0, j0, i0+1, j0+1))
				}
			}
			n++
		}
	}
	t, err := NewTree(regions)
	if err != nil {
		panic(err) // the generator is deterministic; a failure is a bug
	}
	return t
}
