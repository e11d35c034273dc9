package loadtest

import (
	"testing"
	"time"
)

func TestJudgeSoak(t *testing.T) {
	series := func(rss func(i int) float64, gr func(i int) float64) []Sample {
		var s []Sample
		for i := range 60 {
			s = append(s, Sample{AtS: float64(30 * (i + 1)), RSSBytes: rss(i), Goroutines: gr(i)})
		}
		return s
	}
	const mb = 1 << 20
	steady := func(int) float64 { return 2021 }

	// Growth during the settling time does not count; a band of ±5 % after it is flat.
	k := judgeSoak(series(func(i int) float64 {
		if i < 9 {
			return float64(100+40*i) * mb
		}
		return float64(480+24*(i%2)) * mb
	}, steady), 5*time.Minute)
	if k == nil || !k.RSSFlat || !k.GoroutinesFlat || k.Samples != 51 {
		t.Fatalf("steady after settling: %+v", k)
	}

	// A leak of 1 % a sample is not flat, and its second half is above its first.
	k = judgeSoak(series(func(i int) float64 { return 400 * mb * (1 + 0.01*float64(i)) }, steady), 5*time.Minute)
	if k == nil || k.RSSFlat || k.RSSSecondHalf <= k.RSSFirstHalf {
		t.Fatalf("leak: %+v", k)
	}

	// Goroutines that pile up are not flat.
	k = judgeSoak(series(func(int) float64 { return 480 * mb }, func(i int) float64 { return float64(2000 + 20*i) }), 5*time.Minute)
	if k == nil || !k.RSSFlat || k.GoroutinesFlat {
		t.Fatalf("goroutines: %+v", k)
	}

	// Too few samples after settling: no judgement.
	if k := judgeSoak(series(steady, steady)[:11], 5*time.Minute); k != nil {
		t.Fatalf("two settled samples judged: %+v", k)
	}
}

func TestSoakErr(t *testing.T) {
	flat := &Soak{RSSFlat: true, GoroutinesFlat: true, Samples: 5}
	for _, c := range []struct {
		name string
		r    Report
		ok   bool
	}{
		{"flat, none missing", Report{Soak: flat}, true},
		{"not judged", Report{}, false},
		{"RSS not flat", Report{Soak: &Soak{GoroutinesFlat: true, Samples: 5}}, false},
		{"a delivery missing", Report{Soak: flat, Deliveries: Deliveries{Missing: 1}}, false},
	} {
		if err := c.r.SoakErr(); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
