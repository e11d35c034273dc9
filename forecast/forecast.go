// Package forecast predicts hourly case volume (new cases per hour) of one series — a region, a
// category, or a region × category — for the next hours and days, with prediction intervals.
// Pure: no I/O; it takes hourly counts and the working-day calendar (zhili/calendar).
//
// Model (multiplicative, explainable): the mean count of the hour starting at t is
//
//	Level × Factor[class of t's day] × Profile[type of t's day][local hour of t]
//
// where:
//
//   - Day type: a working day (Monday–Friday, and a 调休 make-up working day) or a rest day
//     (Saturday, Sunday, and a public holiday), from calendar.Calendar.DayOf.
//   - Day class, for the daily factor: Sunday … Saturday for ordinary days, MakeUp for a
//     make-up working day, Holiday for a public holiday. Factors are normalised so that
//     Monday–Friday average 1: Level is the expected total of an average working day.
//   - Level: the exponentially weighted mean (half-life Options.HalfLife days) of the recent
//     days' totals, each divided by its day's factor.
//   - Shrinkage: each factor and each hour-of-day profile is estimated from weighted counts
//     plus Options.Shrink pseudo-cases drawn from a broader estimate: an ordinary weekday's
//     factor from 1, Saturday's and Sunday's from the pooled rest-day ratio, MakeUp's from 1
//     (an average working day), Holiday's from Sunday's factor; a day type's profile from the
//     profile of all days. With Options.Prior (a model of a broader series: the region total,
//     the city total) factors and profiles shrink toward the prior's instead, so a sparse
//     region × category borrows its shape while its level stays its own.
//   - Intervals: a negative binomial count distribution (variance mean + α·mean²), the
//     overdispersion α estimated by moments from the in-sample hourly residuals (α = 0 is
//     Poisson). Lo and Hi are whole counts read from the distribution's central quantiles
//     (docs/FORECAST.md), so a low-volume hour gets an honest band such as [0, 2].
//
// Sufficiency: the fit uses whole local days only (the partial first and last days are left
// out) and at most Options.Window days; with fewer than Options.MinDays whole days it refuses
// with an *InsufficientError naming what it has and what it needs (Check answers the same
// question without fitting, for screens that show 样本不足 instead of a band).
//
// docs/FORECAST.md describes the model, the backtest method and its figures.
package forecast

import (
	"errors"
	"fmt"
	"math"
	"time"

	"zhili/calendar"
)

// Series is a run of hourly counts: Counts[i] is the number of new cases in the hour starting at
// Start + i hours. Start must fall on a whole local hour of the calendar's zone; counts must be
// finite and non-negative (an hour with no cases is 0, not missing).
type Series struct {
	Start  time.Time
	Counts []float64
}

// End is the end of the series' last hour.
func (s Series) End() time.Time { return s.Start.Add(time.Duration(len(s.Counts)) * time.Hour) }

// Until returns the part of s before t (s itself when t is after its end).
func (s Series) Until(t time.Time) Series {
	n := int(t.Sub(s.Start) / time.Hour)
	n = max(0, min(n, len(s.Counts)))
	return Series{Start: s.Start, Counts: s.Counts[:n]}
}

// Options configures a fit. Zero fields take the defaults below.
type Options struct {
	Level    float64 // central coverage of the prediction interval (default 0.8)
	HalfLife float64 // days; weight of a day's data halves every HalfLife days back (default 14)
	Window   int     // days of history used at most, the most recent (default 56)
	MinDays  int     // whole days of history needed to fit (default 14)
	Shrink   float64 // pseudo-cases each factor and profile borrows from its broader estimate (default 24)
	Prior    *Model  // optional model of a broader series to borrow shape from
}

// Defaults of Options.
const (
	DefaultLevel    = 0.8
	DefaultHalfLife = 14.0
	DefaultWindow   = 56
	DefaultMinDays  = 14
	DefaultShrink   = 24.0
)

