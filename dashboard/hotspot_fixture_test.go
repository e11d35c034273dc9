package dashboard

import (
	"fmt"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"zhili/geo"
	"zhili/update"
)

// latticeTree is a county of tx × ty townships, each of sub × sub square grids of side d
// degrees (about 110 m per 0.001°), codes 900000 / 900000TTT / 900000TTTGGG. Grids are listed
// row by row over the whole county by gridAt.
type lattice struct {
	tree     *geo.Tree
	nx, ny   int
	sub      int
	d        float64
	x0, y0   float64
	gridCode [][]string // [col][row]
}

func latticeTree(t testing.TB, tx, ty, sub int, d float64) *lattice {
	t.Helper()
	l := &lattice{nx: tx * sub, ny: ty * sub, sub: sub, d: d, x0: 114.0, y0: 32.0}
	sq := func(i0, j0, i1, j1 int) orb.Polygon {
		a := orb.Point{l.x0 + float64(i0)*d, l.y0 + float64(j0)*d}
		b := orb.Point{l.x0 + float64(i1)*d, l.y0 + float64(j1)*d}
		// Vertices at every grid corner along the edges, so that contiguity sees shared corners.
		var r orb.Ring
		for i := i0; i < i1; i++ {
			r = append(r, orb.Point{l.x0 + float64(i)*d, a[1]})
		}
		for j := j0; j < j1; j++ {
			r = append(r, orb.Point{b[0], l.y0 + float64(j)*d})
		}
		for i := i1; i > i0; i-- {
			r = append(r, orb.Point{l.x0 + float64(i)*d, b[1]})
		}
		for j := j1; j > j0; j-- {
			r = append(r, orb.Point{a[0], l.y0 + float64(j)*d})
		}
		r = append(r, r[0])
		return orb.Polygon{r}
	}
	var regions []*geo.Region
	add := func(code, name, parent, kind string, g orb.Polygon) {
		regions = append(regions, &geo.Region{Code: code, Name: name, Parent: parent, Kind: kind, Geometry: g, Bound: g.Bound()})
	}
	add("900000", "试验县", "", "county", sq(0, 0, l.nx, l.ny))
	l.gridCode = make([][]string, l.nx)
	for i := range l.gridCode {
		l.gridCode[i] = make([]string, l.ny)
	}
	for a := 0; a < tx; a++ {
		for b := 0; b < ty; b++ {
			town := fmt.Sprintf("900000%03d", a*ty+b+1)
			add(town, fmt.Sprintf("第%d镇", a*ty+b+1), "900000", "township", sq(a*sub, b*sub, (a+1)*sub, (b+1)*sub))
			for i := 0; i < sub; i++ {
				for j := 0; j < sub; j++ {
					gi, gj := a*sub+i, b*sub+j
					code := fmt.Sprintf("%s%03d", town, i*sub+j+1)
					l.gridCode[gi][gj] = code
					add(code, fmt.Sprintf("第%d镇%d网格", a*ty+b+1, i*sub+j+1), town, "grid", sq(gi, gj, gi+1, gj+1))
				}
			}
		}
	}
	tree, err := geo.NewTree(regions)
	if err != nil {
		t.Fatal(err)
	}
	l.tree = tree
	return l
}

// report returns n new-case items at grid (i, j) at time at, located at the grid's centre.
func (l *lattice) report(i, j, n int, at time.Time) []update.Item {
	p := [2]float64{l.x0 + (float64(i)+0.5)*l.d, l.y0 + (float64(j)+0.5)*l.d}
	out := make([]update.Item, n)
	for k := range out {
		out[k] = update.Item{Type: "case.reported", New: true, Region: l.tree.Path(l.gridCode[i][j]), Point: &p, At: at}
	}
	return out
}
