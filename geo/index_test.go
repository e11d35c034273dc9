package geo

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/paulmach/orb"
)

// refLocate is the reference: a top-down descent that ray-casts every polygon of every level
// directly on the orb rings, with the same half-open rule and boundary fallback as
// IndexedLocator but no index, no precomputed bounds and no bands.
func refLocate(t *Tree, p orb.Point) []string {
	r := t.Root
	if !refContains(r.Geometry, p) && !refOnBoundary(r.Geometry, p) {
		return nil
	}
	path := []string{r.Code}
	for {
		var next *Region
		for _, c := range r.Children {
			if refContains(c.Geometry, p) {
				next = c
				break
			}
		}
		if next == nil {
			for _, c := range r.Children {
				if refOnBoundary(c.Geometry, p) {
					next = c
					break
				}
			}
		}
		if next == nil {
			return path
		}
		path = append(path, next.Code)
		r = next
	}
}

func refPolygons(g orb.Geometry) []orb.Polygon {
	switch g := g.(type) {
	case orb.Polygon:
		return []orb.Polygon{g}
	case orb.MultiPolygon:
		return g
	}
	return nil
}

// refEdge orders an edge's endpoints: lower y first, then lower x.
func refEdge(a, b orb.Point) (orb.Point, orb.Point) {
	if a[1] > b[1] || (a[1] == b[1] && a[0] > b[0]) {
		return b, a
	}
	return a, b
}

func refCross(a, b, p orb.Point) float64 {
	return float64((b[0]-a[0])*(p[1]-a[1])) - float64((b[1]-a[1])*(p[0]-a[0]))
}

func refContains(g orb.Geometry, p orb.Point) bool {
	for _, pg := range refPolygons(g) {
		in := false
		for _, ring := range pg {
			for i := 0; i+1 < len(ring); i++ {
				a, b := refEdge(ring[i], ring[i+1])
				if a[1] <= p[1] && p[1] < b[1] && refCross(a, b, p) > 0 {
					in = !in
				}
			}
		}
		if in {
			return true
		}
	}
	return false
}

func refOnBoundary(g orb.Geometry, p orb.Point) bool {
	for _, pg := range refPolygons(g) {
		for _, ring := range pg {
			for i := 0; i+1 < len(ring); i++ {
				a, b := refEdge(ring[i], ring[i+1])
				if a == b || p[1] < a[1] || p[1] > b[1] || p[0] < min(a[0], b[0]) || p[0] > max(a[0], b[0]) {
					continue
				}
				if refCross(a, b, p) == 0 {
					return true
				}
			}
		}
	}
	return false
}

func rect(x0, y0, x1, y1 float64) orb.Ring {
	return orb.Ring{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}}
}

