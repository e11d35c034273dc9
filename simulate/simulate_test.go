package simulate

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"zhili/clock"
	"zhili/event"
	"zhili/geo"
)

var t0 = time.Date(2026, 11, 27, 8, 0, 0, 0, Zone)

type traced struct {
	kind lineKind
	line []byte
	now  time.Time
}

// collect runs a generator on a fake clock in steps of step for d and returns every line.
func collect(cfg Config, d, step time.Duration) (*Generator, []traced) {
	g := NewGenerator(cfg)
	clk := clock.NewFake(t0)
	var out []traced
	g.trace = func(k lineKind, l []byte) { out = append(out, traced{kind: k, line: l, now: clk.Now()}) }
	for end := t0.Add(d); !clk.Now().After(end); clk.Add(step) {
		g.Next(clk.Now(), MaxBatch)
	}
	return g, out
}

// drainHeld returns the late lines still held back at the end of a run, as if sent later.
func drainHeld(g *Generator) []traced {
	var out []traced
	for len(g.held) > 0 {
		h := heap.Pop(&g.held).(*heldLine)
		k := kindGood
		if h.dup {
			k = kindDup
		}
		out = append(out, traced{kind: k, line: h.line, now: h.release})
	}
	return out
}

func TestStream(t *testing.T) {
	tree := geo.DemoTree()
	g, lines := collect(Config{Tree: tree, Seed: 7, Rate: 20, Speed: 300}, 90*time.Minute, 100*time.Millisecond)
	lines = append(lines, drainHeld(g)...)
	rules := event.DefaultRules()
	rules.KnownRegion = func(c string) bool { return tree.Get(c) != nil }
	strict := rules
	strict.FutureSkew = time.Second // `at` never more than a second ahead

	seen := map[string][]byte{}
	byCase := map[string][]event.Event{}
	arrival := map[string][]string{} // case → event ids in arrival order
	types := map[event.Type]int{}
	badReasons := map[string]int{}
	crs := map[string]int{}
	regionOnly, withReporter := 0, 0
	for i, tl := range lines {
		ev, id, err := event.Decode(tl.line, &strict, tl.now)
		switch tl.kind {
		case kindBad:
			if err == nil {
				t.Fatalf("line %d: bad line decoded: %s", i, tl.line)
			}
			fe, _ := err.(*event.FieldError)
			if fe == nil {
				t.Fatalf("line %d: error %T", i, err)
			}
			badReasons[fe.Field]++
			continue
		case kindDup:
			if !bytes.Equal(seen[id], tl.line) {
				t.Fatalf("line %d: duplicate of an id not sent before or with other content: %s", i, tl.line)
			}
			continue
		}
		if err != nil {
			t.Fatalf("line %d: %v: %s", i, err, tl.line)
		}
		if _, dup := seen[id]; dup {
			t.Fatalf("line %d: id %s reused", i, id)
		}
		seen[id] = tl.line
		types[ev.Type]++
		byCase[ev.CaseID] = append(byCase[ev.CaseID], ev)
		arrival[ev.CaseID] = append(arrival[ev.CaseID], ev.ID)
		if ev.At.Format("-07:00") != "+08:00" {
			t.Fatalf("line %d: at not in +08:00: %s", i, tl.line)
		}
		if ev.Type == event.CaseReported {
			if ev.Reporter != nil {
				withReporter++
				if !strings.Contains(ev.Reporter.Phone, "****") || !strings.Contains(ev.Reporter.Name, "某") {
					t.Fatalf("reporter does not look fake: %+v", ev.Reporter)
				}
			}
			if ev.Location == nil {
				regionOnly++
				continue
			}
			crs[ev.Location.CRS]++
			lon, lat := geo.ToWGS84(ev.Location.CRS, ev.Location.Lon, ev.Location.Lat)
			path := geo.TreeLocator{T: tree}.Locate(orb.Point{lon, lat})
			if len(path) != 3 {
				t.Fatalf("line %d: point located at %v, want a grid: %s", i, path, tl.line)
			}
		}
	}
	for _, ty := range event.Types {
		if types[ty] == 0 && ty != event.EvaluationSurvey && ty != event.StaffDuty { // surveys come from evaluation systems, duty records from the roster
			t.Errorf("no %s in the stream", ty)
		}
	}
	for _, f := range []string{"location.lat", "type", "case_id", "line"} {
		if badReasons[f] == 0 {
			t.Errorf("no bad line of kind %s (%v)", f, badReasons)
		}
	}
	for _, c := range []string{event.WGS84, event.GCJ02, event.BD09} {
		if crs[c] == 0 {
			t.Errorf("no location in %s (%v)", c, crs)
		}
	}
	if regionOnly == 0 || withReporter == 0 {
		t.Errorf("region-only cases %d, with reporter %d", regionOnly, withReporter)
	}
	st := g.Stats()
	n := float64(st.Lines)
	t.Logf("lines %d cases %d whistles %d bad %d dups %d late %d; types %v", st.Lines, st.Cases, st.Whistles, st.Bad, st.Dups, st.Late, types)
	if r := float64(st.Bad) / n; r < 0.002 || r > 0.01 {
		t.Errorf("bad ratio %.4f", r)
	}
	if r := float64(st.Dups) / n; r < 0.005 || r > 0.02 {
		t.Errorf("dup ratio %.4f", r)
	}
	if r := float64(st.Late) / n; r < 0.01 || r > 0.06 {
		t.Errorf("late ratio %.4f", r)
	}
	if r := float64(st.Whistles) / float64(st.Cases); r < 0.01 || r > 0.1 {
		t.Errorf("whistle share %.3f", r)
	}
	if hot := float64(types[event.CaseReported]) / float64(len(seen)); hot > 0.3 {
		t.Errorf("case.reported is %.2f of the events: lifecycles not flowing", hot)
	}

	// Lifecycle order by `at` is legal for every case; some arrive out of order.
	outOfOrder, complete := 0, 0
	for cid, evs := range byCase {
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].At.Before(evs[j].At) })
		if err := checkLifecycle(evs); err != nil {
			t.Fatalf("case %s: %v\n%s", cid, err, dump(evs))
		}
		for i, ev := range evs {
			if arrival[cid][i] != ev.ID {
				outOfOrder++
				break
			}
		}
		if evs[len(evs)-1].Type == event.CaseClosed {
			complete++
		}
	}
	if outOfOrder == 0 {
		t.Error("no case arrived out of order")
	}
	if complete < len(byCase)/3 {
		t.Errorf("only %d of %d cases closed", complete, len(byCase))
	}
}

