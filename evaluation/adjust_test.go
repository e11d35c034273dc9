package evaluation

import (
	"math"
	"testing"
	"time"

	"zhili/event"
)

// TestRateAdjustHandWorked checks the prior and the adjusted rates worked by hand.
func TestRateAdjustHandWorked(t *testing.T) {
	close := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

	// 20, 10 and 15 of 20: p̄ = 45/60 = 3/4; the rates 1, 1/2, 3/4 have mean 3/4 and sample
	// variance (1/16 + 1/16 + 0) / 2 = 1/16; chance adds p̄(1 − p̄)/20 = 3/320; τ² = 1/16 − 3/320
	// = 17/320; m = (3/16)/(17/320) − 1 = 60/17 − 1 = 43/17. 20 of 20 becomes
	// (20 + 43/17 · 3/4) / (20 + 43/17) = 1489/1532, with credibility 20/(20 + 43/17) = 340/383.
	pr := priorOf([]float64{20, 10, 15}, []float64{20, 20, 20})
	if !close(pr.Rate, 0.75) || !close(pr.Strength, 43.0/17) {
		t.Errorf("prior %+v, want rate 0.75, strength 43/17", pr)
	}
	if r, c := pr.adjust(20, 20); !close(r, 1489.0/1532) || !close(c, 340.0/383) {
		t.Errorf("20 of 20: %v (credibility %v), want 1489/1532 (340/383)", r, c)
	}
	if r, _ := pr.adjust(15, 20); !close(r, 0.75) {
		t.Errorf("15 of 20, at the pooled rate: %v", r)
	}

	// Unequal cases, 10/10, 15/20, 95/100, 60/80: p̄ = 180/210 = 6/7; the rates' mean 0.8625,
	// sample variance 83/4800; chance adds (6/7)(1/7) × (1/10 + 1/20 + 1/100 + 1/80)/4 =
	// 207/39200; m = (6/49) / (83/4800 − 207/39200) − 1 = 1039/113. 10 of 10 falls to
	// (10 + m·6/7)/(10 + m) = 14144/15183, below 95 of 100's (95 + m·6/7)/(100 + m) =
	// 81379/86373.
	pr = priorOf([]float64{10, 15, 95, 60}, []float64{10, 20, 100, 80})
	if !close(pr.Rate, 6.0/7) || math.Abs(pr.Strength-1039.0/113) > 1e-9 {
		t.Errorf("prior %+v, want rate 6/7, strength 1039/113", pr)
	}
	a, _ := pr.adjust(10, 10)
	c, _ := pr.adjust(95, 100)
	if math.Abs(a-14144.0/15183) > 1e-12 || math.Abs(c-81379.0/86373) > 1e-12 {
		t.Errorf("10/10 → %.6f, 95/100 → %.6f; want 14144/15183, 81379/86373", a, c)
	}

	// 18, 14, 16, 15 of 20 differ no more than chance makes them (sample variance 7/960 <
	// (63/80)(17/80)/20 = 1071/128000): everyone stands at the pooled 63/80, credibility 0.
	pr = priorOf([]float64{18, 14, 16, 15}, []float64{20, 20, 20, 20})
	if !math.IsInf(pr.Strength, 1) {
		t.Errorf("prior %+v, want infinite strength", pr)
	}
	if r, c := pr.adjust(18, 20); r != 63.0/80 || c != 0 {
		t.Errorf("18 of 20: %v (credibility %v), want 63/80 (0)", r, c)
	}
	// All perfect: nothing to pull toward but 1.
	if r, _ := priorOf([]float64{10, 40}, []float64{10, 40}).adjust(10, 10); r != 1 {
		t.Errorf("all perfect: %v", r)
	}
}

// With the default adjustment, a perfect rate on the minimum sample no longer tops the peers
// over a near-perfect one on ten times the cases; the value shown stays the one measured.
func TestRateAdjustRanksBySample(t *testing.T) {
	ro := fixtureRosterOf(t)
	data := &PeriodData{ByRegion: map[string]UnitData{
		"RA": {Response: Rate{10, 10}},  // 100 %
		"RB": {Response: Rate{15, 20}},  // 75 %
		"RC": {Response: Rate{95, 100}}, // 95 %
		"RD": {Response: Rate{60, 80}},  // 75 %
	}}
	var sv surveyLog
	sv.at = time.Date(2026, 10, 8, 9, 0, 0, 0, time.UTC)
	q3, _ := ParsePeriod("2026-Q3")
	response := func(cfg Config, id string) IndicatorScore {
		res := Evaluate(cfg, Input{Period: q3, Roster: ro, Surveys: event.Live(sv.evs), Data: data})
		for _, is := range res.Subjects[id].Data.Indicators {
			if is.Key == "response" {
				return is
			}
		}
		t.Fatalf("%s has no response indicator", id)
		return IndicatorScore{}
	}
	peer, err := Config{}.Resolved()
	if err != nil || peer.RateAdjust != AdjustPeer {
		t.Fatalf("default rate_adjust %q (%v), want peer", peer.RateAdjust, err)
	}
	raw := peer
	raw.RateAdjust = AdjustNone

	if a, c := response(raw, "A"), response(raw, "C"); *a.Normalized != 100 || *c.Normalized != 80 || a.Adjusted != nil {
		t.Errorf("as measured: A %v, C %v; want 100 and 80, nothing adjusted", *a.Normalized, *c.Normalized)
	}
	a, c := response(peer, "A"), response(peer, "C")
	if *c.Normalized != 100 || *a.Normalized >= 100 || *a.Value != 100 || *c.Value != 95 {
		t.Errorf("adjusted: A %v (value %v), C %v (value %v); want C first at 100, the values as measured",
			*a.Normalized, *a.Value, *c.Normalized, *c.Value)
	}
	if *a.Adjusted != 93.16 || *c.Adjusted != 94.22 || *a.PeerRate != 85.71 || *a.Credibility != 0.521 || *c.Credibility != 0.9158 {
		t.Errorf("A adjusted %v credibility %v, C adjusted %v credibility %v, peer rate %v; want 93.16 0.521, 94.22 0.9158, 85.71",
			*a.Adjusted, *a.Credibility, *c.Adjusted, *c.Credibility, *a.PeerRate)
	}
	// A bad setting is refused by name.
	if _, err := (Config{RateAdjust: "bayes"}).Resolved(); err == nil {
		t.Error("rate_adjust bayes accepted")
	}
}
