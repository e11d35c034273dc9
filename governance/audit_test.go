package governance

import (
	"testing"
	"time"

	"zhili/calendar"
	"zhili/event"
)

func TestPercentileNearestRank(t *testing.T) {
	xs := []int64{10, 1, 9, 2, 8, 3, 7, 4, 6, 5}
	if Percentile(xs, 50) != 5 || Percentile(xs, 90) != 9 || Percentile(xs, 100) != 10 || Percentile([]int64{7}, 90) != 7 || Percentile(nil, 50) != -1 {
		t.Fatal("nearest-rank percentiles")
	}
}

// The three rates on a fixture checked by hand (see the comments per case).
func TestRatesHandChecked(t *testing.T) {
	d := func(s string) *time.Time { v := at(s); return &v }
	type e = event.Event
	cases := map[string][]e{
		// A: signed in 50 min (responded), resolved on time, closed satisfied; close 5 h.
		"c1": {{Type: event.CaseReported, At: at("2026-11-26 08:00")}, {Type: event.CaseDispatched, Dept: "A", At: at("2026-11-26 08:10"), Deadline: d("2026-11-26 18:00")},
			{Type: event.CaseSigned, At: at("2026-11-26 09:00")}, {Type: event.CaseResolved, At: at("2026-11-26 12:00")},
			{Type: event.CaseClosed, At: at("2026-11-26 13:00"), Satisfaction: "satisfied"}},
		// A: signed after 2 h 55 (no response), resolved late, closed unsatisfied then reopened
		// (not resolved); close 5 h.
		"c2": {{Type: event.CaseReported, At: at("2026-11-26 09:00")}, {Type: event.CaseDispatched, Dept: "A", At: at("2026-11-26 09:05"), Deadline: d("2026-11-26 10:00")},
			{Type: event.CaseSigned, At: at("2026-11-26 12:00")}, {Type: event.CaseResolved, At: at("2026-11-26 11:00")},
			{Type: event.CaseClosed, At: at("2026-11-26 14:00"), Satisfaction: "unsatisfied"}, {Type: event.CaseReopened, At: at("2026-11-26 15:00")}},
		// A: dispatched, nothing since.
		"c3": {{Type: event.CaseReported, At: at("2026-11-26 10:00")}, {Type: event.CaseDispatched, Dept: "A", At: at("2026-11-26 10:10")}},
		// B: re-dispatched from A to B (B counts it), responded, resolved, basically satisfied; close 2 h.
		"c4": {{Type: event.CaseReported, At: at("2026-11-26 08:00")}, {Type: event.CaseDispatched, Dept: "A", At: at("2026-11-26 08:05")},
			{Type: event.CaseDispatched, Dept: "B", At: at("2026-11-26 08:10")}, {Type: event.CaseSigned, At: at("2026-11-26 08:30")},
			{Type: event.CaseResolved, At: at("2026-11-26 09:00")}, {Type: event.CaseClosed, At: at("2026-11-26 10:00"), Satisfaction: "basically"}},
		// Never dispatched: counts as a case of no department.
		"c5": {{Type: event.CaseReported, At: at("2026-11-26 11:00")}},
	}
	var facts []CaseFacts
	for id, evs := range cases {
		facts = append(facts, Facts(id, evs))
	}
	us := Rates(facts, func(f *CaseFacts) string { return f.Dept }, AuditConfig{MinSample: 2})
	if len(us) != 2 || us[0].Unit != "A" || us[1].Unit != "B" {
		t.Fatalf("units %+v", us)
	}
	a, b := us[0], us[1]
	chk := func(name string, r Rate, num, den int64, rank int) {
		t.Helper()
		if r.Num != num || r.Den != den || r.Rank != rank {
			t.Errorf("%s: %d/%d rank %d, want %d/%d rank %d", name, r.Num, r.Den, r.Rank, num, den, rank)
		}
	}
	chk("A response", a.Response, 1, 3, 1)
	chk("A resolution", a.Resolution, 1, 3, 1)
	chk("A satisfaction", a.Satisfaction, 1, 2, 1)
	chk("A on time", a.OnTime, 1, 2, 1)
	chk("B response", b.Response, 1, 1, 0) // one case: below the minimum sample, not ranked
	chk("B satisfaction", b.Satisfaction, 1, 1, 0)
	if b.OnTime.Value != nil {
		t.Errorf("B on time without a deadline: %v", *b.OnTime.Value)
	}
	if a.CloseP50 != 5*3600 || a.CloseP90 != 5*3600 || b.CloseP50 != 2*3600 || a.Closed != 2 || a.Cases != 3 {
		t.Errorf("close times A %d/%d B %d", a.CloseP50, a.CloseP90, b.CloseP50)
	}
	// c3 (A) and c4 (B) were dispatched without a deadline: counted, left out of on time.
	if a.WithoutDeadline != 1 || b.WithoutDeadline != 1 || a.Dispatched != 3 || b.OnTime.Den != 0 {
		t.Errorf("without deadline A %d B %d", a.WithoutDeadline, b.WithoutDeadline)
	}
	if a.Response.Enough != true || b.Response.Enough != false {
		t.Errorf("sample guard")
	}
}

