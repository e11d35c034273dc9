package geo

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// synthLattice is a square cut into cols × rows townships, grouped into counties of cx × cy
// townships, under one root. Every lattice edge is a wiggly line of k segments shared exactly
// (same vertices) by the regions on both sides, so children tile their parents exactly.
type synthLattice struct {
	cols, rows int // townships across, down
	cx, cy     int // townships per county across, down
	k          int // segments per lattice edge
	x0, y0     float64
	cw, ch     float64 // township cell size (degrees)
	h, v       map[[2]int][]orb.Point
}

// synthTree300 is the benchmark tree: 1 root, 12 counties, 288 townships (301 regions) and
// 132,061 vertices, near Xinyang.
func synthTree300() *synthLattice {
	return newSynthLattice(12, 24, 4, 6, 90, 1)
}

func newSynthLattice(cols, rows, cx, cy, k int, seed uint64) *synthLattice {
	s := &synthLattice{cols: cols, rows: rows, cx: cx, cy: cy, k: k, x0: 114, y0: 31.6, cw: 0.1, ch: 0.05,
		h: map[[2]int][]orb.Point{}, v: map[[2]int][]orb.Point{}}
	rng := rand.New(rand.NewPCG(seed, 300))
	// wiggle is an offset along t in [0,1]: a few sines under an envelope that is 0 at both ends,
	// at most amp, so edges meet only at lattice nodes.
	wiggle := func(amp float64) func(t float64) float64 {
		var ph, fr [3]float64
		for i := range ph {
			ph[i], fr[i] = rng.Float64()*2*math.Pi, float64(2+rng.IntN(9))
		}
		return func(t float64) float64 {
			w := 0.0
			for i := range ph {
				w += math.Sin(fr[i]*math.Pi*t+ph[i]) / 3
			}
			return amp * math.Sin(math.Pi*t) * w
		}
	}
	for j := 0; j <= rows; j++ {
		for i := 0; i < cols; i++ {
			w := wiggle(0.2 * s.ch)
			pts := make([]orb.Point, k+1)
			for n := 0; n <= k; n++ {
				t := float64(n) / float64(k)
				pts[n] = orb.Point{s.x0 + (float64(i)+t)*s.cw, s.y0 + float64(j)*s.ch + w(t)}
			}
			s.h[[2]int{i, j}] = pts
		}
	}
	for i := 0; i <= cols; i++ {
		for j := 0; j < rows; j++ {
			w := wiggle(0.2 * s.cw)
			pts := make([]orb.Point, k+1)
			for n := 0; n <= k; n++ {
				t := float64(n) / float64(k)
				pts[n] = orb.Point{s.x0 + float64(i)*s.cw + w(t), s.y0 + (float64(j)+t)*s.ch}
			}
			s.v[[2]int{i, j}] = pts
		}
	}
	// Snap lattice nodes exactly (the wiggle is 0 there up to rounding).
	for key, pts := range s.h {
		pts[0] = s.node(key[0], key[1])
		pts[k] = s.node(key[0]+1, key[1])
	}
	for key, pts := range s.v {
		pts[0] = s.node(key[0], key[1])
		pts[k] = s.node(key[0], key[1]+1)
	}
	return s
}

func (s *synthLattice) node(i, j int) orb.Point {
	return orb.Point{s.x0 + float64(i)*s.cw, s.y0 + float64(j)*s.ch}
}

// block is the counter-clockwise outline of the townships [i0,i1) × [j0,j1).
func (s *synthLattice) block(i0, j0, i1, j1 int) orb.Ring {
	var r orb.Ring
	add := func(pts []orb.Point, rev bool) {
		for n := range pts[:len(pts)-1] {
			if rev {
				r = append(r, pts[len(pts)-1-n])
			} else {
				r = append(r, pts[n])
			}
		}
	}
	for i := i0; i < i1; i++ {
		add(s.h[[2]int{i, j0}], false)
	}
	for j := j0; j < j1; j++ {
		add(s.v[[2]int{i1, j}], false)
	}
	for i := i1 - 1; i >= i0; i-- {
		add(s.h[[2]int{i, j1}], true)
	}
	for j := j1 - 1; j >= j0; j-- {
		add(s.v[[2]int{i0, j}], true)
	}
	return append(r, r[0])
}