func mustTree(t testing.TB, regions ...*Region) *Tree {
	t.Helper()
	for _, r := range regions {
		r.Bound = r.Geometry.Bound()
	}
	tr, err := NewTree(regions)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// squaresTree is a 4×4 lattice of unit squares under one root, so points on edges and
// vertices are exactly representable.
func squaresTree(t testing.TB) *Tree {
	regions := []*Region{{Code: "R", Geometry: orb.Polygon{rect(0, 0, 4, 4)}}}
	for i := range 4 {
		for j := range 4 {
			regions = append(regions, &Region{
				Code: string(rune('a'+i)) + string(rune('0'+j)), Parent: "R",
				Geometry: orb.Polygon{rect(float64(i), float64(j), float64(i+1), float64(j+1))},
			})
		}
	}
	return mustTree(t, regions...)
}

func TestIndexedSquaresEdgesAndVertices(t *testing.T) {
	tr := squaresTree(t)
	l := NewIndexedLocator(tr)
	for _, x := range []float64{0, 0.25, 1, 1.5, 2, 3, 3.75, 4} {
		for _, y := range []float64{0, 0.5, 1, 2, 2.125, 3, 4} {
			p := orb.Point{x, y}
			got := l.Locate(p)
			if len(got) != 2 {
				t.Fatalf("%v located at %v, want root and one square", p, got)
			}
			// Inside the root, the square to the right (and above) wins; on the root's right or
			// top boundary, the first square (by code) that touches the point.
			i, j := int(x), int(y)
			if x == 4 || y == 4 {
				i, j = max(int(math.Ceil(x))-1, 0), max(int(math.Ceil(y))-1, 0)
			}
			want := string(rune('a'+i)) + string(rune('0'+j))
			if got[1] != want {
				t.Errorf("%v located at %v, want %s", p, got, want)
			}
			if ref := refLocate(tr, p); !slices.Equal(got, ref) {
				t.Errorf("%v: indexed %v, reference %v", p, got, ref)
			}
		}
	}
	for _, p := range []orb.Point{{-0.001, 2}, {4.001, 2}, {2, 4.0001}, {-1, -1}} {
		if got := l.Locate(p); got != nil {
			t.Errorf("%v outside the root located at %v", p, got)
		}
	}
}

// TestIndexedDemoSharedEdges checks, on the demo lattice, that every shared vertex and points
// along every shared edge are claimed by exactly one sibling under the half-open rule (and by
// none when the parent does not claim them), and that every one of them locates to a full path.
func TestIndexedDemoSharedEdges(t *testing.T) {
	tr := DemoTree()
	l := NewIndexedLocator(tr)
	depth := 0
	tr.Walk(func(r *Region) { depth = max(depth, r.Level) })
	checked := 0
	tr.Walk(func(parent *Region) {
		if len(parent.Children) == 0 {
			return
		}
		var pts []orb.Point
		for _, c := range parent.Children {
			for _, pg := range refPolygons(c.Geometry) {
				for _, ring := range pg {
					for i := 0; i+1 < len(ring); i++ {
						a, b := ring[i], ring[i+1]
						pts = append(pts, a)
						for _, f := range []float64{0.5, 1.0 / 3, 0.9} {
							pts = append(pts, orb.Point{a[0] + f*(b[0]-a[0]), a[1] + f*(b[1]-a[1])})
						}
					}
				}
			}
		}
		for _, p := range pts {
			claims := 0
			for _, c := range parent.Children {
				if refContains(c.Geometry, p) {
					claims++
				}
			}
			want := 0
			if refContains(parent.Geometry, p) {
				want = 1
			}
			if claims != want {
				t.Errorf("%v under %s: %d children claim it, want %d", p, parent.Code, claims, want)
			}
			// Interpolated points on the root's outline may round to just outside it.
			got := l.Locate(p)
			inRoot := refContains(tr.Root.Geometry, p) || refOnBoundary(tr.Root.Geometry, p)
			if inRoot && len(got) != depth+1 || !inRoot && got != nil {
				t.Errorf("%v located at %v, want a full path: %v", p, got, inRoot)
			}
			if ref := refLocate(tr, p); !slices.Equal(got, ref) {
				t.Errorf("%v: indexed %v, reference %v", p, got, ref)
			}
			checked++
		}
	})
	t.Logf("%d shared-edge and vertex points checked", checked)
}

func TestIndexedMatchesReferenceRandom(t *testing.T) {
	n := 200_000
	if testing.Short() {
		n = 20_000
	}
	for _, tc := range []struct {
		name string
		tree *Tree
	}{{"demo", DemoTree()}, {"donut", donutTree(t)}, {"squares", squaresTree(t)}} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewIndexedLocator(tc.tree)
			b := tc.tree.Root.Bound.Pad(0.05 * (tc.tree.Root.Bound.Max[0] - tc.tree.Root.Bound.Min[0]))
			rng := rand.New(rand.NewPCG(7, 11))
			for range n {
				p := orb.Point{b.Min[0] + rng.Float64()*(b.Max[0]-b.Min[0]), b.Min[1] + rng.Float64()*(b.Max[1]-b.Min[1])}
				if got, want := l.Locate(p), refLocate(tc.tree, p); !slices.Equal(got, want) {
					t.Fatalf("%v: indexed %v, reference %v", p, got, want)
				}
			}
		})
	}
}

// donutTree: root R = [0,20]×[0,10]; M is a MultiPolygon of two side strips; D is the middle
// strip with a hole in which island I lies; I's children I1 and I2 leave [10,12]×[5,7] of it
// uncovered.
func donutTree(t testing.TB) *Tree {
	return mustTree(t,
		&Region{Code: "R", Geometry: orb.Polygon{rect(0, 0, 20, 10)}},
		&Region{Code: "M", Parent: "R", Geometry: orb.MultiPolygon{{rect(0, 0, 5, 10)}, {rect(15, 0, 20, 10)}}},
		&Region{Code: "D", Parent: "R", Geometry: orb.Polygon{rect(5, 0, 15, 10), rect(8, 3, 12, 7).Clone()}},
		&Region{Code: "I", Parent: "R", Geometry: orb.Polygon{rect(8, 3, 12, 7)}},
		&Region{Code: "I1", Parent: "I", Geometry: orb.Polygon{rect(8, 3, 10, 7)}},
		&Region{Code: "I2", Parent: "I", Geometry: orb.Polygon{rect(10, 3, 12, 5)}},
	)
}

