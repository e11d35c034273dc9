package scan

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// validation grid: 30×30 cells 1 km apart with unequal fixed weights (a smaller set than the
// demo's 3,634 grids, so that hundreds of scans take seconds; TestDemoSize runs the demo's).
func validationArea() ([]Cell, []float64) {
	cells := lattice(30, 1000)
	rng := rand.New(rand.NewPCG(5, 5))
	w := make([]float64, len(cells))
	for i := range w {
		w[i] = math.Exp(rng.NormFloat64()) // log-normal: some grids busy, most quiet
	}
	return cells, w
}

// perDayBG is the validation background: 120 cases a day over 900 grids (0.13 a grid a day,
// about twice the demo's 225 over 3,634).
const perDayBG = 120

// binomialBand is α ± 3 standard deviations of the share of n Bernoulli(α) trials.
func binomialBand(alpha float64, n int) (lo, hi float64) {
	sd := math.Sqrt(alpha * (1 - alpha) / float64(n))
	return alpha - 3*sd, alpha + 3*sd
}

// TestNullFalseAlarmRate: with no cluster (cells from fixed weights, times from a fixed
// diurnal profile, independent), the share of analyses with p ≤ α is α within a binomial
// tolerance, for α = 0.05 and 0.10 (so a recurrence interval of X days is exceeded about once
// every X days by chance). Each analysis has its own data and analysis hour.
func TestNullFalseAlarmRate(t *testing.T) {
	scans := 300
	switch {
	case raceOn:
		scans = 60
	case testing.Short():
		scans = 200
	}
	cells, w := validationArea()
	s, err := NewScanner(cells, Config{Replicates: 99, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	bg := newBackground(w, perDayBG)
	var le05, le10, le50 int
	for i := 0; i < scans; i++ {
		rng := rand.New(rand.NewPCG(uint64(i), 77))
		now := t0.Add(7*24*time.Hour + time.Duration(rng.IntN(7*24*60))*time.Minute)
		r := s.Scan(bg.cases(rng, now.Add(-7*24*time.Hour), now), now)
		p := 1.0
		if len(r.Clusters) > 0 {
			p = r.Clusters[0].P
		}
		if p <= 0.05 {
			le05++
		}
		if p <= 0.10 {
			le10++
		}
		if p <= 0.5 {
			le50++
		}
	}
	n := float64(scans)
	t.Logf("null: %d scans (900 grids, %d cases/day, 7-day study, windows ≤ 24 h, R = 99): p ≤ 0.05 in %.3f, p ≤ 0.10 in %.3f, p ≤ 0.50 in %.3f",
		scans, perDayBG, float64(le05)/n, float64(le10)/n, float64(le50)/n)
	for _, c := range []struct {
		alpha float64
		k     int
	}{{0.05, le05}, {0.10, le10}, {0.5, le50}} {
		lo, hi := binomialBand(c.alpha, scans)
		if r := float64(c.k) / n; r < lo || r > hi {
			t.Errorf("share with p ≤ %.2f is %.3f, outside [%.3f, %.3f]", c.alpha, r, lo, hi)
		}
	}
}

// TestPlantedOutbreaks: on the null background, an outbreak of perDay extra cases a day in
// three neighbouring grids starts at a known time; a prospective replay scans every hour
// (R = 199, sequential stop after 10 exceedances) until a cluster with p ≤ 0.05 overlaps the
// planted grids. Power = share of runs detected within 24 h; delay = outbreak start to the
// first detecting analysis.
func TestPlantedOutbreaks(t *testing.T) {
	runs := 24
	switch {
	case raceOn:
		runs = 3
	case testing.Short():
		runs = 10
	}
	cells, w := validationArea()
	s, err := NewScanner(cells, Config{Replicates: 199, EarlyStop: 10, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	bg := newBackground(w, perDayBG)
	const horizon = 24
	power := map[float64]float64{}
	for _, perDay := range []float64{4, 8, 16} {
		detected := 0
		var delays []float64
		for run := 0; run < runs; run++ {
			rng := rand.New(rand.NewPCG(uint64(run), uint64(perDay)))
			start := t0.Add(7*24*time.Hour + time.Duration(rng.IntN(24*60))*time.Minute)
			centre := rng.IntN(len(cells))
			planted := nearest(s, centre, 3)
			end := start.Add(horizon * time.Hour)
			all := append(bg.cases(rng, start.Add(-7*24*time.Hour), end), outbreak(rng, planted, perDay, start, end)...)
			for h := 1; h <= horizon; h++ {
				now := start.Add(time.Duration(h) * time.Hour)
				var in []Case
				for _, c := range all {
					if !c.T.After(now) {
						in = append(in, c)
					}
				}
				if hit(s.Scan(in, now), cells, planted) {
					detected++
					delays = append(delays, float64(h))
					break
				}
			}
		}
		slices.Sort(delays)
		med := math.NaN()
		if len(delays) > 0 {
			med = delays[len(delays)/2]
		}
		power[perDay] = float64(detected) / float64(runs)
		t.Logf("outbreak %2.0f cases/day in 3 grids (background %.1f/day there): detected in %d of %d runs within %d h (power %.2f), median delay %.0f h, delays %v",
			perDay, perDayBG*3/float64(len(cells)), detected, runs, horizon, power[perDay], med, delays)
		if perDay == 16 && med > 12 {
			t.Errorf("strong outbreak: median delay %.0f h > 12 h", med)
		}
	}
	if power[16] < 0.8 {
		t.Errorf("strong outbreak: power %.2f < 0.8", power[16])
	}
	if runs >= 10 && power[8] < 0.3 {
		t.Errorf("medium outbreak: power %.2f < 0.3", power[8])
	}
	if power[4] > power[16] {
		t.Errorf("power falls with intensity: %v", power)
	}
}

// hit reports whether a cluster with p ≤ 0.05 holds one of the planted grids.
func hit(r Result, cells []Cell, planted []int) bool {
	for _, c := range r.Clusters {
		if c.P > 0.05 {
			continue
		}
		for _, z := range planted {
			if slices.Contains(c.Cells, cells[z].ID) {
				return true
			}
		}
	}
	return false
}

// TestDemoSize: on the demo's 3,634 grids, a week of null cases and a 10-hour outbreak of 16
// cases a day in three neighbouring grids: the primary cluster holds a planted grid with the
// smallest p R = 99 allows, and the scan checks its circles against the geography.
func TestDemoSize(t *testing.T) {
	cells, cases, now := demoStream(t)
	s, err := NewScanner(cells, Config{Replicates: 99, Every: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 3634 {
		t.Fatalf("demo grids: %d, want 3634", len(cells))
	}
	rng := rand.New(rand.NewPCG(8, 8))
	planted := nearest(s, rng.IntN(len(cells)), 3)
	cases = append(cases, outbreak(rng, planted, 16, now.Add(-10*time.Hour), now)...)
	r := s.Scan(cases, now)
	if r.Cells < 1000 || r.Cases != len(cases) {
		t.Fatalf("cases %d of %d in %d grids", r.Cases, len(cases), r.Cells)
	}
	c := r.Clusters[0]
	t.Logf("demo: %d cases in %d grids; primary %s: %d grids, radius %.0f m, %s–%s, observed %d expected %.2f, LLR %.2f, p %.3f, RI %.1f days; took %v",
		r.Cases, r.Cells, c.Center, len(c.Cells), c.RadiusM, c.Start.Format("15:04"), c.End.Format("15:04"), c.Observed, c.Expected, c.LLR, c.P, c.RecurrenceDays, r.Took)
	if !hit(r, cells, planted) || c.P != 0.01 {
		t.Fatalf("planted outbreak %v not the primary cluster: %+v", planted, c)
	}
	for _, sc := range r.Clusters[1:] {
		for _, id := range sc.Cells {
			if slices.Contains(c.Cells, id) {
				t.Fatalf("secondary %s overlaps the primary at %s", sc.Center, id)
			}
		}
	}
}
