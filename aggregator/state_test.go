package aggregator

import (
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	"zhili/event"
	"zhili/geo"
	"zhili/ingest"
	"zhili/intake"
	"zhili/store"
	"zhili/update"

	"github.com/paulmach/orb/planar"
)

var shanghai = func() *time.Location { l, _ := time.LoadLocation("Asia/Shanghai"); return l }()

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

type rec struct {
	id, typ, at string
	mod         func(*store.Record)
}

func newTestState() *state {
	return newState(shanghai, "R")
}

var off uint64

func applyAll(s *state, now time.Time, path []string, rs ...rec) {
	for _, r := range rs {
		off++
		x := store.Record{Event: event.Event{ID: r.id, Type: event.Type(r.typ), CaseID: "C1", At: ts(r.at)}, Offset: off}
		if x.Type == event.CaseReported {
			x.Source, x.Category, x.Priority, x.RegionPath = "grid", "environment", "normal", path
		}
		if r.mod != nil {
			r.mod(&x)
		}
		s.apply(&x, now, true)
	}
}

func day(s string) int32 { return update.DayOf(ts(s), shanghai) }

func get(s *state, region string, d int32, m update.Metric) int64 {
	s.flush()
	return s.rollup[update.Key{Region: region, Category: "environment", Day: d, Metric: m}]
}

func TestLifecycleCounters(t *testing.T) {
	s := newTestState()
	now := ts("2026-11-27T12:00:00+08:00")
	path := []string{"R", "T1", "G1"}
	deadline := ts("2026-11-29T08:00:00+08:00")
	applyAll(s, now, path,
		rec{"e1", "case.reported", "2026-11-27T08:00:00+08:00", nil},
		rec{"e2", "case.dispatched", "2026-11-27T08:10:00+08:00", func(r *store.Record) { r.Dept, r.Deadline = "d1", &deadline }},
	)
	today := day("2026-11-27T08:00:00+08:00")
	for _, r := range path {
		if get(s, r, today, update.MNew) != 1 || get(s, r, 0, update.MOpen) != 1 || get(s, r, today, update.MDispatched) != 1 {
			t.Fatalf("%s after dispatch: new=%d open=%d dispatched=%d", r, get(s, r, today, update.MNew), get(s, r, 0, update.MOpen), get(s, r, today, update.MDispatched))
		}
	}
	applyAll(s, now, path,
		rec{"e3", "case.signed", "2026-11-27T08:30:00+08:00", func(r *store.Record) { r.Dept = "d1" }},
		rec{"e4", "case.resolved", "2026-11-27T10:00:00+08:00", nil},
		rec{"e5", "case.closed", "2026-11-27T11:00:00+08:00", func(r *store.Record) { r.Satisfaction = "satisfied" }},
	)
	if got := get(s, "G1", 0, update.MOpen); got != 0 {
		t.Fatalf("open after close = %d", got)
	}
	for m, want := range map[update.Metric]int64{update.MSigned: 1, update.MResolved: 1, update.MClosed: 1,
		update.MClosedOK: 1, update.MSatisfied: 1, update.MFlowUp: 1, update.MFlowDown: 1} {
		if got := get(s, "T1", today, m); got != want {
			t.Errorf("%s = %d, want %d", m, got, want)
		}
	}
	if c := s.cases["C1"]; c.status != StatusClosed {
		t.Fatalf("status %s", c.status)
	}
	if len(s.items) != 5 {
		t.Fatalf("%d feed items, want 5", len(s.items))
	}
}

func TestOutOfOrderAndPendingCase(t *testing.T) {
	s := newTestState()
	now := ts("2026-11-27T12:00:00+08:00")
	path := []string{"R", "T1"}
	// The resolution arrives before the report: held, nothing counted, nothing published.
	applyAll(s, now, path, rec{"e2", "case.resolved", "2026-11-27T09:00:00+08:00", nil})
	s.flush()
	if s.pending != 1 || len(s.rollup) != 0 || len(s.items) != 0 {
		t.Fatalf("pending=%d rollup=%v items=%d", s.pending, s.rollup, len(s.items))
	}
	applyAll(s, now, path, rec{"e1", "case.reported", "2026-11-27T08:00:00+08:00", nil})
	today := day("2026-11-27T08:00:00+08:00")
	if s.pending != 0 {
		t.Fatalf("pending=%d after the report", s.pending)
	}
	if get(s, "T1", today, update.MNew) != 1 || get(s, "T1", today, update.MResolved) != 1 || get(s, "T1", 0, update.MOpen) != 0 {
		t.Fatalf("after report: %v", s.rollup)
	}
	if len(s.items) != 2 || s.items[0].ID != "e1" || s.items[1].ID != "e2" {
		t.Fatalf("items %+v", s.items)
	}
	// A late signature before the resolution does not reopen the case.
	applyAll(s, now, path, rec{"e3", "case.signed", "2026-11-27T08:30:00+08:00", func(r *store.Record) { r.Dept = "d" }})
	if s.cases["C1"].status != StatusResolved || get(s, "T1", 0, update.MOpen) != 0 {
		t.Fatalf("late signed changed status to %s", s.cases["C1"].status)
	}
}

