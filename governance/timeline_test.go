package governance

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"zhili/calendar"
	"zhili/event"
)

// A hand-checked case: a return to the center, a late resolution, an unsatisfied callback, a
// reopening, an illegal step, and a whistle with a corrected evaluation.
func TestFoldCase(t *testing.T) {
	d := func(s string) *time.Time { v := at(s); return &v }
	ev := func(id string, typ event.Type, when string, mod func(*event.Event)) event.Event {
		e := event.Event{ID: id, Type: typ, CaseID: "C1", At: at(when)}
		if mod != nil {
			mod(&e)
		}
		return e
	}
	evs := []event.Event{
		ev("e1", event.CaseReported, "2026-11-26 08:00", nil),
		ev("e2", event.CaseDispatched, "2026-11-26 08:10", func(e *event.Event) { e.Dept, e.Deadline = "A", d("2026-11-27 08:10") }),
		ev("e3", event.CaseReturned, "2026-11-26 09:00", func(e *event.Event) { e.Dept = "A" }),
		ev("e4", event.CaseDispatched, "2026-11-26 09:30", func(e *event.Event) { e.Dept, e.Deadline = "B", d("2026-11-26 12:00") }),
		ev("e5", event.CaseSigned, "2026-11-26 09:40", func(e *event.Event) { e.Dept = "B" }),
		ev("e6", event.CaseResolved, "2026-11-26 13:00", nil),
		ev("e7", event.CaseClosed, "2026-11-26 14:00", func(e *event.Event) { e.Satisfaction = "unsatisfied" }),
		ev("e8", event.CaseReopened, "2026-11-26 15:00", nil),
		ev("e9", event.CaseSigned, "2026-11-26 15:30", func(e *event.Event) { e.Dept = "B" }),
		ev("e10", event.CaseResolved, "2026-11-26 16:00", nil),
		ev("w1", event.WhistleBlown, "2026-11-26 10:00", func(e *event.Event) {
			e.WhistleID, e.WhistleKind, e.Depts = "W1", "advance", []string{"X", "Y"}
		}),
		ev("w2", event.WhistleAnswered, "2026-11-26 10:30", func(e *event.Event) { e.WhistleID, e.Dept, e.Stage = "W1", "X", "signed" }),
		ev("w3", event.WhistleResolved, "2026-11-26 16:30", func(e *event.Event) { e.WhistleID = "W1" }),
		ev("w4", event.WhistleEvaluated, "2026-11-26 17:00", func(e *event.Event) { e.WhistleID, e.Dept, e.Score = "W1", "X", 3 }),
		ev("w5", event.WhistleEvaluated, "2026-11-26 17:30", func(e *event.Event) { e.WhistleID, e.Dept, e.Score = "W1", "X", 5 }),
	}
	now := at("2026-11-27 09:00")
	check := func(tl Timeline) {
		t.Helper()
		if tl.Status != Resolved || tl.Returns != 1 || tl.Reopens != 1 {
			t.Fatalf("status %s returns %d reopens %d", tl.Status, tl.Returns, tl.Reopens)
		}
		var illegal []string
		for _, s := range tl.Steps {
			if !s.Legal {
				illegal = append(illegal, s.ID+": "+s.Reason)
			}
		}
		if fmt.Sprint(illegal) != "[e9: reopened → signed]" {
			t.Errorf("illegal steps %v", illegal)
		}
		want := []string{"closed_then_reopened", "closed_unsatisfied", "illegal_transition", "overdue", "reopened", "returned"}
		got := slices.Sorted(slices.Values(tl.Flags))
		if !slices.Equal(got, want) {
			t.Errorf("flags %v, want %v", got, want)
		}
		if len(tl.Clocks) != 2 {
			t.Fatalf("clocks %+v", tl.Clocks)
		}
		if c := tl.Clocks[0]; c.Dept != "A" || c.EndedBy != "returned" || c.Late {
			t.Errorf("first dispatch clock %+v", c)
		}
		if c := tl.Clocks[1]; c.Dept != "B" || c.EndedBy != "resolved" || !c.Late || c.Overdue != 3600 {
			t.Errorf("second dispatch clock %+v (resolved 13:00, due 12:00)", c)
		}
		if len(tl.Whistles) != 1 {
			t.Fatalf("whistles %+v", tl.Whistles)
		}
		w := tl.Whistles[0]
		// The clocks stop at the whistle's resolution (16:30): X signed in time and had until the
		// next day 10:00 to make contact; Y never signed (due 11:00): late.
		if x := w.Depts["X"]; x[0].Light != Done || x[1].Light != Green {
			t.Errorf("X clocks %+v", x)
		}
		if y := w.Depts["Y"]; y[0].Light != Red || !y[0].Late {
			t.Errorf("Y clocks %+v", y)
		}
		if len(tl.Evaluated) != 2 || tl.Evaluated[1].Supersedes != "w4" || tl.Evaluated[1].Score != 5 || tl.Evaluated[0].Supersedes != "" {
			t.Errorf("evaluations %+v: the correction must point at the first", tl.Evaluated)
		}
	}
	cal := calendar.Default()
	ref := Fold(evs, DefaultClocks(), cal, now)
	check(ref)
	// Arrival order does not matter: events are read by event time.
	rng := rand.New(rand.NewPCG(3, 4))
	for range 5 {
		sh := slices.Clone(evs)
		rng.Shuffle(len(sh), func(i, j int) { sh[i], sh[j] = sh[j], sh[i] })
		if got := Fold(sh, DefaultClocks(), cal, now); !reflect.DeepEqual(got, ref) {
			t.Fatalf("a shuffled arrival gives another timeline")
		}
	}
}

