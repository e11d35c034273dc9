package dashboard

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"zhili/calendar"
	"zhili/event"
	"zhili/geo"
	"zhili/governance"
	"zhili/store"
)

// put stores a case's records as given (the first is its report).
func (s *casesStore) put(id string, recs []store.Record) {
	if s.cases == nil {
		s.cases = map[string][]store.Record{}
	}
	s.cases[id] = recs
	s.order = append(s.order, id)
}

// mixedCases fills a store with n cases reported from day on, of departments A, B and C (or
// none), located in two townships or not, signed, resolved, closed (fixed, not fixed,
// duplicate), reopened or left open at random (a fixed seed), some with whistles; now is after
// them all.
func mixedCases(tree *geo.Tree, day time.Time, n int) *casesStore {
	rnd := rand.New(rand.NewPCG(7, 11))
	root := tree.Root.Code
	towns := []string{tree.Root.Children[0].Code, tree.Root.Children[1].Code}
	st := &casesStore{}
	for i := range n {
		id := fmt.Sprintf("k%02d", i)
		rep := day.Add(time.Duration(rnd.IntN(36*60)) * time.Minute)
		var path []string
		switch rnd.IntN(6) {
		case 0: // unlocated
		case 1:
			path = []string{root}
		default:
			path = []string{root, towns[rnd.IntN(2)]}
		}
		at := rep
		next := func(max int) time.Time {
			at = at.Add(time.Duration(1+rnd.IntN(max)) * time.Minute)
			return at
		}
		seq := 0
		var recs []store.Record
		add := func(e event.Event) {
			seq++
			e.ID, e.CaseID = fmt.Sprintf("%s-%d", id, seq), id
			recs = append(recs, store.Record{Event: e})
		}
		add(event.Event{Type: event.CaseReported, At: rep, Category: "environment"})
		recs[0].RegionPath = path
		dept := []string{"A", "B", "C", ""}[rnd.IntN(4)]
		if dept != "" {
			var dl *time.Time
			disp := next(60)
			if rnd.IntN(5) > 0 {
				d := disp.Add(time.Duration(2+rnd.IntN(20)) * time.Hour)
				dl = &d
			}
			add(event.Event{Type: event.CaseDispatched, At: disp, Dept: dept, Deadline: dl})
			signed := rnd.IntN(4) > 0
			if signed {
				add(event.Event{Type: event.CaseSigned, At: next(240), Dept: dept})
			}
			if rnd.IntN(4) == 0 {
				w := fmt.Sprintf("W%s", id)
				blown := next(60)
				summoned := []string{dept, []string{"X", "Y"}[rnd.IntN(2)]}
				add(event.Event{Type: event.WhistleBlown, At: blown, WhistleID: w, WhistleKind: "advance", Depts: summoned})
				for _, d := range summoned {
					for _, stg := range []string{"signed", "contacted", "arrived"} {
						if rnd.IntN(4) > 0 {
							add(event.Event{Type: event.WhistleAnswered, At: next(3000), WhistleID: w, Dept: d, Stage: stg})
						}
					}
				}
			}
			switch rnd.IntN(6) {
			case 0: // left open
			case 1: // unsigned, often within the response window: out of the response rate
				add(event.Event{Type: event.CaseClosed, At: next(200), CloseReason: event.CloseDuplicate})
			case 2:
				add(event.Event{Type: event.CaseClosed, At: next(600), CloseReason: event.CloseNotFixed, Satisfaction: "unsatisfied"})
			default:
				add(event.Event{Type: event.CaseResolved, At: next(1500)})
				add(event.Event{Type: event.CaseClosed, At: next(600), Satisfaction: []string{"satisfied", "basically", "unsatisfied", ""}[rnd.IntN(4)]})
				if rnd.IntN(8) == 0 {
					add(event.Event{Type: event.CaseReopened, At: next(600)})
				}
			}
		}
		st.put(id, recs)
	}
	return st
}