func TestLateEventLandsInItsOwnDay(t *testing.T) {
	s := newTestState()
	now := ts("2026-11-27T12:00:00+08:00")
	// 16:30 UTC on the 26th is 00:30 on the 27th in Shanghai; 15:30 UTC is 23:30 on the 26th.
	applyAll(s, now, []string{"R"}, rec{"a", "case.reported", "2026-11-26T15:30:00Z", nil})
	off++
	r := store.Record{Event: event.Event{ID: "b", Type: event.CaseReported, CaseID: "C2", At: ts("2026-11-26T16:30:00Z"),
		Source: "hotline12345", Category: "environment"}, Offset: off, RegionPath: []string{"R"}}
	s.apply(&r, now, true)
	d26, d27 := day("2026-11-26T12:00:00+08:00"), day("2026-11-27T12:00:00+08:00")
	if get(s, "R", d26, update.MNew) != 1 || get(s, "R", d27, update.MNew) != 1 {
		t.Fatalf("day buckets: 26th=%d 27th=%d", get(s, "R", d26, update.MNew), get(s, "R", d27, update.MNew))
	}
	if get(s, "R", d27, update.MFlowHorizontal) != 1 || get(s, "R", d26, update.MFlowUp) != 1 {
		t.Fatal("flows not split by source")
	}
}

func TestOverdueByClock(t *testing.T) {
	s := newTestState()
	now := ts("2026-11-27T08:00:00+08:00")
	deadline := ts("2026-11-27T10:00:00+08:00")
	applyAll(s, now, []string{"R"},
		rec{"e1", "case.reported", "2026-11-27T07:00:00+08:00", nil},
		rec{"e2", "case.dispatched", "2026-11-27T07:10:00+08:00", func(r *store.Record) { r.Dept, r.Deadline = "d", &deadline }},
	)
	if get(s, "R", 0, update.MOverdue) != 0 {
		t.Fatal("overdue before deadline")
	}
	s.tick(ts("2026-11-27T09:59:00+08:00"))
	if get(s, "R", 0, update.MOverdue) != 0 {
		t.Fatal("overdue a minute early")
	}
	later := ts("2026-11-27T10:01:00+08:00")
	s.tick(later)
	if get(s, "R", 0, update.MOverdue) != 1 {
		t.Fatal("not overdue after deadline")
	}
	applyAll(s, later, []string{"R"}, rec{"e3", "case.resolved", "2026-11-27T10:00:30+08:00", nil})
	if get(s, "R", 0, update.MOverdue) != 0 || get(s, "R", 0, update.MOpen) != 0 {
		t.Fatal("resolved case still overdue/open")
	}
}

func TestReturnedClearsDeadlineAndUnlocatedCountsAtRoot(t *testing.T) {
	s := newTestState()
	now := ts("2026-11-28T08:00:00+08:00")
	deadline := ts("2026-11-27T10:00:00+08:00")
	applyAll(s, now, nil,
		rec{"e1", "case.reported", "2026-11-27T07:00:00+08:00", nil},
		rec{"e2", "case.dispatched", "2026-11-27T07:10:00+08:00", func(r *store.Record) { r.Dept, r.Deadline = "d", &deadline }},
	)
	d := day("2026-11-27T07:00:00+08:00")
	if get(s, "R", d, update.MUnlocated) != 1 || get(s, "R", d, update.MNew) != 1 {
		t.Fatal("unlocated case not counted at the root")
	}
	if get(s, "R", 0, update.MOverdue) != 1 {
		t.Fatal("past deadline not overdue at once")
	}
	applyAll(s, now, nil, rec{"e3", "case.returned", "2026-11-27T08:00:00+08:00", func(r *store.Record) { r.Dept = "d" }})
	if get(s, "R", 0, update.MOverdue) != 0 || get(s, "R", 0, update.MOpen) != 1 {
		t.Fatal("returned case: deadline not cleared or case closed")
	}
	if len(s.items) == 0 || len(s.items[0].Region) != 0 {
		t.Fatal("unlocated item should carry an empty region path")
	}
}

func TestPruneForgetsOnlyFinishedOrOrphanCases(t *testing.T) {
	s := newTestState()
	old := "2026-11-01T08:00:00+08:00"
	now := ts("2026-11-27T08:00:00+08:00")
	mk := func(cid string, rs ...rec) {
		for _, r := range rs {
			off++
			x := store.Record{Event: event.Event{ID: cid + r.id, Type: event.Type(r.typ), CaseID: cid, At: ts(r.at)}, Offset: off}
			if x.Type == event.CaseReported {
				x.Source, x.Category, x.RegionPath = "grid", "environment", []string{"R"}
			}
			s.apply(&x, now, false)
		}
	}
	mk("closed", rec{"1", "case.reported", old, nil}, rec{"2", "case.closed", old, nil})
	mk("open", rec{"1", "case.reported", old, nil})
	mk("orphan", rec{"1", "case.signed", old, nil})
	mk("recent", rec{"1", "case.reported", "2026-11-26T08:00:00+08:00", nil}, rec{"2", "case.closed", "2026-11-26T09:00:00+08:00", nil})
	s.takeDelta()
	if n := s.prune(now, 7*24*time.Hour); n != 2 {
		t.Fatalf("pruned %d cases, want 2", n)
	}
	for _, id := range []string{"open", "recent"} {
		if s.cases[id] == nil {
			t.Errorf("case %s forgotten", id)
		}
	}
	if s.pending != 0 {
		t.Errorf("pending %d after the orphan was forgotten", s.pending)
	}
	if get(s, "R", 0, update.MOpen) != 1 {
		t.Error("pruning changed the current counters")
	}
	if get(s, "R", day(old), update.MNew) != 0 || get(s, "R", day("2026-11-26T08:00:00+08:00"), update.MNew) != 1 {
		t.Error("old per-day counters kept, or recent ones dropped")
	}
}

