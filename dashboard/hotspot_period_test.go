package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb/planar"

	"zhili/clock"
	"zhili/geo"
	"zhili/update"
)

func demoLeaves(tree *geo.Tree) []*geo.Region {
	var leaves []*geo.Region
	tree.Walk(func(r *geo.Region) {
		if len(r.Children) == 0 {
			leaves = append(leaves, r)
		}
	})
	return leaves
}

// The period view applies the same rules as the live topics: twenty minutes of data in a 7-day
// review with 2-hour steps gives no class to any location and says why; Gi* over the period
// itself stands.
func TestPeriodHotspotsTooFewSteps(t *testing.T) {
	l := latticeTree(t, 4, 4, 5, 0.004) // 400 grids
	tree := l.tree
	st := &hotStore{}
	end := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	n := 0
	add := func(i, j, k int) {
		for range k {
			n++
			st.report(fmt.Sprint("C", n), tree.Path(l.gridCode[i][j]), "environment", end.Add(-time.Duration(10+n%20)*time.Minute))
		}
	}
	for i := range l.nx {
		for j := range l.ny {
			if (i+j)%3 == 0 {
				add(i, j, 1)
			}
		}
	}
	for di := -1; di <= 1; di++ {
		for dj := -1; dj <= 1; dj++ {
			add(7+di, 7+dj, 5)
		}
	}
	add(7, 7, 25)
	centre := 0
	for i, r := range demoLeaves(tree) {
		if r.Code == l.gridCode[7][7] {
			centre = i
		}
	}
	q := HotspotQuery{Region: "root", From: end.AddDate(0, 0, -7), To: end, Step: 2 * time.Hour, Emerging: true, Loc: time.UTC}
	q.Floors = noFloors
	plain, err := PeriodHotspots(context.Background(), st, tree, q)
	if err != nil {
		t.Fatal(err)
	}
	hot := 0
	for _, c := range plain.Cells {
		if strings.HasSuffix(c.Pattern, "_hot") {
			hot++
		}
	}
	if hot == 0 {
		t.Fatal("without the rule no grid has a hot class: the fixture must show the problem")
	}
	q.Floors = HotspotFloors{}
	rep, err := PeriodHotspots(context.Background(), st, tree, q)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Cells {
		if c.Pattern != "insufficient_data" || c.TrendZ != 0 || c.TrendP != 0 {
			t.Fatalf("cell %+v with one step of data", c)
		}
	}
	s := rep.Sufficiency
	if s.OK || !slices.Equal(s.Reasons, []string{ReasonTooFewSteps}) || *s.Steps != 84 || *s.StepsWithData != 1 || *s.StepsNeeded != 10 ||
		s.Events != int64(n) || !slices.Equal(s.Advice, []string{AdviceFinerStep, AdviceLongerWindow}) {
		b, _ := json.Marshal(s)
		t.Fatalf("sufficiency %s", b)
	}
	if rep.Cells[centre].Bin < 2 || rep.Cells[centre].Why == nil {
		t.Fatalf("Gi* over the period: the cluster %+v", rep.Cells[centre])
	}
	t.Logf("without the rule %d of %d grids had a hot class", hot, len(plain.Cells))
}