// The cases behind each row are the row's cases: as many as it counts, and its rates, on-time
// rate and close times recomputed from the rows equal the audit's, by department and by region
// (the 未定位 row and the cases never dispatched included); a whistle row's cases hold its
// answers, with the arrival durations of its p50 and p90.
func TestAuditUnitCasesMatchTheAudit(t *testing.T) {
	tree := geo.DemoTree()
	day := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	st := mixedCases(tree, day, 120)
	now := day.Add(10 * 24 * time.Hour)
	q := AuditQuery{Region: tree.Root.Code, From: day, To: day.Add(48 * time.Hour), Config: governance.AuditConfig{MinSample: 1}, Now: now}
	ctx := context.Background()
	clocks, cal := governance.DefaultClocks(), calendar.Default()
	all := func(cq CasesQuery) []CaseRow {
		t.Helper()
		var rows []CaseRow
		for cq.Offset = 0; ; cq.Offset += cq.Limit {
			rep, err := UnitCases(ctx, st, tree, cq, clocks, cal)
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, rep.Rows...)
			if cq.Offset+cq.Limit >= rep.Total {
				if len(rows) != rep.Total {
					t.Fatalf("%s %q: %d rows over the pages, total %d", cq.By, cq.Unit, len(rows), rep.Total)
				}
				return rows
			}
		}
	}
	for _, by := range []string{"dept", "region"} {
		q.By = by
		rates, err := Rates(ctx, st, tree, q)
		if err != nil {
			t.Fatal(err)
		}
		units := rates.Units
		if by == "dept" { // the cases never dispatched: the reconcile block's without_dept
			units = append(units, RatesUnit{Unit: "", Current: UnitFigures{Cases: rates.Reconcile.WithoutDept}})
		}
		seen := 0
		for _, u := range units {
			rows := all(CasesQuery{AuditQuery: q, Unit: u.Unit, Limit: 7})
			seen += len(rows)
			var resp, respDen, onTime, onTimeDen, open int64
			var closeSecs []int64
			for i, r := range rows {
				if i > 0 && r.Reported.After(rows[i-1].Reported) {
					t.Fatalf("%s %q: rows not newest first: %s after %s", by, u.Unit, r.Case, rows[i-1].Case)
				}
				if r.Responded != nil {
					respDen++
					if *r.Responded {
						resp++
					}
				}
				if r.OnTime != nil {
					onTimeDen++
					if *r.OnTime {
						onTime++
					}
				}
				if r.Closed == nil {
					open++
				}
				if r.CloseS != nil {
					closeSecs = append(closeSecs, *r.CloseS)
				}
			}
			c := u.Current
			if int64(len(rows)) != c.Cases || open != c.Open && u.Unit != "" ||
				u.Unit != "" && (resp != c.Response.Num || respDen != c.Response.Den || onTime != c.OnTime.Num || onTimeDen != c.OnTime.Den) {
				t.Errorf("%s %q: rows %d (open %d), response %d/%d, on time %d/%d; the audit: %d cases (open %d), %d/%d, %d/%d",
					by, u.Unit, len(rows), open, resp, respDen, onTime, onTimeDen, c.Cases, c.Open, c.Response.Num, c.Response.Den, c.OnTime.Num, c.OnTime.Den)
			}
			if p50 := governance.Percentile(closeSecs, 50); u.Unit != "" && (c.CloseP50 == nil && p50 != -1 || c.CloseP50 != nil && *c.CloseP50 != p50) {
				t.Errorf("%s %q: close p50 from the rows %d, the audit's %v", by, u.Unit, p50, c.CloseP50)
			}
		}
		if seen != rates.Cases {
			t.Errorf("%s: the rows of every unit hold %d cases, the audit %d", by, seen, rates.Cases)
		}
		if by == "region" && (units[len(units)-1].Unit != "" || units[len(units)-1].Current.Cases == 0) {
			t.Fatalf("the fixture has no 未定位 row: %+v", units[len(units)-1])
		}
	}

	q.By = "dept"
	wa, err := Whistles(ctx, st, tree, q, clocks, cal, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(wa.Depts) < 3 {
		t.Fatalf("the fixture's whistle audit has %d departments", len(wa.Depts))
	}
	for _, d := range wa.Depts {
		rows := all(CasesQuery{AuditQuery: q, Audit: "whistles", Unit: d.Dept, Sort: "arrive", Limit: 50})
		var answers int64
		var arrive []int64
		last := time.Duration(1 << 62)
		for _, r := range rows {
			if r.key > last {
				t.Errorf("%s: sorted by arrival, %s (%v) after %v", d.Dept, r.Case, r.key, last)
			}
			last = r.key
			if len(r.Whistles) == 0 {
				t.Errorf("%s: case %s is listed with none of its answers", d.Dept, r.Case)
			}
			for _, w := range r.Whistles {
				if w.Dept != d.Dept {
					t.Errorf("%s: case %s shows the answer of %s", d.Dept, r.Case, w.Dept)
				}
				answers++
				if w.ArriveS != nil {
					arrive = append(arrive, *w.ArriveS)
				}
			}
		}
		arr := d.Stages[slices.IndexFunc(d.Stages, func(s governance.WhistleStageStats) bool { return s.Stage == governance.Arrived })]
		if answers != d.Summoned || int64(len(arrive)) != arr.Count || governance.Percentile(arrive, 50) != arr.P50 || governance.Percentile(arrive, 90) != arr.P90 {
			t.Errorf("%s: rows hold %d answers, %d arrivals (p50 %d, p90 %d); the audit: summoned %d, arrived %d (p50 %d, p90 %d)",
				d.Dept, answers, len(arrive), governance.Percentile(arrive, 50), governance.Percentile(arrive, 90), d.Summoned, arr.Count, arr.P50, arr.P90)
		}
	}
}

