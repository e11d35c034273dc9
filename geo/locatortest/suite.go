// Package locatortest is the conformance suite every geo.Locator passes: what the aggregator
// relies on when it places a case, whichever locator the deployment picked.
//
// The contract (geo.Locator): Locate returns the codes from the root to the deepest region
// containing the point, nil outside the root; a point on an edge shared by siblings belongs to
// exactly one of them, the same one every time; Locate is safe for concurrent use. Which sibling
// wins a shared edge is each implementation's own rule, so the suite checks boundary points by
// the contract's invariants and interior points against an exact reference.
package locatortest

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/paulmach/orb"

	"zhili/geo"
)

// Factory builds the locator under test for a tree.
type Factory func(t *geo.Tree) geo.Locator

// Run runs every conformance test against the locators newLocator builds.
func Run(t *testing.T, newLocator Factory) {
	t.Run("OutsideTheRoot", func(t *testing.T) { testOutside(t, newLocator) })
	t.Run("InteriorPoints", func(t *testing.T) { testInterior(t, newLocator) })
	t.Run("HolesAndMultiPolygons", func(t *testing.T) { testHoles(t, newLocator) })
	t.Run("SharedEdgesAndVertices", func(t *testing.T) { testSharedEdges(t, newLocator) })
	t.Run("RandomPointsDemo", func(t *testing.T) { testRandom(t, newLocator, geo.DemoTree(), 20_000) })
	t.Run("RandomPointsXinyang", func(t *testing.T) {
		tr, err := Xinyang()
		if err != nil {
			t.Fatal(err)
		}
		testRandom(t, newLocator, tr, 1_500)
	})
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, newLocator) })
}

// Xinyang returns the demo geography's real tree (3,853 regions) for RandomPointsXinyang; by
// default it is parsed once per test binary. A package that already holds the tree sets it, so
// the tree is not parsed twice.
var Xinyang = sync.OnceValues(geo.XinyangTree)

func rect(x0, y0, x1, y1 float64) orb.Ring {
	return orb.Ring{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}}
}

