package geo

import (
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

func TestXinyangTree(t *testing.T) {
	t0 := time.Now()
	tr := xinyang(t) // XinyangTree, parsed once for the package
	t.Logf("XinyangTree: %d regions (%v, or parsed by an earlier test)", tr.Len(), time.Since(t0))
	// XinyangTree parsed it with its checks at 2,000 tiling samples per parent; the default
	// 20,000 run where the file is made (cmd/geogen, TestCommittedPassesFullChecks, in CI).
	root := tr.Root
	if root.Code != "411500" || root.Kind != "city" || root.Name != "信阳市" {
		t.Fatalf("root is %s %s (%s)", root.Code, root.Name, root.Kind)
	}
	wantCounties := map[string]string{
		"411502": "浉河区", "411503": "平桥区", "411521": "罗山县", "411522": "光山县", "411523": "新县",
		"411524": "商城县", "411525": "固始县", "411526": "潢川县", "411527": "淮滨县", "411528": "息县",
	}
	if len(root.Children) != len(wantCounties) {
		t.Fatalf("%d counties, want %d", len(root.Children), len(wantCounties))
	}
	townships, grids := 0, 0
	for _, c := range root.Children {
		if wantCounties[c.Code] != c.Name || c.Kind != "county" {
			t.Errorf("county %s %s (%s) unexpected", c.Code, c.Name, c.Kind)
		}
		if n := len(c.Children); n < 10 || n > 30 {
			t.Errorf("%s has %d townships", c.Name, n)
		}
		for _, tw := range c.Children {
			townships++
			if tw.Kind != "township" || len(tw.Code) != 9 || !strings.HasPrefix(tw.Code, c.Code) {
				t.Errorf("township %s (%s) under %s", tw.Code, tw.Kind, c.Code)
			}
			if len(tw.Children) == 0 {
				t.Errorf("township %s has no grids", tw.Code)
			}
			for _, g := range tw.Children {
				grids++
				if g.Kind != "grid" || len(g.Code) != 12 || !strings.HasPrefix(g.Code, tw.Code) || len(g.Children) > 0 {
					t.Errorf("grid %s (%s) under %s", g.Code, g.Kind, tw.Code)
				}
				if g.Weight <= 0 || g.Weight > 1 {
					t.Errorf("grid %s weight %v", g.Code, g.Weight)
				}
			}
		}
	}
	if grids < 2000 || grids > 6000 {
		t.Errorf("%d grids, want 2,000-6,000", grids)
	}
	t.Logf("1 city, %d counties, %d townships, %d grids", len(root.Children), townships, grids)

	// The city lies where Xinyang is, with about its area (18,900 km²).
	b := root.Bound
	if b.Min[0] < 113.6 || b.Max[0] > 116.0 || b.Min[1] < 31.3 || b.Max[1] > 32.8 {
		t.Errorf("city bound %v outside Xinyang", b)
	}
	km2 := areaKm2(root.Geometry)
	if km2 < 17000 || km2 > 21000 {
		t.Errorf("city area %.0f km²", km2)
	}
	t.Logf("city bound %v, area about %.0f km²", b, km2)

	// Rings are closed with at least 4 points; children's areas add up to their parent's.
	tr.Walk(func(r *Region) {
		forEachRing(r.Geometry, func(ring orb.Ring) {
			if len(ring) < 4 || ring[0] != ring[len(ring)-1] {
				t.Errorf("%s: ring of %d points, closed %v", r.Code, len(ring), len(ring) > 0 && ring[0] == ring[len(ring)-1])
			}
		})
		if len(r.Children) == 0 {
			return
		}
		sum := 0.0
		for _, c := range r.Children {
			sum += planar.Area(c.Geometry)
		}
		if a := planar.Area(r.Geometry); math.Abs(sum-a) > 0.005*a {
			t.Errorf("%s: children's area %.6f vs parent %.6f (%.3f%%)", r.Code, sum, a, 100*(sum-a)/a)
		}
	})

	// Random points in a county lie in exactly one township and exactly one grid of it.
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 20000
	inCounty, bad := 0, 0
	for i := 0; i < n; i++ {
		p := orb.Point{b.Min[0] + rng.Float64()*(b.Max[0]-b.Min[0]), b.Min[1] + rng.Float64()*(b.Max[1]-b.Min[1])}
		var county *Region
		for _, c := range root.Children {
			if contains(c, p) {
				county = c
				break
			}
		}
		if county == nil {
			continue
		}
		inCounty++
		var towns []*Region
		for _, tw := range county.Children {
			if contains(tw, p) {
				towns = append(towns, tw)
			}
		}
		if len(towns) != 1 {
			bad++
			continue
		}
		k := 0
		for _, g := range towns[0].Children {
			if contains(g, p) {
				k++
			}
		}
		if k != 1 {
			bad++
		}
	}
	frac := float64(bad) / float64(inCounty)
	t.Logf("%d of %d sample points in counties not in exactly one township and grid (%.4f%%)", bad, inCounty, 100*frac)
	if inCounty < n/3 || frac > 0.001 {
		t.Errorf("%d sample points in counties, %.4f%% ambiguous (tolerance 0.1%%)", inCounty, 100*frac)
	}

	// Denser (urban) grids are smaller: the densest tenth averages well under the sparsest tenth.
	var ws []*Region
	tr.Walk(func(r *Region) {
		if r.Kind == "grid" {
			ws = append(ws, r)
		}
	})
	lo, hi := 0.0, 0.0
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].Weight < ws[j].Weight })
	k := len(ws) / 10
	for i := 0; i < k; i++ {
		lo += planar.Area(ws[i].Geometry)
		hi += planar.Area(ws[len(ws)-1-i].Geometry)
	}
	if hi >= lo/4 {
		t.Errorf("densest grids' area %.4f not well below sparsest %.4f", hi, lo)
	}
}

func forEachRing(g orb.Geometry, fn func(orb.Ring)) {
	switch x := g.(type) {
	case orb.Polygon:
		for _, r := range x {
			fn(r)
		}
	case orb.MultiPolygon:
		for _, p := range x {
			for _, r := range p {
				fn(r)
			}
		}
	}
}

// areaKm2 approximates a lon/lat geometry's area near 32°N.
func areaKm2(g orb.Geometry) float64 {
	const kmPerDeg = 111.32
	return planar.Area(g) * kmPerDeg * kmPerDeg * math.Cos(32.1*math.Pi/180)
}
