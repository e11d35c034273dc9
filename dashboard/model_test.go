package dashboard

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"zhili/calendar"
	"zhili/clock"
	"zhili/geo"
	"zhili/governance"
	"zhili/update"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

func TestMergePatch(t *testing.T) {
	old := map[string]any{"a": int64(1), "b": map[string]any{"x": int64(1), "y": int64(2)}, "gone": "z"}
	cur := map[string]any{"a": int64(1), "b": map[string]any{"x": int64(1), "y": int64(3)}, "new": nil}
	p := mergePatch(old, cur)
	want := map[string]any{"b": map[string]any{"y": int64(3)}, "gone": nil, "new": nil}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("patch %v, want %v", p, want)
	}
	if mergePatch(cur, cur) != nil {
		t.Fatal("patch of equal states not nil")
	}
}

func TestOverviewAndCasesTopics(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, loc)
	clk := clock.NewFake(now)
	tree := geo.DemoTree()
	m := NewModel(ModelConfig{Tree: tree, Loc: loc, Clock: clk, Categories: []string{"environment", "dispute"}})
	root := tree.Root.Code
	town := tree.Root.Children[0].Code
	today := update.DayOf(now, loc)
	m.Apply(&update.Update{Reset: true, Counters: []update.Counter{
		{Key: update.Key{Region: root, Category: "environment", Day: today, Metric: update.MNew}, N: 3}, {Key: update.Key{Region: town, Category: "environment", Day: today, Metric: update.MNew}, N: 2},
		{Key: update.Key{Region: root, Category: "environment", Day: 0, Metric: update.MOpen}, N: 5}, {Key: update.Key{Region: root, Category: "environment", Day: today, Metric: update.MDispatched}, N: 6},
		// Two of the six dispatches are unsigned within their window: the response rate waits for them.
		{Key: update.Key{Region: root, Category: "environment", Day: today, Metric: update.MAwaitingSign}, N: 2},
		{Key: update.Key{Region: root, Category: "environment", Day: today, Metric: update.MSigned}, N: 4}, {Key: update.Key{Region: root, Category: "environment", Day: today, Metric: update.MSignedInTime}, N: 3},
		{Key: update.Key{Region: root, Category: "environment", Day: today - 1, Metric: update.MNew}, N: 9}, // yesterday: not in today's totals
	}})
	st, err := OverviewSource{M: m}.Open(Topic{Name: "overview:root", Kind: "overview", Region: "root"})
	if err != nil {
		t.Fatal(err)
	}
	snap := st.Snapshot().(map[string]any)
	tot := snap["totals"].(map[string]any)
	if tot["new_today"] != int64(3) || tot["open"] != int64(5) {
		t.Fatalf("totals %v", tot)
	}
	if r := snap["rates"].(map[string]any)["response"]; r != 0.75 {
		t.Fatalf("response rate %v", r)
	}
	if snap["rates"].(map[string]any)["satisfaction"] != nil {
		t.Fatal("satisfaction without sample should be null")
	}
	// The denominators go with the rates, so that a screen can say 样本不足 for a rate of 4 cases,
	// and the dispatches pending beside them.
	if n := snap["rates_n"].(map[string]any); n["response"] != int64(4) || n["resolution"] != int64(6) || n["satisfaction"] != int64(0) ||
		snap["min_sample"] != int64(governance.DefaultMinSample) {
		t.Fatalf("rates_n %v, min_sample %v", n, snap["min_sample"])
	}
	if p := snap["rates_pending"].(map[string]any); p["response"] != int64(2) {
		t.Fatalf("rates_pending %v", p)
	}
	if c := snap["children"].(map[string]any)[town].(map[string]any); c["new_today"] != int64(2) {
		t.Fatalf("child %v", c)
	}
	if _, changed := st.Advance(); changed {
		t.Fatal("delta without change")
	}
	m.Apply(&update.Update{Counters: []update.Counter{{Key: update.Key{Region: town, Category: "dispute", Day: today, Metric: update.MNew}, N: 1}, {Key: update.Key{Region: root, Category: "dispute", Day: today, Metric: update.MNew}, N: 1}}})
	d, changed := st.Advance()
	if !changed {
		t.Fatal("no delta after change")
	}
	b, _ := json.Marshal(d)
	want := `{"by_category":{"dispute":1},"children":{"` + town + `":{"new_today":3}},"totals":{"new_today":4}}`
	if string(b) != want {
		t.Fatalf("delta %s\nwant  %s", b, want)
	}
	// Midnight: a new day starts from zero.
	clk.Set(now.Add(14 * time.Hour))
	d, _ = st.Advance()
	b, _ = json.Marshal(d)
	var p map[string]any
	_ = json.Unmarshal(b, &p)
	if p["day"] != "2026-11-28" || p["totals"].(map[string]any)["new_today"] != float64(0) {
		t.Fatalf("day change delta %s", b)
	}

	// cases: only items in the subtree; snapshot then appended deltas.
	grid := tree.Root.Children[1].Children[0]
	cs, err := CasesSource{M: m, Keep: 2}.Open(Topic{Name: "cases:" + town, Kind: "cases", Region: town})
	if err != nil {
		t.Fatal(err)
	}
	m.Apply(&update.Update{Items: []update.Item{
		{ID: "a", Region: []string{root, town}}, {ID: "b", Region: []string{root, grid.Parent, grid.Code}},
		{ID: "c", Region: []string{root, town}}, {ID: "d", Region: []string{root, town}},
	}})
	d, changed = cs.Advance()
	if !changed {
		t.Fatal("no cases delta")
	}
	evs := d.(map[string]any)["events"].([]update.Item)
	if len(evs) != 3 || evs[0].ID != "a" || evs[2].ID != "d" {
		t.Fatalf("cases delta %+v", evs)
	}
	snapEvs := cs.Snapshot().(map[string]any)["events"].([]update.Item)
	if len(snapEvs) != 2 || snapEvs[1].ID != "d" {
		t.Fatalf("snapshot keeps the last 2: %+v", snapEvs)
	}
	if _, err := (CasesSource{M: m}).Open(Topic{Kind: "cases", Region: "nowhere"}); err == nil {
		t.Fatal("unknown region accepted")
	}
}

