// Package calendar is the official working-day calendar of mainland China: weekends, the
// public holidays the State Council announces every year, and the make-up working days (调休)
// that come with them. Governance clocks that run in working days (a whistle's "arrive within 3
// working days", a case's deadline) use it.
//
// Data: the holiday arrangements of github.com/6tail/lunar-go (MIT; updated every year when
// the State Council publishes the next year's arrangement), plus an optional YAML file the
// operator can update without a new binary (LoadFile), which wins over the built-in data.
//
// Working time: a working day counts as 24 hours of working time from local midnight to
// midnight; other days count none. "n working days after t" is t plus n×24 h of working time:
// Friday 10:00 + 1 working day = Monday 10:00 (or the next working day at 10:00). A start on a
// non-working day counts from the next working day's midnight. Pure: no I/O except LoadFile.
package calendar

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/6tail/lunar-go/HolidayUtil"
	"gopkg.in/yaml.v3"
)

// Calendar answers which local days are working days.
type Calendar struct {
	loc      *time.Location
	off      map[civil]string // public holidays (name)
	work     map[civil]string // make-up working days on weekends (name of the holiday they serve)
	years    map[int]bool     // years with an official arrangement
	sources  []string
	official bool
}

// civil is a local date.
type civil struct {
	y int
	m time.Month
	d int
}

func civilOf(t time.Time, loc *time.Location) civil {
	y, m, d := t.In(loc).Date()
	return civil{y, m, d}
}

func (c civil) String() string { return fmt.Sprintf("%04d-%02d-%02d", c.y, int(c.m), c.d) }

func parseCivil(s string) (civil, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return civil{}, err
	}
	y, m, d := t.Date()
	return civil{y, m, d}, nil
}

// Official returns the calendar of the built-in holiday data for the years from → to
// (inclusive), in loc (nil: Asia/Shanghai).
func Official(loc *time.Location, from, to int) *Calendar {
	if loc == nil {
		loc = shanghai()
	}
	c := &Calendar{loc: loc, off: map[civil]string{}, work: map[civil]string{}, years: map[int]bool{},
		sources: []string{"github.com/6tail/lunar-go v1.4.7 holiday data"}, official: true}
	for y := from; y <= to; y++ {
		l := HolidayUtil.GetHolidaysByYear(y)
		if l.Len() > 0 {
			c.years[y] = true
		}
		for e := l.Front(); e != nil; e = e.Next() {
			h := e.Value.(*HolidayUtil.Holiday)
			d, err := parseCivil(h.GetDay())
			if err != nil || d.y != y {
				continue
			}
			if h.IsWork() {
				c.work[d] = h.GetName()
			} else {
				c.off[d] = h.GetName()
			}
		}
	}
	return c
}

// Default is the official calendar for 2000 to 2100 in Asia/Shanghai.
func Default() *Calendar { return Official(nil, 2000, 2100) }

func shanghai() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}

// File is the operator's calendar file: each year's arrangement as published.
//
//	years:
//	  2027:
//	    holidays: {2027-01-01: 元旦, 2027-02-06: 春节, ...}
//	    workdays: {2027-02-20: 春节}   # make-up working days (调休)
type File struct {
	Years map[int]struct {
		Holidays map[string]string `yaml:"holidays"`
		Workdays map[string]string `yaml:"workdays"`
	} `yaml:"years"`
}

// LoadFile applies an operator's calendar file on top of c: for every year it lists, its
// holidays and make-up working days replace the built-in ones of that year.
func (c *Calendar) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var f File
	if err := yaml.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("calendar %s: %w", path, err)
	}
	return c.apply(f, path)
}

func (c *Calendar) apply(f File, source string) error {
	for y, arr := range f.Years {
		for d := range c.off {
			if d.y == y {
				delete(c.off, d)
			}
		}
		for d := range c.work {
			if d.y == y {
				delete(c.work, d)
			}
		}
		for s, name := range arr.Holidays {
			d, err := parseCivil(s)
			if err != nil || d.y != y {
				return fmt.Errorf("calendar %s: year %d: holiday %q is not a date of that year (YYYY-MM-DD)", source, y, s)
			}
			c.off[d] = name
		}
		for s, name := range arr.Workdays {
			d, err := parseCivil(s)
			if err != nil || d.y != y {
				return fmt.Errorf("calendar %s: year %d: workday %q is not a date of that year (YYYY-MM-DD)", source, y, s)
			}
			if _, clash := c.off[d]; clash {
				return fmt.Errorf("calendar %s: %s is both a holiday and a make-up working day", source, s)
			}
			c.work[d] = name
		}
		c.years[y] = true
	}
	c.sources = append(c.sources, source)
	return nil
}

// Location is the calendar's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// Sources names where the arrangements come from.
func (c *Calendar) Sources() []string { return slices.Clone(c.sources) }