func TestWhistleAudit(t *testing.T) {
	cal := calendar.Default()
	ev := func(typ event.Type, when string, mod func(*event.Event)) event.Event {
		e := event.Event{Type: typ, At: at(when), WhistleID: "W1"}
		if mod != nil {
			mod(&e)
		}
		return e
	}
	evs := []event.Event{
		ev(event.WhistleBlown, "2026-11-26 09:00", func(e *event.Event) { e.WhistleKind, e.Depts = "advance", []string{"X", "Y"} }),
		ev(event.WhistleAnswered, "2026-11-26 09:30", func(e *event.Event) { e.Dept, e.Stage = "X", "signed" }),
		ev(event.WhistleAnswered, "2026-11-26 11:00", func(e *event.Event) { e.Dept, e.Stage = "Y", "signed" }), // late (due 10:00)
		ev(event.WhistleAnswered, "2026-11-26 15:00", func(e *event.Event) { e.Dept, e.Stage = "X", "contacted" }),
		ev(event.WhistleResolved, "2026-11-27 09:00", nil),
		ev(event.WhistleEvaluated, "2026-11-27 10:00", func(e *event.Event) { e.Dept, e.Score = "X", 2 }),
		ev(event.WhistleEvaluated, "2026-11-27 11:00", func(e *event.Event) { e.Dept, e.Score = "X", 4 }), // the correction counts
	}
	ws := WhistlesOf([]string{"R", "T1"}, evs)
	st := WhistleAudit(ws, DefaultClocks(), cal, at("2026-11-27 12:00"), AuditConfig{MinSample: 1}, nil)
	if len(st) != 2 {
		t.Fatalf("%+v", st)
	}
	x, y := st[0], st[1]
	if x.Stages[0].P50 != 1800 || x.Stages[0].OnTime.Num != 1 || x.Stages[0].OnTime.Den != 1 {
		t.Errorf("X signed: %+v", x.Stages[0])
	}
	if x.Stages[1].P50 != 6*3600 || x.Stages[1].Count != 1 {
		t.Errorf("X contacted: %+v", x.Stages[1])
	}
	// Y signed late; Y never contacted, and at 12:00 the next day its 24 h are over: late too.
	if y.Stages[0].OnTime.Num != 0 || y.Stages[0].OnTime.Den != 1 || y.Stages[1].OnTime.Den != 1 || y.Stages[1].Count != 0 {
		t.Errorf("Y: %+v", y.Stages)
	}
	// Arrival (3 working days) is not due yet for either: not counted in on-time shares.
	if x.Stages[2].OnTime.Den != 0 {
		t.Errorf("X arrival counted before its deadline: %+v", x.Stages[2])
	}
	// X: 2 stages due and both in time (arrival not yet due); Y: 0 of 2. Ranked with a sample of 1.
	if x.OnTime.Num != 2 || x.OnTime.Den != 2 || x.OnTime.Rank != 1 || y.OnTime.Num != 0 || y.OnTime.Rank != 2 {
		t.Errorf("on-time ranks X %+v Y %+v", x.OnTime, y.OnTime)
	}
	if x.Resolved.P50 != 24*3600 || x.MeanScore == nil || *x.MeanScore != 4 || y.MeanScore != nil {
		t.Errorf("X resolved %+v score %v, Y score %v", x.Resolved, x.MeanScore, y.MeanScore)
	}
}