// features returns root, counties and townships; withRoot false leaves the root out (a forest
// of counties whose parent is empty).
func (s *synthLattice) features(withRoot bool) []*geojson.Feature {
	var out []*geojson.Feature
	add := func(code, parent, kind string, r orb.Ring) {
		f := geojson.NewFeature(orb.Polygon{r})
		f.Properties = geojson.Properties{"code": code, "name": code, "parent": parent, "kind": kind}
		out = append(out, f)
	}
	root := ""
	if withRoot {
		root = "419900"
		add(root, "", "city", s.block(0, 0, s.cols, s.rows))
	}
	n := 0
	for cj := 0; cj < s.rows/s.cy; cj++ {
		for ci := 0; ci < s.cols/s.cx; ci++ {
			n++
			county := fmt.Sprintf("4199%02d", n)
			add(county, root, "county", s.block(ci*s.cx, cj*s.cy, (ci+1)*s.cx, (cj+1)*s.cy))
			t := 0
			for j := cj * s.cy; j < (cj+1)*s.cy; j++ {
				for i := ci * s.cx; i < (ci+1)*s.cx; i++ {
					t++
					add(fmt.Sprintf("%s%03d", county, t), county, "township", s.block(i, j, i+1, j+1))
				}
			}
		}
	}
	return out
}

func synthJSON(tb testing.TB, fs []*geojson.Feature) []byte {
	tb.Helper()
	fc := geojson.NewFeatureCollection()
	fc.Features = fs
	b, err := json.Marshal(fc)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func countVertices(fs []*geojson.Feature) int {
	n := 0
	for _, f := range fs {
		forEachVertex(f.Geometry, func(orb.Point) { n++ })
	}
	return n
}

// BenchmarkImport300 is `zhili import regions` then `zhili serve` on a 301-region tree of
// 132,061 vertices: parse and check the file, write the tree, parse and check what was written.
func BenchmarkImport300(b *testing.B) {
	fs := synthTree300().features(true)
	data := synthJSON(b, fs)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tree, err := ParseTreeOptions(data, CheckOptions{Props: DefaultProps})
		if err != nil {
			b.Fatal(err)
		}
		fc, err := tree.FeatureCollection("root", -1)
		if err != nil {
			b.Fatal(err)
		}
		stored, err := json.Marshal(fc)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ParseTree(stored, DefaultProps); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(countVertices(fs)), "vertices")
}

func TestSyntheticTreeIsValid(t *testing.T) {
	fs := synthTree300().features(true)
	if n, v := len(fs), countVertices(fs); n != 301 || v != 132061 {
		t.Fatalf("%d regions, %d vertices", n, v)
	}
	// A small lattice with the full checks: rings simple, children tiling parents.
	small := newSynthLattice(4, 4, 2, 2, 30, 2).features(true)
	if tree, probs := CheckFeatures(small, CheckOptions{}); tree == nil || tree.Len() != 21 {
		t.Fatalf("small lattice refused: %v", probs)
	}
}

// BenchmarkParseXinyang parses and checks the demo geography (3,853 regions) at XinyangTree's
// tiling samples and at the default.
func BenchmarkParseXinyang(b *testing.B) {
	for _, n := range []int{xinyangSamples, 20000} {
		b.Run(fmt.Sprintf("samples=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := ParseTreeOptions(xinyangGeoJSON, CheckOptions{Props: DefaultProps, Samples: n}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkImport300Forest is BenchmarkImport300 without the root feature: the 12 counties get
// a synthesized root.
func BenchmarkImport300Forest(b *testing.B) {
	fs := synthTree300().features(false)
	data := synthJSON(b, fs)
	for i := 0; i < b.N; i++ {
		tree, err := ParseTreeOptions(data, CheckOptions{Props: DefaultProps, Forest: true})
		if err != nil {
			b.Fatal(err)
		}
		fc, err := tree.FeatureCollection("root", -1)
		if err != nil {
			b.Fatal(err)
		}
		stored, err := json.Marshal(fc)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ParseTree(stored, DefaultProps); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWriteSyntheticTree writes the benchmark tree for a run of the command itself:
// ZHILI_SYNTH_OUT=FILE go test -run TestWriteSyntheticTree ./geo
func TestWriteSyntheticTree(t *testing.T) {
	out := os.Getenv("ZHILI_SYNTH_OUT")
	if out == "" {
		t.Skip("ZHILI_SYNTH_OUT not set")
	}
	if err := os.WriteFile(out, synthJSON(t, synthTree300().features(true)), 0o644); err != nil {
		t.Fatal(err)
	}
}
