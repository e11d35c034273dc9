package geo

import (
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

func demoFeatures(t *testing.T) []*geojson.Feature {
	t.Helper()
	fc, err := DemoTree().FeatureCollection("root", -1)
	if err != nil {
		t.Fatal(err)
	}
	return fc.Features
}

func feature(code, parent string, g orb.Geometry) *geojson.Feature {
	f := geojson.NewFeature(g)
	f.Properties = geojson.Properties{"code": code, "name": code, "parent": parent}
	return f
}

func kinds(ps []Problem) string {
	var ks []string
	for _, p := range ps {
		ks = append(ks, p.Kind+":"+p.Code)
	}
	return strings.Join(ks, " ")
}

func TestCheckAcceptsTheDemoTree(t *testing.T) {
	tree, probs := CheckFeatures(demoFeatures(t), CheckOptions{})
	if len(probs) > 0 || tree == nil || tree.Len() != DemoTree().Len() {
		t.Fatalf("problems on a valid tree: %v", probs)
	}
}

func TestCheckReportsEachProblemByFeature(t *testing.T) {
	sq := func(x, y, s float64) orb.Polygon {
		return orb.Polygon{{{x, y}, {x + s, y}, {x + s, y + s}, {x, y + s}, {x, y}}}
	}
	base := func() []*geojson.Feature {
		return []*geojson.Feature{
			feature("R", "", sq(0, 0, 2)),
			feature("A", "R", sq(0, 0, 1)), feature("B", "R", sq(1, 0, 1)),
			feature("C", "R", sq(0, 1, 1)), feature("D", "R", sq(1, 1, 1)),
		}
	}
	if tree, probs := CheckFeatures(base(), CheckOptions{}); tree == nil {
		t.Fatalf("base rejected: %v", probs)
	}
	cases := []struct {
		name string
		mod  func([]*geojson.Feature) []*geojson.Feature
		want string
	}{
		{"duplicate", func(f []*geojson.Feature) []*geojson.Feature { return append(f, feature("A", "R", sq(0, 0, 1))) }, "duplicate_code:A"},
		{"unknown parent", func(f []*geojson.Feature) []*geojson.Feature { return append(f, feature("E", "Z", sq(0, 0, 0.5))) }, "unknown_parent:E"},
		{"cycle", func(f []*geojson.Feature) []*geojson.Feature {
			return append(f, feature("X", "Y", sq(0, 0, 0.1)), feature("Y", "X", sq(0, 0, 0.1)))
		}, "parent_cycle:X"},
		{"two roots", func(f []*geojson.Feature) []*geojson.Feature { return append(f, feature("S", "", sq(5, 5, 1))) }, "roots:"},
		{"unclosed", func(f []*geojson.Feature) []*geojson.Feature {
			f[1] = feature("A", "R", orb.Polygon{{{0, 0}, {1, 0}, {1, 1}, {0, 1}}})
			return f
		}, "unclosed_ring:A"},
		{"bow tie", func(f []*geojson.Feature) []*geojson.Feature {
			f[1] = feature("A", "R", orb.Polygon{{{0, 0}, {1, 1}, {1, 0}, {0, 1}, {0, 0}}})
			return f
		}, "self_intersection:A"},
		{"outside parent", func(f []*geojson.Feature) []*geojson.Feature {
			f[2] = feature("B", "R", sq(1.5, 0, 1))
			return f
		}, "outside_parent:B"},
		{"gap", func(f []*geojson.Feature) []*geojson.Feature { return f[:4] }, "sibling_gap:R"},
		{"overlap", func(f []*geojson.Feature) []*geojson.Feature { return append(f, feature("E", "R", sq(0.5, 0.5, 1))) }, "sibling_overlap:R"},
		{"latitude out of range", func(f []*geojson.Feature) []*geojson.Feature {
			f[4] = feature("D", "R", orb.Polygon{{{1, 1}, {2, 1}, {2, 3.2e15}, {1, 2}, {1, 1}}})
			return f
		}, "coordinate_range:D"},
		{"line", func(f []*geojson.Feature) []*geojson.Feature {
			return append(f, feature("L", "R", orb.LineString{{0, 0}, {1, 1}}))
		}, "geometry:L"},
	}
	for _, c := range cases {
		tree, probs := CheckFeatures(c.mod(base()), CheckOptions{})
		if tree != nil || !strings.Contains(kinds(probs), c.want) {
			t.Errorf("%s: got %q, want %s", c.name, kinds(probs), c.want)
		}
		for _, p := range probs {
			if p.Detail == "" || p.String() == "" {
				t.Errorf("%s: problem without detail: %+v", c.name, p)
			}
		}
	}
	// Skipping the named bad feature lets the rest through.
	f := append(base(), feature("E", "Z", sq(0, 0, 0.5)))
	if tree, probs := CheckFeatures(f, CheckOptions{Skip: map[string]bool{"E": true}}); tree == nil || tree.Len() != 5 {
		t.Fatalf("skip: %v", probs)
	}
}