// An event before the case was reported is kept and flagged; a dispatch still running past its
// deadline is late now.
func TestFoldEarlyAndRunning(t *testing.T) {
	due := at("2026-11-26 12:00")
	tl := Fold([]event.Event{
		{ID: "a", Type: event.CaseAccepted, CaseID: "C", At: at("2026-11-26 07:59")},
		{ID: "r", Type: event.CaseReported, CaseID: "C", At: at("2026-11-26 08:00")},
		{ID: "d", Type: event.CaseDispatched, CaseID: "C", At: at("2026-11-26 08:10"), Dept: "A", Deadline: &due},
	}, DefaultClocks(), calendar.Default(), at("2026-11-26 13:30"))
	if tl.Steps[0].Legal || tl.Steps[0].Reason != "before the case was reported" || len(tl.Steps) != 3 {
		t.Fatalf("steps %+v", tl.Steps)
	}
	if c := tl.Clocks[0]; !c.Late || c.Overdue != 5400 || !c.Ended.IsZero() {
		t.Fatalf("running clock %+v", c)
	}
	if tl.Status != Dispatched {
		t.Fatalf("status %s", tl.Status)
	}
}

// A dispatch without a deadline is a step with its department, starts no clock and is never
// late; a deadline-less re-dispatch ends the clock before it.
func TestFoldDispatchWithoutDeadline(t *testing.T) {
	due := at("2026-11-26 09:00")
	tl := Fold([]event.Event{
		{ID: "r", Type: event.CaseReported, CaseID: "C", At: at("2026-11-26 08:00")},
		{ID: "d1", Type: event.CaseDispatched, CaseID: "C", At: at("2026-11-26 08:10"), Dept: "A", Deadline: &due},
		{ID: "d2", Type: event.CaseDispatched, CaseID: "C", At: at("2026-11-26 08:30"), Dept: "B"},
		{ID: "s", Type: event.CaseSigned, CaseID: "C", At: at("2026-11-26 08:40"), Dept: "B"},
	}, DefaultClocks(), calendar.Default(), at("2026-12-26 08:00"))
	if len(tl.Steps) != 4 || tl.Steps[2].Type != event.CaseDispatched || tl.Steps[2].Dept != "B" || !tl.Steps[2].Legal || tl.Status != SignedS {
		t.Fatalf("steps %+v status %s", tl.Steps, tl.Status)
	}
	if len(tl.Clocks) != 1 || tl.Clocks[0].Dept != "A" || tl.Clocks[0].EndedBy != "redispatched" || tl.Clocks[0].Late {
		t.Fatalf("clocks %+v: want only A's, ended on time by the re-dispatch", tl.Clocks)
	}
	if slices.Contains(tl.Flags, "overdue") {
		t.Fatalf("flags %v: a dispatch without a deadline is never overdue", tl.Flags)
	}
}

// A closing before the report is applied after the case's later events up to its first
// reopening, and flagged; the timeline carries close reasons and the category text; a dispatch
// after a transfer is legal.
func TestFoldClosedBeforeReportedAndReasons(t *testing.T) {
	now := at("2026-11-27 08:00")
	tl := Fold([]event.Event{
		{ID: "c", Type: event.CaseClosed, At: at("2026-11-26 07:00"), CloseReason: event.CloseDuplicate},
		{ID: "r", Type: event.CaseReported, At: at("2026-11-26 08:00"), Category: event.CategoryUnmapped, CategoryText: "违章搭建"},
		{ID: "a", Type: event.CaseAccepted, At: at("2026-11-26 08:05")},
	}, DefaultClocks(), calendar.Default(), now)
	ids := []string{}
	for _, s := range tl.Steps {
		ids = append(ids, s.ID)
	}
	if !slices.Equal(ids, []string{"r", "a", "c"}) || tl.Status != Closed || tl.CloseReason != event.CloseDuplicate || tl.CategoryText != "违章搭建" {
		t.Fatalf("steps %v status %s reason %q text %q", ids, tl.Status, tl.CloseReason, tl.CategoryText)
	}
	if c := tl.Steps[2]; !c.Legal || c.CloseReason != event.CloseDuplicate || c.Reason == "" || !slices.Contains(tl.Flags, "closed_before_reported") {
		t.Fatalf("early closing step %+v flags %v", c, tl.Flags)
	}
	tl = Fold([]event.Event{
		{ID: "c", Type: event.CaseClosed, At: at("2026-11-26 07:00")},
		{ID: "r", Type: event.CaseReported, At: at("2026-11-26 08:00")},
		{ID: "d", Type: event.CaseDispatched, At: at("2026-11-26 08:10"), Dept: "A"},
		{ID: "o", Type: event.CaseReopened, At: at("2026-11-26 09:00")},
		{ID: "d2", Type: event.CaseDispatched, At: at("2026-11-26 09:10"), Dept: "B"},
	}, DefaultClocks(), calendar.Default(), now)
	ids = ids[:0]
	for _, s := range tl.Steps {
		ids = append(ids, s.ID)
	}
	if !slices.Equal(ids, []string{"r", "d", "c", "o", "d2"}) || tl.Status != Dispatched || tl.CloseReason != "" {
		t.Fatalf("with a reopening: steps %v status %s", ids, tl.Status)
	}
	tl = Fold([]event.Event{
		{ID: "r", Type: event.CaseReported, At: at("2026-11-26 08:00")},
		{ID: "d", Type: event.CaseDispatched, At: at("2026-11-26 08:10"), Dept: "A"},
		{ID: "t", Type: event.CaseClosed, At: at("2026-11-26 09:00"), CloseReason: event.CloseTransferred},
		{ID: "d2", Type: event.CaseDispatched, At: at("2026-11-26 09:10"), Dept: "B"},
	}, DefaultClocks(), calendar.Default(), now)
	if s := tl.Steps[3]; !s.Legal || tl.Status != Dispatched || tl.CloseReason != "" || slices.Contains(tl.Flags, "illegal_transition") {
		t.Fatalf("dispatch after a transfer: %+v flags %v", s, tl.Flags)
	}
}

