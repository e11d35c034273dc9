package geo

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// A forest of counties (no root feature) gets a synthesized root with every county as a child;
// points locate through it, and the written tree reads back without the option.
func TestForestGetsASynthesizedRoot(t *testing.T) {
	s := newSynthLattice(4, 4, 2, 2, 30, 3)
	fs := s.features(false)
	if tree, probs := CheckFeatures(fs, CheckOptions{}); tree != nil || !strings.Contains(kinds(probs), "roots:") {
		t.Fatalf("a forest without the option: %q", kinds(probs))
	}
	rep := CheckRegions(s.features(false), CheckOptions{Forest: true})
	if len(rep.Problems) > 0 || rep.Tree == nil {
		t.Fatalf("forest refused: %v", rep.Problems)
	}
	root := rep.Tree.Root
	if rep.Synthesized != root || root.Code != "419900" || root.Name != "419900" || root.Parent != "" {
		t.Fatalf("root %+v", root)
	}
	var codes []string
	for _, c := range root.Children {
		codes = append(codes, c.Code)
		if c.Parent != root.Code {
			t.Errorf("county %s has parent %q", c.Code, c.Parent)
		}
	}
	if strings.Join(codes, ",") != "419901,419902,419903,419904" {
		t.Fatalf("root's children %v", codes)
	}
	if mp, ok := root.Geometry.(orb.MultiPolygon); !ok || len(mp) != 4 || root.Bound != s.block(0, 0, 4, 4).Bound() {
		t.Fatalf("root geometry %T, bound %v", root.Geometry, root.Bound)
	}
	check := func(tr *Tree) {
		t.Helper()
		l := NewIndexedLocator(tr)
		for j := 0; j < 4; j++ {
			for i := 0; i < 4; i++ {
				p := orb.Point{s.x0 + (float64(i)+0.5)*s.cw, s.y0 + (float64(j)+0.5)*s.ch}
				county := 1 + j/2*2 + i/2
				want := []string{"419900", "41990" + string(rune('0'+county)), "41990" + string(rune('0'+county)) + "00" + string(rune('0'+1+j%2*2+i%2))}
				if got := l.Locate(p); strings.Join(got, "/") != strings.Join(want, "/") {
					t.Errorf("cell %d,%d: %v, want %v", i, j, got, want)
				}
				if got := (TreeLocator{tr}).Locate(p); strings.Join(got, "/") != strings.Join(want, "/") {
					t.Errorf("cell %d,%d (tree locator): %v, want %v", i, j, got, want)
				}
			}
		}
		// A lattice node inside the square, shared by four townships of four counties.
		if got := l.Locate(s.node(2, 2)); len(got) != 3 {
			t.Errorf("shared node located at %v", got)
		}
		if got := l.Locate(orb.Point{s.x0 - 1, s.y0}); got != nil {
			t.Errorf("outside located at %v", got)
		}
	}
	check(rep.Tree)
	fc, err := rep.Tree.FeatureCollection("root", -1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(fc)
	back, err := ParseTree(b, DefaultProps)
	if err != nil || back.Len() != 21 || back.Root.Code != "419900" || len(back.Root.Children) != 4 {
		t.Fatalf("stored tree: %v", err)
	}
	check(back)
}

// Counties that all name a parent missing from the input hang under a root of that code; the
// options name the root otherwise.
func TestForestUnderAMissingParent(t *testing.T) {
	s := newSynthLattice(4, 4, 2, 2, 30, 4)
	named := func() []*geojson.Feature {
		fs := s.features(false)
		for _, f := range fs {
			if f.Properties["kind"] == "county" {
				f.Properties["parent"] = "411500"
			}
		}
		return fs
	}
	if _, probs := CheckFeatures(named(), CheckOptions{}); kinds(probs) != "roots: unknown_parent:419901" ||
		!strings.Contains(probs[1].Detail, `parent "411500" is not in the input; 19 other features under it left out`) {
		t.Fatalf("without the option: %v", probs)
	}
	rep := CheckRegions(named(), CheckOptions{Forest: true})
	if rep.Tree == nil || rep.Tree.Root.Code != "411500" || len(rep.Tree.Root.Children) != 4 || rep.Tree.Len() != 21 {
		t.Fatalf("forest under 411500: %v", rep.Problems)
	}
	rep = CheckRegions(named(), CheckOptions{Forest: true, RootCode: "city", RootName: "信阳市"})
	if rep.Tree == nil || rep.Tree.Root.Code != "city" || rep.Tree.Root.Name != "信阳市" || rep.Tree.Get("419903").Parent != "city" {
		t.Fatalf("named root: %v", rep.Problems)
	}
	// A root code already taken is a problem, not a silent merge.
	rep = CheckRegions(s.features(false), CheckOptions{Forest: true, RootCode: "419902"})
	if rep.Tree != nil || kinds(rep.Problems) != "roots:419902" {
		t.Fatalf("taken root code: %v", rep.Problems)
	}
}

// Overlapping top-level regions are reported on the synthesized root.
func TestForestOverlap(t *testing.T) {
	sq := func(x, y, s float64) orb.Polygon {
		return orb.Polygon{{{x, y}, {x + s, y}, {x + s, y + s}, {x, y + s}, {x, y}}}
	}
	rep := CheckRegions([]*geojson.Feature{feature("A", "", sq(0, 0, 1)), feature("B", "", sq(0.5, 0, 1))}, CheckOptions{Forest: true})
	if rep.Tree != nil || kinds(rep.Problems) != "sibling_overlap:0" || rep.Problems[0].Feature != -1 {
		t.Fatalf("overlapping forest: %v", rep.Problems)
	}
}

func TestForestRootCode(t *testing.T) {
	for _, c := range []struct {
		codes []string
		want  string
	}{
		{[]string{"411502", "411521", "411528"}, "411500"},
		{[]string{"411502", "411503"}, "411500"},
		{[]string{"411502003", "411502004"}, "411502"},
		{[]string{"411502003001", "411502003002"}, "411502003"},
		{[]string{"411502", "412801"}, "410000"},
		{[]string{"411502", "420102"}, "0"},
		{[]string{"411500", "411502"}, "0"}, // the city's own code is taken
		{[]string{"MN01", "MN02"}, "MN"},
		{[]string{"north-1", "north-2"}, "north"},
		{[]string{"101", "102", "201"}, "0"},
		{[]string{"A", "AB"}, "0"},
		{[]string{"A1x", "A1y"}, "A1"},
		{[]string{"MN01", "MN12"}, "MN"},
	} {
		if got := ForestRootCode(c.codes); got != c.want {
			t.Errorf("%v: %q, want %q", c.codes, got, c.want)
		}
	}
}

// Repeated vertices and zero-area spikes are legal GeoJSON: removed, with a warning per
// feature, not refused as self-intersections.
func TestRingsAreNormalised(t *testing.T) {
	sq := func(x, y, s float64) orb.Polygon {
		return orb.Polygon{{{x, y}, {x + s, y}, {x + s, y + s}, {x, y + s}, {x, y}}}
	}
	// A: (1,0) twice, and a spike to (1.3,0.5) and back.
	a := orb.Polygon{{{0, 0}, {1, 0}, {1, 0}, {1, 0.5}, {1.3, 0.5}, {1, 0.5}, {1, 1}, {0, 1}, {0, 0}}}
	// D: the ring starts at a spike's tip, across the seam.
	d := orb.Polygon{{{2.4, 1.5}, {2, 1.5}, {2, 2}, {1, 2}, {1, 1}, {2, 1}, {2, 1.5}, {2.4, 1.5}}}
	fs := []*geojson.Feature{feature("R", "", sq(0, 0, 2)), feature("A", "R", a), feature("B", "R", sq(1, 0, 1)),
		feature("C", "R", sq(0, 1, 1)), feature("D", "R", d)}
	rep := CheckRegions(fs, CheckOptions{})
	if rep.Tree == nil {
		t.Fatalf("refused: %v", rep.Problems)
	}
	if len(rep.Warnings) != 2 || kinds(rep.Warnings) != "ring_normalised:A ring_normalised:D" ||
		rep.Warnings[0].Detail != "removed 3 of 9 vertices: 1 repeated, 2 in zero-area spikes" ||
		rep.Warnings[1].Detail != "removed 2 of 8 vertices: 0 repeated, 2 in zero-area spikes" {
		t.Fatalf("warnings: %v", rep.Warnings)
	}
	want := orb.Ring{{0, 0}, {1, 0}, {1, 0.5}, {1, 1}, {0, 1}, {0, 0}}
	if got := rep.Tree.Get("A").Geometry.(orb.Polygon)[0]; !got.Equal(want) {
		t.Fatalf("A normalised to %v", got)
	}
	if got := rep.Tree.Get("D").Geometry.(orb.Polygon)[0]; len(got) != 6 || got[0] != got[5] {
		t.Fatalf("D normalised to %v", got)
	}
	if a[0][2] != (orb.Point{1, 0}) || len(a[0]) != 9 {
		t.Fatal("the input ring was modified in place")
	}
	// A ring that is nothing but a spike is too short once normalised.
	fs[4] = feature("D", "R", orb.Polygon{{{1, 1}, {2, 2}, {1, 1}, {2, 2}, {1, 1}}})
	if rep := CheckRegions(fs, CheckOptions{}); rep.Tree != nil || !strings.Contains(kinds(rep.Problems), "short_ring:D") {
		t.Fatalf("collapsed ring: %v", rep.Problems)
	}
}

// A refused parent is one problem, counting what it leaves out; its descendants are not
// reported one by one. The same for a parent missing from the input, and a skipped parent
// takes its descendants with it (a warning).
func TestRefusedParentIsOneProblem(t *testing.T) {
	sq := func(x, y, s float64) orb.Polygon {
		return orb.Polygon{{{x, y}, {x + s, y}, {x + s, y + s}, {x, y + s}, {x, y}}}
	}
	base := func() []*geojson.Feature {
		return []*geojson.Feature{
			feature("R", "", sq(0, 0, 2)),
			feature("A", "R", orb.Polygon{{{0, 0}, {1, 1}, {1, 0}, {0, 1}, {0, 0}}}), // a bow tie
			feature("A1", "A", sq(0, 0, 0.5)), feature("A2", "A", sq(0.5, 0, 0.5)), feature("A11", "A1", sq(0, 0, 0.5)),
			feature("B", "R", sq(1, 0, 1)), feature("C", "R", sq(0, 1, 1)), feature("D", "R", sq(1, 1, 1)),
		}
	}
	_, probs := CheckFeatures(base(), CheckOptions{})
	if len(probs) != 1 || probs[0].Kind != ProblemSelfCross || probs[0].Code != "A" || !strings.HasSuffix(probs[0].Detail, "; 3 descendants left out") {
		t.Fatalf("refused parent: %v", probs)
	}
	fs := append(base()[:1], feature("E", "Z", sq(0, 0, 0.5)), feature("F", "Z", sq(0, 0, 0.5)), feature("E1", "E", sq(0, 0, 0.5)))
	_, probs = CheckFeatures(fs, CheckOptions{})
	if len(probs) != 1 || probs[0].Kind != ProblemUnknownPar || probs[0].Code != "E" || probs[0].Detail != `parent "Z" is not in the input; 2 other features under it left out` {
		t.Fatalf("missing parent: %v", probs)
	}
	rep := CheckRegions(base(), CheckOptions{Skip: map[string]bool{"A": true}, AreaTol: 0.3})
	if rep.Tree == nil || rep.Tree.Len() != 4 || kinds(rep.Warnings) != "skipped_descendants:A" || rep.Warnings[0].Detail != "3 descendants left out with it" {
		t.Fatalf("skipped parent: %v %v", rep.Problems, rep.Warnings)
	}
}

// Repeated vertices and spikes injected anywhere in a ring, the seam included, normalise back
// to the ring (up to where it starts).
func TestNormaliseRingRandom(t *testing.T) {
	base := orb.Ring{{0, 0}, {3, 0}, {4, 2}, {3, 4}, {1, 4}, {-1, 2}}
	rng := rand.New(rand.NewPCG(7, 7))
	for trial := 0; trial < 2000; trial++ {
		var open []orb.Point
		added := 0
		for _, v := range base {
			open = append(open, v)
			for rng.IntN(3) == 0 {
				if rng.IntN(2) == 0 {
					open = append(open, v)
					added++
				} else { // out to a random point and back
					open = append(open, orb.Point{rng.Float64() * 10, rng.Float64() * 10}, v)
					added += 2
				}
			}
		}
		shift := rng.IntN(len(open))
		ring := append(append(orb.Ring{}, open[shift:]...), open[:shift]...)
		ring = append(ring, ring[0])
		got, rep, sp := normaliseRing(ring)
		if rep+sp != added || len(got) != len(base)+1 || got[0] != got[len(got)-1] {
			t.Fatalf("%v: removed %d+%d of %d added: %v", ring, rep, sp, added, got)
		}
		start := -1
		for i, v := range base {
			if v == got[0] {
				start = i
			}
		}
		for i := range base {
			if start < 0 || got[i] != base[(start+i)%len(base)] {
				t.Fatalf("%v normalised to %v", ring, got)
			}
		}
	}
}