func mustTree(t testing.TB, regions ...*geo.Region) *geo.Tree {
	t.Helper()
	for _, r := range regions {
		r.Bound = r.Geometry.Bound()
	}
	tr, err := geo.NewTree(regions)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// Squares is a 4×4 lattice of unit squares a0..d3 under root R = [0,4]², so points on edges
// and vertices are exactly representable.
func Squares(t testing.TB) *geo.Tree {
	regions := []*geo.Region{{Code: "R", Geometry: orb.Polygon{rect(0, 0, 4, 4)}}}
	for i := range 4 {
		for j := range 4 {
			regions = append(regions, &geo.Region{
				Code: string(rune('a'+i)) + string(rune('0'+j)), Parent: "R",
				Geometry: orb.Polygon{rect(float64(i), float64(j), float64(i+1), float64(j+1))},
			})
		}
	}
	return mustTree(t, regions...)
}

// Donut: root R = [0,20]×[0,10]; M is a MultiPolygon of the two side strips; D is the middle
// strip with a hole in which island I lies; I's children I1 and I2 leave [10,12]×[5,7] of it
// uncovered.
func Donut(t testing.TB) *geo.Tree {
	return mustTree(t,
		&geo.Region{Code: "R", Geometry: orb.Polygon{rect(0, 0, 20, 10)}},
		&geo.Region{Code: "M", Parent: "R", Geometry: orb.MultiPolygon{{rect(0, 0, 5, 10)}, {rect(15, 0, 20, 10)}}},
		&geo.Region{Code: "D", Parent: "R", Geometry: orb.Polygon{rect(5, 0, 15, 10), rect(8, 3, 12, 7).Clone()}},
		&geo.Region{Code: "I", Parent: "R", Geometry: orb.Polygon{rect(8, 3, 12, 7)}},
		&geo.Region{Code: "I1", Parent: "I", Geometry: orb.Polygon{rect(8, 3, 10, 7)}},
		&geo.Region{Code: "I2", Parent: "I", Geometry: orb.Polygon{rect(10, 3, 12, 5)}},
	)
}

func testOutside(t *testing.T, newLocator Factory) {
	for _, tc := range []struct {
		tree *geo.Tree
		pts  []orb.Point
	}{
		{Squares(t), []orb.Point{{-0.001, 2}, {4.001, 2}, {2, 4.0001}, {-1, -1}, {100, 100}}},
		{Donut(t), []orb.Point{{20.5, 5}, {-0.5, 5}, {10, -1e-9}, {10, 10.001}}},
	} {
		l := newLocator(tc.tree)
		for _, p := range tc.pts {
			if got := l.Locate(p); got != nil {
				t.Errorf("%v outside the root located at %v, want nil", p, got)
			}
		}
	}
	// Outside the demo root's polygon but inside its bounding box, where one exists.
	tr := geo.DemoTree()
	l := newLocator(tr)
	rng := rand.New(rand.NewPCG(5, 8))
	b := tr.Root.Bound
	found := 0
	for range 20_000 {
		p := orb.Point{b.Min[0] + rng.Float64()*(b.Max[0]-b.Min[0]), b.Min[1] + rng.Float64()*(b.Max[1]-b.Min[1])}
		if in, near := classify(tr.Root.Geometry, p); in || near {
			continue
		}
		found++
		if got := l.Locate(p); got != nil {
			t.Fatalf("%v is in the root's box, outside its polygon, located at %v", p, got)
		}
	}
	if found == 0 {
		t.Fatal("no sample point fell between the demo root's box and its outline: the check tested nothing")
	}
}

func testInterior(t *testing.T, newLocator Factory) {
	tr := Squares(t)
	l := newLocator(tr)
	for i := range 4 {
		for j := range 4 {
			p := orb.Point{float64(i) + 0.5, float64(j) + 0.25}
			want := []string{"R", string(rune('a'+i)) + string(rune('0'+j))}
			if got := l.Locate(p); !slices.Equal(got, want) {
				t.Errorf("%v located at %v, want %v", p, got, want)
			}
		}
	}
	// Every demo region's interior: a point just inside each leaf (found by the reference)
	// locates to the leaf's full path.
	demo := geo.DemoTree()
	dl := newLocator(demo)
	rng := rand.New(rand.NewPCG(3, 4))
	leaves := 0
	demo.Walk(func(r *geo.Region) {
		if len(r.Children) > 0 {
			return
		}
		leaves++
		for range 200 {
			p := orb.Point{r.Bound.Min[0] + rng.Float64()*(r.Bound.Max[0]-r.Bound.Min[0]), r.Bound.Min[1] + rng.Float64()*(r.Bound.Max[1]-r.Bound.Min[1])}
			want, exact := Reference(demo, p)
			if !exact || len(want) == 0 || want[len(want)-1] != r.Code {
				continue
			}
			if got := dl.Locate(p); !slices.Equal(got, want) {
				t.Errorf("%v inside leaf %s located at %v, want %v", p, r.Code, got, want)
			}
			return
		}
		t.Errorf("no interior point found for leaf %s in 200 tries", r.Code)
	})
	if leaves == 0 {
		t.Fatal("the demo tree has no leaves")
	}
}

func testHoles(t *testing.T, newLocator Factory) {
	tr := Donut(t)
	l := newLocator(tr)
	for _, c := range []struct {
		p    orb.Point
		want []string
	}{
		{orb.Point{1, 1}, []string{"R", "M"}},       // first part of the MultiPolygon
		{orb.Point{18, 9}, []string{"R", "M"}},      // second part
		{orb.Point{6, 5}, []string{"R", "D"}},       // the donut's ring
		{orb.Point{14, 9.5}, []string{"R", "D"}},    // the donut's ring, above the hole
		{orb.Point{9, 5}, []string{"R", "I", "I1"}}, // in the hole: the island's child
		{orb.Point{11, 4}, []string{"R", "I", "I2"}},
		{orb.Point{11, 6}, []string{"R", "I"}}, // in the island, not covered by its children
	} {
		if got := l.Locate(c.p); !slices.Equal(got, c.want) {
			t.Errorf("%v located at %v, want %v", c.p, got, c.want)
		}
	}
	// On the hole's outline the point belongs to the donut or to the island (either is the
	// contract), and to exactly one of the island's children where they touch it.
	for _, p := range []orb.Point{{8, 5}, {12, 5}, {10, 3}, {10, 7}, {12, 4}, {8, 3}} {
		checkBoundaryPoint(t, tr, l, p)
	}
}

// testSharedEdges: every lattice point on an edge or vertex inside the root locates to the
// root and exactly one square that touches it, the same one on every call.
func testSharedEdges(t *testing.T, newLocator Factory) {
	tr := Squares(t)
	l := newLocator(tr)
	for _, x := range []float64{0, 0.25, 1, 1.5, 2, 3, 3.75, 4} {
		for _, y := range []float64{0, 0.5, 1, 2, 2.125, 3, 4} {
			p := orb.Point{x, y}
			got := l.Locate(p)
			if len(got) != 2 {
				t.Errorf("%v located at %v, want the root and one square", p, got)
				continue
			}
			checkBoundaryPoint(t, tr, l, p)
		}
	}
	// The demo's shared vertices and points along its shared edges.
	demo := geo.DemoTree()
	dl := newLocator(demo)
	depth := 0
	demo.Walk(func(r *geo.Region) { depth = max(depth, r.Level) })
	checked := 0
	demo.Walk(func(r *geo.Region) {
		if r.Level != depth {
			return
		}
		for _, pg := range polygons(r.Geometry) {
			for i := 0; i+1 < len(pg[0]); i++ {
				a, b := pg[0][i], pg[0][i+1]
				for _, p := range []orb.Point{a, {a[0] + 0.5*(b[0]-a[0]), a[1] + 0.5*(b[1]-a[1])}} {
					in, near := classify(demo.Root.Geometry, p)
					if !in || near {
						continue // on the root's outline: inside or out by rounding
					}
					if got := dl.Locate(p); len(got) != depth+1 {
						t.Errorf("%v on %s's outline located at %v, want a full path", p, r.Code, got)
					}
					checkBoundaryPoint(t, demo, dl, p)
					checked++
				}
			}
		}
	})
	if checked == 0 {
		t.Fatal("no shared-edge points checked")
	}
}

// testRandom: points away from every edge locate exactly as the reference says; points near
// an edge satisfy the contract's invariants.
func testRandom(t *testing.T, newLocator Factory, tr *geo.Tree, n int) {
	l := newLocator(tr)
	b := tr.Root.Bound
	pad := 0.05 * (b.Max[0] - b.Min[0])
	b = b.Pad(pad)
	rng := rand.New(rand.NewPCG(7, 11))
	exact, inside := 0, 0
	for range n {
		p := orb.Point{b.Min[0] + rng.Float64()*(b.Max[0]-b.Min[0]), b.Min[1] + rng.Float64()*(b.Max[1]-b.Min[1])}
		want, ok := Reference(tr, p)
		if !ok {
			checkBoundaryPoint(t, tr, l, p)
			continue
		}
		exact++
		if want != nil {
			inside++
		}
		if got := l.Locate(p); !slices.Equal(got, want) {
			t.Fatalf("%v located at %v, want %v", p, got, want)
		}
	}
	if inside < n/4 {
		t.Fatalf("only %d of %d random points fell clearly inside the root: the sample checks too little", inside, n)
	}
	if exact < n*9/10 {
		t.Fatalf("only %d of %d random points are clear of every edge", exact, n)
	}
}

func testConcurrent(t *testing.T, newLocator Factory) {
	tr := geo.DemoTree()
	l := newLocator(tr)
	b := tr.Root.Bound
	rng := rand.New(rand.NewPCG(9, 9))
	pts := make([]orb.Point, 2000)
	want := make([][]string, len(pts))
	for i := range pts {
		pts[i] = orb.Point{b.Min[0] + rng.Float64()*(b.Max[0]-b.Min[0]), b.Min[1] + rng.Float64()*(b.Max[1]-b.Min[1])}
		want[i] = l.Locate(pts[i])
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := range 4 {
		wg.Go(func() {
			for k := range pts {
				i := (k + g*len(pts)/4) % len(pts)
				if got := l.Locate(pts[i]); !slices.Equal(got, want[i]) {
					errs <- "concurrent Locate disagreed with a sequential one"
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// Agree checks l at every point of pts: points clear of every outline locate as Reference
// says, the others keep the contract's invariants. It returns how many were clear.
func Agree(t *testing.T, tr *geo.Tree, l geo.Locator, pts []orb.Point) (exact int) {
	t.Helper()
	for _, p := range pts {
		want, ok := Reference(tr, p)
		if !ok {
			checkBoundaryPoint(t, tr, l, p)
			continue
		}
		exact++
		if got := l.Locate(p); !slices.Equal(got, want) {
			t.Fatalf("%v located at %v, want %v", p, got, want)
		}
	}
	return exact
}

// checkBoundaryPoint asserts the contract for a point that may lie on outlines: the answer is
// the same on every call; it is nil only when p is not inside the root; it is a chain from the
// root, each region touching p; and it stops only where no child holds p strictly inside.
func checkBoundaryPoint(t *testing.T, tr *geo.Tree, l geo.Locator, p orb.Point) {
	t.Helper()
	got := l.Locate(p)
	if again := l.Locate(p); !slices.Equal(got, again) {
		t.Errorf("%v: located at %v, then at %v", p, got, again)
		return
	}
	in, near := classify(tr.Root.Geometry, p)
	if got == nil {
		if in && !near {
			t.Errorf("%v is inside the root but not located", p)
		}
		return
	}
	if got[0] != tr.Root.Code {
		t.Errorf("%v: path %v does not start at the root %s", p, got, tr.Root.Code)
		return
	}
	for i, code := range got {
		r := tr.Get(code)
		if r == nil {
			t.Errorf("%v: path %v names unknown region %s", p, got, code)
			return
		}
		if i > 0 && r.Parent != got[i-1] {
			t.Errorf("%v: path %v: %s is not a child of %s", p, got, code, got[i-1])
		}
		if in, near := classify(r.Geometry, p); !in && !near {
			t.Errorf("%v: path %v: %s neither holds nor touches the point", p, got, code)
		}
	}
	last := tr.Get(got[len(got)-1])
	for _, c := range last.Children {
		if in, near := classify(c.Geometry, p); in && !near {
			t.Errorf("%v: path %v stops at %s, but its child %s holds the point", p, got, last.Code, c.Code)
		}
	}
}

// Reference descends the tree with a plain ray cast. It answers only for points clear of every
// outline it meets (exact=false otherwise), where every correct locator must agree with it.
func Reference(tr *geo.Tree, p orb.Point) (path []string, exact bool) {
	r := tr.Root
	in, near := classify(r.Geometry, p)
	if near {
		return nil, false
	}
	if !in {
		return nil, true
	}
	path = []string{r.Code}
	for {
		var next *geo.Region
		for _, c := range r.Children {
			if !c.Bound.Pad(eps(c.Bound)).Contains(p) {
				continue
			}
			in, near := classify(c.Geometry, p)
			if near {
				return nil, false
			}
			if in && next == nil {
				next = c
			}
		}
		if next == nil {
			return path, true
		}
		path = append(path, next.Code)
		r = next
	}
}

func polygons(g orb.Geometry) []orb.Polygon {
	switch g := g.(type) {
	case orb.Polygon:
		return []orb.Polygon{g}
	case orb.MultiPolygon:
		return g
	}
	return nil
}

// eps is the distance under which a point counts as on an outline: a millionth of the extent.
func eps(b orb.Bound) float64 {
	return 1e-6 * max(b.Max[0]-b.Min[0], b.Max[1]-b.Min[1], 1e-9)
}

// partBounds caches each geometry's polygon bounds, so classify skips far parts of a large
// MultiPolygon (a city made of its districts' polygons) without walking their rings.
var partBounds sync.Map // partsKey → the geometry's bound, then its parts'

// partsKey names a geometry by its first and last parts' storage and its part count: a
// MultiPolygon assembled from other regions' polygons shares their storage.
type partsKey struct {
	first, last *orb.Point
	n           int
}

func boundsOf(g orb.Geometry) (pgs []orb.Polygon, parts []orb.Bound, all orb.Bound) {
	pgs = polygons(g)
	if len(pgs) == 0 || len(pgs[0]) == 0 || len(pgs[0][0]) == 0 {
		return pgs, nil, g.Bound()
	}
	last := pgs[len(pgs)-1]
	if len(last) == 0 || len(last[0]) == 0 {
		return pgs, nil, g.Bound()
	}
	key := partsKey{&pgs[0][0][0], &last[0][0], len(pgs)}
	if b, ok := partBounds.Load(key); ok {
		bs := b.([]orb.Bound)
		return pgs, bs[1:], bs[0]
	}
	bs := make([]orb.Bound, len(pgs)+1)
	bs[0] = g.Bound()
	for i, pg := range pgs {
		bs[i+1] = pg.Bound()
	}
	partBounds.Store(key, bs)
	return pgs, bs[1:], bs[0]
}

// classify ray-casts p against g (even-odd over each polygon's rings) and says whether it is
// within eps of any edge.
func classify(g orb.Geometry, p orb.Point) (in, near bool) {
	pgs, bs, all := boundsOf(g)
	e := eps(all)
	for k, pg := range pgs {
		if bs != nil && !bs[k].Pad(e).Contains(p) {
			continue
		}
		inPoly := false
		for _, ring := range pg {
			for i := 0; i+1 < len(ring); i++ {
				a, b := ring[i], ring[i+1]
				if !near && p[0] >= min(a[0], b[0])-e && p[0] <= max(a[0], b[0])+e &&
					p[1] >= min(a[1], b[1])-e && p[1] <= max(a[1], b[1])+e && segDist(a, b, p) <= e {
					near = true
				}
				if (a[1] > p[1]) != (b[1] > p[1]) && p[0] < a[0]+(p[1]-a[1])*(b[0]-a[0])/(b[1]-a[1]) {
					inPoly = !inPoly
				}
			}
		}
		in = in || inPoly
	}
	return in, near
}

func segDist(a, b, p orb.Point) float64 {
	dx, dy := b[0]-a[0], b[1]-a[1]
	l2 := dx*dx + dy*dy
	u := 0.0
	if l2 > 0 {
		u = max(0, min(1, ((p[0]-a[0])*dx+(p[1]-a[1])*dy)/l2))
	}
	return math.Hypot(p[0]-a[0]-u*dx, p[1]-a[1]-u*dy)
}
