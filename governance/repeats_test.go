package governance

import (
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