// Several aggregators (one per intake partition) publish into one model: their counters sum,
// a reset replaces only its own source's share, and a gap in a source's sequence is not
// applied but makes the model ask that source for a resync.
func TestModelSources(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, loc)
	clk := clock.NewFake(now)
	tree := geo.DemoTree()
	m := NewModel(ModelConfig{Tree: tree, Loc: loc, Clock: clk, Categories: []string{"environment"}})
	var asked []string
	m.OnGap(func(s string) { asked = append(asked, s) })
	root := tree.Root.Code
	day := update.DayOf(now, loc)
	k := update.Key{Region: root, Category: "environment", Day: day, Metric: update.MNew}
	total := func() int64 { return m.get(root, "", day, update.MNew) }

	m.Apply(&update.Update{Source: "p0", Epoch: 1, Seq: 5, Reset: true, Checkpoint: 40, Counters: []update.Counter{{Key: k, N: 3}}})
	m.Apply(&update.Update{Source: "p1", Part: 1, Epoch: 7, Seq: 1, Reset: true, Checkpoint: 9, Counters: []update.Counter{{Key: k, N: 10}}})
	if got := total(); got != 13 {
		t.Fatalf("after two resets: %d, want 13", got)
	}
	m.Apply(&update.Update{Source: "p0", Epoch: 1, Seq: 6, Counters: []update.Counter{{Key: k, N: 1}}})
	m.Apply(&update.Update{Source: "p0", Epoch: 1, Seq: 6, Counters: []update.Counter{{Key: k, N: 1}}}) // duplicate
	m.Apply(&update.Update{Source: "p0", Epoch: 1, Seq: 5, Counters: []update.Counter{{Key: k, N: 1}}}) // covered by the reset
	if got := total(); got != 14 {
		t.Fatalf("after a delta and two repeats: %d, want 14", got)
	}
	m.Apply(&update.Update{Source: "p1", Epoch: 7, Seq: 3, Counters: []update.Counter{{Key: k, N: 100}}}) // seq 2 missing
	if got := total(); got != 14 {
		t.Fatalf("a delta after a gap was applied: %d, want 14", got)
	}
	if len(asked) != 1 || asked[0] != "p1" {
		t.Fatalf("resync requests %v, want [p1]", asked)
	}
	// p1's new owner (another epoch) resets its share: p0's is untouched.
	m.Apply(&update.Update{Source: "p1", Part: 1, Epoch: 8, Seq: 1, Reset: true, Checkpoint: 12, Counters: []update.Counter{{Key: k, N: 11}}})
	m.Apply(&update.Update{Source: "p1", Epoch: 7, Seq: 2, Counters: []update.Counter{{Key: k, N: 100}}}) // the old epoch
	if got := total(); got != 15 {
		t.Fatalf("after p1's new reset: %d, want 4+11", got)
	}
	src := m.Sources()
	if len(src) != 2 || src[1].FirstCP != 9 || src[1].Epoch != 8 || src[0].Seq != 6 {
		t.Fatalf("sources %+v", src)
	}
}

