package dashboard

import (
	"testing"
	"time"

	"zhili/catalog"
	"zhili/clock"
	"zhili/geo"
	"zhili/roster"
	"zhili/update"
)

// The overview's people layer: grid staffing from the roster and the duty states (counts
// only), summed up the tree, and the party organisation per line of the 王 structure.
func TestOverviewPeople(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, loc)
	tree := geo.DemoTree()
	ro := roster.Demo(tree, catalog.Default(), 1)
	m := NewModel(ModelConfig{Tree: tree, Loc: loc, Clock: clock.NewFake(now), Roster: roster.NewLive(ro)})
	day := now.Format("2006-01-02")
	var heads, workers int64
	var g0 roster.GridStaff
	for _, g := range ro.GridStaff {
		if g.At(day) {
			if g.Role == "head" {
				heads++
			} else {
				workers++
			}
			g0 = g
		}
	}
	ov := func() map[string]any {
		st, err := OverviewSource{M: m}.Open(Topic{Name: "overview:root", Kind: "overview", Region: "root"})
		if err != nil {
			t.Fatal(err)
		}
		return st.Snapshot().(map[string]any)
	}
	tot := func(o map[string]any) map[string]any {
		return o["staffing"].(map[string]any)["totals"].(map[string]any)
	}
	o := ov()
	if got := tot(o); got["heads"] != heads || got["workers"] != workers || got["on_duty"] != int64(0) || got["uncovered"] != got["grids"] {
		t.Fatalf("staffing before duty %v (heads %d workers %d)", got, heads, workers)
	}
	m.Apply(&update.Update{Reset: true, Duty: []update.Duty{{Staff: g0.ID, Grid: g0.Grid, On: true, At: now}}})
	o = ov()
	if got := tot(o); got["on_duty"] != int64(1) || got["uncovered"] != got["grids"].(int64)-1 {
		t.Fatalf("staffing after a check-in %v", got)
	}
	// The grid's township (a grandchild of the root) counts it among its cells.
	path := tree.Path(g0.Grid)
	cells := o["staffing"].(map[string]any)["cells"].(map[string]any)
	if c := cells[path[2]].(map[string]any); c["on_duty"] != int64(1) {
		t.Fatalf("cell %s %v", path[2], c)
	}
	// A later check-out from another source wins by event time.
	m.Apply(&update.Update{Source: "p1", Reset: true, Duty: []update.Duty{{Staff: g0.ID, Grid: g0.Grid, On: false, At: now.Add(time.Minute)}}})
	if got := tot(ov()); got["on_duty"] != int64(0) {
		t.Fatalf("after a later check-out %v", got)
	}
	// Party: the three lines, each with organisations and regions in force.
	lines := o["party"].(map[string]any)["lines"].([]any)
	if len(lines) != 3 {
		t.Fatalf("party lines %v", lines)
	}
	for _, l := range lines {
		x := l.(map[string]any)
		if x["orgs"].(int64) == 0 || x["regions"].(int64) == 0 || x["in_force"].(int64) > x["regions"].(int64) {
			t.Errorf("party line %v", x)
		}
	}
	if d := o["party"].(map[string]any)["depts"].(map[string]any); d["units"].(int64) == 0 {
		t.Errorf("departments %v", d)
	}
}