// A hot grid of the period view explains itself and shows its child region's bin, which is the
// child level's; a hot child region lists its grids' bins, which are the grid level's.
func TestPeriodHotspotsWhyAndFootprint(t *testing.T) {
	l := latticeTree(t, 4, 4, 5, 0.004) // 16 townships of 25 grids
	tree := l.tree
	st := &hotStore{}
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	n := 0
	add := func(i, j, k int) {
		for range k {
			n++
			st.report(fmt.Sprint("C", n), tree.Path(l.gridCode[i][j]), "environment", day.Add(time.Duration(n)*time.Minute))
		}
	}
	for i := range l.nx {
		for j := range l.ny {
			add(i, j, 1)
			if i < 10 && j < 10 { // the four townships of a corner are busy, one grid busier
				add(i, j, 4)
			}
		}
	}
	add(2, 2, 20)
	hot := tree.Get(l.gridCode[2][2])
	nbrs := 9
	q := HotspotQuery{Region: "root", From: day, To: day.AddDate(0, 0, 1)}
	grid, err := PeriodHotspots(context.Background(), st, tree, q)
	if err != nil {
		t.Fatal(err)
	}
	q.Level = "child"
	child, err := PeriodHotspots(context.Background(), st, tree, q)
	if err != nil {
		t.Fatal(err)
	}
	childBin := map[string]int{}
	for _, c := range child.Cells {
		childBin[c.Code] = c.Bin
	}
	gridBin := map[string]int{}
	for _, c := range grid.Cells {
		gridBin[c.Code] = c.Bin
	}
	var c HotspotCell
	for _, x := range grid.Cells {
		if x.Code == hot.Code {
			c = x
		}
	}
	if c.Bin < 2 || c.Why == nil {
		t.Fatalf("hot grid %+v", c)
	}
	w := c.Why
	if !slices.Equal(w.Path, []string{"试验县", tree.Get(hot.Parent).Name, hot.Name}) || w.Footprint == nil || w.Footprint.Child == nil ||
		w.Footprint.Child.Code != hot.Parent || w.Footprint.Child.Bin != childBin[hot.Parent] || w.LocalEvents != int64(nbrs*5+20) {
		b, _ := json.Marshal(w)
		t.Fatalf("why %s; township bin %d", b, childBin[hot.Parent])
	}
	// The busiest grid is hot on its own (25 cases, its 8 neighbours 5 each); the grid beside it
	// (5 cases, its neighbours 25 and seven of 5: mean 7.5; its own standard score (5 − 2.05) /
	// 2.07 = 1.42, unremarkable) is hot through it; a grid inside the busy corner away from it
	// (5 cases among grids of 5) is not below its neighbours.
	if w.NeighbourMean != 5 || w.ThroughNeighbours {
		t.Errorf("the busiest grid: neighbour mean %v, through neighbours %v; want 5, false", w.NeighbourMean, w.ThroughNeighbours)
	}
	for _, x := range []struct {
		i, j    int
		mean    float64
		through bool
	}{{2, 3, 7.5, true}, {6, 6, 5, false}} {
		code := l.gridCode[x.i][x.j]
		var c HotspotCell
		for _, y := range grid.Cells {
			if y.Code == code {
				c = y
			}
		}
		if c.Bin <= 0 || c.Why == nil {
			t.Fatalf("grid (%d,%d) not hot: %+v", x.i, x.j, c)
		}
		if c.Why.NeighbourMean != x.mean || c.Why.ThroughNeighbours != x.through {
			t.Errorf("grid (%d,%d) with %d cases: neighbour mean %v, through neighbours %v; want %v, %v",
				x.i, x.j, c.Count, c.Why.NeighbourMean, c.Why.ThroughNeighbours, x.mean, x.through)
		}
	}
	if !grid.Sufficiency.OK || grid.Sufficiency.Steps != nil {
		t.Fatalf("sufficiency %+v", grid.Sufficiency)
	}
	found := false
	for _, c := range child.Cells {
		if c.Bin == 0 {
			if c.Why != nil {
				t.Fatalf("child %s in bin 0 with why", c.Code)
			}
			continue
		}
		fp := c.Why.Footprint
		if fp == nil || fp.Grids == nil || fp.Grids.Cells != 25 {
			t.Fatalf("child %s footprint %+v", c.Code, fp)
		}
		for code, b := range fp.Grids.Bins {
			if gridBin[code] != b || tree.Get(code).Parent != c.Code {
				t.Fatalf("child %s: grid %s bin %d, grid level says %d", c.Code, code, b, gridBin[code])
			}
		}
		found = found || c.Code == hot.Parent
	}
	if !found {
		t.Fatalf("the hot grid's township is not hot at the child level: %v", childBin)
	}
}

