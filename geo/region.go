// Package geo holds pure geometry: region trees, point location, coordinate systems. No I/O.
package geo

import (
	"fmt"
	"sort"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/planar"
)

// Region is one node of the 王-shaped hierarchy (county → township → grid, any depth).
type Region struct {
	Code   string
	Name   string
	Parent string
	Level  int     // depth in the tree; the root is 0
	Kind   string  // e.g. "county", "township", "grid" (informational)
	Weight float64 // optional density hint in [0,1] (property "weight"): towns dense, hills sparse
	// Denominators are optional exposures for rates (property "denominators", an object of
	// positive numbers such as {"population": 52000, "households": 17000, "road_km": 41.5};
	// a number in property "population" is short for denominators.population). See Denominator.
	Denominators map[string]float64
	Geometry     orb.Geometry
	Bound        orb.Bound
	Children     []*Region
}

// Tree is a region tree with one root.
type Tree struct {
	Root   *Region
	byCode map[string]*Region
}

// Props names the GeoJSON properties that carry a feature's code, name, parent and kind.
type Props struct {
	Code, Name, Parent, Kind string
}

// DefaultProps are the property names Zhili writes and reads by default.
var DefaultProps = Props{Code: "code", Name: "name", Parent: "parent", Kind: "kind"}

// ParseTree builds a tree from a GeoJSON FeatureCollection after checking it (CheckFeatures
// with default tolerances): exactly one root, known parents, no cycles, valid rings, children
// inside their parents, siblings tiling them. A file with problems is refused with a
// *ProblemsError naming each one.
func ParseTree(data []byte, p Props) (*Tree, error) {
	return ParseTreeOptions(data, CheckOptions{Props: p})
}

// ParseTreeOptions is ParseTree with explicit check options (tolerances, skipped features).
func ParseTreeOptions(data []byte, opt CheckOptions) (*Tree, error) {
	features, err := decodeFeatures(data)
	if err != nil {
		return nil, fmt.Errorf("regions: not a GeoJSON FeatureCollection: %w", err)
	}
	tree, probs := CheckFeatures(features, opt)
	if len(probs) > 0 {
		return nil, &ProblemsError{Problems: probs}
	}
	return tree, nil
}

// ProblemsError lists the problems that made a region file untrustworthy.
type ProblemsError struct{ Problems []Problem }

func (e *ProblemsError) Error() string {
	const show = 5
	var b strings.Builder
	fmt.Fprintf(&b, "regions: %d problem(s)", len(e.Problems))
	for i, p := range e.Problems {
		if i == show {
			fmt.Fprintf(&b, "; and %d more", len(e.Problems)-show)
			break
		}
		b.WriteString("; ")
		b.WriteString(p.String())
	}
	return b.String()
}

func propString(props geojson.Properties, key string) string {
	v, ok := props[key]
	if !ok || v == nil {
		return ""
	}
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprint(v)
}

// NewTree links regions into a tree and computes levels. Children are sorted by code.
func NewTree(regions []*Region) (*Tree, error) {
	t := &Tree{byCode: make(map[string]*Region, len(regions))}
	for _, r := range regions {
		if _, dup := t.byCode[r.Code]; dup {
			return nil, fmt.Errorf("regions: duplicate code %q", r.Code)
		}
		t.byCode[r.Code] = r
	}
	for _, r := range regions {
		if r.Parent == "" {
			if t.Root != nil {
				return nil, fmt.Errorf("regions: two roots (%s and %s); one region must contain all", t.Root.Code, r.Code)
			}
			t.Root = r
			continue
		}
		p, ok := t.byCode[r.Parent]
		if !ok {
			return nil, fmt.Errorf("regions: %s: unknown parent %q", r.Code, r.Parent)
		}
		p.Children = append(p.Children, r)
	}
	if t.Root == nil {
		return nil, fmt.Errorf("regions: no root (a region without parent)")
	}
	seen := 0
	var walk func(r *Region, lvl int)
	walk = func(r *Region, lvl int) {
		seen++
		r.Level = lvl
		sort.Slice(r.Children, func(i, j int) bool { return r.Children[i].Code < r.Children[j].Code })
		for _, c := range r.Children {
			walk(c, lvl+1)
		}
	}
	walk(t.Root, 0)
	if seen != len(regions) {
		return nil, fmt.Errorf("regions: %d regions are not reachable from the root (a parent cycle)", len(regions)-seen)
	}
	return t, nil
}

// Get returns the region with code, or nil. "root" names the root.
func (t *Tree) Get(code string) *Region {
	if code == "root" {
		return t.Root
	}
	return t.byCode[code]
}

// Len is the number of regions.
func (t *Tree) Len() int { return len(t.byCode) }

// Path returns the codes from the root to code (inclusive), or nil when unknown.
func (t *Tree) Path(code string) []string {
	r := t.Get(code)
	if r == nil {
		return nil
	}
	path := make([]string, r.Level+1)
	for i := r.Level; r != nil; i-- {
		path[i] = r.Code
		r = t.byCode[r.Parent]
	}
	return path
}

// Walk visits every region depth-first, parents before children.
func (t *Tree) Walk(fn func(*Region)) {
	var walk func(r *Region)
	walk = func(r *Region) {
		fn(r)
		for _, c := range r.Children {
			walk(c)
		}
	}
	walk(t.Root)
}

// FeatureCollection returns the subtree under root down to depth levels below it (depth < 0:
// all), with properties code, name, parent, level (depth) and kind.
func (t *Tree) FeatureCollection(root string, depth int) (*geojson.FeatureCollection, error) {
	r := t.Get(root)
	if r == nil {
		return nil, fmt.Errorf("unknown region %q", root)
	}
	fc := geojson.NewFeatureCollection()
	var walk func(x *Region)
	walk = func(x *Region) {
		if depth >= 0 && x.Level-r.Level > depth {
			return
		}
		f := geojson.NewFeature(x.Geometry)
		f.Properties = geojson.Properties{"code": x.Code, "name": x.Name, "parent": x.Parent, "level": x.Level, "kind": x.Kind}
		if x.Weight > 0 {
			f.Properties["weight"] = x.Weight
		}
		if len(x.Denominators) > 0 {
			f.Properties["denominators"] = x.Denominators
		}
		fc.Append(f)
		for _, c := range x.Children {
			walk(c)
		}
	}
	walk(r)
	return fc, nil
}

// Locator finds the regions containing a point.
type Locator interface {
	// Locate returns the codes from the root to the deepest region containing p (WGS-84 or the
	// tree's CRS), or nil when p is outside the root. Deterministic: a point on an edge shared
	// by siblings belongs to exactly one of them.
	Locate(p orb.Point) []string
}

// TreeLocator descends the tree, testing bounding boxes first and polygons second; among
// siblings the first (by code) that contains the point wins.
type TreeLocator struct{ T *Tree }

var _ Locator = TreeLocator{}

func (l TreeLocator) Locate(p orb.Point) []string {
	r := l.T.Root
	if !contains(r, p) {
		return nil
	}
	path := []string{r.Code}
	for len(r.Children) > 0 {
		var next *Region
		for _, c := range r.Children {
			if contains(c, p) {
				next = c
				break
			}
		}
		if next == nil {
			break
		}
		path = append(path, next.Code)
		r = next
	}
	return path
}

func contains(r *Region, p orb.Point) bool {
	if !r.Bound.Contains(p) {
		return false
	}
	switch g := r.Geometry.(type) {
	case orb.Polygon:
		return planar.PolygonContains(g, p)
	case orb.MultiPolygon:
		return planar.MultiPolygonContains(g, p)
	}
	return false
}
