package importer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// Point is a latitude and longitude in the file's coordinate system.
type Point struct{ Lat, Lon float64 }

// ParsePoint reads "LAT,LON".
func ParsePoint(s string) (Point, error) {
	a, b, ok := strings.Cut(s, ",")
	lat, e1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
	lon, e2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
	if !ok || e1 != nil || e2 != nil || math.Abs(lat) > 90 || math.Abs(lon) > 180 {
		return Point{}, fmt.Errorf("point %q: want LAT,LON in degrees", s)
	}
	return Point{lat, lon}, nil
}

// metres between two nearby points (equirectangular; exact enough below a kilometre).
func metres(a, b Point) float64 {
	const r = 6371008.8
	dy := (a.Lat - b.Lat) * math.Pi / 180
	dx := (a.Lon - b.Lon) * math.Pi / 180 * math.Cos((a.Lat+b.Lat)/2*math.Pi/180)
	return r * math.Hypot(dx, dy)
}

// nullPointTolerance is how near a null point a row's point must be to be taken for it.
const nullPointTolerance = 1.0 // metres

// Bounds is the box a plausible point lies in.
type Bounds struct{ MinLat, MinLon, MaxLat, MaxLon float64 }

// ParseBounds reads "MINLAT,MINLON,MAXLAT,MAXLON" (south, west, north, east).
func ParseBounds(s string) (Bounds, error) {
	parts := strings.Split(s, ",")
	var v [4]float64
	if len(parts) != 4 {
		return Bounds{}, fmt.Errorf("bounds %q: want MINLAT,MINLON,MAXLAT,MAXLON", s)
	}
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return Bounds{}, fmt.Errorf("bounds %q: want MINLAT,MINLON,MAXLAT,MAXLON", s)
		}
		v[i] = f
	}
	b := Bounds{v[0], v[1], v[2], v[3]}
	if b.MinLat > b.MaxLat || b.MinLon > b.MaxLon || math.Abs(b.MinLat) > 90 || math.Abs(b.MaxLat) > 90 ||
		math.Abs(b.MinLon) > 180 || math.Abs(b.MaxLon) > 180 {
		return Bounds{}, fmt.Errorf("bounds %q: want MINLAT,MINLON,MAXLAT,MAXLON with min ≤ max (latitude first)", s)
	}
	return b, nil
}

// Contains reports whether p lies in b.
func (b Bounds) Contains(p Point) bool {
	return p.Lat >= b.MinLat && p.Lat <= b.MaxLat && p.Lon >= b.MinLon && p.Lon <= b.MaxLon
}

func (b Bounds) String() string {
	return fmt.Sprintf("%g,%g,%g,%g", b.MinLat, b.MinLon, b.MaxLat, b.MaxLon)
}

// regionPad widens a region tree's box (WGS-84) to cover points written in GCJ-02 or BD-09,
// which lie up to about a kilometre off their WGS-84 place in China.
const regionPad = 0.02 // degrees

// Gazetteer is a region tree's codes and names: it turns a row's recorded township or district
// name into its code, and its outline gives the box of plausible points.
type Gazetteer struct {
	byName map[string][]string // folded name → codes
	names  map[string]string   // code → name
	parent map[string]string   // code → parent code
	Bounds Bounds              // of every region, WGS-84
}

// ParseGazetteer reads a region GeoJSON FeatureCollection (properties code, name, parent, as
// `zhili import regions` writes and GET /api/v1/regions answers).
func ParseGazetteer(b []byte) (*Gazetteer, error) {
	var fc struct {
		Features []struct {
			Properties map[string]any `json:"properties"`
			Geometry   struct {
				Coordinates json.RawMessage `json:"coordinates"`
			} `json:"geometry"`
		} `json:"features"`
	}
	if err := json.Unmarshal(b, &fc); err != nil {
		return nil, fmt.Errorf("regions: not a GeoJSON FeatureCollection: %w", err)
	}
	g := &Gazetteer{byName: map[string][]string{}, names: map[string]string{}, parent: map[string]string{},
		Bounds: Bounds{MinLat: 90, MinLon: 180, MaxLat: -90, MaxLon: -180}}
	str := func(v any) string {
		switch x := v.(type) {
		case string:
			return x
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64)
		}
		return ""
	}
	for _, f := range fc.Features {
		code := str(f.Properties["code"])
		if code == "" {
			continue
		}
		name := str(f.Properties["name"])
		g.names[code] = name
		g.parent[code] = str(f.Properties["parent"])
		if name != "" {
			k := foldKey(name)
			g.byName[k] = append(g.byName[k], code)
		}
		var coords any
		if json.Unmarshal(f.Geometry.Coordinates, &coords) == nil {
			g.extend(coords)
		}
	}
	if len(g.names) == 0 {
		return nil, fmt.Errorf("regions: no feature with a code")
	}
	if g.Bounds.MinLat > g.Bounds.MaxLat {
		return nil, fmt.Errorf("regions: no coordinates")
	}
	return g, nil
}