// Rates: where the counts only follow the population, the count map is hot in the populous
// township and the rate map is not; a township with three times the rate is hot by rate. A grid
// without population is left out and counted, in the period view and the live topic.
func TestHotspotsPerPopulation(t *testing.T) {
	tree := geo.DemoTree()
	leaves := demoLeaves(tree)
	populous, planted := "411502001", "411502006" // opposite corners of the 3 × 2 townships
	var lacking *geo.Region
	for _, l := range leaves {
		pop := 10_000.0
		if l.Parent == populous {
			pop = 60_000
		}
		l.Denominators = map[string]float64{"population": pop}
	}
	for _, l := range leaves {
		if l.Parent == "411502003" {
			lacking = l
			l.Denominators = nil
			break
		}
	}
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	st := &hotStore{}
	h := NewHotspots(tree, clock.NewFake(day.Add(23*time.Hour)), HotspotConfig{Every: time.Nanosecond})
	n := 0
	for _, l := range leaves {
		k := 10 // 10 per 10,000 people
		switch l.Parent {
		case populous:
			k = 60
		case planted:
			k = 30
		}
		c, _ := planar.CentroidArea(l.Geometry)
		for range k {
			n++
			at := day.Add(time.Duration(n) * 10 * time.Second)
			st.report(fmt.Sprint("C", n), tree.Path(l.Code), "environment", at)
			h.Observe([]update.Item{{Type: "case.reported", New: true, Region: tree.Path(l.Code), Point: &[2]float64{c[0], c[1]}, At: at}})
		}
	}
	q := HotspotQuery{Region: "root", From: day, To: day.AddDate(0, 0, 1)}
	counts, err := PeriodHotspots(context.Background(), st, tree, q)
	if err != nil {
		t.Fatal(err)
	}
	q.Per = "population"
	rates, err := PeriodHotspots(context.Background(), st, tree, q)
	if err != nil {
		t.Fatal(err)
	}
	hotIn := func(rep HotspotReply, town string) (k int) {
		for _, c := range rep.Cells {
			if c.Bin > 0 && tree.Get(c.Code).Parent == town {
				k++
			}
		}
		return k
	}
	if hotIn(counts, populous) == 0 || hotIn(rates, populous) != 0 || hotIn(rates, planted) == 0 {
		t.Fatalf("hot grids in the populous township: %d by count, %d by rate; in the planted one by rate: %d",
			hotIn(counts, populous), hotIn(rates, populous), hotIn(rates, planted))
	}
	excluded := 0
	for _, c := range rates.Cells {
		switch {
		case c.Code == lacking.Code:
			if c.Excluded != ReasonNoDenominator || c.Rate != nil || c.Bin != 0 || c.P != 1 || c.Count != 10 {
				t.Fatalf("grid without population %+v", c)
			}
			excluded++
		case c.Rate == nil || c.Denominator == 0 || *c.Rate != float64(c.Count)/c.Denominator*10_000:
			t.Fatalf("grid %+v", c)
		}
	}
	s := rates.Sufficiency
	if excluded != 1 || rates.Per != "population" || rates.PerScale != 10_000 || s.Per != "population" || s.Excluded == nil || *s.Excluded != 1 || !s.OK {
		t.Fatalf("reply per %q scale %v, sufficiency %+v", rates.Per, rates.PerScale, s)
	}
	// The child level: the township holding the grid without population has none either.
	q.Level = "child"
	kids, err := PeriodHotspots(context.Background(), st, tree, q)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range kids.Cells {
		if (c.Code == lacking.Parent) != (c.Excluded == ReasonNoDenominator) {
			t.Fatalf("township %+v", c)
		}
	}
	if _, err := PeriodHotspots(context.Background(), st, tree, HotspotQuery{Region: "root", From: day, To: day.AddDate(0, 0, 1), Per: "Population!"}); err == nil {
		t.Fatal("a malformed per= accepted")
	}

	// The live topic, on the same cases.
	_, s2 := openTopic(t, h, "hotspots:root:24h:per=population")
	b, _ := json.Marshal(s2.Sufficiency)
	if g := s2.Grids[lacking.Code]; g.Bin != 0 || g.Count != 10 {
		t.Fatalf("topic: grid without population %+v", g)
	}
	hotTopic := func(town string) (k int) {
		for code, c := range s2.Grids {
			if c.Bin > 0 && tree.Get(code).Parent == town {
				k++
			}
		}
		return k
	}
	if hotTopic(populous) != 0 || hotTopic(planted) == 0 {
		t.Fatalf("topic by rate: %d hot in the populous township, %d in the planted one", hotTopic(populous), hotTopic(planted))
	}
	gs, hs := s2.Sufficiency["grids"], s2.Sufficiency["hex"]
	if gs.Per != "population" || *gs.Excluded != 1 || !gs.OK || hs.OK || !slices.Equal(hs.Reasons, []string{ReasonNoDenominator}) ||
		!slices.Equal(hs.Advice, []string{AdviceCounts}) || len(s2.Hex) == 0 {
		t.Fatalf("topic sufficiency %s", b)
	}
	for id, c := range s2.Hex {
		if c.Bin != 0 {
			t.Fatalf("hex %s has a bin under per=population", id)
		}
	}
	var rawSnap struct {
		Per      string  `json:"per"`
		PerScale float64 `json:"per_scale"`
		Grids    map[string]struct {
			Rate     *float64
			Excluded string
		}
	}
	top, _ := openTopic(t, h, "hotspots:root:24h:per=population")
	raw, _ := json.Marshal(top.Snapshot())
	if err := json.Unmarshal(raw, &rawSnap); err != nil {
		t.Fatal(err)
	}
	if g := rawSnap.Grids[leaves[0].Code]; rawSnap.Per != "population" || rawSnap.PerScale != 10_000 || g.Rate == nil || *g.Rate != 10 ||
		rawSnap.Grids[lacking.Code].Excluded != ReasonNoDenominator || rawSnap.Grids[lacking.Code].Rate != nil {
		t.Fatalf("topic rates: per %q scale %v, grid %+v, grid without population %+v", rawSnap.Per, rawSnap.PerScale, g, rawSnap.Grids[lacking.Code])
	}
}

