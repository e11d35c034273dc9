// Query planning shared by every store: period checks, the bucket layout of series and cubes,
// and case-query checks. Each implementation turns a plan into its own SQL.

package store

import (
	"sort"
	"time"

	"zhili/errs"
)

// checkPeriod checks a query's [from, to).
func checkPeriod(from, to time.Time) error {
	if from.IsZero() || to.IsZero() {
		return errs.E(errs.Invalid, "period", "store: from and to are required")
	}
	if !to.After(from) {
		return errs.E(errs.Invalid, "period", "store: to (%s) must be after from (%s)",
			to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	return nil
}

// MaxSeriesPoints is the most points a series may have.
const MaxSeriesPoints = 10000

// SeriesPlan lays out the buckets of a series query. A store groups matching events by slot
// index floor((at - Origin) / Slot) (events are never before Origin), feeds the counts to Add
// and returns Points. Every slot lies inside one bucket.
type SeriesPlan struct {
	Origin time.Time     // start of the first bucket
	Slot   time.Duration // grouping width: the step below 1h, else at most 1h

	starts  []time.Time // bucket starts, in the query's location
	counts  []int64
	uniform bool // buckets are exactly Slot wide
}

// PlanSeries validates q and lays out its buckets.
//
// Steps below 1h must be whole seconds; buckets start at Unix-epoch multiples of the step.
// Steps of 1h or more must divide 24h or be whole days; buckets start at local midnight in
// q.Loc (UTC when nil) and, for steps below a day, every step after it, the last bucket of a
// day ending at the next midnight (days are 23h or 25h when daylight saving time changes).
// The first bucket is the one holding q.From; every bucket that starts before q.To is
// returned.
func PlanSeries(q SeriesQuery) (*SeriesPlan, error) {
	if err := checkPeriod(q.From, q.To); err != nil {
		return nil, err
	}
	loc := q.Loc
	if loc == nil {
		loc = time.UTC
	}
	step := q.Step
	const day = 24 * time.Hour
	switch {
	case step <= 0:
		return nil, errs.E(errs.Invalid, "step", "store: step must be positive, got %s", step)
	case step < time.Hour && step%time.Second != 0:
		return nil, errs.E(errs.Invalid, "step", "store: step %s is not a whole number of seconds", step)
	case step >= time.Hour && day%step != 0 && step%day != 0:
		return nil, errs.E(errs.Invalid, "step",
			"store: step %s must divide 24h or be a whole number of days", step)
	}
	tooMany := func() error {
		return errs.E(errs.Invalid, "max_points",
			"store: the series would have more than %d points; use a larger step or a shorter period",
			MaxSeriesPoints)
	}

	if step < time.Hour {
		us := step.Microseconds()
		first := floorDiv(q.From.UnixMicro(), us) * us
		n := (q.To.UnixMicro() - first + us - 1) / us
		if n > MaxSeriesPoints {
			return nil, tooMany()
		}
		p := &SeriesPlan{Origin: time.UnixMicro(first).In(loc), Slot: step, uniform: true,
			starts: make([]time.Time, n), counts: make([]int64, n)}
		for i := range p.starts {
			p.starts[i] = p.Origin.Add(time.Duration(i) * step)
		}
		return p, nil
	}

	from := q.From.In(loc)
	y, m, dd := from.Date()
	day0 := time.Date(y, m, dd, 0, 0, 0, 0, loc)
	var starts []time.Time
	add := func(t time.Time) bool {
		if len(starts) == MaxSeriesPoints {
			return false
		}
		starts = append(starts, t)
		return true
	}
	if step%day == 0 {
		n := int(step / day)
		for k := 0; ; k++ {
			t := time.Date(y, m, dd+k*n, 0, 0, 0, 0, loc)
			if !t.Before(q.To) {
				break
			}
			if !add(t) {
				return nil, tooMany()
			}
		}
	} else {
		for k := 0; ; k++ {
			d0 := time.Date(y, m, dd+k, 0, 0, 0, 0, loc)
			if !d0.Before(q.To) {
				break
			}
			d1 := time.Date(y, m, dd+k+1, 0, 0, 0, 0, loc)
			for t := d0; t.Before(d1) && t.Before(q.To); t = t.Add(step) {
				end := t.Add(step)
				if end.After(d1) {
					end = d1
				}
				if !end.After(q.From) {
					continue
				}
				if !add(t) {
					return nil, tooMany()
				}
			}
		}
	}
	// Slots must not straddle bucket boundaries, which fall on whole hours of local time:
	// use the largest width dividing 1h and every UTC offset the zone has over the period.
	g := int64(3600)
	for t := day0; ; {
		_, off := t.Zone()
		g = gcd(g, int64(off))
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.Before(q.To) || !end.After(t) {
			break
		}
		t = end
	}
	return &SeriesPlan{Origin: starts[0], Slot: time.Duration(g) * time.Second,
		starts: starts, counts: make([]int64, len(starts))}, nil
}

// Add adds n events to the bucket holding slot.
func (p *SeriesPlan) Add(slot, n int64) {
	if slot < 0 {
		return
	}
	i := int(slot)
	if !p.uniform {
		t := p.Origin.Add(time.Duration(slot) * p.Slot)
		i = sort.Search(len(p.starts), func(k int) bool { return p.starts[k].After(t) }) - 1
	}
	if i >= 0 && i < len(p.counts) {
		p.counts[i] += n
	}
}

// Points returns the dense series.
func (p *SeriesPlan) Points() []Point {
	out := make([]Point, len(p.starts))
	for i, t := range p.starts {
		out[i] = Point{T: t, Count: p.counts[i]}
	}
	return out
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func gcd(a, b int64) int64 {
	if a < 0 {
		a = -a
	}
	if b < 0 {
		b = -b
	}
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// checkCaseQuery validates a case query.
func checkCaseQuery(q CaseQuery) error {
	if err := checkPeriod(q.From, q.To); err != nil {
		return err
	}
	if q.Depth < 0 {
		return errs.E(errs.Invalid, "depth", "store: depth must be 0 or more, got %d", q.Depth)
	}
	if len(q.IDs) > MaxCaseQueryIDs {
		return errs.E(errs.TooLarge, "ids", "store: at most %d case ids in one query, got %d", MaxCaseQueryIDs, len(q.IDs))
	}
	return nil
}

// planCube checks a cube query and plans its time buckets (the series part of the cube).
func planCube(q CubeQuery) (SeriesQuery, *SeriesPlan, error) {
	if q.Depth < 0 {
		return SeriesQuery{}, nil, errs.E(errs.Invalid, "depth", "store: depth must be 0 or more, got %d", q.Depth)
	}
	sq := SeriesQuery{From: q.From, To: q.To, Step: q.Step, Loc: q.Loc}
	plan, err := PlanSeries(sq)
	return sq, plan, err
}