// Corrections: a report imported in the wrong zone and its closing, each superseded (the
// closing twice, the last moving it earlier). The timeline keeps every version, applies the
// latest, and the facts the audits count are the latest versions'.
func TestFoldAndFactsWithCorrections(t *testing.T) {
	ev := func(id string, typ event.Type, when, sup string, mod func(*event.Event)) event.Event {
		e := event.Event{ID: id, Type: typ, CaseID: "C1", At: at(when), Supersedes: sup}
		if mod != nil {
			mod(&e)
		}
		return e
	}
	evs := []event.Event{
		ev("r", event.CaseReported, "2026-11-26 21:00", "", func(e *event.Event) { e.Category, e.CategoryText = "environment", "Noise" }),
		ev("d", event.CaseDispatched, "2026-11-26 21:10", "", func(e *event.Event) { e.Dept = "A" }),
		ev("c", event.CaseClosed, "2026-11-27 12:00", "", func(e *event.Event) { e.Satisfaction = "unsatisfied" }),
		// The right zone: the report 13 hours later, the closing to a later then an earlier time.
		ev("r2", event.CaseReported, "2026-11-27 10:00", "r", func(e *event.Event) { e.Category, e.CategoryText = "cityorder", "Street" }),
		ev("d2", event.CaseDispatched, "2026-11-27 10:10", "d", func(e *event.Event) { e.Dept = "B" }),
		ev("c2", event.CaseClosed, "2026-11-28 09:00", "c", func(e *event.Event) { e.Satisfaction = "unsatisfied" }),
		ev("c3", event.CaseClosed, "2026-11-27 11:00", "c2", func(e *event.Event) { e.Satisfaction = "satisfied" }),
	}
	tl := Fold(evs, DefaultClocks(), calendar.Default(), at("2026-11-29 00:00"))
	var steps []string
	for _, s := range tl.Steps {
		x := s.ID + ":" + string(s.To)
		if s.SupersededBy != "" {
			x += "(by " + s.SupersededBy + ")"
		}
		if s.Supersedes != "" {
			x += "(for " + s.Supersedes + ")"
		}
		steps = append(steps, x)
	}
	want := "[r:(by r2) d:(by d2) r2:reported(for r) d2:dispatched(for d) c3:closed(for c2) c:closed(by c2) c2:closed(by c3)]"
	if fmt.Sprint(steps) != want {
		t.Errorf("steps %v\nwant  %s", steps, want)
	}
	if tl.Status != Closed || tl.CategoryText != "Street" || !slices.Contains(tl.Flags, "corrected") ||
		slices.Contains(tl.Flags, "closed_unsatisfied") || slices.Contains(tl.Flags, "closed_before_reported") {
		t.Errorf("timeline %s %q %v", tl.Status, tl.CategoryText, tl.Flags)
	}
	f := Facts("C1", evs)
	if !f.Reported.Equal(at("2026-11-27 10:00")) || f.Category != "cityorder" || f.Dept != "B" || !f.Closed.Equal(at("2026-11-27 11:00")) ||
		f.Satisfaction != "satisfied" || f.ClosedUnsatisfied || f.CategoryText != "Street" {
		t.Errorf("facts %+v", f)
	}
	us := Rates([]CaseFacts{f}, func(f *CaseFacts) string { return f.Dept }, AuditConfig{})
	if len(us) != 1 || us[0].Unit != "B" || us[0].CloseP50 != 3600 || us[0].Satisfaction.Num != 1 {
		t.Errorf("rates %+v", us)
	}
}
