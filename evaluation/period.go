package evaluation

import (
	"time"

	"zhili/errs"
	"zhili/event"
)

// Period is an evaluation period: a quarter (2026-Q3) or a month (2026-11).
type Period struct {
	Name  string
	kind  byte
	index int
}

// ParsePeriod reads a period name.
func ParsePeriod(s string) (Period, error) {
	k, i, ok := event.ParsePeriod(s)
	if !ok {
		return Period{}, errs.E(errs.Invalid, "period", "period must be a quarter (2026-Q3) or a month (2026-11), got %q", s)
	}
	return Period{Name: s, kind: k, index: i}, nil
}

// Back returns the period n periods before p (of the same kind).
func (p Period) Back(n int) Period {
	i := p.index - n
	return Period{Name: event.PeriodName(p.kind, i), kind: p.kind, index: i}
}

// Bounds returns the period's first instant and the next period's, in loc.
func (p Period) Bounds(loc *time.Location) (from, to time.Time) {
	if p.kind == 'Q' {
		y, q := p.index/4, p.index%4
		from = time.Date(y, time.Month(q*3+1), 1, 0, 0, 0, 0, loc)
		return from, from.AddDate(0, 3, 0)
	}
	y, m := p.index/12, p.index%12
	from = time.Date(y, time.Month(m+1), 1, 0, 0, 0, 0, loc)
	return from, from.AddDate(0, 1, 0)
}

// days returns the period's first day and the next period's first day (YYYY-MM-DD).
func (p Period) days() (from, to string) {
	f, t := p.Bounds(time.UTC)
	return f.Format(time.DateOnly), t.Format(time.DateOnly)
}
