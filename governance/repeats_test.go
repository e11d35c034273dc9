package governance

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"
)

func TestNormalizeAddress(t *testing.T) {
	if a, b := NormalizeAddress("浉河区 幸福路８号，３单元"), NormalizeAddress("浉河区幸福路8号3单元"); a != b {
		t.Fatalf("%q != %q", a, b)
	}
}

func TestMeters(t *testing.T) {
	// One degree of latitude is about 111.2 km; 0.001° of longitude at 32° N about 94.4 m.
	if d := Meters(114, 32, 114, 33); d < 111000 || d > 111400 {
		t.Fatalf("1° latitude: %.0f m", d)
	}
	if d := Meters(114, 32, 114.001, 32); d < 94 || d > 95 {
		t.Fatalf("0.001° longitude at 32°: %.1f m", d)
	}
}

// Repeats: the same address or a point within the distance, the same category, within the
// window; chains point at their first case.
func TestLinkRepeats(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 11, d, 9, 0, 0, 0, time.UTC) }
	facts := []CaseFacts{
		{ID: "a", Category: "environment", Reported: day(1), Address: "幸福路8号", Lon: 114.0, Lat: 32.0, HasPoint: true},
		{ID: "b", Category: "environment", Reported: day(5), Address: "幸福路 ８号"},                           // same address: repeats a
		{ID: "c", Category: "environment", Reported: day(9), Lon: 114.0003, Lat: 32.0001, HasPoint: true}, // ~30 m from a: repeats a
		{ID: "d", Category: "dispute", Reported: day(9), Lon: 114.0, Lat: 32.0, HasPoint: true},           // other category
		{ID: "e", Category: "environment", Reported: day(10), Lon: 114.002, Lat: 32.0, HasPoint: true},    // ~190 m: not a repeat
		{ID: "f", Category: "environment", Reported: day(1).Add(45 * 24 * time.Hour), Address: "幸福路8号"},   // beyond the window of a, b; c is 36 days before: no
	}
	LinkRepeats(facts, RepeatConfig{Distance: 50, Window: 30 * 24 * time.Hour})
	want := map[string]string{"a": "", "b": "a", "c": "a", "d": "", "e": "", "f": ""}
	for _, f := range facts {
		if f.RepeatOf != want[f.ID] {
			t.Errorf("%s repeats %q, want %q", f.ID, f.RepeatOf, want[f.ID])
		}
	}
}

// linkRepeatsByScan is LinkRepeats as it was before it searched each address and cell by time:
// every earlier case of the address and the nine cells is visited. The reference of
// TestLinkRepeatsAsByScan and the baseline of BenchmarkLinkRepeats.
func linkRepeatsByScan(facts []CaseFacts, cfg RepeatConfig) {
	cfg = cfg.withDefaults()
	idx := make([]int, len(facts))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return facts[idx[a]].Reported.Before(facts[idx[b]].Reported) })
	type cellKey struct {
		cat  string
		x, y int64
	}
	cellOf := func(lon, lat float64) (int64, int64) {
		dLat := cfg.Distance / 111320
		dLon := dLat / math.Max(math.Cos(lat*math.Pi/180), 0.01)
		return int64(math.Floor(lon / dLon)), int64(math.Floor(lat / dLat))
	}
	byCell := map[cellKey][]int{}
	byAddr := map[[2]string][]int{}
	root := func(i int) string {
		if facts[i].RepeatOf != "" {
			return facts[i].RepeatOf
		}
		return facts[i].ID
	}
	for _, i := range idx {
		f := &facts[i]
		limit := f.Reported.Add(-cfg.Window)
		best := -1
		consider := func(j int) {
			g := &facts[j]
			if g.Reported.Before(limit) || g.ID == f.ID {
				return
			}
			if best < 0 || g.Reported.Before(facts[best].Reported) {
				best = j
			}
		}
		addr := NormalizeAddress(f.Address)
		if addr != "" {
			for _, j := range byAddr[[2]string{f.Category, addr}] {
				consider(j)
			}
		}
		var cx, cy int64
		if f.HasPoint {
			cx, cy = cellOf(f.Lon, f.Lat)
			for dx := int64(-1); dx <= 1; dx++ {
				for dy := int64(-1); dy <= 1; dy++ {
					for _, j := range byCell[cellKey{f.Category, cx + dx, cy + dy}] {
						if g := &facts[j]; g.HasPoint && Meters(f.Lon, f.Lat, g.Lon, g.Lat) <= cfg.Distance {
							consider(j)
						}
					}
				}
			}
		}
		if best >= 0 {
			f.RepeatOf = root(best)
		}
		if addr != "" {
			k := [2]string{f.Category, addr}
			byAddr[k] = append(byAddr[k], i)
		}
		if f.HasPoint {
			k := cellKey{f.Category, cx, cy}
			byCell[k] = append(byCell[k], i)
		}
	}
}