func TestEventsOfAKnownCaseTakeItsRegion(t *testing.T) {
	s := newTestState()
	now := ts("2026-11-27T12:00:00+08:00")
	applyAll(s, now, []string{"R", "T1"},
		rec{"e1", "case.reported", "2026-11-27T08:00:00+08:00", nil},
		rec{"e2", "case.resolved", "2026-11-27T09:00:00+08:00", nil},
	)
	off++
	r := store.Record{Event: event.Event{ID: "e3", Type: event.CaseClosed, CaseID: "C1", At: ts("2026-11-27T10:00:00+08:00")}, Offset: off}
	s.apply(&r, now, false)
	if len(r.RegionPath) != 2 || r.RegionPath[1] != "T1" {
		t.Fatalf("closed event region %v, want the case's", r.RegionPath)
	}
	off++
	p := store.Record{Event: event.Event{ID: "x1", Type: event.CaseClosed, CaseID: "C9", At: ts("2026-11-27T10:00:00+08:00")}, Offset: off}
	s.apply(&p, now, false)
	if len(p.RegionPath) != 0 {
		t.Fatalf("event of an unknown case got region %v", p.RegionPath)
	}
}

// The live response rate counts a signing within the response window of the dispatch before it.
func TestSignedInTime(t *testing.T) {
	s := newTestState()
	now := ts("2026-11-27T18:00:00+08:00")
	path := []string{"R", "T1"}
	deadline := ts("2026-11-28T08:00:00+08:00")
	dispatch := func(id, at string) rec {
		return rec{id, "case.dispatched", at, func(r *store.Record) { r.Dept, r.Deadline = "d1", &deadline }}
	}
	applyAll(s, now, path,
		rec{"e1", "case.reported", "2026-11-27T08:00:00+08:00", nil},
		dispatch("e2", "2026-11-27T08:10:00+08:00"),
		rec{"e3", "case.signed", "2026-11-27T11:00:00+08:00", nil}, // 2 h 50 after: not in time
		dispatch("e4", "2026-11-27T12:00:00+08:00"),
		rec{"e5", "case.signed", "2026-11-27T13:30:00+08:00", nil}, // 1 h 30 after the new dispatch
	)
	d := day("2026-11-27T08:00:00+08:00")
	if got := get(s, "T1", d, update.MSignedInTime); got != 1 {
		t.Fatalf("signed in time %d, want 1", got)
	}
	if got := get(s, "T1", d, update.MSigned); got != 2 {
		t.Fatalf("signed %d, want 2", got)
	}
	// The same for the department, deployment-wide.
	dk := func(m update.Metric) int64 {
		return s.rollup[update.Key{Region: update.DeptPrefix + "d1", Category: "environment", Day: d, Metric: m}]
	}
	if dk(update.MDispatched) != 2 || dk(update.MSigned) != 2 || dk(update.MSignedInTime) != 1 {
		t.Fatalf("department d1: dispatched %d signed %d in time %d", dk(update.MDispatched), dk(update.MSigned), dk(update.MSignedInTime))
	}
}