// Known reports whether year has an official arrangement; other years count weekends only.
func (c *Calendar) Known(year int) bool { return c.years[year] }

// IsWorkday reports whether the local day of t is a working day.
func (c *Calendar) IsWorkday(t time.Time) bool { return c.workday(civilOf(t, c.loc)) }

func (c *Calendar) workday(d civil) bool {
	if _, ok := c.work[d]; ok {
		return true
	}
	if _, ok := c.off[d]; ok {
		return false
	}
	wd := time.Date(d.y, d.m, d.d, 12, 0, 0, 0, time.UTC).Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// Day describes one local day.
type Day struct {
	Date    string `json:"date"`
	Workday bool   `json:"workday"`
	Name    string `json:"name,omitempty"` // the holiday, or the holiday a make-up working day serves
	MakeUp  bool   `json:"make_up,omitempty"`
}

// DayOf describes the local day of t.
func (c *Calendar) DayOf(t time.Time) Day {
	d := civilOf(t, c.loc)
	out := Day{Date: d.String(), Workday: c.workday(d)}
	if n, ok := c.work[d]; ok {
		out.Name, out.MakeUp = n, true
	} else if n, ok := c.off[d]; ok {
		out.Name = n
	}
	return out
}

// midnight returns local midnight of d, and of the day after.
func (c *Calendar) midnight(d civil) (time.Time, time.Time) {
	start := time.Date(d.y, d.m, d.d, 0, 0, 0, 0, c.loc)
	return start, time.Date(d.y, d.m, d.d+1, 0, 0, 0, 0, c.loc)
}

// maxDays bounds the day walks (a clock of 10 years is a configuration error, not a clock).
const maxDays = 3660

// AddWorkingDays returns the instant n working days (n × 24 h of working time) after t.
func (c *Calendar) AddWorkingDays(t time.Time, n int) time.Time {
	return c.AddWorkingTime(t, time.Duration(n)*24*time.Hour)
}

// AddWorkingTime returns the instant at which d of working time has passed since t.
func (c *Calendar) AddWorkingTime(t time.Time, d time.Duration) time.Time {
	left := d
	day := civilOf(t, c.loc)
	cur := t
	for i := 0; i < maxDays; i++ {
		_, end := c.midnight(day)
		if c.workday(day) {
			avail := end.Sub(cur)
			if left <= avail {
				return cur.Add(left)
			}
			left -= avail
		}
		cur = end
		day = civilOf(end, c.loc)
	}
	return cur.Add(left)
}

// WorkingTime returns the working time between from and to (negative when to is before from).
func (c *Calendar) WorkingTime(from, to time.Time) time.Duration {
	if to.Before(from) {
		return -c.WorkingTime(to, from)
	}
	var sum time.Duration
	cur := from
	for i := 0; i < maxDays && cur.Before(to); i++ {
		day := civilOf(cur, c.loc)
		_, end := c.midnight(day)
		stop := end
		if to.Before(end) {
			stop = to
		}
		if c.workday(day) {
			sum += stop.Sub(cur)
		}
		cur = stop
	}
	return sum
}

// Span is a clock length: calendar time, or working days.
type Span struct {
	D        time.Duration // calendar time (e.g. 1h, 24h, 30m)
	WorkDays int           // working days (when > 0, D is ignored)
}

// ParseSpan parses "90m", "1h", "24h", "3wd" (3 working days) or "3工作日".
func ParseSpan(s string) (Span, error) {
	for _, suf := range []string{"wd", "工作日"} {
		if n, ok := cutSuffix(s, suf); ok {
			v, err := strconv.Atoi(n)
			if err != nil || v <= 0 {
				return Span{}, fmt.Errorf("span %q: want a positive number of working days, e.g. 3wd", s)
			}
			return Span{WorkDays: v}, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return Span{}, fmt.Errorf("span %q: want a duration (90m, 24h) or working days (3wd)", s)
	}
	return Span{D: d}, nil
}

func cutSuffix(s, suf string) (string, bool) {
	if len(s) > len(suf) && s[len(s)-len(suf):] == suf {
		return s[:len(s)-len(suf)], true
	}
	return "", false
}

// String formats a span as ParseSpan reads it.
func (s Span) String() string {
	if s.WorkDays > 0 {
		return strconv.Itoa(s.WorkDays) + "wd"
	}
	return s.D.String()
}

// Deadline is the end of span s started at t on calendar c.
func (c *Calendar) Deadline(t time.Time, s Span) time.Time {
	if s.WorkDays > 0 {
		return c.AddWorkingDays(t, s.WorkDays)
	}
	return t.Add(s.D)
}

// UnmarshalYAML reads a span from its string form.
func (s *Span) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSpan(n.Value)
	if err != nil {
		return err
	}
	*s = v
	return nil
}
