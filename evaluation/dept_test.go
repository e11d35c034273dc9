package evaluation

import (
	"testing"

	"zhili/roster"
)

// Department heads take their unit's figures by the catalogue code, the whistle answers
// included; a unit is a subject of its own, compared with the units of its kind.
func TestDepartmentFigures(t *testing.T) {
	ro, rep := roster.Parse([]byte(`units:
  - {code: u.housing, zh: 住建局, kind: department, dept: county.housing}
  - {code: u.water, zh: 水利局, kind: department, dept: county.water}
  - {code: u.eco, zh: 生态环境局, kind: department, dept: county.eco-env}
cadres:
  - {id: H, name: 甲, post: 局长, post_type: 局长, unit: u.housing, leader: true, from: 2025-01-01}
  - {id: W, name: 乙, post: 局长, post_type: 局长, unit: u.water, leader: true, from: 2025-01-01}
  - {id: E, name: 丙, post: 局长, post_type: 局长, unit: u.eco, leader: true, from: 2025-01-01, to: 2026-08-01}
  - {id: E2, name: 丁, post: 局长, post_type: 局长, unit: u.eco, leader: true, from: 2026-08-01}
`), "depts.yaml", roster.Options{})
	if !rep.OK() {
		t.Fatal(rep.Problems)
	}
	cfg, _ := Config{RateAdjust: AdjustNone}.Resolved() // hand-worked on the rates as measured
	q3, _ := ParsePeriod("2026-Q3")
	res := Evaluate(cfg, Input{Period: q3, Roster: ro, Data: &PeriodData{ByDept: map[string]UnitData{
		"county.housing": {WhistleOnTime: Rate{9, 10}},  // 90 %
		"county.water":   {WhistleOnTime: Rate{6, 10}},  // 60 %
		"county.eco-env": {WhistleOnTime: Rate{12, 20}}, // 60 %
	}}})
	// 60, 60 and 90: (x − 60) ÷ (90 − 60) × 100.
	for id, want := range map[string]float64{"H": (90.0 - 60) / 30 * 100, "W": 0, "E2": 0} {
		s := res.Subjects[id]
		if s == nil || s.Data.Latent == nil || !near(*s.Data.Latent, want) || s.Data.Visible != nil {
			t.Errorf("%s: %+v", id, s)
		}
	}
	// E's term ended within the period and E2's began: both held the post in the period and
	// both are evaluated on the department's figures.
	if res.Subjects["E"] == nil || len(res.Groups["局长"]) != 4 {
		t.Errorf("peer group %v", res.Groups["局长"])
	}
	if u := res.Subjects["u.water"]; u == nil || u.Kind != KindUnit || u.PeerGroup != UnitPeerPrefix+"department" || u.Data.Latent == nil {
		t.Errorf("the water department as a subject: %+v", u)
	}
}

// A parent's figures add its children's counts (rates over the summed denominators).
func TestUnitDataPlus(t *testing.T) {
	a := UnitData{Resolution: Rate{3, 4}, Cases: 4, Repeats: 1, Closed: 2, Reopened: 1}
	b := UnitData{Resolution: Rate{1, 6}, Cases: 6, Closed: 3, Unsatisfied: 2, WhistleOnTime: Rate{1, 2}}
	got := a.Plus(b)
	want := UnitData{Resolution: Rate{3 + 1, 4 + 6}, Cases: 4 + 6, Repeats: 1, Closed: 2 + 3, Reopened: 1, Unsatisfied: 2, WhistleOnTime: Rate{1, 2}}
	if got != want {
		t.Errorf("%+v, want %+v", got, want)
	}
}