func dump(evs []event.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "  %s %s %s %s %s\n", e.At.Format(timeLayout), e.Type, e.Dept, e.WhistleID, e.Stage)
	}
	return b.String()
}

// checkLifecycle verifies that events sorted by `at` follow the case and whistle state machines.
func checkLifecycle(evs []event.Event) error {
	state := ""
	dept := ""
	type wst struct {
		depts    map[string]int // next stage index per dept
		resolved bool
		scored   map[string]bool
	}
	var w *wst
	stageIdx := map[string]int{"signed": 0, "contacted": 1, "arrived": 2}
	for i, e := range evs {
		if i == 0 && e.Type != event.CaseReported {
			return fmt.Errorf("first event is %s", e.Type)
		}
		bad := func() error { return fmt.Errorf("event %d %s in state %q", i, e.Type, state) }
		switch e.Type {
		case event.CaseReported:
			if i != 0 {
				return bad()
			}
			state = "reported"
		case event.CaseAccepted:
			if state != "reported" {
				return bad()
			}
			state = "accepted"
		case event.CaseDispatched:
			if state != "accepted" && state != "returned" && state != "reopened" {
				return bad()
			}
			if e.Deadline == nil || !e.Deadline.After(e.At) {
				return fmt.Errorf("dispatch deadline %v not after %v", e.Deadline, e.At)
			}
			state, dept = "dispatched", e.Dept
		case event.CaseReturned, event.CaseSigned:
			if state != "dispatched" || e.Dept != dept {
				return bad()
			}
			state = map[event.Type]string{event.CaseReturned: "returned", event.CaseSigned: "signed"}[e.Type]
		case event.CaseResolved:
			if state != "signed" || (w != nil && !w.resolved) {
				return bad()
			}
			state = "resolved"
		case event.CaseClosed:
			if state != "resolved" {
				return bad()
			}
			state = "closed"
		case event.CaseReopened:
			if state != "closed" {
				return bad()
			}
			state = "reopened"
		case event.CaseDuplicate:
			if state != "reported" {
				return bad()
			}
			state = "duplicate"
		case event.WhistleBlown:
			if state != "signed" || w != nil {
				return bad()
			}
			w = &wst{depts: map[string]int{}, scored: map[string]bool{}}
			for _, d := range e.Depts {
				w.depts[d] = 0
			}
		case event.WhistleAnswered:
			if w == nil {
				return bad()
			}
			next, ok := w.depts[e.Dept]
			if !ok || stageIdx[e.Stage] != next {
				return fmt.Errorf("event %d: %s stage %s out of order", i, e.Dept, e.Stage)
			}
			w.depts[e.Dept] = next + 1
		case event.WhistleResolved:
			if w == nil || w.resolved {
				return bad()
			}
			for d, n := range w.depts {
				if n != 3 {
					return fmt.Errorf("whistle resolved before %s arrived", d)
				}
			}
			w.resolved = true
		case event.WhistleEvaluated:
			if w == nil || !w.resolved || w.scored[e.Dept] {
				return bad()
			}
			if _, ok := w.depts[e.Dept]; !ok {
				return fmt.Errorf("evaluated %s, not summoned", e.Dept)
			}
			w.scored[e.Dept] = true
		}
	}
	return nil
}

