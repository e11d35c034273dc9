package simulate

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"zhili/calendar"
	"zhili/event"
	"zhili/geo"
)

// histEnd is the end of the test histories: a Tuesday afternoon two weeks after National Day,
// so that 30 days hold the Mid-Autumn (09-25..27) and National Day (10-01..07) holidays and the
// make-up working day of 10-10.
var histEnd = time.Date(2026, 10, 20, 15, 20, 0, 0, Zone)

var xinyang = sync.OnceValues(geo.XinyangTree)

// histRun is a generated history with its events decoded and checked.
type histRun struct {
	h      *History
	lines  [][]byte
	events []event.Event
	grid   map[string]string // case → grid of its report ("" unlocated)
}

var (
	histOnce sync.Once
	hist30   *histRun
	histErr  error
)

// history30 is the 30-day history of the demo city ending at histEnd, shared by the tests.
func history30(t *testing.T) *histRun {
	t.Helper()
	histOnce.Do(func() {
		tree, err := xinyang()
		if err != nil {
			histErr = err
			return
		}
		start := time.Now()
		h := NewHistory(HistoryConfig{Tree: tree, Seed: DefaultDemoSeed, End: histEnd, Span: 30 * 24 * time.Hour})
		hist30, histErr = decodeHistory(tree, h, h.cfg.End)
		if histErr == nil {
			t.Logf("30 days of history: %d lines, %d cases in %v", len(hist30.lines), h.Stats().Cases, time.Since(start).Round(time.Millisecond))
		}
	})
	if histErr != nil {
		t.Fatal(histErr)
	}
	return hist30
}

// decodeHistory sends h up to until and checks every line as the door would.
func decodeHistory(tree *geo.Tree, h *History, until time.Time) (*histRun, error) {
	rules := event.DefaultRules()
	rules.KnownRegion = func(c string) bool { return tree.Get(c) != nil }
	loc := geo.NewIndexedLocator(tree)
	r := &histRun{h: h, grid: map[string]string{}}
	ids := map[string]bool{}
	var last time.Time
	for {
		lines := h.NextUntil(until, 5000)
		if len(lines) == 0 {
			break
		}
		for _, l := range lines {
			ev, id, err := event.Decode(l, &rules, until)
			if err != nil {
				return nil, fmt.Errorf("%v: %s", err, l)
			}
			if ids[id] {
				return nil, fmt.Errorf("id %s twice", id)
			}
			ids[id] = true
			if ev.At.Before(last) || ev.At.After(until) {
				return nil, fmt.Errorf("at %v out of order (last %v, until %v): %s", ev.At, last, until, l)
			}
			last = ev.At
			if ev.Type == event.CaseReported {
				switch {
				case ev.Location != nil:
					lon, lat := geo.ToWGS84(ev.Location.CRS, ev.Location.Lon, ev.Location.Lat)
					path := loc.Locate(orb.Point{lon, lat})
					if len(path) == 0 {
						return nil, fmt.Errorf("a report outside the city: %s", l)
					}
					r.grid[ev.CaseID] = path[len(path)-1]
				default:
					r.grid[ev.CaseID] = ev.Region
				}
			}
			r.lines = append(r.lines, l)
			r.events = append(r.events, ev)
		}
	}
	return r, nil
}