// A dispatch unsigned within its response window awaits its signing (MAwaitingSign, on its
// day, for the case's regions and its department): the live response rate leaves it out until it
// is decided. Signing or a return decides it at once, the end of the window at the next tick; a
// snapshot keeps it and its timer.
func TestAwaitingSign(t *testing.T) {
	path := []string{"R", "T1"}
	deadline := ts("2026-11-28T08:00:00+08:00")
	d := day("2026-11-27T12:00:00+08:00")
	start := func(now time.Time, more ...rec) *state {
		s := newTestState()
		applyAll(s, now, path, append([]rec{
			{"e1", "case.reported", "2026-11-27T12:00:00+08:00", nil},
			{"e2", "case.dispatched", "2026-11-27T12:10:00+08:00", func(r *store.Record) { r.Dept, r.Deadline = "d1", &deadline }},
		}, more...)...)
		return s
	}
	awaiting := func(s *state) (region, dept int64) {
		s.flush()
		return s.rollup[update.Key{Region: "T1", Category: "environment", Day: d, Metric: update.MAwaitingSign}],
			s.rollup[update.Key{Region: update.DeptPrefix + "d1", Category: "environment", Day: d, Metric: update.MAwaitingSign}]
	}
	within := ts("2026-11-27T13:00:00+08:00")
	s := start(within)
	if r, dp := awaiting(s); r != 1 || dp != 1 {
		t.Fatalf("within the window: awaiting %d (department %d), want 1", r, dp)
	}
	// The snapshot keeps it, and its timer ends it.
	f := s.snapshot()
	for _, x := range []*state{s, f.restore(shanghai, "R")} {
		x.tick(ts("2026-11-27T14:09:00+08:00"))
		if r, _ := awaiting(x); r != 1 {
			t.Fatalf("a minute before the window ends: awaiting %d, want 1", r)
		}
		x.tick(ts("2026-11-27T14:11:00+08:00"))
		if r, dp := awaiting(x); r != 0 || dp != 0 {
			t.Fatalf("after the window: awaiting %d (department %d), want 0", r, dp)
		}
		if get(x, "T1", d, update.MDispatched) != 1 || get(x, "T1", d, update.MSignedInTime) != 0 {
			t.Fatalf("dispatched %d, in time %d: want 1 and 0", get(x, "T1", d, update.MDispatched), get(x, "T1", d, update.MSignedInTime))
		}
	}
	// A signing or a return decides it at once.
	for _, r := range []rec{{"e3", "case.signed", "2026-11-27T12:40:00+08:00", nil}, {"e3", "case.returned", "2026-11-27T12:40:00+08:00", nil}} {
		s := start(within, r)
		if a, dp := awaiting(s); a != 0 || dp != 0 {
			t.Fatalf("after %s: awaiting %d (department %d), want 0", r.typ, a, dp)
		}
	}
	// A dispatch read after its window (a replay, a late arrival) never awaits.
	if a, _ := awaiting(start(ts("2026-11-27T15:00:00+08:00"))); a != 0 {
		t.Fatalf("read after the window: awaiting %d, want 0", a)
	}
}

// The counters are a function of a case's events, not of the order they arrive in: a dispatch
// that arrives after the signing it precedes in event time makes that signing a response, and
// moves the department counters of the events that follow it. (A partition handed to another
// aggregator is rebuilt in event-time order; the live one was built in arrival order.)
func TestCountersIndependentOfArrivalOrder(t *testing.T) {
	now := ts("2026-11-28T18:00:00+08:00")
	path := []string{"R", "T1"}
	deadline := ts("2026-11-29T08:00:00+08:00")
	dispatch := func(id, dept, at string) rec {
		return rec{id, "case.dispatched", at, func(r *store.Record) { r.Dept, r.Deadline = dept, &deadline }}
	}
	evs := []rec{
		{"e1", "case.reported", "2026-11-27T08:00:00+08:00", nil},
		dispatch("e2", "d1", "2026-11-27T08:10:00+08:00"),
		{"e3", "case.signed", "2026-11-27T11:00:00+08:00", nil}, // late for e2
		dispatch("e4", "d2", "2026-11-27T12:00:00+08:00"),
		{"e5", "case.signed", "2026-11-27T12:30:00+08:00", nil}, // in time for e4
		{"e6", "case.resolved", "2026-11-28T09:00:00+08:00", nil},
		{"e7", "case.closed", "2026-11-28T10:00:00+08:00", func(r *store.Record) { r.Satisfaction = "unsatisfied" }},
	}
	counts := func(order []int) map[update.Key]int64 {
		s := newTestState()
		rs := make([]rec, len(order))
		for i, k := range order {
			rs[i] = evs[k]
		}
		applyAll(s, now, path, rs...)
		s.flush()
		out := map[update.Key]int64{}
		for k, v := range s.rollup {
			if v != 0 {
				out[k] = v
			}
		}
		return out
	}
	want := counts([]int{0, 1, 2, 3, 4, 5, 6})
	d := day("2026-11-27T08:00:00+08:00")
	if want[update.Key{Region: update.DeptPrefix + "d2", Category: "environment", Day: d, Metric: update.MSignedInTime}] != 1 ||
		want[update.Key{Region: "T1", Category: "environment", Day: d, Metric: update.MSignedInTime}] != 1 {
		t.Fatalf("in order: the signing 30 min after d2's dispatch is not a response: %v", want)
	}
	if want[update.Key{Region: update.DeptPrefix + "d2", Category: "environment", Day: day("2026-11-28T10:00:00+08:00"), Metric: update.MUnsatisfied}] != 1 {
		t.Fatalf("in order: the unsatisfied closing is not d2's: %v", want)
	}
	// Every arrival order of the seven events.
	var permute func(prefix []int, rest []int) int
	permute = func(prefix []int, rest []int) int {
		if len(rest) == 0 {
			if got := counts(prefix); !maps.Equal(got, want) {
				t.Fatalf("arrival order %v: counters differ from event-time order\n got %v\nwant %v", prefix, got, want)
			}
			return 1
		}
		n := 0
		for i := range rest {
			next := append(slices.Clone(prefix), rest[i])
			others := append(slices.Clone(rest[:i]), rest[i+1:]...)
			n += permute(next, others)
		}
		return n
	}
	if n := permute(nil, []int{0, 1, 2, 3, 4, 5, 6}); n != 5040 {
		t.Fatalf("%d orders tried", n)
	}
}

