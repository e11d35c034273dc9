package briefing

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"zhili/alerts"
	"zhili/calendar"
	"zhili/clock"
	"zhili/dashboard"
	"zhili/errs"
	"zhili/event"
	"zhili/forecast"
	"zhili/geo"
	"zhili/governance"
	"zhili/store"
)

var shanghai = func() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return l
}()

// fixture is a DuckDB store with a small history in the demo county (Asia/Shanghai):
//
//	Dec 1 (previous): p1 environment at grid g1, address X, dept A: signed in 20 min,
//	  resolved, closed satisfied; p2 the same place, dept A, deadline 11:00, never signed.
//	Dec 2 (the period): c1 environment g1 X, A: signed in 20 min, resolved 12:00 ≤ 18:00,
//	  closed satisfied; c2 environment g1 X, A: deadline 10:00, signed late, resolved 15:00,
//	  closed unsatisfied; c3 traffic g1, never dispatched; c4 environment g2, dept B, deadline
//	  20:00, never signed; c5 environment g1 X, never dispatched. An emergency whistle on c1
//	  summons X (signed in time, contacted late, never arrived) and Y (nothing).
type fixture struct {
	st     *store.DuckDB
	tree   *geo.Tree
	clk    *clock.Fake
	g1, g2 string
	off    uint64
	b      *Builder
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := store.OpenDuckDB(filepath.Join(t.TempDir(), "h.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tree := geo.DemoTree()
	f := &fixture{st: st, tree: tree, clk: clock.NewFake(time.Date(2026, 12, 3, 10, 0, 0, 0, shanghai)),
		g1: tree.Root.Children[0].Children[0].Code, g2: tree.Root.Children[1].Children[0].Code}
	eng, err := alerts.NewEngine(nil, alerts.Options{Clock: f.clk, Location: shanghai})
	if err != nil {
		t.Fatal(err)
	}
	cal := calendar.Official(shanghai, 2020, 2030)
	f.b = &Builder{Store: st, Tree: tree, Cal: cal, Clocks: governance.DefaultClocks(), Clock: f.clk, Alerts: eng,
		Audit:     governance.AuditConfig{MinSample: 2},
		Forecasts: &dashboard.Forecasts{St: st, Tree: tree, Cal: cal, Clk: f.clk}}
	at := func(d, h, m int) time.Time { return time.Date(2026, 12, d, h, m, 0, 0, shanghai) }
	rep := func(id, cat, grid, addr string, t time.Time) event.Event {
		return event.Event{ID: id + "r", Type: event.CaseReported, CaseID: id, At: t, Source: "grid", Category: cat, Address: addr}
	}
	disp := func(id, dept string, t, dl time.Time) event.Event {
		return event.Event{ID: id + "d", Type: event.CaseDispatched, CaseID: id, At: t, Dept: dept, Deadline: &dl}
	}
	ev := func(id, typ, suffix string, t time.Time) event.Event {
		return event.Event{ID: id + suffix, Type: event.Type(typ), CaseID: id, At: t}
	}
	closed := func(id, sat string, t time.Time) event.Event {
		e := ev(id, string(event.CaseClosed), "c", t)
		e.Satisfaction = sat
		return e
	}
	const X = "幸福路8号"
	f.write(t, f.g1, rep("p1", "environment", f.g1, X, at(1, 9, 0)), disp("p1", "A", at(1, 9, 10), at(1, 12, 0)),
		ev("p1", "case.signed", "s", at(1, 9, 30)), ev("p1", "case.resolved", "v", at(1, 11, 0)), closed("p1", "satisfied", at(1, 11, 30)))
	f.write(t, f.g1, rep("p2", "environment", f.g1, X, at(1, 10, 0)), disp("p2", "A", at(1, 10, 5), at(1, 11, 0)))
	f.write(t, f.g1, rep("c1", "environment", f.g1, X, at(2, 8, 0)), disp("c1", "A", at(2, 8, 10), at(2, 18, 0)),
		ev("c1", "case.signed", "s", at(2, 8, 30)), ev("c1", "case.resolved", "v", at(2, 12, 0)), closed("c1", "satisfied", at(2, 13, 0)),
		event.Event{ID: "w1", Type: event.WhistleBlown, CaseID: "c1", At: at(2, 10, 0), WhistleID: "W1", WhistleKind: "emergency", Depts: []string{"X", "Y"}},
		event.Event{ID: "w2", Type: event.WhistleAnswered, CaseID: "c1", At: at(2, 10, 5), WhistleID: "W1", Dept: "X", Stage: "signed"},
		event.Event{ID: "w3", Type: event.WhistleAnswered, CaseID: "c1", At: at(2, 11, 0), WhistleID: "W1", Dept: "X", Stage: "contacted"})
	f.write(t, f.g1, rep("c2", "environment", f.g1, X, at(2, 9, 0)), disp("c2", "A", at(2, 9, 10), at(2, 10, 0)),
		ev("c2", "case.signed", "s", at(2, 12, 0)), ev("c2", "case.resolved", "v", at(2, 15, 0)), closed("c2", "unsatisfied", at(2, 16, 0)))
	f.write(t, f.g1, rep("c3", "traffic", f.g1, "", at(2, 10, 0)))
	f.write(t, f.g2, rep("c4", "environment", f.g2, "", at(2, 11, 0)), disp("c4", "B", at(2, 11, 10), at(2, 20, 0)))
	f.write(t, f.g1, rep("c5", "environment", f.g1, X, at(2, 12, 0)))
	return f
}

func (f *fixture) write(t *testing.T, grid string, evs ...event.Event) {
	t.Helper()
	var recs []store.Record
	for _, e := range evs {
		f.off++
		recs = append(recs, store.Record{Event: e, Offset: f.off, Received: e.At, RegionPath: f.tree.Path(grid)})
	}
	if err := f.st.Write(context.Background(), store.Batch{Records: recs, Checkpoint: f.off}); err != nil {
		t.Fatal(err)
	}
}

func figure(t *testing.T, br *Briefing, key string) Figure {
	t.Helper()
	for _, f := range br.Changes.Figures {
		if f.Key == key {
			return f
		}
	}
	t.Fatalf("no figure %s", key)
	return Figure{}
}

// TestAlertsCoverage: the section counts the alerts of the hours the engine watched and names
// the hours it did not.
func TestAlertsCoverage(t *testing.T) {
	f := newFixture(t)
	now := f.clk.Now()
	for at := time.Date(2026, 12, 2, 12, 0, 0, 0, shanghai); !at.After(time.Date(2026, 12, 2, 18, 0, 0, 0, shanghai)); at = at.Add(time.Minute) {
		f.clk.Set(at)
		if _, err := f.b.Alerts.Evaluate(time.Time{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	f.clk.Set(now)
	day, _ := ParsePeriod("day:2026-12-02")
	br, err := f.b.Build(context.Background(), f.tree.Root.Code, day)
	if err != nil {
		t.Fatal(err)
	}
	a := br.Alerts
	if a.Figures == nil || a.Figures.Raised != 0 || a.Coverage == nil || a.Coverage.Watched != 6*time.Hour || a.Coverage.Complete || len(a.Coverage.Gaps) != 2 ||
		a.Coverage.Gaps[0].To.Hour() != 12 || a.Coverage.Gaps[1].From.Hour() != 18 || a.Coverage.Gaps[1].From.Location() != shanghai {
		t.Errorf("a day watched 12:00-18:00: figures %+v coverage %+v", a.Figures, a.Coverage)
	}
	// The day before: not watched at all, no figures.
	prev, _ := ParsePeriod("day:2026-12-01")
	if br, err = f.b.Build(context.Background(), f.tree.Root.Code, prev); err != nil || br.Alerts.Figures != nil || br.Alerts.Coverage.Watched != 0 {
		t.Errorf("a day not watched: %+v (%v)", br.Alerts, err)
	}
}

// TestBriefingHistory: the first day of the history is compared with a day the store has
// nothing of, and the briefing says so; the day after is compared as usual.
func TestBriefingHistory(t *testing.T) {
	f := newFixture(t)
	first, _ := ParsePeriod("day:2026-12-01") // the fixture's first report: Dec 1, 09:00
	br, err := f.b.Build(context.Background(), f.tree.Root.Code, first)
	if err != nil {
		t.Fatal(err)
	}
	if h := br.History; h == nil || h.Missing != nil || h.PreviousMissing == nil || !h.PreviousMissing.All ||
		!strings.Contains(h.Note["zh"], "上期在历史数据起点之前") || !h.Begins.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, shanghai)) {
		t.Errorf("the history's first day: %+v", h)
	}
	for _, fg := range br.Changes.Figures {
		if fg.Change != nil || fg.ChangePct != nil {
			t.Errorf("%s compared with a day before the history: change %v", fg.Key, *fg.Change)
		}
	}
	second, _ := ParsePeriod("day:2026-12-02")
	if br, err = f.b.Build(context.Background(), f.tree.Root.Code, second); err != nil || br.History != nil {
		t.Errorf("a day after the first: %+v (%v)", br.History, err)
	}
}

func TestBuildDay(t *testing.T) {
	f := newFixture(t)
	p, _ := ParsePeriod("day:2026-12-02")
	br, err := f.b.Build(context.Background(), f.tree.Root.Code, p)
	if err != nil {
		t.Fatal(err)
	}
	if br.Provisional || br.Previous != "day:2026-12-01" || br.Next != "day:2026-12-03" {
		t.Errorf("period: provisional %v, previous %s, next %s", br.Provisional, br.Previous, br.Next)
	}
	counts := map[string][3]float64{"new_cases": {5, 2, 3}, "closings": {2, 1, 1}, "overdue": {2, 1, 1}}
	for k, want := range counts {
		fg := figure(t, br, k)
		if float64(*fg.Current.Count) != want[0] || float64(*fg.Previous.Count) != want[1] || *fg.Change != want[2] {
			t.Errorf("%s: %d vs %d change %v, want %v", k, *fg.Current.Count, *fg.Previous.Count, *fg.Change, want)
		}
	}
	if fg := figure(t, br, "new_cases"); fg.ChangePct == nil || *fg.ChangePct != 150 {
		t.Errorf("new cases change %% = %v, want 150", fg.ChangePct)
	}
	rates := map[string][2]int64{"response": {1, 3}, "resolution": {2, 3}, "satisfaction": {1, 2}}
	for k, want := range rates {
		fg := figure(t, br, k)
		if fg.Current.Num != want[0] || fg.Current.Den != want[1] || fg.Current.Sample != "ok" {
			t.Errorf("%s current = %+v, want %d/%d", k, fg.Current, want[0], want[1])
		}
	}
	if fg := figure(t, br, "response"); fg.Change == nil || *fg.Change != -16.7 {
		t.Errorf("response change = %v, want -16.7 points", fg.Change)
	}
	if fg := figure(t, br, "resolution"); fg.Change == nil || *fg.Change != 16.7 {
		t.Errorf("resolution change = %v, want +16.7 points", fg.Change)
	}
	// The previous day's satisfaction rests on one callback: too small, no change given.
	if fg := figure(t, br, "satisfaction"); fg.Previous.Sample != "insufficient" || fg.Change != nil {
		t.Errorf("satisfaction previous = %+v change %v: want insufficient and no change", fg.Previous, fg.Change)
	}
	if c := br.Changes.Categories; len(c) != 2 || c[0].Code != "environment" || c[0].Current != 4 || c[0].Previous != 2 || c[1].Code != "traffic" || c[1].Change != 1 {
		t.Errorf("category movers = %+v", c)
	}
	// Departments: A ranked (2 dispatched), B named as insufficient.
	d := br.Departments
	if len(d.Slowest) != 1 || d.Slowest[0].Code != "A" || len(d.Insufficient) != 1 || d.Insufficient[0].Code != "B" || d.WithoutDept != 2 {
		t.Errorf("departments: slowest %+v insufficient %+v without %d", d.Slowest, d.Insufficient, d.WithoutDept)
	}
	// Whistles: Y late on all three stages, X on two.
	w := br.Whistles
	if w.Whistles != 1 || len(w.Late) != 2 || w.Late[0].Code != "Y" || w.Late[0].Late != 3 || w.Late[1].Code != "X" || w.Late[1].Late != 2 {
		t.Errorf("whistles: %+v", w)
	}
	// Repeats: the chain started by p1 holds c1, c2 and c5 in the period.
	r := br.Repeats
	if r.Links != 3 || len(r.Places) != 1 || r.Places[0].Cases != 3 || r.Places[0].Open != 1 || r.Places[0].Region != f.g1 ||
		!r.Places[0].First.Equal(time.Date(2026, 12, 1, 9, 0, 0, 0, shanghai)) {
		t.Errorf("repeats: %+v", r)
	}
	// Hot spots: too few events for any; the map has both grids.
	h := br.Hotspots
	if len(h.Spots) != 0 || h.Sufficiency.OK || h.Map.Max != 4 || len(h.Map.Cells) != 2 || h.Map.Depth != 2 {
		t.Errorf("hotspots: spots %v sufficiency %+v map %+v", h.Spots, h.Sufficiency, h.Map)
	}
	// The fixture's cases span two days, short of the 14 a forecast needs: 样本不足, no band.
	if fc := br.Forecast; fc.Status != "insufficient" || fc.Sufficient || len(fc.Hours) != 0 || !strings.Contains(fc.Message.Zh, "样本不足") ||
		!strings.Contains(fc.Reason, "2 whole days") {
		t.Errorf("forecast with too short a history: %+v", fc)
	}
	// A forecaster content with two days. Made on Dec 3 at 10:00: the next day has begun, only
	// its remaining 14 hours are forecast.
	nb := *f.b
	nb.Forecasts = &dashboard.Forecasts{St: f.st, Tree: f.tree, Cal: f.b.Cal, Clk: f.clk, Opt: forecast.Options{MinDays: 2}}
	nb.forecast(context.Background(), br, f.tree.Root, p.Shift(1, shanghai), f.clk.Now())
	if fc := br.Forecast; fc.Status != "passed" || len(fc.Hours) != 14 || fc.HoursFrom == nil ||
		!fc.HoursFrom.Equal(time.Date(2026, 12, 3, 10, 0, 0, 0, shanghai)) || fc.Message.Zh == "" {
		t.Errorf("forecast: %+v", fc)
	}
	// The fixture's alert engine never evaluated: no figures (no "0 raised"), the whole day a gap.
	if a := br.Alerts; !a.Available || a.Figures != nil || a.Coverage == nil || a.Coverage.Since != nil || a.Coverage.Unwatched != 24*time.Hour ||
		len(a.Coverage.Gaps) != 1 || a.Coverage.Complete {
		t.Errorf("alerts: %+v coverage %+v", a, a.Coverage)
	}
	// Every figure says what it counts and what it leaves out.
	for _, fg := range br.Changes.Figures {
		if fg.Counts.Zh == "" || fg.Counts.En == "" || fg.LeavesOut.Zh == "" || fg.LeavesOut.En == "" {
			t.Errorf("figure %s lacks its definition", fg.Key)
		}
	}
	// A township's briefing counts only its cases.
	town, err := f.b.Build(context.Background(), f.tree.Root.Children[1].Code, p)
	if err != nil {
		t.Fatal(err)
	}
	if n := *figure(t, town, "new_cases").Current.Count; n != 1 {
		t.Errorf("township new cases = %d, want 1 (c4)", n)
	}
}

func newService(t *testing.T, f *fixture) *Service {
	t.Helper()
	s, err := NewService(Config{Builder: f.b, Dir: filepath.Join(t.TempDir(), "briefings"), Printer: &Printer{Chromium: "/nonexistent/chromium", BaseURL: func() string { return "http://127.0.0.1:1" }}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestKeptReadsTheSame(t *testing.T) {
	f := newFixture(t)
	s := newService(t, f)
	ctx := context.Background()
	root := f.tree.Root.Code
	first, err := s.Get(ctx, root, "day:2026-12-02")
	if err != nil {
		t.Fatal(err)
	}
	var br Briefing
	if err := json.Unmarshal(first, &br); err != nil {
		t.Fatal(err)
	}
	if !br.Kept || br.Provisional {
		t.Errorf("kept %v provisional %v, want kept", br.Kept, br.Provisional)
	}
	path := filepath.Join(s.Keeper().Dir, root, "day-2026-12-02.json")
	if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, first) {
		t.Fatalf("kept file %s: %v (same bytes %v)", path, err, bytes.Equal(b, first))
	}
	// A late report for Dec 2 and a month later: the kept briefing reads the same.
	f.write(t, f.g2, event.Event{ID: "c6r", Type: event.CaseReported, CaseID: "c6", At: time.Date(2026, 12, 2, 23, 0, 0, 0, shanghai), Category: "traffic"})
	f.clk.Set(time.Date(2027, 1, 3, 10, 0, 0, 0, shanghai))
	again, err := s.Get(ctx, root, "day:2026-12-02")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again) {
		t.Error("the kept briefing changed after the data did")
	}
	p, _ := ParsePeriod("day:2026-12-02")
	fresh, err := f.b.Build(ctx, root, p)
	if err != nil {
		t.Fatal(err)
	}
	if n := *figure(t, fresh, "new_cases").Current.Count; n != 6 {
		t.Errorf("a fresh build counts %d new cases, want 6 (the data did change)", n)
	}
	list, err := s.List(ctx, root, 10)
	if err != nil || len(list) != 1 || list[0].Period != "day:2026-12-02" || list[0].Title == "" {
		t.Errorf("List = %+v, %v", list, err)
	}
}

func TestProvisionalNotKept(t *testing.T) {
	f := newFixture(t)
	s := newService(t, f)
	ctx := context.Background()
	root := f.tree.Root.Code
	body, err := s.Get(ctx, root, "day:2026-12-03") // today, 10:00
	if err != nil {
		t.Fatal(err)
	}
	var br Briefing
	if err := json.Unmarshal(body, &br); err != nil {
		t.Fatal(err)
	}
	if !br.Provisional || br.Kept || br.ProvisionalNote == nil {
		t.Errorf("today: provisional %v kept %v", br.Provisional, br.Kept)
	}
	p, _ := ParsePeriod("day:2026-12-03")
	if s.Keeper().Has(root, p) {
		t.Error("today's briefing was kept")
	}
	wk, _ := ParsePeriod("week:2026-W49") // Nov 30 to Dec 6: not ended
	if _, err := s.Get(ctx, root, wk.String()); err != nil || s.Keeper().Has(root, wk) {
		t.Errorf("this week: %v, kept %v", err, s.Keeper().Has(root, wk))
	}
	if _, err := s.Get(ctx, root, "day:2026-12-04"); errs.CodeOf(err) != errs.NotFound {
		t.Errorf("tomorrow: %v, want not_found", err)
	}
	if _, err := s.Get(ctx, "nowhere", "day:2026-12-02"); errs.CodeOf(err) != errs.NotFound {
		t.Errorf("unknown region: %v", err)
	}
	if _, err := s.Get(ctx, root, "day:2026-13-02"); errs.CodeOf(err) != errs.Invalid || errs.ReasonOf(err) != "period" {
		t.Errorf("bad period: %v", err)
	}
	// No browser: PDF is unavailable with a message saying so.
	if _, err := s.PDF(ctx, root, "day:2026-12-02"); errs.CodeOf(err) != errs.Unavailable || errs.ReasonOf(err) != "pdf" {
		t.Errorf("PDF without a browser: %v", err)
	}
}

func TestParsePeriod(t *testing.T) {
	day := func(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, shanghai) }
	for _, c := range []struct {
		in       string
		from, to time.Time
		prev     string
		next     string
	}{
		{"day:2026-12-02", day(2026, 12, 2), day(2026, 12, 3), "day:2026-12-01", "day:2026-12-03"},
		{"day:2027-01-01", day(2027, 1, 1), day(2027, 1, 2), "day:2026-12-31", "day:2027-01-02"},
		{"week:2026-W49", day(2026, 11, 30), day(2026, 12, 7), "week:2026-W48", "week:2026-W50"},
		// 2026 has 53 ISO weeks (it starts on a Thursday); week 53 ends in 2027.
		{"week:2026-W53", day(2026, 12, 28), day(2027, 1, 4), "week:2026-W52", "week:2027-W01"},
		{"week:2027-W01", day(2027, 1, 4), day(2027, 1, 11), "week:2026-W53", "week:2027-W02"},
		// ISO 2025's week 1 starts in December 2024.
		{"week:2025-W01", day(2024, 12, 30), day(2025, 1, 6), "week:2024-W52", "week:2025-W02"},
	} {
		p, err := ParsePeriod(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		from, to := p.Bounds(shanghai)
		if p.String() != c.in || !from.Equal(c.from) || !to.Equal(c.to) || p.Shift(-1, shanghai).String() != c.prev || p.Shift(1, shanghai).String() != c.next {
			t.Errorf("%s: %s [%v, %v) prev %s next %s", c.in, p, from, to, p.Shift(-1, shanghai), p.Shift(1, shanghai))
		}
	}
	if p, err := ParsePeriod("day%3A2026-12-02"); err != nil || p.String() != "day:2026-12-02" {
		t.Errorf("an escaped period: %v %v", p, err)
	}
	if w := WeekOf(time.Date(2027, 1, 2, 12, 0, 0, 0, shanghai), shanghai).String(); w != "week:2026-W53" {
		t.Errorf("WeekOf(2027-01-02) = %s", w)
	}
	// The week is the deployment zone's: 2026-12-27 20:00 UTC is Monday 04:00 in Shanghai.
	if w := WeekOf(time.Date(2026, 12, 27, 20, 0, 0, 0, time.UTC), shanghai).String(); w != "week:2026-W53" {
		t.Errorf("WeekOf(Sunday 20:00 UTC) = %s, want week:2026-W53", w)
	}
	for _, bad := range []string{"", "day:2026-02-29", "day:2026-12-2", "week:2025-W53", "week:2026-W00", "week:2026-W54", "month:2026-12", "day:2026-12-02x", "week:2026-49"} {
		_, err := ParsePeriod(bad)
		if errs.CodeOf(err) != errs.Invalid || errs.ReasonOf(err) != "period" {
			t.Errorf("ParsePeriod(%q) = %v, want invalid period", bad, err)
		}
	}
}

func TestScheduler(t *testing.T) {
	f := newFixture(t)
	s := newService(t, f)
	root := f.tree.Root.Code
	sc := &Scheduler{Service: s, Clock: f.clk, Regions: func() []string { return []string{root} }}
	// Monday 2026-12-07 00:20: not yet; yesterday is still Saturday's turn and last week W48.
	f.clk.Set(time.Date(2026, 12, 7, 0, 20, 0, 0, shanghai))
	due := sc.Due(f.clk.Now())
	if due[0].String() != "day:2026-12-05" || due[1].String() != "week:2026-W48" {
		t.Errorf("due at 00:20 = %v", due)
	}
	f.clk.Set(time.Date(2026, 12, 7, 0, 40, 0, 0, shanghai))
	due = sc.Due(f.clk.Now())
	if due[0].String() != "day:2026-12-06" || due[1].String() != "week:2026-W49" {
		t.Errorf("due at 00:40 = %v", due)
	}
	ctx := context.Background()
	// A process still loading its history keeps nothing yet.
	ready := false
	sc.Ready = func() bool { return ready }
	if n, err := sc.Tick(ctx); err != nil || n != 0 || s.Keeper().Has(root, due[0]) {
		t.Fatalf("tick before ready made %d (%v)", n, err)
	}
	ready = true
	n, err := sc.Tick(ctx)
	if err != nil || n != 2 {
		t.Fatalf("first tick made %d: %v", n, err)
	}
	for _, p := range due {
		if !s.Keeper().Has(root, p) {
			t.Errorf("%s not kept", p)
		}
	}
	if n, err := sc.Tick(ctx); err != nil || n != 0 {
		t.Errorf("second tick made %d (%v), want 0", n, err)
	}
	wk, err := s.Get(ctx, root, "week:2026-W49")
	if err != nil {
		t.Fatal(err)
	}
	var br Briefing
	if err := json.Unmarshal(wk, &br); err != nil {
		t.Fatal(err)
	}
	if br.Kind != Week || !br.Kept || *figure(t, &br, "new_cases").Current.Count != 7 || br.Hotspots.Step != "6h0m0s" {
		t.Errorf("week: kind %s kept %v new %d step %s", br.Kind, br.Kept, *figure(t, &br, "new_cases").Current.Count, br.Hotspots.Step)
	}
	list, _ := s.List(ctx, root, 10)
	if len(list) != 2 || list[0].Period != "day:2026-12-06" || list[1].Period != "week:2026-W49" {
		t.Errorf("List = %+v", list)
	}
}