// extend grows the bounds over a GeoJSON coordinates array of any depth.
func (g *Gazetteer) extend(v any) {
	a, ok := v.([]any)
	if !ok {
		return
	}
	if len(a) >= 2 {
		lon, ok1 := a[0].(float64)
		lat, ok2 := a[1].(float64)
		if ok1 && ok2 {
			b := &g.Bounds
			b.MinLat, b.MaxLat = min(b.MinLat, lat), max(b.MaxLat, lat)
			b.MinLon, b.MaxLon = min(b.MinLon, lon), max(b.MaxLon, lon)
			return
		}
	}
	for _, x := range a {
		g.extend(x)
	}
}

// LoadGazetteer reads a region GeoJSON file.
func LoadGazetteer(path string) (*Gazetteer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	g, err := ParseGazetteer(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// FetchGazetteer reads the region tree a viewer token may see from a running server
// (GET /api/v1/regions?crs=wgs84).
func FetchGazetteer(ctx context.Context, client *http.Client, baseURL, token string) (*Gazetteer, error) {
	if client == nil {
		client = &http.Client{Timeout: defaultTimeout}
	}
	u := strings.TrimRight(baseURL, "/") + "/api/v1/regions?crs=wgs84"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 512<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.300s", u, resp.Status, strings.TrimSpace(string(b)))
	}
	return ParseGazetteer(b)
}

// nameSuffixes are the endings a recorded name may leave out ("老城" for 老城街道).
var nameSuffixes = []string{"街道办事处", "街道", "镇", "乡", "区", "县", "市"}

// Resolve returns the code of a recorded region: a code of the tree as is, else a name
// (with or without its 街道/镇/乡/区/县 ending), unique in the tree or under the region named
// within (the row's district, "" when none). ok is false for an unknown or ambiguous name.
func (g *Gazetteer) Resolve(value, within string) (code string, why string, ok bool) {
	v := strings.TrimSpace(value)
	if _, isCode := g.names[v]; isCode {
		return v, "", true
	}
	k := foldKey(v)
	cands := g.byName[k]
	if len(cands) == 0 {
		base := k
		for _, s := range nameSuffixes {
			if t, cut := strings.CutSuffix(k, s); cut && t != "" {
				base = t
				break
			}
		}
		for _, s := range append([]string{""}, nameSuffixes...) {
			cands = append(cands, g.byName[base+s]...)
		}
	}
	if len(cands) > 1 && within != "" {
		var in []string
		for _, c := range cands {
			if g.under(c, within) {
				in = append(in, c)
			}
		}
		cands = in
	}
	switch len(cands) {
	case 0:
		return "", fmt.Sprintf("no region named %q", v), false
	case 1:
		return cands[0], "", true
	}
	return "", fmt.Sprintf("%d regions are named %q (%s)", len(cands), v, strings.Join(cands, ", ")), false
}

// under reports whether code lies under a region whose code or name is within.
func (g *Gazetteer) under(code, within string) bool {
	w := foldKey(within)
	for p, steps := g.parent[code], 0; p != "" && steps < 64; p, steps = g.parent[p], steps+1 {
		if n := foldKey(g.names[p]); p == within || n == w || strings.TrimSuffix(n, "区") == strings.TrimSuffix(w, "区") {
			return true
		}
	}
	return false
}