// A report located in GCJ-02 is placed and published in WGS-84, like every point inside Zhili:
// the read model converts for screens, once.
func TestPointsStayWGS84(t *testing.T) {
	tree := geo.DemoTree()
	leaf := tree.Root.Children[0]
	for len(leaf.Children) > 0 {
		leaf = leaf.Children[0]
	}
	c, _ := planar.CentroidArea(leaf.Geometry)
	gx, gy := geo.FromWGS84(event.GCJ02, c[0], c[1])
	ev := event.Event{ID: "e1", Type: event.CaseReported, CaseID: "C1", At: ts("2026-11-27T10:00:00+08:00"), Source: "grid",
		Category: "environment", Location: &event.Location{Lon: gx, Lat: gy, CRS: event.GCJ02}}
	in, err := ingest.Encode(ev, ev.At)
	if err != nil {
		t.Fatal(err)
	}
	a := &Aggregator{place: ingest.Placer{Tree: tree}}
	r, err := a.record(intake.Entry{Offset: 1, ID: in.ID, Data: in.Data})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.RegionPath, tree.Path(leaf.Code)) {
		t.Fatalf("placed in %v, want %v", r.RegionPath, tree.Path(leaf.Code))
	}
	s := newState(shanghai, tree.Root.Code)
	s.apply(&r, ev.At, true)
	u := s.takeDelta()
	if len(u.Items) != 1 || u.Items[0].Point == nil {
		t.Fatalf("items %+v", u.Items)
	}
	if p := u.Items[0].Point; math.Abs(p[0]-c[0]) > 1e-5 || math.Abs(p[1]-c[1]) > 1e-5 {
		t.Fatalf("published point %v, want WGS-84 %v (sent as GCJ-02 %.6f,%.6f)", *p, c, gx, gy)
	}
}

// A dispatch without a deadline (ev.deadline 0) is never overdue, however late, and still counts
// for its department; a deadline-less re-dispatch takes the overdue count back.
func TestDispatchWithoutDeadlineNeverOverdue(t *testing.T) {
	s := newTestState()
	now := ts("2026-11-27T08:00:00+08:00")
	applyAll(s, now, []string{"R"},
		rec{"e1", "case.reported", "2026-11-27T07:00:00+08:00", nil},
		rec{"e2", "case.dispatched", "2026-11-27T07:10:00+08:00", func(r *store.Record) { r.Dept = "d" }},
	)
	s.tick(ts("2027-11-27T08:00:00+08:00"))
	if get(s, "R", 0, update.MOverdue) != 0 || get(s, "R", 0, update.MOpen) != 1 {
		t.Fatal("a dispatch without a deadline counted overdue")
	}
	d := day("2026-11-27T07:10:00+08:00")
	if get(s, update.DeptPrefix+"d", d, update.MDispatched) != 1 {
		t.Fatal("a dispatch without a deadline not counted for its department")
	}

	s = newTestState()
	deadline := ts("2026-11-27T07:30:00+08:00")
	applyAll(s, now, []string{"R"},
		rec{"e1", "case.reported", "2026-11-27T07:00:00+08:00", nil},
		rec{"e2", "case.dispatched", "2026-11-27T07:10:00+08:00", func(r *store.Record) { r.Dept, r.Deadline = "d", &deadline }},
	)
	if get(s, "R", 0, update.MOverdue) != 1 {
		t.Fatal("past deadline not overdue")
	}
	applyAll(s, now, []string{"R"}, rec{"e3", "case.dispatched", "2026-11-27T07:50:00+08:00", func(r *store.Record) { r.Dept = "e" }})
	s.tick(ts("2026-11-28T08:00:00+08:00"))
	if get(s, "R", 0, update.MOverdue) != 0 || get(s, "R", 0, update.MOpen) != 1 {
		t.Fatal("re-dispatched without a deadline: still overdue")
	}
}

// permuteCounts applies evs in every arrival order and fails unless each gives the counters,
// status and open count of event-time order (evs as given); it returns those.
func permuteCounts(t *testing.T, now time.Time, path []string, evs []rec) (map[update.Key]int64, Status) {
	t.Helper()
	run := func(order []int) (map[update.Key]int64, Status) {
		s := newTestState()
		rs := make([]rec, len(order))
		for i, k := range order {
			rs[i] = evs[k]
		}
		applyAll(s, now, path, rs...)
		s.flush()
		out := map[update.Key]int64{}
		for k, v := range s.rollup {
			if v != 0 {
				out[k] = v
			}
		}
		return out, s.cases["C1"].status
	}
	idx := make([]int, len(evs))
	for i := range idx {
		idx[i] = i
	}
	want, wantStatus := run(idx)
	var permute func(prefix, rest []int)
	permute = func(prefix, rest []int) {
		if len(rest) == 0 {
			if got, st := run(prefix); !maps.Equal(got, want) || st != wantStatus {
				t.Fatalf("arrival order %v: status %s, counters\n%v\nwant status %s, counters\n%v", prefix, st, got, wantStatus, want)
			}
			return
		}
		for i := range rest {
			permute(append(slices.Clone(prefix), rest[i]), append(slices.Clone(rest[:i]), rest[i+1:]...))
		}
	}
	permute(nil, idx)
	return want, wantStatus
}

