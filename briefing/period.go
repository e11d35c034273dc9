package briefing

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"zhili/errs"
)

// Kinds of periods.
const (
	Day  = "day"
	Week = "week"
)

// Period is a briefing's period: one local day or one ISO week (Monday to Sunday) in the
// deployment's time zone.
type Period struct {
	Kind string // Day or Week
	// Day: the date. Week: the ISO week-year and the week number.
	Year, Week  int
	Month, Date int
}

var (
	dayRE  = regexp.MustCompile(`^day:(\d{4})-(\d{2})-(\d{2})$`)
	weekRE = regexp.MustCompile(`^week:(\d{4})-W(\d{2})$`)
)

// ParsePeriod reads day:YYYY-MM-DD or week:YYYY-Www (ISO 8601 week); anything else is errs
// Invalid with the reason "period".
func ParsePeriod(s string) (Period, error) {
	if strings.Contains(s, "%") {
		// A path segment as a client escaped it (day%3A2026-12-03).
		if u, err := url.PathUnescape(s); err == nil {
			s = u
		}
	}
	if m := dayRE.FindStringSubmatch(s); m != nil {
		y, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		d, _ := strconv.Atoi(m[3])
		t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
		if t.Year() != y || int(t.Month()) != mo || t.Day() != d || y < 1 {
			return Period{}, errs.E(errs.Invalid, "period", "period %q: no such date", s)
		}
		return Period{Kind: Day, Year: y, Month: mo, Date: d}, nil
	}
	if m := weekRE.FindStringSubmatch(s); m != nil {
		y, _ := strconv.Atoi(m[1])
		w, _ := strconv.Atoi(m[2])
		if y < 1 || w < 1 || w > WeeksIn(y) {
			return Period{}, errs.E(errs.Invalid, "period", "period %q: ISO year %d has weeks 01 to %02d", s, y, WeeksIn(max(y, 1)))
		}
		return Period{Kind: Week, Year: y, Week: w}, nil
	}
	return Period{}, errs.E(errs.Invalid, "period", "period %q: want day:YYYY-MM-DD or week:YYYY-Www (ISO week, e.g. week:2026-W49)", s)
}

// WeeksIn is the number of ISO weeks of ISO year y (52 or 53).
func WeeksIn(y int) int {
	_, w := time.Date(y, 12, 28, 0, 0, 0, 0, time.UTC).ISOWeek()
	return w
}

// DayOf is the day period holding t in loc.
func DayOf(t time.Time, loc *time.Location) Period {
	t = t.In(loc)
	return Period{Kind: Day, Year: t.Year(), Month: int(t.Month()), Date: t.Day()}
}

// WeekOf is the ISO week period holding t in loc.
func WeekOf(t time.Time, loc *time.Location) Period {
	y, w := t.In(loc).ISOWeek()
	return Period{Kind: Week, Year: y, Week: w}
}

// String is the period's canonical id.
func (p Period) String() string {
	if p.Kind == Week {
		return fmt.Sprintf("week:%04d-W%02d", p.Year, p.Week)
	}
	return fmt.Sprintf("day:%04d-%02d-%02d", p.Year, p.Month, p.Date)
}

// FileName is the name the keeper stores the period under (the id with '-' for ':').
func (p Period) FileName() string {
	if p.Kind == Week {
		return fmt.Sprintf("week-%04d-W%02d.json", p.Year, p.Week)
	}
	return fmt.Sprintf("day-%04d-%02d-%02d.json", p.Year, p.Month, p.Date)
}

// Bounds are the period's [from, to) in loc: local midnights (a day can be 23 or 25 hours).
func (p Period) Bounds(loc *time.Location) (from, to time.Time) {
	if p.Kind == Week {
		jan4 := time.Date(p.Year, 1, 4, 0, 0, 0, 0, loc)
		mon := jan4.AddDate(0, 0, -((int(jan4.Weekday()) + 6) % 7))
		from = mon.AddDate(0, 0, 7*(p.Week-1))
		return from, from.AddDate(0, 0, 7)
	}
	from = time.Date(p.Year, time.Month(p.Month), p.Date, 0, 0, 0, 0, loc)
	return from, from.AddDate(0, 0, 1)
}

// Shift is the period n periods later (earlier for n < 0).
func (p Period) Shift(n int, loc *time.Location) Period {
	from, _ := p.Bounds(loc)
	if p.Kind == Week {
		return WeekOf(from.AddDate(0, 0, 7*n), loc)
	}
	return DayOf(from.AddDate(0, 0, n), loc)
}

// Hours is the period's length in hours (DST days included).
func (p Period) Hours(loc *time.Location) int {
	from, to := p.Bounds(loc)
	return int(to.Sub(from) / time.Hour)
}
