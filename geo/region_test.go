package geo

import (
	"encoding/json"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

func TestDemoTreeTilesAndLocates(t *testing.T) {
	tr := DemoTree()
	if tr.Len() != 1+6+24 {
		t.Fatalf("demo tree has %d regions", tr.Len())
	}
	// Children tile their parent: areas add up.
	tr.Walk(func(r *Region) {
		if len(r.Children) == 0 {
			return
		}
		sum := 0.0
		for _, c := range r.Children {
			sum += planar.Area(c.Geometry)
		}
		if a := planar.Area(r.Geometry); abs(sum-a) > 1e-9*a+1e-12 {
			t.Errorf("%s: children area %.9f != parent %.9f", r.Code, sum, a)
		}
	})
	// Every grid's centroid locates to that grid, with the full path.
	tr.Walk(func(r *Region) {
		if len(r.Children) > 0 {
			return
		}
		c, _ := planar.CentroidArea(r.Geometry)
		path := TreeLocator{tr}.Locate(c)
		want := tr.Path(r.Code)
		if len(path) != len(want) || path[len(path)-1] != r.Code {
			t.Errorf("centroid of %s located at %v, want %v", r.Code, path, want)
		}
	})
	if p := (TreeLocator{tr}).Locate(orb.Point{120, 30}); p != nil {
		t.Errorf("far point located at %v", p)
	}
	// A lattice vertex shared by four grids belongs to exactly one path.
	g := tr.Root.Children[0].Children[0]
	v := g.Geometry.(orb.Polygon)[0][2]
	if p := (TreeLocator{tr}).Locate(v); len(p) != 3 {
		t.Errorf("shared vertex located at %v", p)
	}
}

func TestTreeRoundTripsGeoJSON(t *testing.T) {
	tr := DemoTree()
	fc, err := tr.FeatureCollection("root", -1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(fc)
	back, err := ParseTree(b, DefaultProps)
	if err != nil {
		t.Fatal(err)
	}
	if back.Len() != tr.Len() || back.Root.Code != tr.Root.Code {
		t.Fatalf("round trip: %d regions, root %s", back.Len(), back.Root.Code)
	}
	if got := back.Path("411502003002"); len(got) != 3 || got[1] != "411502003" {
		t.Fatalf("path %v", got)
	}
}

func TestParseTreeRejects(t *testing.T) {
	bad := []string{
		`{"type":"FeatureCollection","features":[]}`,
		`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"a","parent":"x"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}`,
		`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"a"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}`,
	}
	for _, b := range bad {
		if _, err := ParseTree([]byte(b), DefaultProps); err == nil {
			t.Errorf("accepted %s", b)
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
