package geo

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"
)

// benchWindow fills a 24 h window over n locations with about 20 events per location.
func benchWindow(b *testing.B, n int) *LiveWindow {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 1))
	t0 := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	lw := NewLiveWindow(n, StandardWindows[1], t0)
	for k := 0; k < 20*n; k++ {
		lw.Add(r.IntN(n), t0.Add(time.Duration(r.IntN(3600))*time.Second))
	}
	return lw
}

// BenchmarkComputeGrid4000KNN8: one live tick at the grid level, 4,000 locations, k = 8.
func BenchmarkComputeGrid4000KNN8(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	pts := make([]orb.Point, 4000)
	for i := range pts {
		pts[i] = orb.Point{114 + r.Float64(), 32 + r.Float64()}
	}
	w := KNearestWeights(pts, 8)
	lw := benchWindow(b, len(pts))
	var res HotspotResult
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lw.ComputeInto(&res, w, HotspotOptions{})
	}
}

// BenchmarkComputeGrid4000Contiguity: 4,000 grid cells as a 50×80 tiling, queen contiguity
// (degree ≤ 8, like real grids' ~6).
func BenchmarkComputeGrid4000Contiguity(b *testing.B) {
	w := ContiguityWeights(hsSquares(50, 80), 1e-9)
	lw := benchWindow(b, w.N)
	var res HotspotResult
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lw.ComputeInto(&res, w, HotspotOptions{})
	}
}

// BenchmarkComputeHex20000: one tick over ≈ 20,000 H3 res-9 cells (grid disk of radius 81),
// hex weights k = 1.
func BenchmarkComputeHex20000(b *testing.B) {
	origin := HexCell(orb.Point{114.09, 32.15}, 9)
	disk := h3.GridDisk(h3.Cell(origin), 81)
	cells := make([]uint64, 0, len(disk))
	for _, c := range disk {
		cells = append(cells, uint64(c))
	}
	w, _ := HexWeights(cells, 1)
	lw := benchWindow(b, w.N)
	var res HotspotResult
	b.ReportMetric(float64(w.N), "cells")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lw.ComputeInto(&res, w, HotspotOptions{})
	}
}

// BenchmarkComputeHex20000NoFDR isolates the Gi* pass from the FDR ranking.
func BenchmarkComputeHex20000NoFDR(b *testing.B) {
	origin := HexCell(orb.Point{114.09, 32.15}, 9)
	disk := h3.GridDisk(h3.Cell(origin), 81)
	cells := make([]uint64, 0, len(disk))
	for _, c := range disk {
		cells = append(cells, uint64(c))
	}
	w, _ := HexWeights(cells, 1)
	lw := benchWindow(b, w.N)
	var res HotspotResult
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lw.ComputeInto(&res, w, HotspotOptions{DisableFDR: true})
	}
}

// BenchmarkHotspotsHex20000CountTails: Hotspots over the same cells with p-values of the hot
// candidates from the counts' distribution (what the live topics run).
func BenchmarkHotspotsHex20000CountTails(b *testing.B) {
	origin := HexCell(orb.Point{114.09, 32.15}, 9)
	disk := h3.GridDisk(h3.Cell(origin), 81)
	cells := make([]uint64, 0, len(disk))
	for _, c := range disk {
		cells = append(cells, uint64(c))
	}
	w, _ := HexWeights(cells, 1)
	lw := benchWindow(b, w.N)
	x := make([]float64, w.N)
	for i, c := range lw.Totals() {
		x[i] = float64(c)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Hotspots(x, w, HotspotOptions{CountTails: true, MinLocal: 3, MinEvents: 30})
	}
}

// BenchmarkLiveWindowAdd: cost of one event.
func BenchmarkLiveWindowAdd(b *testing.B) {
	lw := NewLiveWindow(20000, StandardWindows[0], time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	t := time.Date(2026, 11, 27, 0, 0, 30, 0, time.UTC)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lw.Add(i%20000, t)
	}
}

// BenchmarkLiveWindowAdvance: rotating one 1-minute bucket over 20,000 cells.
func BenchmarkLiveWindowAdvance(b *testing.B) {
	t := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	lw := NewLiveWindow(20000, StandardWindows[0], t)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t = t.Add(time.Minute)
		lw.Add(i%20000, t)
		lw.Advance(t)
	}
}

// BenchmarkEmerging4000x30: a batch emerging analysis, 4,000 locations × 30 steps, k = 8.
func BenchmarkEmerging4000x30(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	pts := make([]orb.Point, 4000)
	for i := range pts {
		pts[i] = orb.Point{114 + r.Float64(), 32 + r.Float64()}
	}
	w := KNearestWeights(pts, 8)
	c := NewCube(len(pts), 30)
	for k := range c.Counts {
		c.Counts[k] = float64(r.IntN(10))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		EmergingHotspots(c, w, EmergingOptions{})
	}
}