func (o Options) resolve() (Options, error) {
	if o.Level == 0 {
		o.Level = DefaultLevel
	}
	if o.HalfLife == 0 {
		o.HalfLife = DefaultHalfLife
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.MinDays == 0 {
		o.MinDays = DefaultMinDays
	}
	if o.Shrink == 0 {
		o.Shrink = DefaultShrink
	}
	switch {
	case !(o.Level > 0 && o.Level < 1):
		return o, fmt.Errorf("forecast: interval level %v: want a share between 0 and 1, e.g. 0.8", o.Level)
	case !(o.HalfLife > 0):
		return o, fmt.Errorf("forecast: half-life %v days: want a positive number", o.HalfLife)
	case o.MinDays < 1 || o.Window < o.MinDays:
		return o, fmt.Errorf("forecast: window %d days, minimum %d days: want 1 ≤ minimum ≤ window", o.Window, o.MinDays)
	case !(o.Shrink >= 0):
		return o, fmt.Errorf("forecast: shrink %v: want a non-negative number of pseudo-cases", o.Shrink)
	}
	return o, nil
}

// Class is a day's class for the daily factor.
type Class int

// Classes: ordinary days by weekday (Sunday = 0 … Saturday = 6, as time.Weekday), then the
// calendar's special days.
const (
	MakeUp  Class = 7 // a 调休 make-up working day
	Holiday Class = 8 // a public holiday
	nClass        = 9
)

// String names a class.
func (c Class) String() string {
	switch {
	case c >= 0 && c < 7:
		return time.Weekday(c).String()
	case c == MakeUp:
		return "MakeUp"
	case c == Holiday:
		return "Holiday"
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// dayKind classifies the local day of t: its class and whether it is a working day.
func dayKind(cal *calendar.Calendar, t time.Time) (Class, bool) {
	d := cal.DayOf(t)
	switch {
	case d.MakeUp:
		return MakeUp, true
	case !d.Workday && d.Name != "":
		return Holiday, false
	}
	return Class(t.In(cal.Location()).Weekday()), d.Workday
}

// Model is a fitted forecast. Its fields explain it; treat them as read-only.
type Model struct {
	Level float64 // expected total of an average working day (cases)
	// Factor is each class's daily total relative to Level (Monday–Friday average 1).
	Factor [nClass]float64
	// Profile is the share of a day's cases falling in each local hour, on working days [0]
	// and rest days [1]; each sums to 1.
	Profile    [2][24]float64
	Dispersion float64   // negative binomial α (0: Poisson)
	Days       int       // whole days of history used
	From, To   time.Time // the history used: first local midnight, last one (exclusive end)
	Interval   float64   // interval level

	cal *calendar.Calendar
}

// Sufficiency says whether a series holds enough history to fit.
type Sufficiency struct {
	Days   int     // whole local days available (at most Options.Window)
	Need   int     // whole days needed (Options.MinDays)
	Cases  float64 // cases in those days
	OK     bool
	Reason string // why not, when !OK
}

// InsufficientError is Fit's refusal of too short a history.
type InsufficientError struct{ Sufficiency }

func (e *InsufficientError) Error() string { return "forecast: " + e.Reason }

// ErrInsufficient matches an *InsufficientError with errors.Is.
var ErrInsufficient = errors.New("forecast: insufficient history")

// Is makes errors.Is(err, ErrInsufficient) true.
func (e *InsufficientError) Is(target error) bool { return target == ErrInsufficient }

// day is one whole local day of the series.
type day struct {
	i0, i1 int // hour indices [i0, i1)
	class  Class
	work   bool
	total  float64
	w      float64
}

// days splits s into whole local days, the last `window` of them.
func days(s Series, cal *calendar.Calendar, window int) ([]day, error) {
	loc := cal.Location()
	st := s.Start.In(loc)
	if st.Minute() != 0 || st.Second() != 0 || st.Nanosecond() != 0 {
		return nil, fmt.Errorf("forecast: series start %s is not on a whole local hour of %s", st.Format(time.RFC3339), loc)
	}
	y, m, d := st.Date()
	ms := time.Date(y, m, d, 0, 0, 0, 0, loc)
	if ms.Before(s.Start) {
		d++
	}
	end := s.End()
	var out []day
	for {
		a := time.Date(y, m, d, 0, 0, 0, 0, loc)
		b := time.Date(y, m, d+1, 0, 0, 0, 0, loc)
		if b.After(end) {
			break
		}
		i0, i1 := int(a.Sub(s.Start)/time.Hour), int(b.Sub(s.Start)/time.Hour)
		c, work := dayKind(cal, a)
		dd := day{i0: i0, i1: i1, class: c, work: work}
		for _, v := range s.Counts[i0:i1] {
			dd.total += v
		}
		out = append(out, dd)
		d++
	}
	// Days before the first case are no history: the series may start before the deployment
	// (or the region, or the category) did.
	for len(out) > 0 && out[0].total == 0 {
		out = out[1:]
	}
	if len(out) > window {
		out = out[len(out)-window:]
	}
	return out, nil
}

// Check reports whether s holds enough history for Fit under opt.
func Check(s Series, cal *calendar.Calendar, opt Options) Sufficiency {
	o, err := opt.resolve()
	if err != nil {
		return Sufficiency{Reason: err.Error()}
	}
	if cal == nil {
		return Sufficiency{Need: o.MinDays, Reason: "no calendar"}
	}
	ds, err := days(s, cal, o.Window)
	if err != nil {
		return Sufficiency{Need: o.MinDays, Reason: err.Error()}
	}
	return sufficiency(ds, o)
}

func sufficiency(ds []day, o Options) Sufficiency {
	out := Sufficiency{Days: len(ds), Need: o.MinDays}
	for _, d := range ds {
		out.Cases += d.total
	}
	out.OK = out.Days >= out.Need
	if !out.OK {
		out.Reason = fmt.Sprintf("insufficient history: %d whole days of hourly counts since the first case, a forecast needs at least %d (%d more)",
			out.Days, out.Need, out.Need-out.Days)
	}
	return out
}

// Fit fits a model to s. It refuses too short a history with an *InsufficientError, and
// malformed input (no calendar, a start off the hour, negative or non-finite counts) with a
// plain error.
func Fit(s Series, cal *calendar.Calendar, opt Options) (*Model, error) {
	o, err := opt.resolve()
	if err != nil {
		return nil, err
	}
	if cal == nil {
		return nil, errors.New("forecast: no calendar")
	}
	for i, v := range s.Counts {
		if !(v >= 0) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("forecast: count %v at hour %d (%s): want a finite non-negative number",
				v, i, s.Start.Add(time.Duration(i)*time.Hour).Format(time.RFC3339))
		}
	}
	ds, err := days(s, cal, o.Window)
	if err != nil {
		return nil, err
	}
	if suf := sufficiency(ds, o); !suf.OK {
		return nil, &InsufficientError{suf}
	}
	// Weights halve every HalfLife days back, scaled to average 1: weighted sums stay in cases,
	// comparable with Shrink.
	n := len(ds)
	sw := 0.0
	for i := range ds {
		ds[i].w = math.Exp2(-float64(n-1-i) / o.HalfLife)
		sw += ds[i].w
	}
	for i := range ds {
		ds[i].w *= float64(n) / sw
	}
	m := &Model{Days: n, Interval: o.Level, cal: cal,
		From: s.Start.Add(time.Duration(ds[0].i0) * time.Hour),
		To:   s.Start.Add(time.Duration(ds[n-1].i1) * time.Hour)}
	m.fitProfiles(s, ds, o)
	m.fitFactors(ds, o)
	m.fitDispersion(s, ds)
	return m, nil
}

// fitProfiles estimates the hour-of-day shares of working and rest days.
func (m *Model) fitProfiles(s Series, ds []day, o Options) {
	loc := m.cal.Location()
	var sum [2][24]float64
	for _, d := range ds {
		t := 0
		if !d.work {
			t = 1
		}
		for i := d.i0; i < d.i1; i++ {
			h := s.Start.Add(time.Duration(i) * time.Hour).In(loc).Hour()
			sum[t][h] += d.w * s.Counts[i]
		}
	}
	var prior [2][24]float64
	if o.Prior != nil {
		prior = o.Prior.Profile
	} else {
		// Both day types pooled, itself shrunk toward a flat day.
		var pool [24]float64
		flat := [24]float64{}
		for h := range 24 {
			pool[h] = sum[0][h] + sum[1][h]
			flat[h] = 1.0 / 24
		}
		p := shrinkShares(pool, flat, o.Shrink)
		prior = [2][24]float64{p, p}
	}
	for t := range 2 {
		m.Profile[t] = shrinkShares(sum[t], prior[t], o.Shrink)
	}
}

// shrinkShares returns (sum + k·prior) / (Σsum + k), normalised to sum to 1.
func shrinkShares(sum, prior [24]float64, k float64) [24]float64 {
	tot := 0.0
	for _, v := range sum {
		tot += v
	}
	var out [24]float64
	if tot+k <= 0 {
		return prior
	}
	z := 0.0
	for h := range 24 {
		out[h] = (sum[h] + k*prior[h]) / (tot + k)
		z += out[h]
	}
	if z > 0 {
		for h := range out {
			out[h] /= z
		}
	}
	return out
}

// fitFactors estimates the level and the daily factors, alternating a few times.
func (m *Model) fitFactors(ds []day, o Options) {
	for c := range m.Factor {
		m.Factor[c] = 1
	}
	// Start: the level of the working days.
	sw, ww := 0.0, 0.0
	for _, d := range ds {
		if d.work {
			sw += d.w * d.total
			ww += d.w
		}
	}
	if ww > 0 {
		m.Level = sw / ww
	}
	for range 4 {
		if m.Level <= 0 {
			m.Level = levelOf(ds, m.Factor)
			if m.Level <= 0 {
				break
			}
		}
		var S, W [nClass]float64
		for _, d := range ds {
			S[d.class] += d.w * d.total
			W[d.class] += d.w
		}
		// Pooled rest-day ratio of ordinary weekends: the prior of Saturday and Sunday.
		rest := 1.0
		if w := W[time.Saturday] + W[time.Sunday]; w > 0 {
			rest = (S[time.Saturday] + S[time.Sunday] + o.Shrink) / (w*m.Level + o.Shrink)
		}
		var prior [nClass]float64
		for c := range prior {
			prior[c] = 1
		}
		prior[time.Saturday], prior[time.Sunday] = rest, rest
		if o.Prior != nil {
			prior = o.Prior.Factor
		}
		f := m.Factor
		for c := range time.Saturday + 1 {
			f[c] = (S[c] + o.Shrink*prior[c]) / (W[c]*m.Level + o.Shrink)
		}
		// Monday–Friday average 1.
		z := (f[1] + f[2] + f[3] + f[4] + f[5]) / 5
		if z > 0 {
			for c := range time.Saturday + 1 {
				f[c] /= z
			}
		}
		if o.Prior == nil {
			prior[MakeUp], prior[Holiday] = 1, f[time.Sunday]
		}
		f[MakeUp] = (S[MakeUp] + o.Shrink*prior[MakeUp]) / (W[MakeUp]*m.Level + o.Shrink)
		f[Holiday] = (S[Holiday] + o.Shrink*prior[Holiday]) / (W[Holiday]*m.Level + o.Shrink)
		m.Factor = f
		m.Level = levelOf(ds, f)
	}
}

// levelOf is the weighted mean of the day totals each divided by its factor.
func levelOf(ds []day, f [nClass]float64) float64 {
	s, w := 0.0, 0.0
	for _, d := range ds {
		s += d.w * d.total
		w += d.w * f[d.class]
	}
	if w <= 0 {
		return 0
	}
	return s / w
}

// fitDispersion estimates α by moments: Σw[(y−μ)² − μ] = α Σw μ².
func (m *Model) fitDispersion(s Series, ds []day) {
	num, den := 0.0, 0.0
	for _, d := range ds {
		for i := d.i0; i < d.i1; i++ {
			mu := m.mean(s.Start.Add(time.Duration(i) * time.Hour))
			r := s.Counts[i] - mu
			num += d.w * (r*r - mu)
			den += d.w * mu * mu
		}
	}
	if den > 0 && num > 0 {
		m.Dispersion = num / den
	}
}

// mean is the expected count of the hour starting at t.
func (m *Model) mean(t time.Time) float64 {
	c, work := dayKind(m.cal, t)
	p := 0
	if !work {
		p = 1
	}
	return m.Level * m.Factor[c] * m.Profile[p][t.In(m.cal.Location()).Hour()]
}

// Band is the forecast of one hour: the expected count and the prediction interval [Lo, Hi]
// (whole counts, both included).
type Band struct {
	T    time.Time `json:"t"` // start of the hour
	Mean float64   `json:"mean"`
	Lo   float64   `json:"lo"`
	Hi   float64   `json:"hi"`
}

// Total forecasts the sum over hours consecutive hours from the local hour containing from:
// the summed mean and the interval of the sum. Hours are taken as independent negative
// binomials with the model's α; their sum is approximated by a negative binomial with the same
// mean and variance (α' = α·Σμ²/(Σμ)²).
func (m *Model) Total(from time.Time, hours int) Band {
	bands := m.Predict(from, hours)
	var mu, sq float64
	for _, b := range bands {
		mu += b.Mean
		sq += b.Mean * b.Mean
	}
	out := Band{Mean: mu}
	if len(bands) > 0 {
		out.T = bands[0].T
	}
	if mu <= 0 {
		return out
	}
	q := (1 - m.Interval) / 2
	out.Lo, out.Hi = nbBand(mu, m.Dispersion*sq/(mu*mu), q, 1-q)
	return out
}

// Predict forecasts hours consecutive hours from the local hour containing from.
func (m *Model) Predict(from time.Time, hours int) []Band {
	loc := m.cal.Location()
	f := from.In(loc)
	t := f.Add(-time.Duration(f.Minute())*time.Minute - time.Duration(f.Second())*time.Second -
		time.Duration(f.Nanosecond()))
	out := make([]Band, 0, max(hours, 0))
	q := (1 - m.Interval) / 2
	for range hours {
		mu := m.mean(t)
		lo, hi := nbBand(mu, m.Dispersion, q, 1-q)
		out = append(out, Band{T: t, Mean: mu, Lo: lo, Hi: hi})
		t = t.Add(time.Hour)
	}
	return out
}
