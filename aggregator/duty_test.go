package aggregator

import (
	"testing"
	"time"

	"zhili/event"
	"zhili/store"
)

func dutyRec(id, staff, grid, state, at, sup string) *store.Record {
	off++
	return &store.Record{Event: event.Event{ID: id, Type: event.StaffDuty, At: ts(at), Supersedes: sup,
		Duty: &event.Duty{Staff: staff, Grid: grid, State: state}}, Offset: off}
}

// A staff member's duty state in force is its latest record by event time: a late record
// older than it changes nothing; a correction takes the place of the record it names, and a
// state whose every record is superseded goes away.
func TestDutyLateAndCorrection(t *testing.T) {
	s := newTestState()
	now := ts("2026-11-27T12:00:00+08:00")
	s.apply(dutyRec("d1", "S1", "G1", "on", "2026-11-27T08:00:00+08:00", ""), now, true)
	s.apply(dutyRec("d2", "S1", "G1", "off", "2026-11-27T11:00:00+08:00", ""), now, true)
	u := s.takeDelta()
	if len(u.Duty) != 1 || u.Duty[0].On || u.Duty[0].Grid != "G1" {
		t.Fatalf("after on, off: %+v", u.Duty)
	}
	// Late: a check-in at 10:00 arrives after the 11:00 check-out: still off.
	s.apply(dutyRec("d3", "S1", "G1", "on", "2026-11-27T10:00:00+08:00", ""), now, true)
	if d, _ := s.dutyOf("S1"); d.On {
		t.Fatalf("a late check-in overrode a later check-out: %+v", d)
	}
	// Correction: the 11:00 check-out was wrong (the person was on duty in grid G2).
	s.apply(dutyRec("d4", "S1", "G2", "on", "2026-11-27T11:00:00+08:00", "d2"), now, true)
	d, ok := s.dutyOf("S1")
	if !ok || !d.On || d.Grid != "G2" {
		t.Fatalf("after the correction: %+v %v", d, ok)
	}
	// A correction of a record arriving before it (out of order) applies too.
	s.apply(dutyRec("e2", "S2", "G1", "off", "2026-11-27T09:05:00+08:00", "e1"), now, true)
	s.apply(dutyRec("e1", "S2", "G1", "on", "2026-11-27T09:00:00+08:00", ""), now, true)
	if d, _ := s.dutyOf("S2"); d.On {
		t.Fatalf("S2 on after its correction to off: %+v", d)
	}
	// The same record again (a replay overlapping the log) changes nothing.
	s.takeDelta()
	s.apply(dutyRec("d4", "S1", "G2", "on", "2026-11-27T11:00:00+08:00", "d2"), now, true)
	if u := s.takeDelta(); len(u.Duty) != 0 {
		t.Fatalf("a repeated record changed: %+v", u.Duty)
	}
	// A reset carries every staff member's state.
	full := s.full(now, nil)
	if len(full.Duty) != 2 {
		t.Fatalf("reset duty %+v", full.Duty)
	}
	// Duty records belong to no case.
	if len(s.cases) != 0 {
		t.Fatalf("duty records made cases: %d", len(s.cases))
	}
	// A week later S2 (off duty) is forgotten, S1 (on duty) kept.
	s.prune(now.Add(8*24*time.Hour), 7*24*time.Hour)
	if _, ok := s.duty["S2"]; ok || s.duty["S1"] == nil {
		t.Fatalf("after a prune: %v", s.duty)
	}
}

// Only the latest records of a staff member are kept.
func TestDutyKeepsRecent(t *testing.T) {
	s := newTestState()
	now := ts("2026-11-27T12:00:00+08:00")
	for i := range 40 {
		st := "on"
		if i%2 == 1 {
			st = "off"
		}
		at := ts("2026-11-27T08:00:00+08:00").Add(timeMinutes(i)).Format("2006-01-02T15:04:05Z07:00")
		s.apply(dutyRec("k"+string(rune('A'+i)), "S", "G", st, at, ""), now, true)
	}
	if n := len(s.duty["S"].evs); n != dutyKeep {
		t.Fatalf("kept %d records, want %d", n, dutyKeep)
	}
	if d, _ := s.dutyOf("S"); d.On {
		t.Fatalf("the 40th record is a check-out: %+v", d)
	}
}

func timeMinutes(n int) time.Duration { return time.Duration(n) * time.Minute }