// repeatFacts are n cases of a busy month: few categories and addresses, points clustered
// within a few hundred metres, report times on the hour (ties), some ids repeated.
func repeatFacts(rng *rand.Rand, n int) []CaseFacts {
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	cats := []string{"environment", "dispute", "traffic"}
	out := make([]CaseFacts, n)
	for i := range out {
		f := CaseFacts{ID: fmt.Sprintf("c%d", rng.IntN(n+n/20)), Category: cats[rng.IntN(len(cats))],
			Reported: start.Add(time.Duration(rng.IntN(60*24)) * time.Hour)}
		if rng.IntN(3) > 0 {
			f.Address = fmt.Sprintf("幸福路%d号", rng.IntN(40))
		}
		if rng.IntN(4) > 0 {
			f.Lon, f.Lat, f.HasPoint = 114+rng.Float64()*0.004, 32+rng.Float64()*0.004, true
		}
		out[i] = f
	}
	return out
}

// The search by time links exactly as the scan of every earlier case did, ties and repeated ids
// included.
func TestLinkRepeatsAsByScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for round := range 40 {
		facts := repeatFacts(rng, 50+rng.IntN(400))
		want := slices.Clone(facts)
		cfg := RepeatConfig{Distance: float64(20 + rng.IntN(80)), Window: time.Duration(1+rng.IntN(20)) * 24 * time.Hour}
		LinkRepeats(facts, cfg)
		linkRepeatsByScan(want, cfg)
		linked := 0
		for i := range facts {
			if facts[i].RepeatOf != want[i].RepeatOf {
				t.Fatalf("round %d, case %d (%s): repeats %q, by scan %q", round, i, facts[i].ID, facts[i].RepeatOf, want[i].RepeatOf)
			}
			if facts[i].RepeatOf != "" {
				linked++
			}
		}
		if linked == 0 || linked == len(facts) {
			t.Fatalf("round %d: %d of %d cases linked: the data shows nothing", round, linked, len(facts))
		}
	}
}

// BenchmarkLinkRepeats: a month of 70,000 cases of one category at 500 addresses (140 cases
// each), the audit's repeat linking, by search and by the former scan.
//
//	go test -run '^$' -bench BenchmarkLinkRepeats ./governance/
func BenchmarkLinkRepeats(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	base := make([]CaseFacts, 70000)
	for i := range base {
		base[i] = CaseFacts{ID: fmt.Sprintf("k%05d", i), Category: "environment", Address: fmt.Sprintf("某路%d号", i%500),
			Reported: start.Add(time.Duration(rng.Int64N(int64(30 * 24 * time.Hour))))}
	}
	for _, way := range []struct {
		name string
		link func([]CaseFacts, RepeatConfig)
	}{{"search", LinkRepeats}, {"scan", linkRepeatsByScan}} {
		b.Run(way.name, func(b *testing.B) {
			facts := make([]CaseFacts, len(base))
			for b.Loop() {
				copy(facts, base)
				way.link(facts, RepeatConfig{})
			}
		})
	}
}