// Sorting puts the slowest first, counting a step not reached yet by its time so far; late=1
// keeps the late cases only; paging and the parameters are checked.
func TestAuditUnitCasesSortAndFilter(t *testing.T) {
	tree := geo.DemoTree()
	day := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	path := []string{tree.Root.Code, tree.Root.Children[0].Code}
	h := func(x float64) time.Time { return day.Add(time.Duration(x * float64(time.Hour))) }
	dl := h(30)
	st := &casesStore{}
	mk := func(id string, evs ...event.Event) {
		recs := []store.Record{{Event: event.Event{ID: id + "r", CaseID: id, Type: event.CaseReported, At: h(1), Category: "environment"}, RegionPath: path}}
		for i, e := range evs {
			e.ID, e.CaseID = fmt.Sprintf("%s%d", id, i), id
			recs = append(recs, store.Record{Event: e})
		}
		st.put(id, recs)
	}
	disp := event.Event{Type: event.CaseDispatched, At: h(2), Dept: "A", Deadline: &dl}
	mk("fast", disp, event.Event{Type: event.CaseSigned, At: h(2.5)}, event.Event{Type: event.CaseResolved, At: h(4)}, event.Event{Type: event.CaseClosed, At: h(5)})
	mk("slow", disp, event.Event{Type: event.CaseSigned, At: h(9)}, event.Event{Type: event.CaseResolved, At: h(40)}, event.Event{Type: event.CaseClosed, At: h(41)})
	mk("waiting", disp) // never signed: it has waited since h(2)
	early := h(5)
	mk("overdue", event.Event{Type: event.CaseDispatched, At: h(2), Dept: "A", Deadline: &early}, event.Event{Type: event.CaseSigned, At: h(2.2)})
	q := CasesQuery{AuditQuery: AuditQuery{Region: tree.Root.Code, From: day, To: day.Add(24 * time.Hour), Now: h(12)}, Unit: "A"}
	ctx := context.Background()
	ids := func(cq CasesQuery) string {
		t.Helper()
		rep, err := UnitCases(ctx, st, tree, cq, governance.DefaultClocks(), calendar.Default())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rep.Rows {
			out = append(out, r.Case)
		}
		return fmt.Sprintf("%d:%s", rep.Total, strings.Join(out, ","))
	}
	q.Sort = "sign"
	if got := ids(q); got != "4:waiting,slow,fast,overdue" { // 10 h waiting, 7 h, 0.5 h, 0.2 h
		t.Errorf("sort=sign: %s", got)
	}
	q.Sort = "close"
	if got := ids(q); got != "4:slow,overdue,waiting,fast" { // 40 h, 11 h open (reported at the same time: id order), 4 h
		t.Errorf("sort=close: %s", got)
	}
	q.Late = true // slow: signed late, resolved past the deadline; waiting: never signed; overdue: open past its deadline
	if got := ids(q); got != "3:slow,overdue,waiting" {
		t.Errorf("late only: %s", got)
	}
	q.Late, q.Limit, q.Offset = false, 1, 1
	if got := ids(q); got != "4:overdue" {
		t.Errorf("page 2 of 1: %s", got)
	}
	rep, _ := UnitCases(ctx, st, tree, CasesQuery{AuditQuery: q.AuditQuery, Unit: "A", Sort: "sign"}, governance.DefaultClocks(), calendar.Default())
	if r := rep.Rows[1]; r.Case != "slow" || *r.SignS != 7*3600 || *r.Responded || *r.OnTime || *r.CloseS != 40*3600 || r.Status != "closed" || r.RegionName == "" {
		t.Errorf("slow's row: %+v", r)
	}
	if r := rep.Rows[3]; r.Case != "overdue" || !r.Overdue || r.OnTime != nil || !*r.Responded {
		t.Errorf("overdue's row: %+v", r)
	}
	if r := rep.Rows[0]; r.Signed != nil || r.SignS != nil || r.Responded == nil || *r.Responded || r.OnTime != nil || r.Overdue || r.Status != "dispatched" {
		t.Errorf("waiting's row: %+v", r)
	}
	for _, bad := range []CasesQuery{{Sort: "fastest"}, {Audit: "repeats"}, {Limit: MaxCasesLimit + 1}, {Offset: -1}} {
		bad.AuditQuery, bad.Unit = q.AuditQuery, "A"
		if _, err := UnitCases(ctx, st, tree, bad, governance.DefaultClocks(), calendar.Default()); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

// The previous period is compared at the same age: its cases read with their events up to now
// minus the period's length (resolved later: not yet; reported later: not yet a case), the
// final basis with them all.
func TestAuditPreviousSameAge(t *testing.T) {
	tree := geo.DemoTree()
	path := []string{tree.Root.Code, tree.Root.Children[0].Code}
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC) // the current period: Nov 20 to 22
	st := &casesStore{}
	mk := func(id string, rep time.Time, resolved time.Duration) {
		recs := []store.Record{
			{Event: event.Event{ID: id + "r", CaseID: id, Type: event.CaseReported, At: rep, Category: "environment"}, RegionPath: path},
			{Event: event.Event{ID: id + "d", CaseID: id, Type: event.CaseDispatched, At: rep.Add(time.Minute), Dept: "A"}},
			{Event: event.Event{ID: id + "v", CaseID: id, Type: event.CaseResolved, At: rep.Add(resolved)}},
			{Event: event.Event{ID: id + "c", CaseID: id, Type: event.CaseClosed, At: rep.Add(resolved + time.Hour)}},
		}
		st.put(id, recs)
	}
	// Previous period Nov 18 to 20; now Nov 21 12:00, so the same age is Nov 19 12:00.
	mk("p1", day.Add(-46*time.Hour), 2*time.Hour)  // resolved Nov 18 04:00: counted at the same age
	mk("p2", day.Add(-40*time.Hour), 40*time.Hour) // resolved Nov 20 00:00: not yet at the same age
	mk("p3", day.Add(-6*time.Hour), time.Hour)     // reported Nov 19 18:00: not a case yet at the same age
	mk("c1", day.Add(2*time.Hour), time.Hour)
	now := day.Add(36 * time.Hour)
	q := AuditQuery{Region: tree.Root.Code, From: day, To: day.Add(48 * time.Hour), Config: governance.AuditConfig{MinSample: 1}, Now: now}
	rep, err := Rates(context.Background(), st, tree, q)
	if err != nil {
		t.Fatal(err)
	}
	p := rep.Units[0].Previous
	if rep.PreviousBasis != PreviousSameAge || rep.PreviousAsOf == nil || !rep.PreviousAsOf.Equal(day.Add(-12*time.Hour)) ||
		p.Cases != 2 || p.Resolution.Num != 1 || p.Resolution.Den != 2 || p.Open != 1 {
		t.Fatalf("same age: basis %s as of %v, previous %+v", rep.PreviousBasis, rep.PreviousAsOf, p)
	}
	q.Previous = PreviousFinal
	rep, err = Rates(context.Background(), st, tree, q)
	if err != nil {
		t.Fatal(err)
	}
	p = rep.Units[0].Previous
	if rep.PreviousBasis != PreviousFinal || rep.PreviousAsOf != nil || p.Cases != 3 || p.Resolution.Num != 3 || p.Open != 0 {
		t.Fatalf("final: basis %s, previous %+v", rep.PreviousBasis, p)
	}
	q.Previous = "later"
	if _, err := Rates(context.Background(), st, tree, q); err == nil {
		t.Fatal("previous=later: no error")
	}
}

// Each language's definitions are wholly in it: no Latin words in the Chinese ones, no Chinese in
// the English ones; both say every definition the reply carries.
func TestAuditDefinitionsOneLanguageEach(t *testing.T) {
	for _, defs := range []map[string]map[string]string{RateDefinitionsByLang, CaseDefinitions} {
		for lang, m := range defs {
			for k, v := range m {
				for _, w := range strings.FieldsFunc(v, func(r rune) bool { return !unicode.IsLetter(r) || unicode.Is(unicode.Han, r) }) {
					latin := !unicode.Is(unicode.Han, []rune(w)[0])
					if lang == "zh" && latin && len(w) > 1 {
						t.Errorf("zh %s holds the word %q: %s", k, w, v)
					}
				}
				if lang == "en" && strings.IndexFunc(v, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0 {
					t.Errorf("en %s holds Chinese: %s", k, v)
				}
			}
		}
	}
	for k := range RateDefinitions {
		if RateDefinitionsByLang["zh"][k] == "" || RateDefinitionsByLang["en"][k] == "" {
			t.Errorf("definition %s is not in both languages", k)
		}
	}
}
