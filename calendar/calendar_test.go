package calendar

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The arrangements as the State Council published them (国务院办公厅关于2025年/2026年部分节假日
// 安排的通知), typed in by hand: an independent check of the built-in data.
var published = map[int]struct{ off, work []string }{
	2025: {
		off:  []string{"01-01", "01-28..02-04", "04-04..04-06", "05-01..05-05", "05-31..06-02", "10-01..10-08"},
		work: []string{"01-26", "02-08", "04-27", "09-28", "10-11"},
	},
	2026: {
		off:  []string{"01-01..01-03", "02-15..02-23", "04-04..04-06", "05-01..05-05", "06-19..06-21", "09-25..09-27", "10-01..10-07"},
		work: []string{"01-04", "02-14", "02-28", "05-09", "09-20", "10-10"},
	},
}

func expand(year int, spans []string) map[string]bool {
	out := map[string]bool{}
	for _, s := range spans {
		from, to := s, s
		if len(s) > 5 {
			from, to = s[:5], s[7:]
		}
		a, _ := time.Parse("2006-01-02", itoa(year)+"-"+from)
		b, _ := time.Parse("2006-01-02", itoa(year)+"-"+to)
		for d := a; !d.After(b); d = d.AddDate(0, 0, 1) {
			out[d.Format("2006-01-02")] = true
		}
	}
	return out
}

func itoa(y int) string { return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Format("2006") }

// referenceWorkday is the plain rule with the published tables.
func referenceWorkday(t time.Time) bool {
	day := t.Format("2006-01-02")
	p := published[t.Year()]
	if expand(t.Year(), p.work)[day] {
		return true
	}
	if expand(t.Year(), p.off)[day] {
		return false
	}
	return t.Weekday() != time.Saturday && t.Weekday() != time.Sunday
}

var cst = shanghai()

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, cst)
	if err != nil {
		panic(err)
	}
	return t
}

func TestEveryDayOf2025And2026(t *testing.T) {
	c := Default()
	for _, y := range []int{2025, 2026} {
		if !c.Known(y) {
			t.Fatalf("no arrangement for %d", y)
		}
		work := 0
		for d := time.Date(y, 1, 1, 12, 0, 0, 0, cst); d.Year() == y; d = d.AddDate(0, 0, 1) {
			if got, want := c.IsWorkday(d), referenceWorkday(d); got != want {
				t.Errorf("%s (%s): workday %v, published %v (%+v)", d.Format("2006-01-02"), d.Weekday(), got, want, c.DayOf(d))
			}
			if c.IsWorkday(d) {
				work++
			}
		}
		t.Logf("%d: %d working days", y, work)
	}
	if d := c.DayOf(at("2026-02-28 09:00")); !d.Workday || !d.MakeUp || d.Name != "春节" {
		t.Errorf("2026-02-28 (a make-up Saturday): %+v", d)
	}
	if d := c.DayOf(at("2025-10-08 09:00")); d.Workday || d.Name == "" {
		t.Errorf("2025-10-08 (National Day and Mid-Autumn): %+v", d)
	}
}

// Clocks across the holidays, worked out by hand.
func TestDeadlinesAcrossHolidays(t *testing.T) {
	c := Default()
	for _, tc := range []struct {
		name  string
		start string
		span  string
		want  string
	}{
		{"Spring Festival 2025: 3 working days from the Monday before", "2025-01-27 10:00", "3wd", "2025-02-07 10:00"},
		{"National Day 2025: ends on the make-up Saturday", "2025-09-30 09:00", "3wd", "2025-10-11 09:00"},
		{"Spring Festival 2026: Friday + 1 = the make-up Saturday", "2026-02-13 16:00", "1wd", "2026-02-14 16:00"},
		{"Spring Festival 2026: from the make-up Saturday over the 9 days off", "2026-02-14 12:00", "2wd", "2026-02-25 12:00"},
		{"National Day 2026: a tough whistle's 5 working days", "2026-09-30 18:00", "5wd", "2026-10-13 18:00"},
		{"started on a holiday: counts from the next working day", "2026-10-03 15:00", "1wd", "2026-10-09 00:00"},
		{"an ordinary weekend", "2026-11-27 10:00", "1wd", "2026-11-30 10:00"},
		{"calendar time ignores holidays", "2026-10-01 10:00", "24h", "2026-10-02 10:00"},
	} {
		s, err := ParseSpan(tc.span)
		if err != nil {
			t.Fatal(err)
		}
		got := c.Deadline(at(tc.start), s)
		if !got.Equal(at(tc.want)) {
			t.Errorf("%s: %s + %s = %s, want %s", tc.name, tc.start, tc.span, got.In(cst).Format("2006-01-02 15:04 Mon"), tc.want)
		}
		if s.WorkDays > 0 && c.IsWorkday(at(tc.start)) {
			if w := c.WorkingTime(at(tc.start), got); w != time.Duration(s.WorkDays)*24*time.Hour {
				t.Errorf("%s: working time to the deadline %s", tc.name, w)
			}
		}
	}
}

