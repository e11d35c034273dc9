package geo

import (
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

// HexCover returns the cells at res whose centres lie inside the polygon (lon/lat), i.e.
// the study area of a region for a hex hotspot map.
func HexCover(poly orb.Polygon, res int) []uint64 {
	if len(poly) == 0 {
		return nil
	}
	loop := func(r orb.Ring) h3.GeoLoop {
		l := make(h3.GeoLoop, 0, len(r))
		for _, p := range r {
			l = append(l, h3.NewLatLng(p[1], p[0]))
		}
		return l
	}
	gp := h3.GeoPolygon{GeoLoop: loop(poly[0])}
	for _, h := range poly[1:] {
		gp.Holes = append(gp.Holes, loop(h))
	}
	cs := h3.PolygonToCells(gp, res)
	out := make([]uint64, 0, len(cs))
	for _, c := range cs {
		if c != 0 {
			out = append(out, uint64(c))
		}
	}
	return out
}

// HexString is the conventional hexadecimal form of an H3 cell (e.g. "8840b52d61fffff").
func HexString(cell uint64) string { return h3.Cell(cell).String() }