// By township: both departments' answers count for the township that blew the whistle; its
// resolution once.
func TestWhistleAuditByRegion(t *testing.T) {
	blown := event.Event{Type: event.WhistleBlown, At: at("2026-11-26 09:00"), WhistleID: "W1", WhistleKind: "advance", Depts: []string{"X", "Y"}}
	res := event.Event{Type: event.WhistleResolved, At: at("2026-11-26 21:00"), WhistleID: "W1"}
	ws := WhistlesOf([]string{"R", "T1", "G1"}, []event.Event{blown, res})
	st := WhistleAudit(ws, DefaultClocks(), calendar.Default(), at("2026-11-27 12:00"), AuditConfig{MinSample: 1}, WhistleByRegion(1))
	if len(st) != 1 || st[0].Dept != "T1" || st[0].Summoned != 2 || st[0].Resolved.Count != 1 || st[0].Resolved.P50 != 12*3600 {
		t.Fatalf("%+v", st)
	}
}

// Close reasons, hand-checked; every case of department A, dispatched at 08:10 (window 2 h).
func TestRatesCloseReasons(t *testing.T) {
	type e = event.Event
	rep := func(h string) e { return e{Type: event.CaseReported, At: at("2026-11-26 " + h)} }
	disp := func(dept, h string) e {
		dl := at("2026-11-26 18:00")
		return e{Type: event.CaseDispatched, Dept: dept, At: at("2026-11-26 " + h), Deadline: &dl}
	}
	sign := func(h string) e { return e{Type: event.CaseSigned, At: at("2026-11-26 " + h)} }
	res := func(h string) e { return e{Type: event.CaseResolved, At: at("2026-11-26 " + h)} }
	closed := func(h, reason, sat string) e {
		return e{Type: event.CaseClosed, At: at("2026-11-26 " + h), CloseReason: reason, Satisfaction: sat}
	}
	cases := map[string][]e{
		// Fixed: responded, resolved on time, satisfied; closes in 4 h.
		"fixed": {rep("08:00"), disp("A", "08:10"), sign("08:20"), res("10:00"), closed("12:00", "", "satisfied")},
		// Not fixed: responded, resolved then closed not_fixed: closed (4 h) and rated, not
		// resolved, not in on time.
		"notfixed": {rep("08:00"), disp("A", "08:10"), sign("08:20"), res("10:00"), closed("12:00", event.CloseNotFixed, "unsatisfied")},
		// Duplicate closed 30 min after the dispatch, unsigned: out of every rate (its window was
		// cut short), not closed.
		"dup": {rep("08:00"), disp("A", "08:10"), closed("08:40", event.CloseDuplicate, "satisfied")},
		// Cancelled after the window ran out unsigned: in the response rate (not responded), out
		// of the others.
		"cancel": {rep("08:00"), disp("A", "08:10"), closed("11:00", event.CloseCancelled, "")},
		// Transferred away from A with no dispatch after: not assessed, although signed in time:
		// a response (it signed in its window), out of the others.
		"away": {rep("08:00"), disp("A", "08:10"), sign("08:30"), res("09:00"), closed("09:30", event.CloseTransferred, "satisfied")},
		// Transferred from B to A: counts for A as dispatched at 10:10, A's signing 11:00 is in
		// time, A resolves and it is closed fixed; B's resolution before the transfer is not A's.
		"moved": {rep("08:00"), disp("B", "08:10"), res("09:00"), closed("09:30", event.CloseTransferred, ""),
			disp("A", "10:10"), sign("11:00"), res("13:00"), closed("14:00", "", "basically")},
		// Closed as a duplicate by mistake and reopened: assessed again (responded, resolved on
		// time, satisfied; closes in 4 h), and a closed-then-reopened sign.
		"dupback": {rep("08:00"), disp("A", "08:10"), closed("08:40", event.CloseDuplicate, ""), {Type: event.CaseReopened, At: at("2026-11-26 09:00")},
			sign("09:10"), res("10:00"), closed("12:00", "", "satisfied")},
	}
	var facts []CaseFacts
	for id, evs := range cases {
		facts = append(facts, Facts(id, evs))
	}
	us := Rates(facts, func(f *CaseFacts) string { return f.Dept }, AuditConfig{MinSample: 1})
	if len(us) != 1 || us[0].Unit != "A" {
		t.Fatalf("units %+v: every case is A's", us)
	}
	a := us[0]
	chk := func(name string, r Rate, num, den int64) {
		t.Helper()
		if r.Num != num || r.Den != den {
			t.Errorf("%s: %d/%d, want %d/%d", name, r.Num, r.Den, num, den)
		}
	}
	chk("response", a.Response, 5, 6)     // fixed, notfixed, away, moved, dupback of those and cancel
	chk("resolution", a.Resolution, 3, 4) // fixed, moved, dupback of those and notfixed
	chk("satisfaction", a.Satisfaction, 3, 4)
	chk("on time", a.OnTime, 3, 3)
	if a.Cases != 7 || a.Dispatched != 7 || a.Closed != 4 || a.NotFixed != 1 || a.Duplicates != 1 || a.Cancelled != 1 || a.Transferred != 1 ||
		a.ClosedThenReopened != 1 {
		t.Errorf("counts %+v", a)
	}
	if a.CloseP50 != 4*3600 || a.CloseP90 != 6*3600 || a.ClosedUnsatisfied != 1 {
		t.Errorf("close times %d/%d, unsatisfied %d", a.CloseP50, a.CloseP90, a.ClosedUnsatisfied)
	}
	f := Facts("moved", cases["moved"])
	if f.CloseReason != "" || f.Dept != "A" || !f.Dispatched.Equal(at("2026-11-26 10:10")) || f.ClosedThenReopened {
		t.Errorf("moved facts %+v", f)
	}
	f = Facts("away", cases["away"])
	if f.CloseReason != event.CloseTransferred || !NotAssessed(&f) {
		t.Errorf("away facts %+v", f)
	}
}

// A closing before the report counts as a closing of the case (after its dispatch), with no
// time to close; its category text is kept.
func TestFactsClosedBeforeReported(t *testing.T) {
	dl := at("2026-11-26 18:00")
	f := Facts("C", []event.Event{
		{Type: event.CaseClosed, At: at("2026-11-26 07:00"), Satisfaction: "satisfied"},
		{Type: event.CaseReported, At: at("2026-11-26 08:00"), Category: event.CategoryUnmapped, CategoryText: "占道经营"},
		{Type: event.CaseDispatched, Dept: "A", At: at("2026-11-26 08:10"), Deadline: &dl},
		{Type: event.CaseResolved, At: at("2026-11-26 09:00")},
	})
	if f.Closed.IsZero() || f.Satisfaction != "satisfied" || f.CategoryText != "占道经营" || f.Dept != "A" {
		t.Fatalf("facts %+v", f)
	}
	u := Rates([]CaseFacts{f}, func(f *CaseFacts) string { return f.Dept }, AuditConfig{})[0]
	if u.Closed != 1 || u.CloseP50 != -1 || u.Satisfaction.Num != 1 || u.Resolution.Num != 1 {
		t.Errorf("rates %+v: closed once, no time to close", u)
	}
}
