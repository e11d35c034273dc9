package geo

import (
	"slices"

	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"
)

// DefaultHexRes is the default H3 resolution for fine hotspot maps: res 8, average cell
// area ≈ 0.74 km² (edge ≈ 0.46 km), about a city block group. Res 9 (≈ 0.105 km², edge
// ≈ 0.17 km) suits dense urban districts; res 7 (≈ 5.2 km²) suits a whole county.
const DefaultHexRes = 8

// HexCell returns the H3 cell (as its 64-bit index) containing the lon/lat point p (WGS-84
// degrees) at resolution res (0..15).
func HexCell(p orb.Point, res int) uint64 {
	return uint64(h3.LatLngToCell(h3.NewLatLng(p[1], p[0]), res))
}

// HexCentroid returns the centre of cell as a lon/lat point.
func HexCentroid(cell uint64) orb.Point {
	ll := h3.CellToLatLng(h3.Cell(cell))
	return orb.Point{ll.Lng, ll.Lat}
}

// HexBoundary returns the outline of cell as a closed lon/lat polygon.
func HexBoundary(cell uint64) orb.Polygon {
	b := h3.CellToBoundary(h3.Cell(cell))
	ring := make(orb.Ring, 0, len(b)+1)
	for _, ll := range b {
		ring = append(ring, orb.Point{ll.Lng, ll.Lat})
	}
	if len(ring) > 0 {
		ring = append(ring, ring[0])
	}
	return orb.Polygon{ring}
}

// HexNeighbours returns the cells adjacent to cell (grid disk k = 1 without the cell
// itself): 6 for a hexagon, 5 for a pentagon.
func HexNeighbours(cell uint64) []uint64 {
	disk := h3.GridDisk(h3.Cell(cell), 1)
	out := make([]uint64, 0, 6)
	for _, c := range disk {
		if c != 0 && uint64(c) != cell {
			out = append(out, uint64(c))
		}
	}
	return out
}

// HexAreaKm2 is the average area of a hexagon at res, in km².
func HexAreaKm2(res int) float64 { return h3.HexagonAreaAvgKm2(res) }

// HexWeights builds Gi* weights over a set of cells: each cell is linked to the listed
// cells within grid distance k (k = 1: the 6 touching cells, like queen contiguity for
// hexagons), plus itself with w_ii = 1; binary and symmetric. Cells outside the list are
// not part of the study area and are ignored, so list every cell of the area, including
// those with zero events. Returns the weights and the index of each cell.
func HexWeights(cells []uint64, k int) (*Weights, map[uint64]int) {
	if k < 1 {
		k = 1
	}
	idx := make(map[uint64]int, len(cells))
	for i, c := range cells {
		idx[c] = i
	}
	nbrs := make([][]int, len(cells))
	for i, c := range cells {
		for _, d := range h3.GridDisk(h3.Cell(c), k) {
			if j, ok := idx[uint64(d)]; ok && j != i {
				nbrs[i] = append(nbrs[i], j)
			}
		}
	}
	return NewWeights(nbrs, true), idx
}

// HexCover returns the cells at res whose centres lie inside g (a Polygon or MultiPolygon,
// lon/lat), in ascending order without repeats: the study area of a region for a hex hotspot
// map. Other geometry types cover nothing.
//
// The candidates are the cells centred in g's bounding box (H3's own fill of a 4-vertex
// loop, cheap); each centre is then tested against g with the banded edge index the locator
// uses. H3 filling g itself tests every candidate against every vertex, which for a city's
// outline of thousands of vertices was most of a server's start.
func HexCover(g orb.Geometry, res int) []uint64 {
	parts := compileGeometry(g)
	if len(parts) == 0 {
		return nil
	}
	b := g.Bound()
	// A centre exactly on the outline's extreme latitude or longitude stays a candidate.
	const pad = 1e-7
	lo, hi := orb.Point{b.Min[0] - pad, b.Min[1] - pad}, orb.Point{b.Max[0] + pad, b.Max[1] + pad}
	box := h3.GeoPolygon{GeoLoop: h3.GeoLoop{
		h3.NewLatLng(lo[1], lo[0]), h3.NewLatLng(lo[1], hi[0]),
		h3.NewLatLng(hi[1], hi[0]), h3.NewLatLng(hi[1], lo[0]),
	}}
	var out []uint64
	for _, c := range h3.PolygonToCells(box, res) {
		if c == 0 {
			continue
		}
		ll := h3.CellToLatLng(c)
		p := orb.Point{ll.Lng, ll.Lat}
		for _, rs := range parts {
			if rs.contains(p) {
				out = append(out, uint64(c))
				break
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// HexString is the conventional hexadecimal form of an H3 cell (e.g. "8840b52d61fffff").
func HexString(cell uint64) string { return h3.Cell(cell).String() }