func TestRate(t *testing.T) {
	for _, rate := range []float64{3, 37, 400} {
		_, lines := collect(Config{Seed: 1, Rate: rate}, time.Minute, 100*time.Millisecond)
		want := rate*60 + 1 // slots at 0 … 60 s inclusive
		if got := float64(len(lines)); got < want-1 || got > want+1 {
			t.Errorf("rate %.0f: %v lines over a minute, want %v", rate, got, want)
		}
	}
}

func TestDeterminism(t *testing.T) {
	cfg := Config{Seed: 42, Rate: 80}
	_, a := collect(cfg, 3*time.Minute, 100*time.Millisecond)
	_, b := collect(cfg, 3*time.Minute, 100*time.Millisecond)
	_, c := collect(cfg, 3*time.Minute, 7500*time.Millisecond) // other call pattern, same slots
	_, d := collect(Config{Seed: 43, Rate: 80}, 3*time.Minute, 100*time.Millisecond)
	join := func(ls []traced) string {
		var s strings.Builder
		for _, l := range ls {
			s.Write(l.line)
			s.WriteByte('\n')
		}
		return s.String()
	}
	if join(a) != join(b) {
		t.Fatal("same seed and clock gave different streams")
	}
	if join(a) != join(c) {
		t.Fatal("the stream depends on how Next calls are split")
	}
	if join(a) == join(d) {
		t.Fatal("different seeds gave the same stream")
	}
	// Another run (later start) uses other ids.
	g := NewGenerator(cfg)
	g.Next(t0.Add(time.Hour), 1)
	if p := NewGenerator(cfg); p.Next(t0, 1) != nil && p.Prefix() == g.Prefix() {
		t.Fatal("two runs at different times share an id prefix")
	}
}

func TestNextMax(t *testing.T) {
	g := NewGenerator(Config{Seed: 3, Rate: 100})
	if n := len(g.Next(t0, 10)); n != 1 {
		t.Fatalf("first call returned %d lines, want 1 (slot 0)", n)
	}
	if n := len(g.Next(t0.Add(time.Second), 10)); n != 10 {
		t.Fatalf("got %d, want max 10", n)
	}
	if n := len(g.Next(t0.Add(time.Second), 1000)); n != 90 {
		t.Fatalf("got %d, want the remaining 90", n)
	}
}

func TestRun(t *testing.T) {
	var mu sync.Mutex
	var bodies [][]byte
	err := Run(context.Background(), Config{Seed: 5, Rate: 40}, 700*time.Millisecond, func(_ context.Context, b []byte) error {
		mu.Lock()
		bodies = append(bodies, append([]byte(nil), b...))
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range bodies {
		if !bytes.HasSuffix(b, []byte("\n")) {
			t.Fatalf("body without trailing newline: %q", b)
		}
		n += bytes.Count(b, []byte("\n"))
	}
	if n < 25 || n > 32 { // 40/s for 0.7 s, plus slot 0
		t.Fatalf("%d lines in 0.7 s at 40/s (%d bodies)", n, len(bodies))
	}
	if len(bodies) < 4 {
		t.Fatalf("%d bodies, want about one per 100 ms", len(bodies))
	}
	// A send error stops the run.
	boom := fmt.Errorf("boom")
	if err := Run(context.Background(), Config{Seed: 5, Rate: 40}, time.Second, func(context.Context, []byte) error { return boom }); err != boom {
		t.Fatalf("got %v, want the send error", err)
	}
}

// Grids with a high density hint in the region file get most cases.
func TestDataWeightsConcentrateCases(t *testing.T) {
	tree := geo.DemoTree()
	var leaves []*geo.Region
	tree.Walk(func(r *geo.Region) {
		if len(r.Children) == 0 {
			leaves = append(leaves, r)
		}
	})
	dense := leaves[5]
	for _, r := range leaves {
		r.Weight = 0.01
	}
	dense.Weight = 1
	g := NewGenerator(Config{Tree: tree, Seed: 7, Rate: 100, BadRatio: -1, LateRatio: -1, DupRatio: -1})
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, Zone)
	count := map[string]int{}
	total := 0
	rules := event.DefaultRules()
	for i := 0; i < 600; i++ {
		now = now.Add(time.Second)
		for _, l := range g.Next(now, 1000) {
			ev, _, err := event.Decode(l, &rules, now.Add(time.Second))
			if err != nil || ev.Type != event.CaseReported {
				continue
			}
			var path []string
			if ev.Location != nil {
				lon, lat := geo.ToWGS84(ev.Location.CRS, ev.Location.Lon, ev.Location.Lat)
				path = geo.TreeLocator{T: tree}.Locate(orb.Point{lon, lat})
			} else {
				path = tree.Path(ev.Region)
			}
			if len(path) > 0 {
				count[path[len(path)-1]]++
				total++
			}
		}
	}
	t.Logf("dense grid: %d of %d cases", count[dense.Code], total)
	if total < 1000 || float64(count[dense.Code]) < 0.3*float64(total) {
		t.Fatalf("dense grid %s got %d of %d cases", dense.Code, count[dense.Code], total)
	}
}