// The root overview carries today's figures per handling department.
func TestOverviewDepts(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, loc)
	tree := geo.DemoTree()
	m := NewModel(ModelConfig{Tree: tree, Loc: loc, Clock: clock.NewFake(now)})
	today := update.DayOf(now, loc)
	d := update.DeptPrefix + "county.urban-mgmt"
	m.Apply(&update.Update{Reset: true, Counters: []update.Counter{
		{Key: update.Key{Region: d, Category: "environment", Day: today, Metric: update.MDispatched}, N: 4}, {Key: update.Key{Region: d, Category: "environment", Day: today, Metric: update.MSignedInTime}, N: 3},
		{Key: update.Key{Region: d, Category: "environment", Day: today, Metric: update.MResolved}, N: 2}, {Key: update.Key{Region: d, Category: "environment", Day: today, Metric: update.MReopened}, N: 1},
		{Key: update.Key{Region: d, Category: "environment", Day: today, Metric: update.MSatisfied}, N: 1}, {Key: update.Key{Region: d, Category: "environment", Day: today, Metric: update.MUnsatisfied}, N: 1},
	}})
	st, _ := OverviewSource{M: m}.Open(Topic{Name: "overview:root", Kind: "overview", Region: "root"})
	depts := st.Snapshot().(map[string]any)["depts"].(map[string]any)
	u := depts["county.urban-mgmt"].(map[string]any)
	r := u["rates"].(map[string]any)
	if r["response"] != 0.75 || r["resolution"] != 0.25 || r["satisfaction"] != 0.5 || u["dispatched"] != int64(4) {
		t.Fatalf("department figures %v", u)
	}
	town := tree.Root.Children[0].Code
	st2, _ := OverviewSource{M: m}.Open(Topic{Name: "overview:" + town, Kind: "overview", Region: town})
	if len(st2.Snapshot().(map[string]any)["depts"].(map[string]any)) != 0 {
		t.Fatal("department figures on a township overview")
	}
}

// The overview's intake by source and whistle rate: every source listed (zeros included), the
// rate today's whistles ÷ today's new cases (null without new cases), a delta only for what
// changed.
func TestOverviewBySourceAndWhistles(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, loc)
	tree := geo.DemoTree()
	m := NewModel(ModelConfig{Tree: tree, Loc: loc, Clock: clock.NewFake(now)})
	today := update.DayOf(now, loc)
	town := tree.Root.Children[0].Code
	open := func(region string) TopicState {
		st, err := OverviewSource{M: m}.Open(Topic{Name: "overview:" + region, Kind: "overview", Region: region})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	empty := open("root").Snapshot().(map[string]any)
	if w := empty["whistles"].(map[string]any); w["rate"] != nil || w["blown_today"] != int64(0) {
		t.Fatalf("whistles without new cases %v, want a null rate", w)
	}
	if len(empty["by_source"].(map[string]any)) != len(update.NewBySource) {
		t.Fatalf("by_source %v: want every source listed", empty["by_source"])
	}
	c := func(region, cat string, day int32, met update.Metric, n int64) update.Counter {
		return update.Counter{Key: update.Key{Region: region, Category: cat, Day: day, Metric: met}, N: n}
	}
	root := tree.Root.Code
	m.Apply(&update.Update{Reset: true, Counters: []update.Counter{
		c(root, "environment", today, update.MNew, 6), c(root, "environment", today, update.MNewHotline, 4), c(root, "environment", today, update.MNewGrid, 2),
		c(root, "dispute", today, update.MNew, 2), c(root, "dispute", today, update.MNewHotline, 1), c(root, "dispute", today, update.MNewOther, 1),
		c(root, "dispute", today-1, update.MNewSensor, 9), // yesterday
		c(root, "environment", today, update.MWhistles, 2),
		c(town, "environment", today, update.MNew, 3), c(town, "environment", today, update.MNewApp, 3),
	}})
	st := open("root")
	snap := st.Snapshot().(map[string]any)
	want := map[string]any{"hotline12345": int64(5), "grid": int64(2), "app": int64(0), "sensor": int64(0),
		"police110": int64(0), "center": int64(0), "other": int64(1)}
	if !reflect.DeepEqual(snap["by_source"], want) {
		t.Fatalf("root by_source %v, want %v", snap["by_source"], want)
	}
	if w := snap["whistles"].(map[string]any); w["blown_today"] != int64(2) || w["rate"] != 0.25 {
		t.Fatalf("root whistles %v, want 2 blown, rate 2/8", w)
	}
	ts := open(town).Snapshot().(map[string]any)
	if ts["by_source"].(map[string]any)["app"] != int64(3) || ts["whistles"].(map[string]any)["rate"] != 0.0 {
		t.Fatalf("township by_source %v, whistles %v", ts["by_source"], ts["whistles"])
	}
	m.Apply(&update.Update{Counters: []update.Counter{c(root, "environment", today, update.MWhistles, 1)}})
	d, changed := st.Advance()
	b, _ := json.Marshal(d)
	if !changed || string(b) != `{"whistles":{"blown_today":3,"rate":0.375}}` {
		t.Fatalf("delta after a whistle %s", b)
	}
}

