package scan

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// bruteMax is the largest LLR over every cylinder, counted directly from the cases.
func bruteMax(s *Scanner, cases []Case, now time.Time) (top float64, obs int, exp float64) {
	type cs struct{ cell, age int }
	var in []cs
	for _, c := range cases {
		age := now.Sub(c.T)
		if age > 0 && age <= s.cfg.Study {
			in = append(in, cs{c.Cell, int((age - 1) / s.cfg.Bucket)})
		}
	}
	n := float64(len(in))
	for i := range s.cells {
		for r := 0; r < int(s.size[i]); r++ {
			inZ := map[int]bool{}
			for _, z := range s.circ[i*s.k : i*s.k+r+1] {
				inZ[int(z)] = true
			}
			for d := 0; d < s.nd; d++ {
				var c, nz, w float64
				for _, x := range in {
					if inZ[x.cell] {
						nz++
						if x.age <= d {
							c++
						}
					}
					if x.age <= d {
						w++
					}
				}
				mu := nz * w / n
				if c <= mu {
					continue
				}
				v := c*math.Log(c/mu) + (n-c)*math.Log((n-c)/(n-mu))
				if c == n {
					v = c * math.Log(c/mu)
				}
				if v > top {
					top, obs, exp = v, int(c), mu
				}
			}
		}
	}
	return top, obs, exp
}

// TestMatchesBruteForce: the pruned search finds the same maximum, observed and expected
// counts as evaluating every cylinder, on sparse and dense data.
func TestMatchesBruteForce(t *testing.T) {
	cells := lattice(7, 1000)
	w := make([]float64, len(cells))
	for i := range w {
		w[i] = 1 + float64(i%5)
	}
	now := t0.Add(50 * time.Hour)
	for _, cfg := range []Config{
		{Study: 48 * time.Hour, MaxDuration: 12 * time.Hour, MaxCells: 6, Replicates: 9},
		{Study: 48 * time.Hour, MaxDuration: 24 * time.Hour, Bucket: 2 * time.Hour, MaxCells: 12, MaxRadiusM: 1500, Replicates: 9},
	} {
		s, err := NewScanner(cells, cfg)
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for seed := uint64(1); seed <= 12; seed++ {
			rng := rand.New(rand.NewPCG(seed, 3))
			perDay := 20 * float64(seed)
			cases := newBackground(w, perDay).cases(rng, now.Add(-49*time.Hour), now)
			if seed%3 == 0 {
				cases = append(cases, outbreak(rng, []int{24, 25, 31}, perDay/4, now.Add(-6*time.Hour), now)...)
			}
			res := s.Scan(cases, now)
			top, obs, exp := bruteMax(s, cases, now)
			if len(res.Clusters) == 0 {
				if top > 0 {
					t.Fatalf("seed %d: no cluster, brute force max %.4f", seed, top)
				}
				continue
			}
			found++
			p := res.Clusters[0]
			if math.Abs(p.LLR-top) > 1e-9*top || p.Observed != obs || math.Abs(p.Expected-exp) > 1e-9 {
				t.Fatalf("seed %d: scan LLR %.6f obs %d exp %.4f; brute force %.6f %d %.4f", seed, p.LLR, p.Observed, p.Expected, top, obs, exp)
			}
			if p.RadiusM > cfg.MaxRadiusM && cfg.MaxRadiusM > 0 {
				t.Fatalf("seed %d: radius %.0f m beyond %.0f", seed, p.RadiusM, cfg.MaxRadiusM)
			}
		}
		if found < 10 {
			t.Fatalf("only %d of 12 data sets had a cluster to compare", found)
		}
	}
}

func TestDeterministicAndSeeded(t *testing.T) {
	cells := lattice(10, 1000)
	w := make([]float64, len(cells))
	for i := range w {
		w[i] = 1
	}
	now := t0.Add(7 * 24 * time.Hour)
	rng := rand.New(rand.NewPCG(7, 7))
	cases := newBackground(w, 100).cases(rng, now.Add(-7*24*time.Hour), now)
	cfg := Config{Replicates: 99, Seed: 42}
	a, _ := NewScanner(cells, cfg)
	r1, r2 := a.Scan(cases, now), a.Scan(cases, now)
	r1.Took, r2.Took = 0, 0
	if !reflect.DeepEqual(r1, r2) {
		t.Fatal("same seed, different results")
	}
	cfg.Seed = 43
	b, _ := NewScanner(cells, cfg)
	r3 := b.Scan(cases, now)
	if r3.Clusters[0].LLR != r1.Clusters[0].LLR {
		t.Fatal("the observed statistic must not depend on the seed")
	}
	if r3.Cases != len(cases) || r1.Replicates != 99 {
		t.Fatalf("cases %d of %d, replicates %d", r3.Cases, len(cases), r1.Replicates)
	}
}

// TestBuckets: buckets are half-open and end at now: a case at a bucket's start is in it, a
// case at now is not in the study period, nor one before now − Study.
func TestBuckets(t *testing.T) {
	cells := lattice(5, 1000)
	s, _ := NewScanner(cells, Config{Study: 48 * time.Hour, MaxDuration: 6 * time.Hour, Replicates: 9})
	now := t0.Add(72 * time.Hour)
	var cases []Case
	for h := 1; h <= 48; h++ {
		cases = append(cases, Case{Cell: h % 25, T: now.Add(-time.Duration(h) * time.Hour)})
	}
	// Two cases at the start of the last hour in grid 12: a one-hour cluster.
	cases = append(cases, Case{Cell: 12, T: now.Add(-time.Hour)}, Case{Cell: 12, T: now.Add(-time.Hour)},
		Case{Cell: 3, T: now}, Case{Cell: 3, T: now.Add(-48*time.Hour - time.Nanosecond)})
	r := s.Scan(cases, now)
	if r.Cases != 50 {
		t.Fatalf("%d cases in the study period, want 50", r.Cases)
	}
	c := r.Clusters[0]
	if c.Center != cells[12].ID || c.Observed != 2 || !c.Start.Equal(now.Add(-time.Hour)) {
		t.Fatalf("primary %s: %d cases from %v", c.Center, c.Observed, c.Start)
	}
}

