package dashboard

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"zhili/clock"
	"zhili/geo"
)

type topicWhy struct {
	Observed, Expected, Ratio, Z, Q float64
	Neighbours                      int
	LocalEvents                     int `json:"local_events"`
	Path                            []string
	Footprint                       map[string]json.RawMessage
}

type topicCell struct {
	Count   int
	Bin     int
	Z       float64
	Pattern string
	Why     *topicWhy
}

type topicSnap struct {
	Window      string
	Grids       map[string]topicCell
	Children    map[string]topicCell
	Hex         map[string]topicCell
	Sufficiency map[string]Sufficiency
}

// openTopic opens name (hotspots:…) over h and decodes its snapshot.
func openTopic(t *testing.T, h *Hotspots, name string) (TopicState, topicSnap) {
	t.Helper()
	tp, err := ParseTopic(name)
	if err != nil {
		t.Fatal(err)
	}
	st, err := HotspotSource{H: h}.Open(tp)
	if err != nil {
		t.Fatal(err)
	}
	return st, decodeSnap(t, st.Snapshot())
}

func decodeSnap(t *testing.T, v any) topicSnap {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var s topicSnap
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// noFloors is Gi* as ArcGIS computes it: no data-sufficiency rule, normal p-values.
var noFloors = HotspotFloors{MinEvents: -1, GridMinLocal: -1, ChildMinLocal: -1, HexMinLocal: -1, MinSteps: -1, NormalTails: true}

// A sparse field of lone cases, the state of a fine grid over a short window: Gi* with FDR
// alone calls each lone case (and its empty neighbours) a hot spot at the grid level, and at the
// child level when the child regions are many small ones (a township's grids). With the default
// floors none is hot; a small real cluster among them stays hot.
func TestHotspotLoneCasesNeverHot(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	at := now.Add(-10 * time.Minute)
	type pos struct{ i, j int }
	cols, sp := 8, 10 // lone cases in rows of cols, sp grids apart
	lone := func(k int) pos { return pos{3 + (k%cols)*sp, 3 + (k/cols)*sp} }
	cluster := []pos{{60, 60}, {61, 60}, {60, 61}} // two cases in each
	run := func(l *lattice, topic string, fl HotspotFloors, nLone int, withCluster bool) topicSnap {
		h := NewHotspots(l.tree, clock.NewFake(now), HotspotConfig{Every: time.Nanosecond, Floors: fl})
		for k := range nLone {
			p := lone(k)
			h.Observe(l.report(p.i, p.j, 1, at))
		}
		if withCluster {
			for _, p := range cluster {
				h.Observe(l.report(p.i, p.j, 2, at))
			}
		}
		_, s := openTopic(t, h, topic)
		return s
	}
	loneHot := func(l *lattice, cells map[string]topicCell, n int, up bool) (hot int) {
		for k := range n {
			p := lone(k)
			code := l.gridCode[p.i][p.j]
			if up {
				code = l.tree.Get(code).Parent
			}
			if cells[code].Bin > 0 {
				hot++
			}
		}
		return hot
	}

	// A county of 256 townships, 6,400 grids; 40 lone cases (in distinct townships) and a
	// small cluster: enough events overall, the grid level is the issue.
	county := latticeTree(t, 16, 16, 5, 0.001)
	plain := run(county, "hotspots:root:1h", noFloors, 40, true)
	if got := loneHot(county, plain.Grids, 40, false); got < 30 {
		t.Fatalf("without floors only %d of 40 lone grids are hot: the fixture must show the problem", got)
	}
	def := run(county, "hotspots:root:1h", HotspotFloors{}, 40, true)
	if g, c := loneHot(county, def.Grids, 40, false), loneHot(county, def.Children, 40, true); g != 0 || c != 0 {
		t.Fatalf("default floors: %d lone grids and %d of their townships hot", g, c)
	}
	for code, c := range def.Grids {
		// Only the cluster's neighbourhood may be hot: it holds its six cases.
		if c.Bin > 0 && (c.Why == nil || c.Why.LocalEvents < DefaultMinLocal) {
			t.Fatalf("grid %s hot with %+v", code, c.Why)
		}
	}
	if c := def.Grids[county.gridCode[60][60]]; c.Bin < 2 {
		t.Fatalf("the cluster is no longer hot with the floors: %+v", c)
	}
	gs := def.Sufficiency["grids"]
	if !gs.OK || gs.Events != 46 || gs.EventsNeeded != DefaultMinEvents || gs.MinLocal != DefaultMinLocal {
		t.Fatalf("grid sufficiency %+v", gs)
	}
	// One township of 3,600 grids: its child level is its grids. 16 lone cases, nothing else.
	town := latticeTree(t, 1, 1, 60, 0.001)
	cols, sp = 4, 14
	plain = run(town, "hotspots:900000001:1h", noFloors, 16, false)
	if g, c := loneHot(town, plain.Grids, 16, false), loneHot(town, plain.Children, 16, false); g < 12 || c < 12 {
		t.Fatalf("without floors %d grids and %d children of 16 lone cases hot: the fixture must show the problem", g, c)
	}
	def = run(town, "hotspots:900000001:1h", HotspotFloors{}, 16, false)
	if g, c := loneHot(town, def.Grids, 16, false), loneHot(town, def.Children, 16, false); g != 0 || c != 0 {
		t.Fatalf("default floors: %d grids and %d children of lone cases hot", g, c)
	}
	for _, key := range []string{"grids", "children", "hex"} {
		s := def.Sufficiency[key]
		if s.OK || !slices.Equal(s.Reasons, []string{ReasonTooFewEvents}) || s.Events != 16 || s.EventsNeeded != 30 {
			t.Fatalf("%s sufficiency with 16 events: %+v", key, s)
		}
	}
	if a := def.Sufficiency["grids"].Advice; !slices.Equal(a, []string{AdviceLongerWindow, AdviceCoarserLevel, AdviceWait}) {
		t.Fatalf("grid advice %v", a)
	}
	// The local floor alone (no overall floor, normal p-values) keeps them out at both levels
	// (the count tails alone: TestHotspotHexFloor, geo's TestCountTailsCalibrated).
	local := run(town, "hotspots:900000001:1h", HotspotFloors{MinEvents: -1, NormalTails: true}, 16, false)
	if g, c := loneHot(town, local.Grids, 16, false), loneHot(town, local.Children, 16, false); g != 0 || c != 0 {
		t.Fatalf("local floors only: %d grids and %d children of lone cases hot", g, c)
	}
	if s := local.Sufficiency["children"]; !s.OK || s.SetBack < 16 {
		t.Fatalf("children sufficiency with the local floor only: %+v", s)
	}
}

// Twenty minutes of data over the 7-day window (2-hour steps): without the rule of ten steps
// most busy grids come out as new or consecutive hot spots; with it none has a class, every
// pattern is insufficient_data and the sufficiency says how many steps hold data.
func TestHotspotEmergingNeedsTenSteps(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	l := latticeTree(t, 6, 6, 5, 0.002) // 900 grids
	rng := rand.New(rand.NewPCG(7, 7))
	feed := func(h *Hotspots) {
		for range 600 { // 20 minutes at a city's rate, some grids busier
			i, j := rng.IntN(l.nx), rng.IntN(l.ny)
			if rng.IntN(3) == 0 {
				i, j = rng.IntN(6), rng.IntN(6)
			}
			h.Observe(l.report(i, j, 1, now.Add(-time.Duration(rng.IntN(1200))*time.Second)))
		}
	}
	hot := func(s topicSnap) (n int) {
		for _, c := range s.Grids {
			if strings.HasSuffix(c.Pattern, "_hot") {
				n++
			}
		}
		return n
	}
	off := NewHotspots(l.tree, clock.NewFake(now), HotspotConfig{Every: time.Nanosecond, Floors: noFloors})
	feed(off)
	_, plain := openTopic(t, off, "hotspots:root:7d")
	if hot(plain) < 30 {
		t.Fatalf("without the rule only %d grids have a hot class: the fixture must show the problem", hot(plain))
	}
	rng = rand.New(rand.NewPCG(7, 7))
	h := NewHotspots(l.tree, clock.NewFake(now), HotspotConfig{Every: time.Nanosecond})
	feed(h)
	_, s := openTopic(t, h, "hotspots:root:7d")
	for code, c := range s.Grids {
		if c.Pattern != geo.InsufficientData.String() {
			t.Fatalf("grid %s: pattern %q with twenty minutes of data", code, c.Pattern)
		}
	}
	em := s.Sufficiency["emerging"]
	if em.OK || !slices.Equal(em.Reasons, []string{ReasonTooFewSteps}) || em.Steps == nil || *em.Steps != 84 ||
		*em.StepsWithData < 1 || *em.StepsWithData > 2 || *em.StepsNeeded != 10 || em.Events != 600 {
		b, _ := json.Marshal(em)
		t.Fatalf("emerging sufficiency %s", b)
	}
	if !slices.Equal(em.Advice, []string{AdviceShorterWindow, AdviceWait}) {
		t.Fatalf("advice %v", em.Advice)
	}
	// Gi* over the window itself is fine: 600 events.
	if g := s.Sufficiency["grids"]; !g.OK || g.Steps != nil {
		t.Fatalf("grid sufficiency %+v", g)
	}
	t.Logf("without the rule %d of %d grids had a hot class", hot(plain), len(plain.Grids))
}

// A significant grid says why: its neighbourhood's observed and expected counts, the ratio,
// z and q, its neighbours and their events, the names from the root down, and where it lies at
// the child and hex levels with their bins.
func TestHotspotWhy(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	l := latticeTree(t, 4, 4, 5, 0.004) // 400 grids, 16 townships
	h := NewHotspots(l.tree, clock.NewFake(now), HotspotConfig{Every: time.Nanosecond})
	at := now.Add(-5 * time.Minute)
	for i := range l.nx {
		for j := range l.ny {
			if (i+j)%4 == 0 {
				h.Observe(l.report(i, j, 1, at))
			}
		}
	}
	h.Observe(l.report(7, 7, 12, at))
	h.Observe(l.report(8, 7, 6, at))
	h.Observe(l.report(7, 8, 6, at))
	_, s := openTopic(t, h, "hotspots:root:1h")
	code := l.gridCode[7][7]
	c := s.Grids[code]
	if c.Bin < 2 || c.Why == nil {
		t.Fatalf("hot grid %s: %+v", code, c)
	}
	// Its neighbourhood: itself and the 8 grids around it.
	local := 0
	for di := -1; di <= 1; di++ {
		for dj := -1; dj <= 1; dj++ {
			local += s.Grids[l.gridCode[7+di][7+dj]].Count
		}
	}
	events := 0
	for _, g := range s.Grids {
		events += g.Count
	}
	mean := float64(events) / float64(len(s.Grids))
	w := c.Why
	if w.Neighbours != 8 || w.LocalEvents != local || w.Observed != float64(local) ||
		abs(w.Expected-9*mean) > 1e-3 || abs(w.Ratio-float64(local)/(9*mean)) > 1e-2 || w.Z != c.Z || w.Q < 0 || w.Q > 0.05 {
		t.Fatalf("why %+v (local %d, mean %.4f)", w, local, mean)
	}
	g := l.tree.Get(code)
	if !slices.Equal(w.Path, []string{"试验县", l.tree.Get(g.Parent).Name, g.Name}) {
		t.Fatalf("path %v", w.Path)
	}
	var child struct {
		Code string
		Bin  int
	}
	if err := json.Unmarshal(w.Footprint["child"], &child); err != nil || child.Code != g.Parent || child.Bin != s.Children[g.Parent].Bin {
		t.Fatalf("footprint child %s (%v), township bin %d", w.Footprint["child"], err, s.Children[g.Parent].Bin)
	}
	var hex struct {
		Cells int
		Bins  map[string]int
	}
	if err := json.Unmarshal(w.Footprint["hex"], &hex); err != nil || hex.Cells == 0 {
		t.Fatalf("footprint hex %s (%v)", w.Footprint["hex"], err)
	}
	for id, b := range hex.Bins {
		if s.Hex[id].Bin != b || b == 0 {
			t.Fatalf("footprint hex %s bin %d, hex level says %d", id, b, s.Hex[id].Bin)
		}
	}
	// A location in bin 0 carries no explanation.
	if q := s.Grids[l.gridCode[0][19]]; q.Bin == 0 && q.Why != nil {
		t.Fatalf("grid in bin 0 with why %+v", q.Why)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