// Updates carry WGS-84 points; screens get the display CRS, converted once where the point
// leaves for a screen (the cases feed, the whistle board), while the hex hot spots count the
// WGS-84 point itself.
func TestDisplayCRSAtTheEdge(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, loc)
	clk := clock.NewFake(now)
	tree := geo.DemoTree()
	m := NewModel(ModelConfig{Tree: tree, Loc: loc, Clock: clk, DisplayCRS: "gcj02"})
	h := NewHotspots(tree, clk, HotspotConfig{Every: time.Nanosecond, HexMinLocal: -1})
	m.SetHotspots(h)
	leaf := tree.Root.Children[0]
	for len(leaf.Children) > 0 {
		leaf = leaf.Children[0]
	}
	c, _ := planar.CentroidArea(leaf.Geometry)
	wgs := [2]float64{c[0], c[1]}
	gx, gy := geo.FromWGS84("gcj02", wgs[0], wgs[1])
	m.Apply(&update.Update{Reset: true})
	m.Apply(&update.Update{
		Items: []update.Item{{ID: "e1", CaseID: "C1", Type: "case.reported", New: true, Region: tree.Path(leaf.Code),
			Point: &[2]float64{wgs[0], wgs[1]}, At: now.Add(-time.Minute)}},
		Whistles: []update.Whistle{{ID: "w1", CaseID: "C1", Kind: "advance", Region: tree.Path(leaf.Code),
			Point: &[2]float64{wgs[0], wgs[1]}, Blown: now.Add(-time.Minute), Depts: []update.WhistleDept{{Dept: "county.water"}}}},
	})
	near := func(got []float64, x, y float64) bool { return math.Abs(got[0]-x) < 1e-6 && math.Abs(got[1]-y) < 1e-6 }

	cs, err := CasesSource{M: m}.Open(Topic{Name: "cases:root", Kind: "cases", Region: "root"})
	if err != nil {
		t.Fatal(err)
	}
	evs := cs.Snapshot().(map[string]any)["events"].([]update.Item)
	if len(evs) != 1 || evs[0].Point == nil || !near(evs[0].Point[:], gx, gy) {
		t.Fatalf("feed point %v, want GCJ-02 %.6f,%.6f (WGS-84 %v)", evs, gx, gy, wgs)
	}
	if near(evs[0].Point[:], wgs[0], wgs[1]) {
		t.Fatal("feed point left unconverted")
	}
	ws, err := WhistlesSource{M: m, Clocks: governance.DefaultClocks(), Cal: calendar.Official(loc, 2026, 2027)}.Open(Topic{Name: "whistles:root", Kind: "whistles", Region: "root"})
	if err != nil {
		t.Fatal(err)
	}
	w := ws.Snapshot().(map[string]any)["whistles"].(map[string]any)["w1"].(map[string]any)
	if p := w["point"].([]any); !near([]float64{p[0].(float64), p[1].(float64)}, gx, gy) {
		t.Fatalf("whistle point %v, want GCJ-02 %.6f,%.6f", p, gx, gy)
	}
	hs, err := HotspotSource{H: h}.Open(Topic{Name: "hotspots:root:1h", Kind: "hotspots", Region: "root", Window: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	cell := geo.HexString(geo.HexCell(orb.Point{wgs[0], wgs[1]}, geo.DefaultHexRes))
	hex := hs.Snapshot().(map[string]any)["hex"].(map[string]any)
	if got, ok := hex[cell].(map[string]any); !ok || got["count"] != int64(1) {
		t.Fatalf("hex cell %s of the WGS-84 point: %v; want count 1", cell, hex[cell])
	}
}
