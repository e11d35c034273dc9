package dashboard

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"zhili/alerts"
	"zhili/clock"
	"zhili/simulate"
)

// hotspotWeek plants 7 days of 6-hour steps on a county of 20 × 20 grids: a Poisson background
// of 1 case per grid and step, a 3 × 3 block around (5, 5) rising from 2 × to 6 × the
// background over the week, and a 3 × 3 block around (14, 14) at the background until the
// final step, at 8 × in it.
func hotspotWeek(t *testing.T) (*lattice, *hotStore, time.Time) {
	l := latticeTree(t, 4, 4, 5, 0.004)
	to := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	from := to.AddDate(0, 0, -7)
	steps := 28
	st := &hotStore{}
	r := rand.New(rand.NewPCG(7, 11))
	n := 0
	near := func(i, j, ci, cj int) bool { return i >= ci-1 && i <= ci+1 && j >= cj-1 && j <= cj+1 }
	for s := range steps {
		for i := range l.nx {
			for j := range l.ny {
				mean := 1.0
				switch {
				case near(i, j, 5, 5):
					mean *= 2 + 4*float64(s)/float64(steps-1)
				case near(i, j, 14, 14) && s == steps-1:
					mean *= 8
				}
				for range simulate.Poisson(r, mean) {
					n++
					at := from.Add(time.Duration(s)*6*time.Hour + time.Duration(r.IntN(6*60))*time.Minute)
					st.report(fmt.Sprint("H", n), l.tree.Path(l.gridCode[i][j]), "environment", at)
				}
			}
		}
	}
	return l, st, to
}

// The rising block's centre is an intensifying hot spot and the block hot only in the final
// step a new one; a grid of the flat background gives no signal; each signal is a grid with
// the rules' pattern name and its count over the week.
func TestHotspotSignalsPlanted(t *testing.T) {
	l, st, to := hotspotWeek(t)
	p := &HotspotSignals{St: st, Tree: l.tree, Loc: time.UTC}
	now := to.Add(3*time.Hour + 17*time.Minute) // the step holding now is left out
	sigs := p.Signals(context.Background(), now)
	by := map[string]alerts.Signal{}
	through := 0
	for _, s := range sigs {
		by[s.Subject] = s
		if s.Kind != alerts.KindHotspot || s.Region != s.Subject || len(s.RegionPath) != 3 || s.RegionName == "" || s.Value <= 0 ||
			s.Detail["from"] != to.AddDate(0, 0, -7).Format(time.RFC3339) || s.Detail["to"] != to.Format(time.RFC3339) {
			t.Fatalf("signal %+v", s)
		}
		if _, ok := patternNames[s.Pattern]; !ok {
			t.Fatalf("pattern %q is not a rules' pattern", s.Pattern)
		}
		// Hot through its neighbours: fewer cases than their mean, said in the detail.
		if s.Detail["through_neighbours"] == "true" {
			if nm, err := strconv.ParseFloat(s.Detail["neighbour_mean"], 64); err != nil || s.Value >= nm {
				t.Errorf("signal %s through its neighbours with %v cases, their mean %q", s.Subject, s.Value, s.Detail["neighbour_mean"])
			}
			through++
		}
	}
	rising, fresh, flat := l.gridCode[5][5], l.gridCode[14][14], l.gridCode[17][2]
	if s := by[rising]; s.Pattern != "intensifying" {
		t.Errorf("rising block's centre: %+v", s)
	}
	if s := by[fresh]; s.Pattern != "new" {
		t.Errorf("block hot in the final step: %+v", s)
	}
	if s, ok := by[flat]; ok {
		t.Errorf("flat grid: %+v", s)
	}
	var n int64
	for _, r := range st.recs {
		if r.RegionPath[2] == rising && !r.At.Before(to.AddDate(0, 0, -7)) && r.At.Before(to) {
			n++
		}
	}
	if by[rising].Value != float64(n) {
		t.Errorf("value %v, the grid's count %d", by[rising].Value, n)
	}
	// Hot through its neighbours, recomputed from the lattice: the 8 grids around (queen
	// contiguity of squares), the period's counts, their mean and SD over all the grids.
	count := map[string]float64{}
	for _, r := range st.recs {
		if !r.At.Before(to.AddDate(0, 0, -7)) && r.At.Before(to) {
			count[r.RegionPath[2]]++
		}
	}
	var sx, sxx float64
	for i := range l.nx {
		for j := range l.ny {
			c := count[l.gridCode[i][j]]
			sx, sxx = sx+c, sxx+c*c
		}
	}
	cells := float64(l.nx * l.ny)
	mean := sx / cells
	sd := math.Sqrt(sxx/cells - mean*mean)
	for i := range l.nx {
		for j := range l.ny {
			s, ok := by[l.gridCode[i][j]]
			if !ok {
				continue
			}
			var around, k float64
			for di := -1; di <= 1; di++ {
				for dj := -1; dj <= 1; dj++ {
					if ii, jj := i+di, j+dj; (di != 0 || dj != 0) && ii >= 0 && ii < l.nx && jj >= 0 && jj < l.ny {
						around, k = around+count[l.gridCode[ii][jj]], k+1
					}
				}
			}
			own := count[l.gridCode[i][j]]
			want := own < around/k && (own-mean)/sd < 1.645
			if got := s.Detail["through_neighbours"] == "true"; got != want {
				t.Errorf("grid (%d,%d) with %v cases, its %v neighbours %v: through its neighbours %v, want %v", i, j, own, k, around, got, want)
			}
		}
	}
	t.Logf("%d signals over %d grids, %d hot through their neighbours", len(sigs), len(l.tree.Root.Children)*25, through)

	// The engine's default hotspot rule (new, intensifying) raises for both.
	rules, ps := alerts.ParseRules([]byte("rules:\n  - id: hotspot-emerging\n    name: 新增或加剧热点\n    kind: hotspot\n    severity: warning\n    patterns: [new, intensifying]\n"), "t.yaml")
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	eng, err := alerts.NewEngine(rules, alerts.Options{Clock: clock.NewFake(now)})
	if err != nil {
		t.Fatal(err)
	}
	// Without an enabled hotspot rule nothing is measured.
	off, _ := alerts.ParseRules([]byte("rules:\n  - id: o\n    name: 超期\n    kind: overdue\n    severity: info\n    min: 1\n"), "t.yaml")
	if got := (&HotspotSignals{St: st, Tree: l.tree, Rules: func() *alerts.RuleSet { return off }}).Signals(context.Background(), now); got != nil {
		t.Fatalf("no hotspot rule: %d signals", len(got))
	}
	if got := (&HotspotSignals{St: st, Tree: l.tree, Loc: time.UTC, Rules: eng.Rules}).Signals(context.Background(), now); len(got) != len(sigs) {
		t.Fatalf("with the rule: %d signals, want %d", len(got), len(sigs))
	}
	raised, err := eng.Evaluate(now, sigs)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range raised {
		got[a.Subject] = a.Title
	}
	if got[rising] == "" || got[fresh] == "" {
		t.Fatalf("raised %v", got)
	}
	t.Logf("e.g. %s", got[fresh])
}

