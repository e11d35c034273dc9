package app

import (
	"testing"
	"time"

	"zhili/catalog"
	"zhili/event"
	"zhili/geo"
	"zhili/roster"
)

// The demo's duty check-ins pass the contract (the roster's grid staff, in their grids), come
// before now, and put most of the staff in office today on duty.
func TestDemoDutyStart(t *testing.T) {
	tree := geo.DemoTree()
	ro := roster.Demo(tree, catalog.Default(), 7)
	for _, now := range []time.Time{
		time.Date(2026, 11, 20, 10, 0, 0, 0, time.FixedZone("CST", 8*3600)),
		time.Date(2026, 11, 20, 6, 30, 0, 0, time.FixedZone("CST", 8*3600)), // before the working day
	} {
		lines := demoDutyStart(ro, now, 7)
		rules := event.DefaultRules()
		rules.KnownStaff = ro.KnownStaff
		rules.KnownRegion = func(code string) bool { return tree.Get(code) != nil }
		on := 0
		for i, l := range lines {
			ev, _, err := event.Decode(l, &rules, now)
			if err != nil {
				t.Fatalf("line %d %s: %v", i, l, err)
			}
			if ev.At.After(now) || ev.Type != event.StaffDuty {
				t.Fatalf("line %d %s: after %v", i, l, now)
			}
			if ev.Duty.State == event.DutyOn {
				on++
			}
		}
		if len(lines) == 0 || on*10 < len(lines)*6 || on == len(lines) {
			t.Errorf("%v: %d of %d staff on duty", now, on, len(lines))
		}
	}
}
