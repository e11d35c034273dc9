package governance

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"zhili/calendar"
)

var cst = func() *time.Location { l, _ := time.LoadLocation("Asia/Shanghai"); return l }()

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, cst)
	if err != nil {
		panic(err)
	}
	return t
}

// An advance whistle blown the day before National Day 2026: signed in time, contacted late,
// arrival due after the holiday on the 3rd working day (the make-up Saturday counts).
func TestAdvanceWhistleAcrossNationalDay(t *testing.T) {
	cal := calendar.Default()
	c := DefaultClocks()
	blown := at("2026-09-30 10:00")
	reached := map[Stage]time.Time{Signed: at("2026-09-30 10:40"), Contacted: at("2026-10-01 12:00")}
	got, err := c.Status(cal, "advance", blown, reached, at("2026-10-09 12:00"))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		deadline string
		light    Light
		late     bool
	}{
		{"2026-09-30 11:00", Done, false},
		{"2026-10-01 10:00", Red, true},
		// Sep 30 has 14 h left; Oct 1–7 off; Oct 8 (24 h) → 38 h; Oct 9 → 62 h; 10 h of the
		// make-up Saturday Oct 10.
		{"2026-10-10 10:00", Green, false},
	}
	for i, w := range want {
		g := got[i]
		if !g.Deadline.Equal(at(w.deadline)) || g.Light != w.light || g.Late != w.late {
			t.Errorf("%s: deadline %s light %s late %v; want %s %s %v", g.Stage, g.Deadline.In(cst).Format("2006-01-02 15:04"), g.Light, g.Late, w.deadline, w.light, w.late)
		}
	}
	// At 12:00 on Oct 9 the arrival has 12 h of Oct 9 and 10 h of Oct 10 left: 22 h of working
	// time, 31% of its 72 h (green); the holiday days between blowing and now did not count.
	if got[2].Left != int64((22 * time.Hour).Seconds()) {
		t.Errorf("arrival: %d s left, want 22 h of working time", got[2].Left)
	}
}

func TestLights(t *testing.T) {
	cal := calendar.Default()
	c := DefaultClocks()
	blown := at("2026-11-26 09:00") // Thursday
	for _, tc := range []struct {
		now   string
		light Light
	}{
		{"2026-11-26 09:30", Green}, // signed due 10:00: 50% left
		{"2026-11-26 09:50", Amber}, // 10 of 60 minutes left (< 20%)
		{"2026-11-26 10:01", Red},   // late
	} {
		got, _ := c.Status(cal, "advance", blown, nil, at(tc.now))
		if got[0].Light != tc.light {
			t.Errorf("signed at %s: %s, want %s", tc.now, got[0].Light, tc.light)
		}
	}
	if _, err := c.Status(cal, "nope", blown, nil, blown); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestLoadClocks(t *testing.T) {
	p := filepath.Join(t.TempDir(), "clocks.yaml")
	os.WriteFile(p, []byte("amber: 0.25\nkinds:\n  advance: {arrived: 2wd}\n  flood: {signed: 5m, contacted: 15m, arrived: 45m}\n"), 0o644)
	c, err := LoadClocks(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Amber != 0.25 || c.Kinds["advance"][Arrived] != (calendar.Span{WorkDays: 2}) || c.Kinds["advance"][Signed] != (calendar.Span{D: time.Hour}) {
		t.Errorf("merged clocks %+v", c)
	}
	if c.Kinds["flood"][Signed] != (calendar.Span{D: 5 * time.Minute}) || c.Kinds["tough"][Arrived] != (calendar.Span{WorkDays: 5}) {
		t.Errorf("new kind or untouched default wrong: %+v", c.Kinds)
	}
	for _, bad := range []string{
		"kinds:\n  flood: {signed: 5m}\n",            // a new kind without every stage
		"kinds:\n  advance: {landed: 1h}\n",          // unknown stage
		"kinds:\n  advance: {arrived: three days}\n", // bad span
		"amber: 1.5\n", // amber out of range
	} {
		os.WriteFile(p, []byte(bad), 0o644)
		if _, err := LoadClocks(p); err == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
}
