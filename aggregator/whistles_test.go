package aggregator

import (
	"testing"
	"time"

	"zhili/store"
)

func whistle(id string, mod func(*store.Record)) func(*store.Record) {
	return func(r *store.Record) {
		r.WhistleID = id
		if mod != nil {
			mod(r)
		}
	}
}

// Whistle events in any order give the same board: the earliest blowing names the departments,
// each stage keeps its earliest time, the latest evaluation counts; a whistle on a case not yet
// reported appears when the report arrives.
func TestWhistleStateOrderIndependent(t *testing.T) {
	path := []string{"R", "T1", "G1"}
	now := ts("2026-11-27T12:00:00+08:00")
	evs := []rec{
		{"w1", "whistle.blown", "2026-11-27T09:00:00+08:00", whistle("W1", func(r *store.Record) {
			r.WhistleKind, r.Depts = "advance", []string{"d.urban", "d.env"}
		})},
		{"w2", "whistle.answered", "2026-11-27T09:40:00+08:00", whistle("W1", func(r *store.Record) { r.Dept, r.Stage = "d.urban", "signed" })},
		{"w3", "whistle.answered", "2026-11-27T09:20:00+08:00", whistle("W1", func(r *store.Record) { r.Dept, r.Stage = "d.urban", "signed" })},  // earlier: wins
		{"w4", "whistle.answered", "2026-11-27T10:00:00+08:00", whistle("W1", func(r *store.Record) { r.Dept, r.Stage = "d.police", "signed" })}, // not summoned, answered
		{"w5", "whistle.evaluated", "2026-11-27T11:00:00+08:00", whistle("W1", func(r *store.Record) { r.Dept, r.Score = "d.urban", 4 })},
		{"w6", "whistle.evaluated", "2026-11-27T10:30:00+08:00", whistle("W1", func(r *store.Record) { r.Dept, r.Score = "d.urban", 2 })}, // older: loses
	}
	report := rec{"r1", "case.reported", "2026-11-27T08:00:00+08:00", nil}
	for _, order := range [][]int{{0, 1, 2, 3, 4, 5}, {5, 4, 3, 2, 1, 0}, {3, 1, 5, 0, 2, 4}} {
		s := newTestState()
		var seq []rec
		for _, i := range order {
			seq = append(seq, evs[i])
		}
		applyAll(s, now, path, seq...)
		if got := s.takeDelta().Whistles; len(got) != 0 {
			t.Fatalf("order %v: whistles published before the case is reported: %+v", order, got)
		}
		applyAll(s, now, path, report)
		ws := s.takeDelta().Whistles
		if len(ws) != 1 {
			t.Fatalf("order %v: %d whistles after the report, want 1", order, len(ws))
		}
		w := ws[0]
		if w.Kind != "advance" || !w.Blown.Equal(ts("2026-11-27T09:00:00+08:00")) || len(w.Depts) != 3 ||
			w.Depts[0].Dept != "d.urban" || w.Depts[1].Dept != "d.env" || w.Depts[2].Dept != "d.police" {
			t.Fatalf("order %v: %+v", order, w)
		}
		if at := w.Depts[0].Reached["signed"]; !at.Equal(ts("2026-11-27T09:20:00+08:00")) || w.Depts[0].Score != 4 {
			t.Fatalf("order %v: d.urban %+v, want signed 09:20 and score 4", order, w.Depts[0])
		}
		if len(w.Depts[1].Reached) != 0 || len(w.Region) != 3 {
			t.Fatalf("order %v: d.env %+v region %v", order, w.Depts[1], w.Region)
		}
		// A reset carries it; resolving it keeps it a day, then it leaves the board.
		if full := s.full(now, nil); len(full.Whistles) != 1 {
			t.Fatalf("reset has %d whistles", len(full.Whistles))
		}
		applyAll(s, now, path, rec{"w7", "whistle.resolved", "2026-11-27T11:30:00+08:00", whistle("W1", nil)})
		if ws := s.takeDelta().Whistles; len(ws) != 1 || ws[0].Resolved.IsZero() {
			t.Fatalf("resolution not published: %+v", ws)
		}
		later := now.Add(25 * time.Hour)
		if full := s.full(later, nil); len(full.Whistles) != 0 {
			t.Fatalf("a whistle resolved 25 h ago is still in the reset")
		}
	}
}