func TestIndexedHolesAndMultiPolygons(t *testing.T) {
	tr := donutTree(t)
	l := NewIndexedLocator(tr)
	cases := []struct {
		p    orb.Point
		want []string
	}{
		{orb.Point{1, 1}, []string{"R", "M"}},        // first part of the MultiPolygon
		{orb.Point{18, 9}, []string{"R", "M"}},       // second part
		{orb.Point{6, 5}, []string{"R", "D"}},        // the donut's ring
		{orb.Point{9, 5}, []string{"R", "I", "I1"}},  // in the hole: the island's child
		{orb.Point{11, 6}, []string{"R", "I"}},       // in the island, not covered by its children
		{orb.Point{8, 5}, []string{"R", "I", "I1"}},  // on the hole's left edge: the island is right of it
		{orb.Point{12, 5}, []string{"R", "D"}},       // on the hole's right edge: the donut is right of it
		{orb.Point{10, 3}, []string{"R", "I", "I2"}}, // on the hole's bottom edge, shared vertex of I1/I2
		{orb.Point{10, 7}, []string{"R", "D"}},       // on the hole's top edge: the donut is above
		{orb.Point{5, 5}, []string{"R", "D"}},        // M|D shared edge
		{orb.Point{15, 5}, []string{"R", "M"}},       // D|M shared edge
		{orb.Point{20, 10}, []string{"R", "M"}},      // the root's corner: on the boundary, inside
		{orb.Point{12, 4}, []string{"R", "D"}},       // I2's right edge is the hole's edge
		{orb.Point{20.5, 5}, nil},                    // outside
		{orb.Point{10, 10}, []string{"R", "D"}},      // root top edge
		{orb.Point{0, 0}, []string{"R", "M"}},        // root corner
		{orb.Point{11.999999, 4.5}, []string{"R", "I", "I2"}},
	}
	for _, c := range cases {
		got := l.Locate(c.p)
		if !slices.Equal(got, c.want) {
			t.Errorf("%v located at %v, want %v", c.p, got, c.want)
		}
		if ref := refLocate(tr, c.p); !slices.Equal(got, ref) {
			t.Errorf("%v: indexed %v, reference %v", c.p, got, ref)
		}
	}
}

// TestIndexedLongRings exercises the latitude bands: a many-sided polygon split into wedges.
func TestIndexedLongRings(t *testing.T) {
	const n = 2000
	circle := func(i int) orb.Point {
		// Integer-ish coordinates keep shared vertices exact.
		a := float64(i) / n * 2 * math.Pi
		return orb.Point{float64(int(1e6*math.Cos(a))) / 1e3, float64(int(1e6*math.Sin(a))) / 1e3}
	}
	var outer orb.Ring
	for i := range n {
		outer = append(outer, circle(i))
	}
	outer = append(outer, outer[0])
	regions := []*Region{{Code: "C", Geometry: orb.Polygon{outer}}}
	// Four quarter wedges from the center, each with n/4 arc edges.
	for q := range 4 {
		r := orb.Ring{{0, 0}}
		for i := q * n / 4; i <= (q+1)*n/4; i++ {
			r = append(r, circle(i%n))
		}
		r = append(r, orb.Point{0, 0})
		regions = append(regions, &Region{Code: string(rune('p' + q)), Parent: "C", Geometry: orb.Polygon{r}})
	}
	tr := mustTree(t, regions...)
	l := NewIndexedLocator(tr)
	if l.nodes[0].parts[0][0].nb == 0 {
		t.Fatal("long ring has no bands")
	}
	m := 50_000
	if testing.Short() || raceEnabled() {
		m = 5_000
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range m {
		p := orb.Point{rng.Float64()*2200 - 1100, rng.Float64()*2200 - 1100}
		if got, want := l.Locate(p), refLocate(tr, p); !slices.Equal(got, want) {
			t.Fatalf("%v: indexed %v, reference %v", p, got, want)
		}
	}
	for i := range n {
		p := circle(i)
		if got, want := l.Locate(p), refLocate(tr, p); !slices.Equal(got, want) || len(got) != 2 {
			t.Fatalf("vertex %v: indexed %v, reference %v", p, got, want)
		}
	}
}

func TestIndexedConcurrent(t *testing.T) {
	tr := DemoTree()
	l := NewIndexedLocator(tr)
	b := tr.Root.Bound
	done := make(chan bool)
	for g := range 4 {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			ok := true
			for range 5000 {
				p := orb.Point{b.Min[0] + rng.Float64()*(b.Max[0]-b.Min[0]), b.Min[1] + rng.Float64()*(b.Max[1]-b.Min[1])}
				ok = ok && slices.Equal(l.Locate(p), refLocate(tr, p))
			}
			done <- ok
		}()
	}
	for range 4 {
		if !<-done {
			t.Error("concurrent Locate disagreed with the reference")
		}
	}
}