// AddWorkingTime and WorkingTime against a minute-by-minute walk over the published tables.
func TestAgainstMinuteWalk(t *testing.T) {
	c := Default()
	rng := rand.New(rand.NewPCG(1, 2))
	base := at("2025-01-01 00:00")
	// The reference is a property of the day: look each day up once (the walk visits a day's
	// 1,440 minutes; the published tables are expanded on every lookup).
	days := map[int]bool{}
	workday := func(t time.Time) bool {
		t = t.In(cst)
		k := t.Year()*1000 + t.YearDay()
		w, ok := days[k]
		if !ok {
			w = referenceWorkday(t)
			days[k] = w
		}
		return w
	}
	for i := 0; i < 40; i++ {
		start := base.Add(time.Duration(rng.Int64N(int64(700 * 24 * time.Hour)))).Truncate(time.Minute)
		need := time.Duration(1+rng.IntN(5*24*60)) * time.Minute
		// Reference: walk minute by minute.
		cur, left := start, need
		for left > 0 {
			if workday(cur) {
				left -= time.Minute
			}
			cur = cur.Add(time.Minute)
		}
		got := c.AddWorkingTime(start, need)
		if !got.Equal(cur) {
			// Both are right if got is the start of the same working minute run (the walk
			// ends after the last counted minute; a deadline at midnight may equal either side
			// of a non-working stretch). Require the same working time instead.
			if c.WorkingTime(start, got) != need || c.WorkingTime(got, cur) != 0 {
				t.Fatalf("start %s + %s: got %s, walk %s", start, need, got, cur)
			}
		}
		if w := c.WorkingTime(start, cur); w != need {
			t.Fatalf("WorkingTime(%s, %s) = %s, want %s", start, cur, w, need)
		}
	}
}

func TestOperatorFile(t *testing.T) {
	c := Default()
	path := filepath.Join(t.TempDir(), "calendar.yaml")
	os.WriteFile(path, []byte(`years:
  2026:
    holidays: {2026-12-31: 测试假日}
    workdays: {2026-12-26: 测试调休}
`), 0o644)
	if err := c.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if c.IsWorkday(at("2026-12-31 10:00")) || !c.IsWorkday(at("2026-12-26 10:00")) {
		t.Fatal("the file's arrangement was not applied")
	}
	if !c.IsWorkday(at("2026-10-05 10:00")) {
		t.Fatal("a year in the file replaces the built-in arrangement of that year")
	}
	if c.IsWorkday(at("2025-10-05 10:00")) {
		t.Fatal("other years keep the built-in arrangement")
	}
	for _, bad := range []string{
		"years:\n  2026:\n    holidays: {2027-01-01: x}\n",
		"years:\n  2026:\n    holidays: {2026-02-30: x}\n",
		"years:\n  2026:\n    holidays: {2026-10-01: x}\n    workdays: {2026-10-01: y}\n",
	} {
		os.WriteFile(path, []byte(bad), 0o644)
		if err := Default().LoadFile(path); err == nil {
			t.Errorf("file accepted:\n%s", bad)
		}
	}
}

func TestParseSpan(t *testing.T) {
	for in, want := range map[string]Span{"1h": {D: time.Hour}, "90m": {D: 90 * time.Minute}, "3wd": {WorkDays: 3}, "5工作日": {WorkDays: 5}} {
		got, err := ParseSpan(in)
		if err != nil || got != want {
			t.Errorf("ParseSpan(%q) = %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "0wd", "-1h", "3 days", "wd"} {
		if _, err := ParseSpan(bad); err == nil {
			t.Errorf("ParseSpan(%q) accepted", bad)
		}
	}
}
