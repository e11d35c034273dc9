package dashboard

import (
	"context"
	"strings"
	"testing"
	"time"

	"zhili/alerts"
	"zhili/clock"
)

// Three reports of one category within 30 m over two days are one place with three reports;
// reports 200 m apart, or of another category at the same point, are no place; a shorter
// window counts only its own reports.
func TestRepeatSignalsPlaces(t *testing.T) {
	l := latticeTree(t, 2, 2, 5, 0.004) // grids of about 440 m
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	st := &hotStore{}
	at := func(id, cat string, i, j int, dLon, dLat float64, ago time.Duration) {
		p := [2]float64{l.x0 + (float64(i)+0.5)*l.d + dLon, l.y0 + (float64(j)+0.5)*l.d + dLat}
		st.recs = append(st.recs, hotRec{CaseID: id, Category: cat, RegionPath: l.tree.Path(l.gridCode[i][j]), At: now.Add(-ago), Point: &p})
	}
	// One place: within 30 m of each other (0.0001° lat ≈ 11 m, 0.0002° lon ≈ 19 m).
	at("A1", "environment", 2, 2, 0, 0, 47*time.Hour)
	at("A2", "environment", 2, 2, 0, 0.0001, 20*time.Hour)
	at("A3", "environment", 2, 2, 0.0002, 0, 2*time.Hour)
	// Another category at the same point: not the same complaint.
	at("B1", "traffic", 2, 2, 0, 0, 5*time.Hour)
	// 200 m apart (0.0018° lat): two places.
	at("C1", "environment", 7, 7, 0, 0, 30*time.Hour)
	at("C2", "environment", 7, 7, 0, 0.0018, 3*time.Hour)
	// Before the window.
	at("D1", "traffic", 2, 2, 0, 0, 9*24*time.Hour)

	names := func(code string) (string, string) {
		if code == "environment" {
			return "环境卫生", "environment"
		}
		return "", ""
	}
	p := &RepeatSignals{St: st, Tree: l.tree, Clk: clock.NewFake(now), CategoryName: names}
	week, day := 7*24*time.Hour, 24*time.Hour
	sigs := p.Signals(context.Background(), now, []time.Duration{week, day, week, 40 * 24 * time.Hour})
	// The day holds A2 and A3, the week all three; windows beyond MaxRepeatWindow are not measured.
	if len(sigs) != 2 || sigs[0].Window != day || sigs[0].Value != 2 || sigs[0].Subject != sigs[1].Subject {
		t.Fatalf("signals %+v", sigs)
	}
	s := sigs[1]
	grid := l.tree.Get(l.gridCode[2][2])
	if s.Kind != alerts.KindRepeat || s.Window != week || s.Value != 3 || s.Region != grid.Code || s.RegionName != grid.Name ||
		len(s.RegionPath) != 3 || s.RegionPath[2] != grid.Code || s.Category != "environment" || s.CategoryName != "环境卫生" ||
		!strings.HasPrefix(s.Subject, grid.Code+"/environment/") || s.SubjectName != grid.Name+" 环境卫生 同一地点（首件 A1）" ||
		s.Detail["first_case"] != "A1" || s.Detail["last_case"] != "A3" {
		t.Fatalf("signal %+v", s)
	}

	p2 := &RepeatSignals{St: st, Tree: l.tree, Clk: clock.NewFake(now)}
	sigs = p2.Signals(context.Background(), now, []time.Duration{day})
	if len(sigs) != 1 || sigs[0].Value != 2 || sigs[0].Window != day {
		t.Fatalf("one day: %+v", sigs)
	}
	if sigs[0].SubjectName != grid.Name+" environment 同一地点（首件 A2）" {
		t.Fatalf("without names the code stands in: %q", sigs[0].SubjectName)
	}
	for _, x := range sigs[0].Detail {
		if strings.Contains(x, "114.") || strings.Contains(x, "32.") {
			t.Fatalf("detail carries a point: %v", sigs[0].Detail)
		}
	}
}