// A closing timed before its case's report (a source's clock or zone wrong) used to be folded
// first, so the case's later dispatch left it open forever while its closing was counted too.
// It is applied after the report and the later events: the case is closed, counted once as
// closed (on its own day) and for the department of the dispatch it follows, whatever the
// arrival order, and can then be forgotten.
func TestClosedBeforeReported(t *testing.T) {
	now := ts("2026-11-28T18:00:00+08:00")
	path := []string{"R", "T1"}
	deadline := ts("2026-11-28T08:00:00+08:00")
	evs := []rec{
		{"c", "case.closed", "2026-11-27T07:00:00+08:00", func(r *store.Record) { r.Satisfaction = "satisfied" }},
		{"r", "case.reported", "2026-11-27T08:00:00+08:00", nil},
		{"d", "case.dispatched", "2026-11-27T08:10:00+08:00", func(r *store.Record) { r.Dept, r.Deadline = "d1", &deadline }},
		{"s", "case.signed", "2026-11-27T08:30:00+08:00", nil},
	}
	got, status := permuteCounts(t, now, path, evs)
	d := day("2026-11-27T08:00:00+08:00")
	key := func(region string, m update.Metric) update.Key {
		return update.Key{Region: region, Category: "environment", Day: d, Metric: m}
	}
	if status != StatusClosed || got[update.Key{Region: "T1", Category: "environment", Metric: update.MOpen}] != 0 ||
		got[update.Key{Region: "T1", Category: "environment", Metric: update.MOverdue}] != 0 {
		t.Fatalf("status %s, counters %v: want closed, neither open nor overdue", status, got)
	}
	if got[key("T1", update.MNew)] != 1 || got[key("T1", update.MClosed)] != 1 || got[key("T1", update.MSatisfied)] != 1 ||
		got[key(update.DeptPrefix+"d1", update.MSatisfied)] != 1 {
		t.Fatalf("counters %v: want one new case, one closing with its callback, for d1", got)
	}
	s := newTestState()
	applyAll(s, now, path, evs...)
	s.takeDelta()
	if n := s.prune(now.Add(30*24*time.Hour), 7*24*time.Hour); n != 1 || len(s.cases) != 0 {
		t.Fatalf("pruned %d, %d cases left: a closed case is forgotten", n, len(s.cases))
	}
}

// An early closing is applied before the case's first reopening after its report: what follows
// the reopening counts as usual, and the closing's callback stays with the dispatch before it.
func TestClosedBeforeReportedThenReopened(t *testing.T) {
	now := ts("2026-11-28T18:00:00+08:00")
	path := []string{"R", "T1"}
	evs := []rec{
		{"c", "case.closed", "2026-11-27T07:00:00+08:00", func(r *store.Record) { r.Satisfaction = "unsatisfied" }},
		{"r", "case.reported", "2026-11-27T08:00:00+08:00", nil},
		{"d1", "case.dispatched", "2026-11-27T08:10:00+08:00", func(r *store.Record) { r.Dept = "d1" }},
		{"o", "case.reopened", "2026-11-27T09:00:00+08:00", nil},
		{"d2", "case.dispatched", "2026-11-27T09:10:00+08:00", func(r *store.Record) { r.Dept = "d2" }},
	}
	got, status := permuteCounts(t, now, path, evs)
	d := day("2026-11-27T08:00:00+08:00")
	if status != StatusDispatched || got[update.Key{Region: "T1", Category: "environment", Metric: update.MOpen}] != 1 {
		t.Fatalf("status %s, counters %v: want dispatched again, open", status, got)
	}
	if got[update.Key{Region: update.DeptPrefix + "d1", Category: "environment", Day: d, Metric: update.MUnsatisfied}] != 1 ||
		got[update.Key{Region: update.DeptPrefix + "d2", Category: "environment", Day: d, Metric: update.MUnsatisfied}] != 0 {
		t.Fatalf("counters %v: the unsatisfied callback is d1's", got)
	}
}