func TestHistoryDeterministic(t *testing.T) {
	tree, err := xinyang()
	if err != nil {
		t.Fatal(err)
	}
	cfg := HistoryConfig{Tree: tree, Seed: 7, End: histEnd, Span: 7 * 24 * time.Hour}
	all := func(h *History, batch int) []byte {
		var b bytes.Buffer
		if err := h.Bodies(batch, func(body []byte, _ int) error { b.Write(body); return nil }); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	a := all(NewHistory(cfg), 10000)
	if len(a) == 0 {
		t.Fatal("no history")
	}
	if b := all(NewHistory(cfg), 333); !bytes.Equal(a, b) {
		t.Fatal("the same seed and end gave other lines")
	}
	cfg.Seed = 8
	if b := all(NewHistory(cfg), 10000); bytes.Equal(a, b) {
		t.Fatal("another seed gave the same lines")
	}
	t.Logf("7 days: %d bytes", len(a))
}

func TestHistoryLifecycles(t *testing.T) {
	r := history30(t)
	st := r.h.Stats()
	types := map[event.Type]int{}
	closedCallback, closed, closedNotFixed := 0, 0, 0
	for _, ev := range r.events {
		types[ev.Type]++
		if ev.Type == event.CaseClosed && ev.CloseReason != event.CloseDuplicate {
			closed++
			if ev.Satisfaction != "" {
				closedCallback++
			}
			if ev.CloseReason == event.CloseNotFixed {
				closedNotFixed++
			}
		}
	}
	for _, ty := range event.Types {
		if types[ty] == 0 && ty != event.EvaluationSurvey && ty != event.StaffDuty { // surveys come from evaluation systems, duty records from the roster
			t.Errorf("no %s in the history", ty)
		}
	}
	if st.Lines != len(r.lines) || st.Cases != types[event.CaseReported] || st.Whistles != types[event.WhistleBlown] {
		t.Errorf("stats %+v do not count the lines (%d lines, %v)", st, len(r.lines), types)
	}
	share := func(n, d int) float64 { return float64(n) / float64(max(d, 1)) }
	cases := types[event.CaseReported]
	t.Logf("%d cases; returns %.1f %%, reopenings %.1f %%, callbacks %.0f %% of closings, unlocated %d, repeats %d, whistles %d",
		cases, 100*share(types[event.CaseReturned], cases), 100*share(types[event.CaseReopened], cases),
		100*share(closedCallback, closed), st.Unlocated, st.Repeats, st.Whistles)
	if s := share(types[event.CaseReturned], cases); s < 0.03 || s > 0.15 {
		t.Errorf("returns: %.3f of cases", s)
	}
	if s := share(types[event.CaseReopened], cases); s < 0.01 || s > 0.1 {
		t.Errorf("reopenings: %.3f of cases", s)
	}
	if s := share(closedCallback, closed); s < 0.6 || s > 0.95 {
		t.Errorf("callbacks: %.3f of closings", s)
	}
	if closedNotFixed == 0 {
		t.Error("no closing without a fix")
	}
	if s := share(st.Unlocated, cases); st.Unlocated == 0 || s > 0.03 {
		t.Errorf("unlocated: %d of %d", st.Unlocated, cases)
	}
	unlocated := 0
	for _, g := range r.grid {
		if g == "" {
			unlocated++
		}
	}
	if unlocated != st.Unlocated {
		t.Errorf("%d reports without a place, stats say %d", unlocated, st.Unlocated)
	}
	// Repeat complaints at the planted addresses, all period.
	byAddr := map[string]int{}
	for _, ev := range r.events {
		if ev.Type == event.CaseReported && ev.Address != "" {
			byAddr[ev.Address]++
		}
	}
	for _, a := range r.h.Plan().RepeatAddresses {
		if byAddr[a] < 4 {
			t.Errorf("repeat address %s: %d reports in 30 days", a, byAddr[a])
		}
	}
}

// reportsPerDay counts new cases per local day.
func reportsPerDay(r *histRun) map[string]int {
	out := map[string]int{}
	for _, ev := range r.events {
		if ev.Type == event.CaseReported {
			out[ev.At.In(Zone).Format("2006-01-02")]++
		}
	}
	return out
}

func TestHistoryRhythm(t *testing.T) {
	r := history30(t)
	cal := calendar.Default()
	perDay := reportsPerDay(r)
	first := r.h.Plan().Start.In(Zone)
	var work, weekend, holiday []float64
	for d := first.AddDate(0, 0, 1); d.Before(histEnd.Truncate(24 * time.Hour).Add(-24 * time.Hour)); d = d.AddDate(0, 0, 1) {
		day := cal.DayOf(d)
		n := float64(perDay[d.Format("2006-01-02")])
		switch {
		case day.Workday:
			work = append(work, n)
		case day.Name != "":
			holiday = append(holiday, n)
		default:
			weekend = append(weekend, n)
		}
	}
	mean := func(xs []float64) float64 {
		s := 0.0
		for _, x := range xs {
			s += x
		}
		return s / float64(max(len(xs), 1))
	}
	t.Logf("new cases a day: working days %.0f (%d), weekends %.0f (%d), holidays %.0f (%d)",
		mean(work), len(work), mean(weekend), len(weekend), mean(holiday), len(holiday))
	if len(holiday) < 8 || mean(holiday) > 0.7*mean(work) {
		t.Errorf("holidays: %v against %.0f on working days", holiday, mean(work))
	}
	if mean(weekend) > 0.85*mean(work) || mean(weekend) < mean(holiday) {
		t.Errorf("weekends %.0f, working days %.0f, holidays %.0f", mean(weekend), mean(work), mean(holiday))
	}
	// The make-up working day (Saturday 10-10) is busier than the weekend days after it, the
	// planted hot spots (rising meanwhile) and repeat addresses left out.
	plan := r.h.Plan()
	background := map[string]int{}
	for _, ev := range r.events {
		g := r.grid[ev.CaseID]
		if ev.Type == event.CaseReported && !slices.Contains(plan.Persistent, g) && !slices.Contains(plan.Intensifying, g) &&
			!slices.Contains(plan.RepeatAddresses, ev.Address) {
			background[ev.At.In(Zone).Format("2006-01-02")]++
		}
	}
	mu := background["2026-10-10"]
	wk := float64(background["2026-10-11"]+background["2026-10-17"]+background["2026-10-18"]) / 3
	t.Logf("make-up working day 10-10: %d reports outside the planted places, the weekend days after it %.0f", mu, wk)
	if float64(mu) < 1.1*wk { // ×0.95 against ×0.68–0.75, give or take the draws
		t.Errorf("make-up working day 10-10: %d reports, the weekend days after it %.0f", mu, wk)
	}
	// Quiet nights, busy mornings and afternoons.
	var byHour [24]int
	for _, ev := range r.events {
		if ev.Type == event.CaseReported {
			byHour[ev.At.In(Zone).Hour()]++
		}
	}
	night := byHour[1] + byHour[2] + byHour[3] + byHour[4]
	morning := byHour[9] + byHour[10]
	afternoon := byHour[15] + byHour[16]
	t.Logf("reports by hour: %v", byHour)
	if night*3 > morning || night*3 > afternoon || byHour[12] >= byHour[10] {
		t.Errorf("hours: %v", byHour)
	}
}

func TestHistoryHotspots(t *testing.T) {
	r := history30(t)
	plan := r.h.Plan()
	day := 24 * time.Hour
	// Reports per grid in the three weeks before the rise began, and in the last week.
	before, last := map[string]int{}, map[string]int{}
	for _, ev := range r.events {
		if ev.Type != event.CaseReported {
			continue
		}
		g := r.grid[ev.CaseID]
		switch {
		case ev.At.Before(plan.IntensifyFrom) && !ev.At.Before(plan.IntensifyFrom.Add(-14*day)):
			before[g]++
		case ev.At.After(histEnd.Add(-7 * day)):
			last[g]++
		}
	}
	// The busiest grids outside the planted clusters, for comparison.
	planted := append(slices.Clone(plan.Persistent), plan.Intensifying...)
	var others []int
	for g, n := range before {
		if g != "" && !slices.Contains(planted, g) {
			others = append(others, n+last[g])
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(others)))
	top := others[len(others)/100] // the 99th percentile of the other grids, three weeks
	sum := func(m map[string]int, gs []string) (n int) {
		for _, g := range gs {
			n += m[g]
		}
		return n
	}
	per := func(m map[string]int, gs []string) float64 { return float64(sum(m, gs)) / float64(len(gs)) }
	t.Logf("per grid: persistent %.1f before, %.1f last week; intensifying %.1f (two weeks before its rise), %.1f last week; other grids' 99th percentile %d in three weeks",
		per(before, plan.Persistent), per(last, plan.Persistent), per(before, plan.Intensifying), per(last, plan.Intensifying), top)
	if len(plan.Persistent) < 3 || len(plan.Intensifying) < 3 {
		t.Fatalf("planted clusters: %v, %v", plan.Persistent, plan.Intensifying)
	}
	// Persistent: well above the other grids in both periods, about as high in each.
	if p := per(before, plan.Persistent); p < 2*float64(top) || per(last, plan.Persistent) < 0.3*p {
		t.Errorf("persistent cluster: %.1f per grid in two weeks, %.1f in the last week; others' 99th percentile %d",
			p, per(last, plan.Persistent), top)
	}
	// Intensifying: above its surroundings before the rise, and a day of the last week more than
	// twice a day of the two weeks before it.
	if b, l := per(before, plan.Intensifying), per(last, plan.Intensifying); l/7 < 2*b/14 || b < 2*float64(top) {
		t.Errorf("intensifying cluster: %.1f per grid in the two weeks before the rise, %.1f in the last week; others' 99th percentile %d", b, l, top)
	}
	for _, gs := range [][]string{plan.Persistent, plan.Intensifying} {
		for _, g := range gs {
			if tree, _ := xinyang(); tree.Get(g) == nil || len(tree.Get(g).Children) > 0 {
				t.Errorf("planted %s is not a grid", g)
			}
		}
	}
}

func TestHistorySlowDepartment(t *testing.T) {
	r := history30(t)
	dispatched := map[string]time.Time{} // case → last dispatch
	deadline := map[string]time.Time{}
	sign := map[string][]time.Duration{}
	resolved, late := map[string]int{}, map[string]int{}
	dept := map[string]string{}
	for _, ev := range r.events {
		switch ev.Type {
		case event.CaseDispatched:
			dispatched[ev.CaseID], dept[ev.CaseID] = ev.At, ev.Dept
			if ev.Deadline != nil {
				deadline[ev.CaseID] = *ev.Deadline
			}
		case event.CaseSigned:
			sign[ev.Dept] = append(sign[ev.Dept], ev.At.Sub(dispatched[ev.CaseID]))
		case event.CaseResolved:
			resolved[ev.Dept]++
			if ev.At.After(deadline[ev.CaseID]) {
				late[ev.Dept]++
			}
		}
	}
	median := func(ds []time.Duration) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[len(s)/2]
	}
	slow := median(sign[SlowDept])
	for _, d := range allDepts {
		if len(sign[d]) < 30 {
			t.Fatalf("%s signed %d cases", d, len(sign[d]))
		}
		m := median(sign[d])
		share := float64(late[d]) / float64(resolved[d])
		t.Logf("%-24s signed %4d, median response %8v, resolved %4d, %.0f %% late", d, len(sign[d]), m.Round(time.Minute), resolved[d], 100*share)
		if d == SlowDept {
			continue
		}
		if slow < 2*m {
			t.Errorf("%s: median response %v, the slow department's %v", d, m, slow)
		}
		if slowShare := float64(late[SlowDept]) / float64(resolved[SlowDept]); slowShare < 2*share {
			t.Errorf("%s: %.2f resolved late, the slow department %.2f", d, share, slowShare)
		}
	}
}

