package geo

import (
	"slices"
	"testing"

	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"
)

// h3Fill is H3's own polygon fill of g: the cells whose centres lie inside it, sorted.
func h3Fill(g orb.Geometry, res int) []uint64 {
	var polys []orb.Polygon
	switch x := g.(type) {
	case orb.Polygon:
		polys = []orb.Polygon{x}
	case orb.MultiPolygon:
		polys = x
	}
	var out []uint64
	for _, pg := range polys {
		loop := func(r orb.Ring) h3.GeoLoop {
			l := make(h3.GeoLoop, 0, len(r))
			for _, p := range r {
				l = append(l, h3.NewLatLng(p[1], p[0]))
			}
			return l
		}
		gp := h3.GeoPolygon{GeoLoop: loop(pg[0])}
		for _, h := range pg[1:] {
			gp.Holes = append(gp.Holes, loop(h))
		}
		for _, c := range h3.PolygonToCells(gp, res) {
			if c != 0 {
				out = append(out, uint64(c))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestHexCoverMatchesH3: the indexed cover is H3's own fill, cell for cell, for the Xinyang
// city's outline (thousands of vertices), the demo county's grids, a polygon with a hole and a
// multipolygon.
func TestHexCoverMatchesH3(t *testing.T) {
	xy := xinyang(t)
	type tc struct {
		name string
		g    orb.Geometry
		res  int
	}
	cases := []tc{{"信阳市 res 8", xy.Root.Geometry, DefaultHexRes}}
	DemoTree().Walk(func(r *Region) {
		if len(r.Children) == 0 {
			cases = append(cases, tc{r.Name + " res 10", r.Geometry, 10})
		}
	})
	square := func(x0, y0, d float64) orb.Ring {
		return orb.Ring{{x0, y0}, {x0 + d, y0}, {x0 + d, y0 + d}, {x0, y0 + d}, {x0, y0}}
	}
	holed := orb.Polygon{square(114, 32, 0.1), square(114.03, 32.03, 0.04)}
	cases = append(cases, tc{"hole", holed, 8},
		tc{"multipolygon", orb.MultiPolygon{holed, {square(114.2, 32, 0.05)}}, 8})
	total := 0
	for _, c := range cases {
		got, want := HexCover(c.g, c.res), h3Fill(c.g, c.res)
		total += len(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %d cells, H3's fill %d", c.name, len(got), len(want))
		}
	}
	if len(cases) < 10 || total < 10000 {
		t.Fatalf("%d shapes, %d cells: the comparison covered too little", len(cases), total)
	}
	if HexCover(orb.LineString{{114, 32}, {115, 33}}, 8) != nil {
		t.Error("a line covers cells")
	}
}

// BenchmarkHexCover: the city's res-8 study area, indexed cover vs H3 filling the outline
// (its baseline, in the same run): go test -run '^$' -bench HexCover ./geo
func BenchmarkHexCover(b *testing.B) {
	xy := xinyang(b)
	for _, bc := range []struct {
		name string
		fn   func(orb.Geometry, int) []uint64
	}{{"indexed", HexCover}, {"h3-fill", h3Fill}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if len(bc.fn(xy.Root.Geometry, DefaultHexRes)) == 0 {
					b.Fatal("no cells")
				}
			}
		})
	}
}
