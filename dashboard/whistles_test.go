package dashboard

import (
	"testing"
	"time"

	"zhili/calendar"
	"zhili/clock"
	"zhili/geo"
	"zhili/governance"
	"zhili/update"
)

func TestWhistleBoard(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	clk := clock.NewFake(at("2026-09-30 10:30"))
	tree := geo.DemoTree()
	m := NewModel(ModelConfig{Tree: tree, Loc: loc, Clock: clk})
	root, t1, t2 := tree.Root.Code, tree.Root.Children[0].Code, tree.Root.Children[1].Code
	w1 := update.Whistle{ID: "W1", CaseID: "C1", Kind: "advance", Region: []string{root, t1}, Blown: at("2026-09-30 10:00"),
		Depts: []update.WhistleDept{{Dept: "d.urban", Reached: map[string]time.Time{"signed": at("2026-09-30 10:20")}}, {Dept: "d.env"}}}
	w2 := update.Whistle{ID: "W2", CaseID: "C2", Kind: "emergency", Region: []string{root, t2}, Blown: at("2026-09-30 10:25"),
		Depts: []update.WhistleDept{{Dept: "d.fire"}}}
	// Two sources (partitions), one whistle each.
	m.Apply(&update.Update{Source: "p0", Epoch: 1, Seq: 1, Reset: true, Whistles: []update.Whistle{w1}})
	m.Apply(&update.Update{Source: "p1", Part: 1, Epoch: 2, Seq: 1, Reset: true, Whistles: []update.Whistle{w2}})
	src := WhistlesSource{M: m, Clocks: governance.DefaultClocks(), Cal: calendar.Default()}
	st, err := src.Open(Topic{Name: "whistles:root", Kind: "whistles", Region: "root"})
	if err != nil {
		t.Fatal(err)
	}
	snap := st.Snapshot().(map[string]any)
	ws := snap["whistles"].(map[string]any)
	if len(ws) != 2 {
		t.Fatalf("board has %d whistles, want 2", len(ws))
	}
	b1 := ws["W1"].(map[string]any)
	urban := b1["depts"].([]any)[0].(map[string]any)
	stages := urban["stages"].([]any)
	if s0 := stages[0].(map[string]any); s0["light"] != "done" || s0["late"] != false {
		t.Fatalf("d.urban signed: %v", s0)
	}
	// Arrival: 3 working days from Sep 30 10:00 over National Day = Oct 10 (make-up Saturday) 10:00.
	if s2 := stages[2].(map[string]any); !s2["deadline"].(time.Time).Equal(at("2026-10-10 10:00")) {
		t.Fatalf("d.urban arrival deadline %v", s2["deadline"])
	}
	env := b1["depts"].([]any)[1].(map[string]any)
	if s0 := env["stages"].([]any)[0].(map[string]any); s0["light"] != "green" || s0["left_min"] != int64(30) {
		t.Fatalf("d.env signed after 30 of 60 min: %v", s0)
	}
	if b1["light"] != "green" || !b1["next_deadline"].(time.Time).Equal(at("2026-09-30 11:00")) {
		t.Fatalf("W1: light %v next %v", b1["light"], b1["next_deadline"])
	}
	if w := ws["W2"].(map[string]any); w["light"] != "green" {
		t.Fatalf("W2 (emergency, signed due 10:35): %v", w["light"])
	}
	// A township's board shows its own whistles only.
	st1, _ := src.Open(Topic{Name: "whistles:" + t1, Kind: "whistles", Region: t1})
	if ws := st1.Snapshot().(map[string]any)["whistles"].(map[string]any); len(ws) != 1 || ws["W1"] == nil {
		t.Fatalf("township board %v", ws)
	}
	// Time passes: W2's signing is late, W1's d.env turns amber.
	clk.Set(at("2026-09-30 10:50"))
	d, changed := st.Advance()
	if !changed {
		t.Fatal("no delta after the lights changed")
	}
	dw := d.(map[string]any)["whistles"].(map[string]any)
	if w := dw["W2"].(map[string]any); w["light"] != "red" || w["late"] != true {
		t.Fatalf("W2 after its deadline: %v", w)
	}
	if tot := st.Snapshot().(map[string]any)["totals"].(map[string]any); tot["active"] != int64(2) || tot["late"] != int64(1) || tot["overdue"] != int64(1) {
		t.Fatalf("totals %v", tot)
	}
	if n := st.Snapshot().(map[string]any)["min_sample"]; n != int64(governance.DefaultMinSample) {
		t.Fatalf("min_sample %v", n)
	}
	if w := st.Snapshot().(map[string]any)["whistles"].(map[string]any)["W1"].(map[string]any); w["light"] != "amber" {
		t.Fatalf("W1 with 10 of 60 minutes left for d.env: %v", w["light"])
	}
	// Countdowns are whole minutes: 30 s later no countdown crossed a minute, nothing moves.
	clk.Set(at("2026-09-30 10:50").Add(20 * time.Second))
	st.Advance()
	clk.Set(at("2026-09-30 10:50").Add(50 * time.Second))
	if d, changed := st.Advance(); changed {
		t.Fatalf("a delta without a countdown crossing a minute: %v", d)
	}
	// W2 signed late at 10:45 (its next stage, contact by 10:55, still in time): late, no longer
	// overdue (no stage open past its deadline).
	w2.Depts = []update.WhistleDept{{Dept: "d.fire", Reached: map[string]time.Time{"signed": at("2026-09-30 10:45")}}}
	m.Apply(&update.Update{Source: "p1", Epoch: 2, Seq: 2, Whistles: []update.Whistle{w2}})
	st.Advance()
	if tot := st.Snapshot().(map[string]any)["totals"].(map[string]any); tot["late"] != int64(1) || tot["overdue"] != int64(0) {
		t.Fatalf("totals after W2 signed late: %v", tot)
	}
	// An update resolves W2: it stays, resolved, and counts today.
	w2.Resolved = at("2026-09-30 10:55")
	m.Apply(&update.Update{Source: "p1", Epoch: 2, Seq: 3, Whistles: []update.Whistle{w2}})
	if _, changed := st.Advance(); !changed {
		t.Fatal("no delta after a whistle was resolved")
	}
	tot := st.Snapshot().(map[string]any)["totals"].(map[string]any)
	if tot["active"] != int64(1) || tot["late"] != int64(0) || tot["overdue"] != int64(0) || tot["resolved_today"] != int64(1) {
		t.Fatalf("totals after resolving W2: %v", tot)
	}
}