func TestHistoryWhistlesOpenAtEnd(t *testing.T) {
	r := history30(t)
	type wh struct {
		blown    time.Time
		kind     string
		depts    []string
		reached  map[string]time.Time // dept/stage → when
		resolved bool
		scores   int
	}
	cal := calendar.Default()
	// The default clocks of advance and tough whistles (docs/GOVERNANCE.md).
	due := func(w *wh, stage string) time.Time {
		switch stage {
		case "signed":
			return w.blown.Add(time.Hour)
		case "contacted":
			return w.blown.Add(24 * time.Hour)
		}
		if w.kind == "tough" {
			return cal.AddWorkingDays(w.blown, 5)
		}
		return cal.AddWorkingDays(w.blown, 3)
	}
	ws := map[string]*wh{}
	for _, ev := range r.events {
		w := ws[ev.WhistleID]
		switch ev.Type {
		case event.WhistleBlown:
			ws[ev.WhistleID] = &wh{blown: ev.At, kind: ev.WhistleKind, depts: ev.Depts, reached: map[string]time.Time{}}
		case event.WhistleAnswered:
			w.reached[ev.Dept+"/"+ev.Stage] = ev.At
		case event.WhistleResolved:
			w.resolved = true
		case event.WhistleEvaluated:
			w.scores++
		}
	}
	open, recent, late, resolved, evaluated := 0, 0, 0, 0, 0
	for _, w := range ws {
		if w.resolved {
			resolved++
			if w.scores > 0 {
				evaluated++
			}
			continue
		}
		open++
		if histEnd.Sub(w.blown) < 24*time.Hour {
			recent++
		}
		// Red on the board: a stage reached after its clock, or still open past it.
		isLate := false
		for _, d := range w.depts {
			for _, s := range stages {
				at, ok := w.reached[d+"/"+s]
				if !ok {
					at = histEnd
				}
				if w.kind != "emergency" && at.After(due(w, s)) {
					isLate = true
				}
			}
		}
		if isLate {
			late++
		}
	}
	t.Logf("%d whistles: %d resolved (%d evaluated), %d open at the end (%d blown in the last day, %d late)",
		len(ws), resolved, evaluated, open, recent, late)
	if open < 10 || recent < 2 || late < 2 {
		t.Errorf("open whistles at the end: %d, %d blown in the last day, %d late", open, recent, late)
	}
	if open != r.h.Stats().OpenWhistles {
		t.Errorf("stats say %d open whistles, the lines %d", r.h.Stats().OpenWhistles, open)
	}
	if resolved < len(ws)/2 || evaluated < resolved*3/4 {
		t.Errorf("%d of %d whistles resolved, %d evaluated", resolved, len(ws), evaluated)
	}
}

func TestHistoryGoesOn(t *testing.T) {
	tree, err := xinyang()
	if err != nil {
		t.Fatal(err)
	}
	h := NewHistory(HistoryConfig{Tree: tree, Seed: 3, End: histEnd, Span: 3 * 24 * time.Hour})
	if _, err := decodeHistory(tree, h, histEnd); err != nil {
		t.Fatal(err)
	}
	// Six more hours, as time passes: steps of the open cases and new cases, after End only.
	after, err := decodeHistory(tree, h, histEnd.Add(6*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	types := map[event.Type]int{}
	for _, ev := range after.events {
		if !ev.At.After(histEnd) {
			t.Fatalf("an event of %v sent again after End", ev.At)
		}
		types[ev.Type]++
	}
	t.Logf("six hours on: %d lines %v", len(after.lines), types)
	if types[event.CaseReported] < 10 || types[event.CaseClosed] < 10 || types[event.WhistleAnswered] == 0 {
		t.Errorf("six hours after the end: %v", types)
	}
}
