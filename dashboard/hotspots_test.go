package dashboard

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb/planar"

	"zhili/clock"
	"zhili/geo"
	"zhili/update"
)

// New cases clustered in one grid make it a statistically significant hot spot at the grid,
// child and hex levels; the window forgets them once they are older than its span.
func TestHotspotTopic(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, loc)
	clk := clock.NewFake(now)
	tree := geo.DemoTree()
	h := NewHotspots(tree, clk, HotspotConfig{Every: time.Nanosecond})
	var leaves []*geo.Region
	tree.Walk(func(r *geo.Region) {
		if len(r.Children) == 0 {
			leaves = append(leaves, r)
		}
	})
	hot := leaves[9]
	c, _ := planar.CentroidArea(hot.Geometry)
	var items []update.Item
	add := func(r *geo.Region, n int, at time.Time) {
		p, _ := planar.CentroidArea(r.Geometry)
		for i := 0; i < n; i++ {
			items = append(items, update.Item{Type: "case.reported", New: true, Region: tree.Path(r.Code), Point: &[2]float64{p[0], p[1]}, At: at})
		}
	}
	for i, l := range leaves {
		add(l, 1, now.Add(-time.Duration(5+i%16)*time.Minute)) // background: one case everywhere, over 16 minutes
	}
	for k := 0; k < 3; k++ { // the last three minutes: an emerging cluster
		add(hot, 10, now.Add(-time.Duration(k)*time.Minute))
	}
	// Its neighbours are busy too: a hot area, not a lone cell.
	w := geo.ContiguityWeights(leaves, 1e-7)
	nbrs, _ := w.Row(9)
	for _, j := range nbrs {
		if j != 9 {
			for k := 0; k < 3; k++ {
				add(leaves[j], 4, now.Add(-time.Duration(k)*time.Minute))
			}
		}
	}
	// A non-opening event of a case never counts.
	items = append(items, update.Item{Type: "case.reported", Region: tree.Path(hot.Code), Point: &[2]float64{c[0], c[1]}, At: now})
	h.Observe(items)

	st, err := HotspotSource{H: h}.Open(Topic{Name: "hotspots:root:1h", Kind: "hotspots", Region: "root", Window: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	var snap struct {
		Grids map[string]struct {
			Count, Bin int
			Z          float64
			Pattern    string
		}
		Children map[string]struct{ Count, Bin int }
		Hex      map[string]struct{ Count, Bin int }
		Window   string
		MinLocal int `json:"hex_min_local"`
		Sparse   int `json:"hex_sparse"`
	}
	b, _ := json.Marshal(st.Snapshot())
	if err := json.Unmarshal(b, &snap); err != nil {
		t.Fatal(err)
	}
	g := snap.Grids[hot.Code]
	if len(snap.Grids) != len(leaves) || g.Count != 31 || g.Bin < 2 || g.Z <= 1.96 {
		t.Fatalf("hot grid %s: %+v (of %d grids)", hot.Code, g, len(snap.Grids))
	}
	if !strings.HasSuffix(g.Pattern, "_hot") {
		t.Fatalf("hot grid's emerging class %q", g.Pattern)
	}
	if cold := snap.Grids[leaves[0].Code]; cold.Count != 1 || cold.Bin > 0 || cold.Pattern == "" {
		t.Fatalf("background grid: %+v", cold)
	}
	if ch := snap.Children[hot.Parent]; ch.Count < 31+3 {
		t.Fatalf("township %s: %+v", hot.Parent, ch)
	}
	hexHot := 0
	for _, x := range snap.Hex {
		if x.Count >= 30 && x.Bin > 0 {
			hexHot++
		}
	}
	if hexHot != 1 {
		t.Fatalf("hex level: %d hot cells with the cluster, want 1 (%d cells listed)", hexHot, len(snap.Hex))
	}
	if snap.MinLocal != 3 {
		t.Fatalf("hex_min_local %d, want the default 3", snap.MinLocal)
	}
	// A township topic studies only its own grids.
	ts, err := HotspotSource{H: h}.Open(Topic{Name: "hotspots:" + hot.Parent + ":1h", Kind: "hotspots", Region: hot.Parent, Window: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(ts.Snapshot())
	var tsnap struct{ Grids map[string]any }
	_ = json.Unmarshal(b, &tsnap)
	if len(tsnap.Grids) != len(tree.Get(hot.Parent).Children) {
		t.Fatalf("township topic lists %d grids", len(tsnap.Grids))
	}
	// An hour later the 1h window is empty: the delta sets every count to 0.
	clk.Add(61 * time.Minute)
	d, changed := st.Advance()
	if !changed {
		t.Fatal("no delta after the window slid")
	}
	b, _ = json.Marshal(d)
	var delta struct {
		Grids map[string]struct{ Count *int }
	}
	_ = json.Unmarshal(b, &delta)
	if x := delta.Grids[hot.Code]; x.Count == nil || *x.Count != 0 {
		t.Fatalf("after the window: %s", b)
	}
	if _, err := (HotspotSource{H: h}).Open(Topic{Kind: "hotspots", Region: "root", Window: "today"}); err == nil {
		t.Fatal("window today accepted")
	}
}

// A few lone located cases over a county's hex cells are each a hot spot by Gi* alone (they
// and their empty neighbours) once the cells are many: resolution 9 here (~8,000 cells over the
// demo county; Xinyang has ~31,000 at the default resolution 8). The floor of 3 events per
// neighbourhood keeps them out of the hot bins, and so do p-values from the counts' own
// distribution (the default), each alone; a real cluster stays hot.
func TestHotspotHexFloor(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, loc)
	tree := geo.DemoTree()
	var leaves []*geo.Region
	tree.Walk(func(r *geo.Region) {
		if len(r.Children) == 0 {
			leaves = append(leaves, r)
		}
	})
	var items []update.Item
	add := func(r *geo.Region, n int) {
		p, _ := planar.CentroidArea(r.Geometry)
		for range n {
			items = append(items, update.Item{Type: "case.reported", New: true, Region: tree.Path(r.Code), Point: &[2]float64{p[0], p[1]}, At: now.Add(-time.Minute)})
		}
	}
	const res = 9
	cluster := leaves[9]
	w := geo.ContiguityWeights(leaves, 1e-7)
	near, _ := w.Row(9)
	lone := 0
	for k := range leaves {
		if !slices.Contains(near, k) { // lone cases, away from the cluster
			add(leaves[k], 1)
			lone++
		}
	}
	add(cluster, 3) // the least the floor lets be hot
	clusterCell := geo.HexString(func() uint64 {
		p, _ := planar.CentroidArea(cluster.Geometry)
		return geo.HexCell(p, res)
	}())
	type cell struct{ Count, Bin int }
	run := func(floor int, normal bool) (map[string]cell, int) {
		// The study area holds fewer events than the overall floor: it is off here, this test is
		// about the local one and the p-values.
		h := NewHotspots(tree, clock.NewFake(now), HotspotConfig{Every: time.Nanosecond, HexRes: res, HexMinLocal: floor,
			Floors: HotspotFloors{MinEvents: -1, NormalTails: normal}})
		h.Observe(items)
		st, err := HotspotSource{H: h}.Open(Topic{Name: "hotspots:root:1h", Kind: "hotspots", Region: "root", Window: "1h"})
		if err != nil {
			t.Fatal(err)
		}
		var snap struct {
			Hex    map[string]cell
			Sparse int `json:"hex_sparse"`
		}
		b, _ := json.Marshal(st.Snapshot())
		if err := json.Unmarshal(b, &snap); err != nil {
			t.Fatal(err)
		}
		return snap.Hex, snap.Sparse
	}
	loneHot := func(hex map[string]cell) int {
		k := 0
		for _, c := range hex {
			if c.Count == 1 && c.Bin > 0 {
				k++
			}
		}
		return k
	}
	plain, _ := run(-1, true)
	if loneHot(plain) < lone/2 || plain[clusterCell].Bin != 3 {
		t.Fatalf("without the floor: %d of %d lone cases hot (the fixture must show the problem), cluster %+v", loneHot(plain), lone, plain[clusterCell])
	}
	floored, sparse := run(0, true) // the default floor, normal p-values
	if loneHot(floored) != 0 || floored[clusterCell].Bin != 3 || sparse == 0 {
		t.Fatalf("with the floor: %d lone cases hot, cluster %+v, %d cells set back", loneHot(floored), floored[clusterCell], sparse)
	}
	tails, _ := run(-1, false) // no floor, p-values from the counts
	if loneHot(tails) != 0 || tails[clusterCell].Bin < 2 {
		t.Fatalf("with count tails: %d lone cases hot, cluster %+v", loneHot(tails), tails[clusterCell])
	}
	t.Logf("without the floor %d of %d lone cases hot; with it none, cluster %+v, %d cells set back; count tails alone: none, cluster %+v",
		loneHot(plain), lone, floored[clusterCell], sparse, tails[clusterCell])
}