// A live category filter: hotspots:<region>:<window>:cat=<code> counts the new cases of that
// category only, its grids seeded from the history store when it opens; a case counted by
// the seed is not counted again when its live report arrives; the window goes when the last
// topic on it closes.
func TestHotspotTopicCategory(t *testing.T) {
	tree := geo.DemoTree()
	leaves := demoLeaves(tree)
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	clk := clock.NewFake(now)
	st := &hotStore{}
	a, b := leaves[3], leaves[17]
	for k := range 10 {
		st.report(fmt.Sprint("E", k), tree.Path(a.Code), "environment", now.Add(-2*time.Hour))
	}
	for k := range 5 {
		st.report(fmt.Sprint("S", k), tree.Path(b.Code), "security", now.Add(-2*time.Hour))
	}
	h := NewHotspots(tree, clk, HotspotConfig{Every: time.Nanosecond})
	if err := h.Seed(context.Background(), st, map[int]uint64{0: 1}); err != nil {
		t.Fatal(err)
	}
	env, _ := openTopic(t, h, "hotspots:root:24h:cat=environment")
	env2, _ := openTopic(t, h, "hotspots:"+a.Parent+":24h:cat=environment")
	seeded := func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.cats["environment"]) == 1 && h.cats["environment"][0].seeded
	}
	for deadline := time.Now().Add(10 * time.Second); !seeded(); {
		if time.Now().After(deadline) {
			t.Fatal("the category window was not seeded")
		}
		time.Sleep(5 * time.Millisecond)
	}
	item := func(id, cat string, r *geo.Region) update.Item {
		return update.Item{Type: "case.reported", CaseID: id, Category: cat, New: true, Region: tree.Path(r.Code), At: now.Add(-time.Minute)}
	}
	// E3 was in the store already (its live report applied after the store had it); E10 is new;
	// S9 is another category.
	h.Observe([]update.Item{item("E3", "environment", a), item("E10", "environment", a), item("S9", "security", a)})
	clk.Add(time.Second)
	env.Advance()
	s := decodeSnap(t, env.Snapshot())
	var top struct {
		Category string
		Seeded   bool
	}
	raw, _ := json.Marshal(env.Snapshot())
	_ = json.Unmarshal(raw, &top)
	if s.Grids[a.Code].Count != 11 || s.Grids[b.Code].Count != 0 || top.Category != "environment" || !top.Seeded {
		t.Fatalf("environment topic: grid a %d (want 10 seeded + 1 live), grid b %d, category %q, seeded %v",
			s.Grids[a.Code].Count, s.Grids[b.Code].Count, top.Category, top.Seeded)
	}
	_, all := openTopic(t, h, "hotspots:root:24h")
	if all.Grids[a.Code].Count != 10+3 || all.Grids[b.Code].Count != 5 {
		t.Fatalf("unfiltered topic: grid a %d, grid b %d", all.Grids[a.Code].Count, all.Grids[b.Code].Count)
	}
	env.Close()
	h.mu.Lock()
	open := len(h.cats)
	h.mu.Unlock()
	if open != 1 {
		t.Fatal("the window closed while a topic still holds it")
	}
	env2.Close()
	h.mu.Lock()
	open = len(h.cats)
	h.mu.Unlock()
	if open != 0 {
		t.Fatal("the window stays after its last topic closed")
	}
	for _, bad := range []string{"hotspots:root:24h:cat=", "hotspots:root:24h:colour=red", "hotspots:root:24h:cat=a:cat=b", "overview:root:today:cat=a"} {
		if _, err := ParseTopic(bad); err == nil {
			t.Fatalf("topic %q accepted", bad)
		}
	}
	if tp, err := ParseTopic("hotspots:root:24h:cat=city%3Aorder:per=population"); err != nil || tp.Options["cat"] != "city:order" || tp.Options["per"] != "population" {
		t.Fatalf("escaped option: %+v %v", tp, err)
	}
}