// Close reasons: duplicate, cancelled and transferred closings end the case live but are no
// closure (neither closed nor callbacks); not_fixed is closed but not closed_ok; a dispatch
// after a transfer opens the case again for the department it went to.
func TestCloseReasonCounters(t *testing.T) {
	now := ts("2026-11-28T18:00:00+08:00")
	path := []string{"R", "T1"}
	d := day("2026-11-27T08:00:00+08:00")
	m := func(got map[update.Key]int64, region string, day int32, met update.Metric) int64 {
		return got[update.Key{Region: region, Category: "environment", Day: day, Metric: met}]
	}
	closing := func(reason, sat string) rec {
		return rec{"c", "case.closed", "2026-11-27T11:00:00+08:00", func(r *store.Record) { r.CloseReason, r.Satisfaction = reason, sat }}
	}
	base := []rec{
		{"r", "case.reported", "2026-11-27T08:00:00+08:00", nil},
		{"d1", "case.dispatched", "2026-11-27T08:10:00+08:00", func(r *store.Record) { r.Dept = "d1" }},
	}
	for _, reason := range []string{event.CloseDuplicate, event.CloseCancelled, event.CloseTransferred} {
		got, status := permuteCounts(t, now, path, append(slices.Clone(base), closing(reason, "satisfied")))
		if status != StatusClosed || m(got, "T1", 0, update.MOpen) != 0 {
			t.Errorf("%s: status %s, open %d: want closed", reason, status, m(got, "T1", 0, update.MOpen))
		}
		for _, met := range []update.Metric{update.MClosed, update.MClosedOK, update.MSatisfied} {
			if m(got, "T1", d, met) != 0 || m(got, update.DeptPrefix+"d1", d, met) != 0 {
				t.Errorf("%s closing counted in %s: %v", reason, met, got)
			}
		}
	}
	got, _ := permuteCounts(t, now, path, append(slices.Clone(base), closing(event.CloseNotFixed, "basically")))
	if m(got, "T1", d, update.MClosed) != 1 || m(got, "T1", d, update.MClosedOK) != 0 || m(got, "T1", d, update.MBasically) != 1 ||
		m(got, update.DeptPrefix+"d1", d, update.MBasically) != 1 {
		t.Errorf("not_fixed: %v: want closed, not closed_ok, its callback for d1", got)
	}
	got, _ = permuteCounts(t, now, path, append(slices.Clone(base), closing("", "satisfied")))
	if m(got, "T1", d, update.MClosed) != 1 || m(got, "T1", d, update.MClosedOK) != 1 || m(got, update.DeptPrefix+"d1", d, update.MSatisfied) != 1 {
		t.Errorf("fixed: %v", got)
	}
	got, status := permuteCounts(t, now, path, append(slices.Clone(base), closing(event.CloseTransferred, ""),
		rec{"d2", "case.dispatched", "2026-11-27T12:00:00+08:00", func(r *store.Record) { r.Dept = "d2" }},
		rec{"c2", "case.closed", "2026-11-27T15:00:00+08:00", func(r *store.Record) { r.Satisfaction = "satisfied" }}))
	if status != StatusClosed || m(got, "T1", d, update.MClosed) != 1 || m(got, update.DeptPrefix+"d2", d, update.MSatisfied) != 1 ||
		m(got, update.DeptPrefix+"d1", d, update.MSatisfied) != 0 || m(got, update.DeptPrefix+"d2", d, update.MDispatched) != 1 {
		t.Errorf("transferred, then dispatched to d2 and closed: status %s, %v", status, got)
	}
	s := newTestState()
	applyAll(s, now, path, append(slices.Clone(base), closing(event.CloseTransferred, ""),
		rec{"d2", "case.dispatched", "2026-11-27T12:00:00+08:00", func(r *store.Record) { r.Dept = "d2" }})...)
	if c := s.cases["C1"]; c.status != StatusDispatched || c.dept != "d2" || get(s, "T1", 0, update.MOpen) != 1 {
		t.Errorf("transferred then dispatched: status %s dept %s open %d, want open with d2", c.status, c.dept, get(s, "T1", 0, update.MOpen))
	}
}

// Corrections: a case imported in a wrong zone (report in T1, category environment, its
// dispatch and closing) and its three corrections (report in T2, cityorder, 13 hours later;
// another department; a satisfied closing). In every arrival order the counters equal those of
// the corrected events alone; the superseded ones count nothing.
func TestCorrectionsReplaceInAnyArrivalOrder(t *testing.T) {
	now := ts("2026-11-29T18:00:00+08:00")
	deadline := ts("2026-11-27T10:00:00+08:00")
	report := func(id, at, region, cat, src, sup string) rec {
		return rec{id, "case.reported", at, func(r *store.Record) {
			r.RegionPath, r.Category, r.Source, r.Supersedes = []string{"R", region}, cat, src, sup
		}}
	}
	evs := []rec{
		report("r1", "2026-11-27T08:00:00+08:00", "T1", "environment", "grid", ""),
		{"d1", "case.dispatched", "2026-11-27T08:10:00+08:00", func(r *store.Record) { r.Dept, r.Deadline = "X", &deadline }},
		{"c1", "case.closed", "2026-11-27T12:00:00+08:00", func(r *store.Record) { r.Satisfaction = "unsatisfied" }},
		report("r2", "2026-11-27T21:00:00+08:00", "T2", "cityorder", "hotline12345", "r1"),
		{"d2", "case.dispatched", "2026-11-27T21:10:00+08:00", func(r *store.Record) { r.Dept, r.Supersedes = "Y", "d1" }},
		{"c2", "case.closed", "2026-11-28T01:00:00+08:00", func(r *store.Record) { r.Satisfaction, r.Supersedes = "satisfied", "c1" }},
	}
	run := func(rs []rec) (map[update.Key]int64, *state) {
		s := newTestState()
		applyAll(s, now, nil, rs...)
		s.flush()
		out := map[update.Key]int64{}
		for k, v := range s.rollup {
			if v != 0 {
				out[k] = v
			}
		}
		return out, s
	}
	want, ref := run(evs[3:])
	if c := ref.cases["C1"]; c.category != "cityorder" || c.path[1] != "T2" || c.dept != "Y" || c.status != StatusClosed {
		t.Fatalf("reference case %+v", c)
	}
	if want[update.Key{Region: update.DeptPrefix + "Y", Category: "cityorder", Day: day("2026-11-28T01:00:00+08:00"), Metric: update.MSatisfied}] != 1 {
		t.Fatalf("reference counters %v", want)
	}
	// The corrected report's source: a hotline case of T2, nothing left for the grid.
	if d := day("2026-11-27T21:00:00+08:00"); want[update.Key{Region: "T2", Category: "cityorder", Day: d, Metric: update.MNewHotline}] != 1 ||
		want[update.Key{Region: "T2", Category: "cityorder", Day: d, Metric: update.MNewGrid}] != 0 {
		t.Fatalf("reference counters by source %v", want)
	}
	var permute func(prefix, rest []int) int
	permute = func(prefix, rest []int) int {
		if len(rest) == 0 {
			rs := make([]rec, len(prefix))
			for i, k := range prefix {
				rs[i] = evs[k]
			}
			got, s := run(rs)
			if !maps.Equal(got, want) {
				t.Fatalf("arrival order %v: counters differ from the corrected events'\n got %v\nwant %v", prefix, got, want)
			}
			if c := s.cases["C1"]; c.category != "cityorder" || c.path[1] != "T2" || c.dept != "Y" || c.status != StatusClosed || !c.located {
				t.Fatalf("arrival order %v: case %+v", prefix, c)
			}
			return 1
		}
		n := 0
		for i := range rest {
			n += permute(append(slices.Clone(prefix), rest[i]), append(slices.Clone(rest[:i]), rest[i+1:]...))
		}
		return n
	}
	if n := permute(nil, []int{0, 1, 2, 3, 4, 5}); n != 720 {
		t.Fatalf("%d orders tried", n)
	}
	// The uncorrected case alone differs (the check above has teeth).
	if before, _ := run(evs[:3]); maps.Equal(before, want) {
		t.Fatal("the wrong-zone events count like the corrected ones")
	}
}

