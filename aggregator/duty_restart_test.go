package aggregator_test

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"zhili/catalog"
	"zhili/clock"
	"zhili/event"
	"zhili/geo"
	"zhili/roster"
	"zhili/store"
)

// Grid staff duty states (staff.duty) are kept by the aggregator: a restart rebuilds them
// from the history store's replay, corrections and late records applied as before. Both
// stores (the duty object rides in the content column of the records of no case).
func TestDutySurvivesRestart(t *testing.T) { onBothStores(t, dutyRestartCheck) }

func dutyRestartCheck(t *testing.T, open func(t *testing.T) store.Store) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, loc)
	clk := clock.NewFake(now)
	tree := geo.DemoTree()
	ro := roster.Demo(tree, catalog.Default(), 1)
	walDir := filepath.Join(t.TempDir(), "intake")
	day := now.Format("2006-01-02")
	// Two grids' staff in office today.
	var staff []roster.GridStaff
	grids := map[string]bool{}
	for _, g := range ro.GridStaff {
		if g.At(day) && (grids[g.Grid] || len(grids) < 2) {
			grids[g.Grid] = true
			staff = append(staff, g)
		}
	}
	if len(staff) < 3 {
		t.Fatalf("demo roster: %d staff in two grids", len(staff))
	}
	staffing := func(ov map[string]any) map[string]any {
		return ov["staffing"].(map[string]any)["totals"].(map[string]any)
	}

	rules := event.DefaultRules()
	rules.KnownRegion = func(code string) bool { return tree.Get(code) != nil }
	rules.KnownStaff = ro.KnownStaff
	rig := restartRig{tree: tree, loc: loc, clk: clk, walDir: walDir, rules: rules, roster: roster.NewLive(ro)}
	run := func(body string, lines int, wantOn int64) map[string]any {
		return rig.run(t, open, body, lines, func(ov map[string]any) bool { return staffing(ov)["on_duty"] == wantOn },
			func(ov map[string]any) string {
				return fmt.Sprintf("staffing %v, want on_duty %d", staffing(ov), wantOn)
			})
	}

	at := func(h int) string { return now.Add(time.Duration(h-12) * time.Hour).Format(time.RFC3339) }
	var body strings.Builder
	lines := 0
	line := func(id string, g roster.GridStaff, state, at, sup string) {
		s := ""
		if sup != "" {
			s = fmt.Sprintf(`,"supersedes":%q`, sup)
		}
		fmt.Fprintf(&body, `{"id":%q,"type":"staff.duty","at":%q,"duty":{"staff":%q,"grid":%q,"state":%q}%s}`+"\n", id, at, g.ID, g.Grid, state, s)
		lines++
	}
	// Everyone checks in at 8:00; the first checks out at 11:00, then a late check-in of 10:00
	// arrives (changes nothing); the second's 8:00 check-in is corrected to a check-out.
	for i, g := range staff {
		line(fmt.Sprintf("in%d", i), g, "on", at(8), "")
	}
	line("out0", staff[0], "off", at(11), "")
	line("late0", staff[0], "on", at(10), "")
	line("fix1", staff[1], "off", at(8), "in1")
	want := int64(len(staff) - 2)
	before := run(body.String(), lines, want)
	after := run("", 0, want)
	if !reflect.DeepEqual(before["staffing"], after["staffing"]) {
		t.Errorf("staffing after the restart %v, before %v", after["staffing"], before["staffing"])
	}
	if g := staffing(before)["grids"].(int64); g < 2 {
		t.Errorf("grids %d", g)
	}
}
