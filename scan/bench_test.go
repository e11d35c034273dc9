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
// windows up to 24 h, circles of up to 20 grids) on null data, R = 999; "all" runs every
// replicate, "early10" stops after 10 exceedances (the usual live case: no cluster).
func BenchmarkScanDemo(b *testing.B) {
	cells, cases, now := demoStream(b)
	for _, bc := range []struct {
		name string
		stop int
	}{{"all", 0}, {"early10", 10}} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := NewScanner(cells, Config{Replicates: 999, EarlyStop: bc.stop, Every: 5 * time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			var reps int
			b.ReportAllocs()
			for b.Loop() {
				now = now.Add(5 * time.Minute)
				reps += s.Scan(cases, now).Replicates
			}
			b.ReportMetric(float64(reps)/float64(b.N), "replicates/op")
			// CPU seconds per minute of stream when scanning every 5 minutes.
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/5, "cpu-s/min@5min")
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