// The hex windows are seeded from the reports' points in the history store, each window with
// those within its span, also a category's window; a point outside the cover counts nowhere.
func TestHotspotSeedHexes(t *testing.T) {
	tree := geo.DemoTree()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	clk := clock.NewFake(now)
	h := NewHotspots(tree, clk, HotspotConfig{Every: time.Nanosecond})
	if len(h.hexCells) < 10 {
		t.Fatalf("the demo tree is covered by %d hex cells", len(h.hexCells))
	}
	near, far := h.hexCells[3], h.hexCells[len(h.hexCells)/2]
	st := &hotStore{}
	path := tree.Path(demoLeaves(tree)[0].Code) // the grids are not what is checked here
	at := func(cell uint64) *[2]float64 {
		c := geo.HexCentroid(cell)
		return &[2]float64{c[0], c[1]}
	}
	for k := range 12 {
		st.recs = append(st.recs, hotRec{CaseID: fmt.Sprint("N", k), Category: "environment", RegionPath: path, At: now.Add(-2 * time.Hour), Point: at(near)})
	}
	for k := range 4 {
		st.recs = append(st.recs, hotRec{CaseID: fmt.Sprint("F", k), Category: "security", RegionPath: path, At: now.Add(-72 * time.Hour), Point: at(far)})
	}
	st.recs = append(st.recs,
		hotRec{CaseID: "old", Category: "security", RegionPath: path, At: now.Add(-40 * 24 * time.Hour), Point: at(far)},
		hotRec{CaseID: "out", Category: "security", At: now.Add(-time.Hour), Point: &[2]float64{0.5, 0.5}},
		hotRec{CaseID: "none", Category: "security", RegionPath: path, At: now.Add(-time.Hour)})
	if err := h.Seed(context.Background(), st, map[int]uint64{0: 1}); err != nil {
		t.Fatal(err)
	}
	hexCount := func(s topicSnap, cell uint64) int { return s.Hex[geo.HexString(cell)].Count }
	total := func(s topicSnap) (n int) {
		for _, c := range s.Hex {
			n += c.Count
		}
		return n
	}
	for _, c := range []struct {
		window          string
		near, far, want int
	}{{"24h", 12, 0, 12}, {"7d", 12, 4, 16}, {"30d", 12, 4, 16}} {
		_, s := openTopic(t, h, "hotspots:root:"+c.window)
		if hexCount(s, near) != c.near || hexCount(s, far) != c.far || total(s) != c.want {
			t.Errorf("%s: hex counts near %d far %d total %d, want %d, %d, %d", c.window, hexCount(s, near), hexCount(s, far), total(s), c.near, c.far, c.want)
		}
	}
	env, _ := openTopic(t, h, "hotspots:root:7d:cat=security")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		h.mu.Lock()
		done := len(h.cats["security"]) == 1 && h.cats["security"][0].seeded
		h.mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the category window was not seeded")
		}
	}
	clk.Add(time.Second)
	env.Advance()
	s := decodeSnap(t, env.Snapshot())
	if hexCount(s, far) != 4 || total(s) != 4 {
		t.Errorf("security over 7 days: hex %s %d, total %d; want 4 and 4", geo.HexString(far), hexCount(s, far), total(s))
	}
}
