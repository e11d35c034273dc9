package scan

import (
	"math/rand/v2"
	"testing"
	"time"
)

// demoStream is 7 days of null cases on the demo grids (≈ 225 a day on average, weekend days
// included at the same rate) ending at now, Monday 15:00.
func demoStream(tb testing.TB) ([]Cell, []Case, time.Time) {
	cells, w := demo(tb)
	now := t0.Add(7*24*time.Hour + 15*time.Hour)
	rng := rand.New(rand.NewPCG(2026, 12))
	return cells, newBackground(w, 225).cases(rng, now.Add(-7*24*time.Hour), now), now
}

// BenchmarkScanDemo: one analysis at the demo's size (3,634 grids, 7-day study, 1 h buckets,
// windows up to 24 h, circles of up to 20 grids). "r999" runs all 999 replicates on null data;
// "r999-early10" stops after 10 exceedances; "live-null" and "live-outbreak" are the
// recommended live settings (every 10 min, R = 14,999, stop after 20) without and with a
// planted outbreak (which runs every replicate). cpu-s/min is the CPU cost per minute of
// stream at the sub-benchmark's schedule.
func BenchmarkScanDemo(b *testing.B) {
	cells, cases, now := demoStream(b)
	withOutbreak := append([]Case(nil), cases...)
	rng := rand.New(rand.NewPCG(8, 8))
	s0, _ := NewScanner(cells, Config{})
	withOutbreak = append(withOutbreak, outbreak(rng, nearest(s0, rng.IntN(len(cells)), 3), 16, now.Add(-10*time.Hour), now.Add(time.Hour))...)
	for _, bc := range []struct {
		name    string
		r, stop int
		every   time.Duration
		cases   []Case
	}{
		{"r999", 999, 0, 5 * time.Minute, cases},
		{"r999-early10", 999, 10, 5 * time.Minute, cases},
		{"live-null", 14999, 20, 10 * time.Minute, cases},
		{"live-outbreak", 14999, 20, 10 * time.Minute, withOutbreak},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := NewScanner(cells, Config{Replicates: bc.r, EarlyStop: bc.stop, Every: bc.every})
			if err != nil {
				b.Fatal(err)
			}
			var reps int
			b.ReportAllocs()
			at := now
			for i := 0; b.Loop(); i++ {
				at = now.Add(time.Duration(i%6) * 10 * time.Minute)
				reps += s.Scan(bc.cases, at).Replicates
			}
			b.ReportMetric(float64(reps)/float64(b.N), "replicates/op")
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/bc.every.Minutes(), "cpu-s/min")
		})
	}
}

// BenchmarkNewScannerDemo: precomputing the circles of the demo's grids.
func BenchmarkNewScannerDemo(b *testing.B) {
	cells, _ := demo(b)
	for b.Loop() {
		if _, err := NewScanner(cells, Config{}); err != nil {
			b.Fatal(err)
		}
	}
}