var patternNames = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range alerts.Patterns {
		m[p] = true
	}
	return m
}()

// Minutes of data give no pattern, however strong the cluster: the floors of the hotspot views
// (steps holding data) apply. The classification is repeated for Every.
func TestHotspotSignalSufficiency(t *testing.T) {
	l := latticeTree(t, 4, 4, 5, 0.004)
	to := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	st := &hotStore{}
	n := 0
	for i := range l.nx {
		for j := range l.ny {
			k := 1
			if i >= 6 && i <= 8 && j >= 6 && j <= 8 {
				k = 30
			}
			for range k {
				n++
				st.report(fmt.Sprint("M", n), l.tree.Path(l.gridCode[i][j]), "environment", to.Add(-time.Duration(1+n%20)*time.Minute))
			}
		}
	}
	p := &HotspotSignals{St: st, Tree: l.tree, Loc: time.UTC}
	if sigs := p.Signals(context.Background(), to.Add(time.Minute)); len(sigs) != 0 {
		t.Fatalf("twenty minutes of data: %+v", sigs)
	}
	// A week of data arriving meanwhile is seen only after Every.
	_, week, _ := hotspotWeek(t)
	st.recs = week.recs
	if sigs := p.Signals(context.Background(), to.Add(9*time.Minute)); len(sigs) != 0 {
		t.Fatalf("within Every: %d signals", len(sigs))
	}
	if sigs := p.Signals(context.Background(), to.Add(11*time.Minute)); len(sigs) == 0 {
		t.Fatal("after Every: no signal")
	}
}

// The period ends at the last whole step, steps starting at the zone's midnight.
func TestHotspotSignalSteps(t *testing.T) {
	sh := time.FixedZone("CST", 8*3600)
	from, to := HotspotSteps(time.Date(2026, 12, 4, 2, 17, 0, 0, time.UTC), 7*24*time.Hour, 6*time.Hour, sh) // 10:17 local
	if !to.Equal(time.Date(2026, 12, 4, 6, 0, 0, 0, sh)) || !from.Equal(time.Date(2026, 11, 27, 6, 0, 0, 0, sh)) {
		t.Fatalf("from %v to %v", from, to)
	}
	from, to = HotspotSteps(time.Date(2026, 12, 4, 2, 17, 0, 0, time.UTC), 7*24*time.Hour, 24*time.Hour, sh)
	if !to.Equal(time.Date(2026, 12, 4, 0, 0, 0, 0, sh)) || !from.Equal(time.Date(2026, 11, 27, 0, 0, 0, 0, sh)) {
		t.Fatalf("daily: from %v to %v", from, to)
	}
}