func TestConfigErrors(t *testing.T) {
	cells := lattice(3, 1000)
	for _, cfg := range []Config{
		{Study: 90 * time.Minute},
		{MaxDuration: 8 * 24 * time.Hour},
		{MaxCells: -1},
		{Bucket: -time.Hour},
		{EarlyStop: -1},
	} {
		if _, err := NewScanner(cells, cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
	if _, err := NewScanner(nil, Config{}); err == nil {
		t.Error("no cells: no error")
	}
	s, err := NewScanner(cells, Config{MaxRadiusM: 1100})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.size[4]; got != 5 { // centre of 3×3: itself and its 4 edge neighbours at 1 km
		t.Fatalf("circle within 1.1 km holds %d cells, want 5", got)
	}
	if r := s.Scan(nil, t0); len(r.Clusters) != 0 || r.Cases != 0 {
		t.Fatalf("empty scan: %+v", r)
	}
}

// TestEarlyStop: on null data the sequential rule stops after EarlyStop exceedances with
// p = EarlyStop/replicates; on a strong cluster it runs every replicate.
func TestEarlyStop(t *testing.T) {
	cells := lattice(12, 1000)
	w := make([]float64, len(cells))
	for i := range w {
		w[i] = 1
	}
	now := t0.Add(7*24*time.Hour + 15*time.Hour)
	s, _ := NewScanner(cells, Config{Replicates: 999, EarlyStop: 10, Every: time.Hour, AlarmDays: 10})
	stopped := 0
	for seed := uint64(1); seed <= 10; seed++ {
		rng := rand.New(rand.NewPCG(seed, 11))
		cases := newBackground(w, 150).cases(rng, now.Add(-7*24*time.Hour), now)
		r := s.Scan(cases, now)
		if r.Replicates < 999 {
			stopped++
			if want := 10 / float64(r.Replicates); math.Abs(r.Clusters[0].P-want) > 1e-12 {
				t.Fatalf("stopped after %d: p %.4f, want %.4f", r.Replicates, r.Clusters[0].P, want)
			}
		}
		for _, c := range r.Clusters[1:] {
			if c.P < r.Clusters[0].P {
				t.Fatalf("secondary p %.4f below primary %.4f", c.P, r.Clusters[0].P)
			}
		}
	}
	if stopped < 8 {
		t.Fatalf("only %d of 10 null scans stopped early", stopped)
	}
	rng := rand.New(rand.NewPCG(99, 11))
	cases := newBackground(w, 150).cases(rng, now.Add(-7*24*time.Hour), now)
	cases = append(cases, outbreak(rng, nearest(s, 70, 3), 40, now.Add(-8*time.Hour), now)...)
	r := s.Scan(cases, now)
	if r.Replicates != 999 || r.Clusters[0].P != 0.001 {
		t.Fatalf("strong cluster: %d replicates, p %.4f", r.Replicates, r.Clusters[0].P)
	}
	c := r.Clusters[0]
	if want := 1.0 / 24 / 0.001; math.Abs(c.RecurrenceDays-want) > 1e-9 || !c.Alarm {
		t.Fatalf("recurrence %.2f days (want %.2f), alarm %v", c.RecurrenceDays, want, c.Alarm)
	}
	if !slices.Contains(c.Cells, cells[70].ID) || !c.End.Equal(now) || c.Start.Before(now.Add(-24*time.Hour)) {
		t.Fatalf("cluster %+v", c)
	}
}

// TestReplicatePruning: the replicates' search (which also skips whole centres) finds the same
// maximum as the observed run's search on the same permuted data, at the demo's density and
// with an outbreak.
func TestReplicatePruning(t *testing.T) {
	cells := lattice(30, 1000)
	w := make([]float64, len(cells))
	for i := range w {
		w[i] = 1 + float64(i%7)
	}
	now := t0.Add(7*24*time.Hour + 11*time.Hour)
	s, _ := NewScanner(cells, Config{})
	for seed := uint64(1); seed <= 6; seed++ {
		rng := rand.New(rand.NewPCG(seed, 21))
		cases := newBackground(w, 60*float64(seed)).cases(rng, now.Add(-7*24*time.Hour), now)
		cases = append(cases, outbreak(rng, nearest(s, 400, 3), 10, now.Add(-9*time.Hour), now)...)
		wk, _, _, _ := s.prepare(cases, now)
		cellsR := make([]int32, len(wk.recent))
		for r := 0; r < 50; r++ {
			s.permute(wk, rng, cellsR)
			fast := s.maxLLR(wk, cellsR, wk.recent, false)
			full := s.maxLLR(wk, cellsR, wk.recent, true)
			wk.bests = wk.bests[:0]
			if math.Abs(fast-full) > 1e-9*full {
				t.Fatalf("seed %d replicate %d: pruned max %.6f, full %.6f", seed, r, fast, full)
			}
		}
	}
}
