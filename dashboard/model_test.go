package dashboard

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"zhili/geo"
	"zhili/internal/clock"
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
	m := NewModel(tree, loc, clk, []string{"environment", "dispute"}, nil)
	root := tree.Root.Code
	town := tree.Root.Children[0].Code
	today := DayOf(now, loc)
	m.Apply(&Update{Reset: true, Counters: []Counter{
		{Key{root, "environment", today, MNew}, 3}, {Key{town, "environment", today, MNew}, 2},
		{Key{root, "environment", 0, MOpen}, 5}, {Key{root, "environment", today, MDispatched}, 4},
		{Key{root, "environment", today, MSigned}, 4}, {Key{root, "environment", today, MSignedInTime}, 3},
		{Key{root, "environment", today - 1, MNew}, 9}, // yesterday: not in today's totals
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
	if c := snap["children"].(map[string]any)[town].(map[string]any); c["new_today"] != int64(2) {
		t.Fatalf("child %v", c)
	}
	if _, changed := st.Advance(); changed {
		t.Fatal("delta without change")
	}
	m.Apply(&Update{Counters: []Counter{{Key{town, "dispute", today, MNew}, 1}, {Key{root, "dispute", today, MNew}, 1}}})
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
	m.Apply(&Update{Items: []Item{
		{ID: "a", Region: []string{root, town}}, {ID: "b", Region: []string{root, grid.Parent, grid.Code}},
		{ID: "c", Region: []string{root, town}}, {ID: "d", Region: []string{root, town}},
	}})
	d, changed = cs.Advance()
	if !changed {
		t.Fatal("no cases delta")
	}
	evs := d.(map[string]any)["events"].([]Item)
	if len(evs) != 3 || evs[0].ID != "a" || evs[2].ID != "d" {
		t.Fatalf("cases delta %+v", evs)
	}
	snapEvs := cs.Snapshot().(map[string]any)["events"].([]Item)
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
	m := NewModel(tree, loc, clk, []string{"environment"}, nil)
	var asked []string
	m.OnGap(func(s string) { asked = append(asked, s) })
	root := tree.Root.Code
	day := DayOf(now, loc)
	k := Key{root, "environment", day, MNew}
	total := func() int64 { return m.get(root, "", day, MNew) }

	m.Apply(&Update{Source: "p0", Epoch: 1, Seq: 5, Reset: true, Checkpoint: 40, Counters: []Counter{{k, 3}}})
	m.Apply(&Update{Source: "p1", Part: 1, Epoch: 7, Seq: 1, Reset: true, Checkpoint: 9, Counters: []Counter{{k, 10}}})
	if got := total(); got != 13 {
		t.Fatalf("after two resets: %d, want 13", got)
	}
	m.Apply(&Update{Source: "p0", Epoch: 1, Seq: 6, Counters: []Counter{{k, 1}}})
	m.Apply(&Update{Source: "p0", Epoch: 1, Seq: 6, Counters: []Counter{{k, 1}}}) // duplicate
	m.Apply(&Update{Source: "p0", Epoch: 1, Seq: 5, Counters: []Counter{{k, 1}}}) // covered by the reset
	if got := total(); got != 14 {
		t.Fatalf("after a delta and two repeats: %d, want 14", got)
	}
	m.Apply(&Update{Source: "p1", Epoch: 7, Seq: 3, Counters: []Counter{{k, 100}}}) // seq 2 missing
	if got := total(); got != 14 {
		t.Fatalf("a delta after a gap was applied: %d, want 14", got)
	}
	if len(asked) != 1 || asked[0] != "p1" {
		t.Fatalf("resync requests %v, want [p1]", asked)
	}
	// p1's new owner (another epoch) resets its share: p0's is untouched.
	m.Apply(&Update{Source: "p1", Part: 1, Epoch: 8, Seq: 1, Reset: true, Checkpoint: 12, Counters: []Counter{{k, 11}}})
	m.Apply(&Update{Source: "p1", Epoch: 7, Seq: 2, Counters: []Counter{{k, 100}}}) // the old epoch
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
	m := NewModel(tree, loc, clock.NewFake(now), nil, nil)
	today := DayOf(now, loc)
	d := DeptPrefix + "county.urban-mgmt"
	m.Apply(&Update{Reset: true, Counters: []Counter{
		{Key{d, "environment", today, MDispatched}, 4}, {Key{d, "environment", today, MSignedInTime}, 3},
		{Key{d, "environment", today, MResolved}, 2}, {Key{d, "environment", today, MReopened}, 1},
		{Key{d, "environment", today, MSatisfied}, 1}, {Key{d, "environment", today, MUnsatisfied}, 1},
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
