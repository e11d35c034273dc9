package geo

import (
	"strconv"
	"testing"

	"github.com/paulmach/orb"
)

// Denominators come from property "denominators" (or the shorthand "population"); values that
// are no positive number are left out; a parent without its own sums its children only when
// they all have it.
func TestDenominators(t *testing.T) {
	sq := func(x0 float64) orb.Polygon {
		return orb.Polygon{{{x0, 0}, {x0 + 1, 0}, {x0 + 1, 1}, {x0, 1}, {x0, 0}}}
	}
	fc := `{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"code":"1","parent":""},"geometry":{"type":"Polygon","coordinates":[[[0,0],[3,0],[3,1],[0,1],[0,0]]]}},
{"type":"Feature","properties":{"code":"11","parent":"1","denominators":{"population":1200,"households":400,"Road km":3,"road_km":-1}},"geometry":` + polyJSON(sq(0)) + `},
{"type":"Feature","properties":{"code":"12","parent":"1","population":800,"denominators":{"households":300}},"geometry":` + polyJSON(sq(1)) + `},
{"type":"Feature","properties":{"code":"13","parent":"1","population":"many"},"geometry":` + polyJSON(sq(2)) + `}]}`
	tree, err := ParseTree([]byte(fc), DefaultProps)
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := tree.Get("11"), tree.Get("12"), tree.Get("13")
	if len(a.Denominators) != 2 || a.Denominators["population"] != 1200 || a.Denominators["households"] != 400 {
		t.Fatalf("11: %v", a.Denominators)
	}
	if b.Denominators["population"] != 800 || b.Denominators["households"] != 300 || c.Denominators != nil {
		t.Fatalf("12: %v, 13: %v", b.Denominators, c.Denominators)
	}
	if _, ok := tree.Root.Denominator("population"); ok {
		t.Fatal("the root sums a population its child 13 lacks")
	}
	c.Denominators = map[string]float64{"population": 1000, "households": 100}
	if v, ok := tree.Root.Denominator("population"); !ok || v != 3000 {
		t.Fatalf("root population %v %v", v, ok)
	}
	fcOut, _ := tree.FeatureCollection("root", -1)
	if d, _ := fcOut.Features[1].Properties["denominators"].(map[string]float64); d["population"] != 1200 {
		t.Fatalf("served properties %v", fcOut.Features[1].Properties)
	}
}

func polyJSON(p orb.Polygon) string {
	s := "{\"type\":\"Polygon\",\"coordinates\":[["
	for i, q := range p[0] {
		if i > 0 {
			s += ","
		}
		s += "[" + ftoa(q[0]) + "," + ftoa(q[1]) + "]"
	}
	return s + "]]}"
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// Subset keeps the rows and columns of the kept locations, renumbered, and their sums.
func TestWeightsSubset(t *testing.T) {
	w := NewWeights([][]int{{1}, {0, 2}, {1, 3}, {2}}, true) // a path 0-1-2-3
	s := w.Subset([]int{0, 2, 3})
	want := [][]int{{0}, {1, 2}, {1, 2}}
	for i, row := range want {
		cols, _ := s.Row(i)
		if len(cols) != len(row) {
			t.Fatalf("row %d: %v, want %v", i, cols, row)
		}
		for k := range row {
			if cols[k] != row[k] {
				t.Fatalf("row %d: %v, want %v", i, cols, row)
			}
		}
	}
	if s.N != 3 || s.sum[1] != 2 || s.sumSq[0] != 1 {
		t.Fatalf("subset %+v", s)
	}
}