// The place keeps its key while its reports grow, and the measurement is made at most once a
// minute (the next one sees the new report).
func TestRepeatSignalsThrottleAndKey(t *testing.T) {
	l := latticeTree(t, 2, 2, 5, 0.004)
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	st := &hotStore{}
	add := func(id string, ago time.Duration, dLat float64) {
		p := [2]float64{l.x0 + 1.5*l.d, l.y0 + 1.5*l.d + dLat}
		st.recs = append(st.recs, hotRec{CaseID: id, Category: "road", RegionPath: l.tree.Path(l.gridCode[1][1]), At: now.Add(-ago), Point: &p})
	}
	add("R1", 3*24*time.Hour, 0)
	add("R2", 24*time.Hour, 0.0002)
	p := &RepeatSignals{St: st, Tree: l.tree, Clk: clock.NewFake(now)}
	ws := []time.Duration{7 * 24 * time.Hour}
	a := p.Signals(context.Background(), now, ws)
	if len(a) != 1 || a[0].Value != 2 {
		t.Fatalf("first %+v", a)
	}
	add("R3", -30*time.Second, 0.0001) // reported 30 s after the first measurement
	b := p.Signals(context.Background(), now.Add(40*time.Second), ws)
	if len(b) != 1 || b[0].Value != 2 {
		t.Fatalf("within the minute %+v", b)
	}
	c := p.Signals(context.Background(), now.Add(61*time.Second), ws)
	if len(c) != 1 || c[0].Value != 3 || c[0].Subject != a[0].Subject {
		t.Fatalf("after a minute %+v (key %s)", c, a[0].Subject)
	}
	if p.Signals(context.Background(), now, nil) != nil {
		t.Fatal("no repeat rule: no signal")
	}
}

// A report without a point or address matches nothing; the signals feed the engine's repeat
// rule (min 3, window 7d) and raise one alert titled by the grid, the category, 同一地点 and
// the place's first case.
func TestRepeatSignalsRaise(t *testing.T) {
	l := latticeTree(t, 2, 2, 5, 0.004)
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	st := &hotStore{}
	pt := [2]float64{l.x0 + 0.5*l.d, l.y0 + 0.5*l.d}
	for i, ago := range []time.Duration{50 * time.Hour, 26 * time.Hour, 4 * time.Hour} {
		st.recs = append(st.recs, hotRec{CaseID: "P" + string(rune('1'+i)), Category: "noise", RegionPath: l.tree.Path(l.gridCode[0][0]), At: now.Add(-ago), Point: &pt})
	}
	st.report("U1", l.tree.Path(l.gridCode[0][0]), "noise", now.Add(-time.Hour))
	p := &RepeatSignals{St: st, Tree: l.tree, Clk: clock.NewFake(now)}
	rules, ps := alerts.ParseRules([]byte("rules:\n  - id: repeat-place\n    name: 同一地点重复投诉\n    kind: repeat\n    severity: warning\n    min: 3\n    window: 7d\n"), "t.yaml")
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	eng, err := alerts.NewEngine(rules, alerts.Options{Clock: clock.NewFake(now)})
	if err != nil {
		t.Fatal(err)
	}
	p.Rules = eng.Rules
	sigs := p.Provide(context.Background(), now)
	if len(sigs) != 1 || sigs[0].Value != 3 {
		t.Fatalf("signals %+v", sigs)
	}
	raised, err := eng.Evaluate(now, sigs)
	if err != nil || len(raised) != 1 {
		t.Fatalf("raised %+v, %v", raised, err)
	}
	grid := l.tree.Get(l.gridCode[0][0])
	if want := grid.Name + " noise 同一地点（首件 P1） 重复投诉 3 次 (近7天, ≥3)"; raised[0].Title != want {
		t.Fatalf("title %q, want %q", raised[0].Title, want)
	}
}