// New cases count for the source of their report (一端口): every contract source has its own
// metric, any other code counts as other, and at every region, category and day the sources
// sum to the new cases, whatever the arrival order and however reports are corrected.
func TestNewCasesBySource(t *testing.T) {
	for _, src := range event.DefaultSources {
		if update.SourceMetric(src) == update.MNewOther {
			t.Errorf("contract source %q has no metric of its own", src)
		}
	}
	if update.SourceMetric("wechat") != update.MNewOther || update.SourceMetric("") != update.MNewOther {
		t.Error("a deployment's own source code is not counted as other")
	}
	s := newTestState()
	now := ts("2026-11-27T12:00:00+08:00")
	d := day("2026-11-27T08:00:00+08:00")
	cases := []struct {
		id, src string
		path    []string
	}{
		{"A", "hotline12345", []string{"R", "T1"}}, {"B", "hotline12345", []string{"R", "T2"}}, {"C", "grid", []string{"R", "T1"}},
		{"D", "app", []string{"R", "T2"}}, {"E", "sensor", []string{"R", "T1"}}, {"F", "police110", []string{"R", "T1"}},
		{"G", "center", []string{"R", "T2"}}, {"H", "wechat", []string{"R", "T2"}}, {"I", "grid", nil}, // unlocated: at the root
	}
	for i, c := range cases {
		off++
		r := store.Record{Event: event.Event{ID: "r" + c.id, Type: event.CaseReported, CaseID: c.id,
			At: ts("2026-11-27T08:00:00+08:00").Add(time.Duration(i) * time.Minute), Source: c.src, Category: "environment"},
			Offset: off, RegionPath: c.path}
		s.apply(&r, now, true)
	}
	// A correction turns the hotline report of B into an app report of T1.
	off++
	fix := store.Record{Event: event.Event{ID: "rB2", Type: event.CaseReported, CaseID: "B", At: ts("2026-11-27T08:01:00+08:00"),
		Source: "app", Category: "environment", Supersedes: "rB"}, Offset: off, RegionPath: []string{"R", "T1"}}
	s.apply(&fix, now, true)
	want := map[string]map[update.Metric]int64{
		"R":  {update.MNew: 9, update.MNewHotline: 1, update.MNewGrid: 2, update.MNewApp: 2, update.MNewSensor: 1, update.MNewPolice: 1, update.MNewCenter: 1, update.MNewOther: 1},
		"T1": {update.MNew: 5, update.MNewHotline: 1, update.MNewGrid: 1, update.MNewApp: 1, update.MNewSensor: 1, update.MNewPolice: 1},
		"T2": {update.MNew: 3, update.MNewApp: 1, update.MNewCenter: 1, update.MNewOther: 1},
	}
	for region, ms := range want {
		var sum int64
		for _, src := range update.NewBySource {
			got := get(s, region, d, src.Metric)
			sum += got
			if got != ms[src.Metric] {
				t.Errorf("%s: %s = %d, want %d", region, src.Metric, got, ms[src.Metric])
			}
		}
		if n := get(s, region, d, update.MNew); n != ms[update.MNew] || sum != n {
			t.Errorf("%s: new %d (want %d), its sources sum to %d", region, n, ms[update.MNew], sum)
		}
	}
}
