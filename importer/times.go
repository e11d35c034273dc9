package importer

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the presets' time zones without the system's tzdata
	"unicode/utf8"

	"zhili/calendar"
)

// layouts are the accepted timestamp forms without an offset (read in Mapping.TZ). A month,
// day or hour written with one digit is accepted where the layout has "1", "2" or "15".
var layouts = []string{
	"2006-01-02T15:04:05.999999999",
	"2006-1-2 15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-1-2 15:04",
	"2006/1/2 15:04:05",
	"2006/1/2 15:04",
	"01/02/2006 03:04:05 PM",
	"2006年1月2日 15:04:05",
	"2006年1月2日 15:04",
	"2006年1月2日15:04:05",
	"2006年1月2日15:04",
	"2006年1月2日 15时04分05秒",
	"2006年1月2日 15时04分",
	"2006年1月2日",
	"2006-1-2",
	"2006/1/2",
}

// timeNote is how a local time was read when its zone made the reading a choice.
type timeNote struct {
	kind   string // "time_gap" or "time_ambiguous"
	detail string
}

// ParseTime reads an RFC 3339 time with offset, or one of the layouts without offset in loc
// (nil: time.Local). A local time in a daylight-saving gap is read with the offset in force
// before the gap, an ambiguous one (clocks moved back) as its first occurrence.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	t, _, err := parseTime(s, loc)
	return t, err
}

// parseTime is ParseTime that also says when the local reading was a choice.
func parseTime(s string, loc *time.Location) (time.Time, *timeNote, error) {
	s = strings.TrimSpace(s)
	for _, l := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999Z0700"} {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil, nil
		}
	}
	if loc == nil {
		loc = time.Local
	}
	for _, l := range layouts {
		if w, err := time.Parse(l, s); err == nil {
			t, note := resolveLocal(w, loc)
			return t, note, nil
		}
	}
	return time.Time{}, nil, fmt.Errorf("unreadable time %q", s)
}

// resolveLocal reads the wall clock w (its UTC fields) in loc. Go's time.Date moves a time in
// a gap by the offset after the transition and picks the first of two readings silently; here
// the gap takes the offset before it (as if the clock had not moved yet, PEP 495's fold=0) and
// both cases are noted with the reading chosen.
func resolveLocal(w time.Time, loc *time.Location) (time.Time, *timeNote) {
	y, mo, d := w.Date()
	h, mi, sec := w.Clock()
	t := time.Date(y, mo, d, h, mi, sec, w.Nanosecond(), loc)
	wall := func(x time.Time) bool {
		x = x.In(loc)
		xy, xmo, xd := x.Date()
		xh, xmi, xs := x.Clock()
		return xy == y && xmo == mo && xd == d && xh == h && xmi == mi && xs == sec
	}
	// The offsets in force a day around t: a transition between them is the only source of a
	// gap or an overlap.
	_, before := t.Add(-26 * time.Hour).Zone()
	_, after := t.Add(26 * time.Hour).Zone()
	at := func(off int) time.Time { return w.Add(-time.Duration(off) * time.Second).In(loc) }
	label := w.Format("2006-01-02 15:04:05")
	if !wall(t) {
		chosen := at(before)
		return chosen, &timeNote{kind: "time_gap", detail: fmt.Sprintf("%s does not exist in %s (clocks moved forward): read as %s, the offset before the change",
			label, loc, fmtTime(chosen))}
	}
	if before != after {
		a, b := at(before), at(after)
		if wall(a) && wall(b) && !a.Equal(b) {
			first, second := a, b
			if b.Before(a) {
				first, second = b, a
			}
			return first, &timeNote{kind: "time_ambiguous", detail: fmt.Sprintf("%s occurs twice in %s (clocks moved back): read as %s, the first; the other reading is %s",
				label, loc, fmtTime(first), fmtTime(second))}
		}
	}
	return t, nil
}

func fmtTime(t time.Time) string { return t.Format(time.RFC3339Nano) }

// dueSpan reads a time limit written as a span from the created time: "3个工作日", "3工作日",
// "3wd" (working days on the official calendar), "5天", "5日", "5自然日" (days), "48小时",
// "48h" (hours). ok is false for anything else.
func dueSpan(s string) (n int, unit string, ok bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	for _, u := range []struct{ suffix, unit string }{
		{"个工作日", "wd"}, {"工作日", "wd"}, {"wd", "wd"}, {"个自然日", "d"}, {"自然日", "d"}, {"天", "d"},
		{"日", "d"}, {"d", "d"}, {"个小时", "h"}, {"小时", "h"}, {"h", "h"},
	} {
		if num, found := strings.CutSuffix(s, u.suffix); found && num != "" {
			v, err := strconv.Atoi(num)
			if err != nil || v <= 0 || v > 3650 {
				return 0, "", false
			}
			return v, u.unit, true
		}
	}
	return 0, "", false
}

// deadlineOf turns a due value into a deadline: a time, or a span from created (working days
// on cal).
func deadlineOf(s string, created time.Time, loc *time.Location, cal func() *calendar.Calendar) (time.Time, *timeNote, error) {
	if n, unit, ok := dueSpan(s); ok {
		switch unit {
		case "wd":
			return cal().AddWorkingDays(created, n), nil, nil
		case "d":
			return created.AddDate(0, 0, n), nil, nil
		default:
			return created.Add(time.Duration(n) * time.Hour), nil, nil
		}
	}
	t, note, err := parseTime(s, loc)
	if err != nil {
		return t, nil, fmt.Errorf("unreadable due time or time limit %q (want a time, or a limit such as 3个工作日, 5天, 48小时)", s)
	}
	return t, note, nil
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}
