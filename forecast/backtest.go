package forecast

import (
	"errors"
	"fmt"
	"math"
	"time"

	"zhili/calendar"
)

// BacktestConfig configures a rolling-origin backtest.
type BacktestConfig struct {
	// Origins is the number of forecast origins, one per local midnight, the latest ones that
	// still have Horizon days of actual counts after them (default 28).
	Origins int
	// Horizon is the longest forecast in days (default 7); every origin is scored on its first
	// day (the 24 h forecast) and on all Horizon days.
	Horizon int
	// Prior, when set, is a broader series (e.g. the region total) refitted at every origin on
	// its own history before the origin and passed as Options.Prior.
	Prior *Series
}

// Scores are the errors of the forecasts over one horizon, pooled over the origins.
type Scores struct {
	Hours int // hours scored (WAPE, coverage)
	Days  int // day totals scored (MAPE)
	// MAPE is the mean of |actual − forecast| / actual over day totals; days with no actual
	// case are left out (ZeroDays counts them).
	MAPE     float64
	ZeroDays int
	// WAPE is Σ|actual − mean| / Σ actual over the hourly counts (every hour counts).
	WAPE float64
	// Coverage is the share of hours whose actual count lies in [Lo, Hi], over every hour.
	Coverage float64
	// ZeroBandHours counts the hours whose band is [0, 0] (a forecast of nothing);
	// CoverageNonZero is the coverage over the other hours only.
	ZeroBandHours   int
	CoverageNonZero float64
	// Bias is Σ(mean − actual) / Σ actual over the hours: positive is a forecast too high.
	Bias float64
}

// BacktestResult is a backtest's outcome.
type BacktestResult struct {
	Origins     int       // forecast origins scored
	Refused     int       // origins left out: the fit refused their history as too short
	First, Last time.Time // the first and last origin scored
	Horizon     int       // days forecast from each origin
	Level       float64   // interval level scored
	Day, Week   Scores    // the next 24 h, and the next Horizon days
}

// Backtest refits at each origin on the history before it and scores the forecasts against the
// counts that follow. It fails when no origin has enough history and Horizon days after it.
func Backtest(s Series, cal *calendar.Calendar, opt Options, cfg BacktestConfig) (BacktestResult, error) {
	if cfg.Origins <= 0 {
		cfg.Origins = 28
	}
	if cfg.Horizon <= 0 {
		cfg.Horizon = 7
	}
	o, err := opt.resolve()
	if err != nil {
		return BacktestResult{}, err
	}
	if cal == nil {
		return BacktestResult{}, errors.New("forecast: no calendar")
	}
	res := BacktestResult{Level: o.Level, Horizon: cfg.Horizon}
	// The origins: local midnights with Horizon whole days of counts after them, latest first.
	loc := cal.Location()
	end := s.End().In(loc)
	y, m, d := end.Date()
	var origins []time.Time
	for k := 0; len(origins) < cfg.Origins; k++ {
		at := time.Date(y, m, d-cfg.Horizon-k, 0, 0, 0, 0, loc)
		if !at.After(s.Start) {
			break
		}
		origins = append(origins, at)
	}
	var day, week acc
	for i := len(origins) - 1; i >= 0; i-- {
		at := origins[i]
		oo := o
		if cfg.Prior != nil {
			pm, err := Fit(cfg.Prior.Until(at), cal, o)
			if err == nil {
				oo.Prior = pm
			}
		}
		mod, err := Fit(s.Until(at), cal, oo)
		if err != nil {
			if errors.Is(err, ErrInsufficient) {
				res.Refused++
				continue
			}
			return res, err
		}
		stop := time.Date(at.Year(), at.Month(), at.Day()+cfg.Horizon, 0, 0, 0, 0, loc)
		bands := mod.Predict(at, int(stop.Sub(at)/time.Hour))
		first := time.Date(at.Year(), at.Month(), at.Day()+1, 0, 0, 0, 0, loc)
		var dayMean, dayAct float64
		dayEnd := first
		for _, b := range bands {
			j := int(b.T.Sub(s.Start) / time.Hour)
			if j < 0 || j >= len(s.Counts) {
				continue
			}
			act := s.Counts[j]
			if !b.T.Before(dayEnd) {
				week.day(dayMean, dayAct)
				if dayEnd.Equal(first) {
					day.day(dayMean, dayAct)
				}
				dayMean, dayAct = 0, 0
				dayEnd = time.Date(dayEnd.Year(), dayEnd.Month(), dayEnd.Day()+1, 0, 0, 0, 0, loc)
			}
			dayMean += b.Mean
			dayAct += act
			week.hour(b, act)
			if b.T.Before(first) {
				day.hour(b, act)
			}
		}
		week.day(dayMean, dayAct)
		if dayEnd.Equal(first) {
			day.day(dayMean, dayAct)
		}
		if res.Origins == 0 {
			res.First = at
		}
		res.Last = at
		res.Origins++
	}
	if res.Origins == 0 {
		return res, fmt.Errorf("forecast: backtest: no origin with %d days of history before it and %d days of counts after it (series of %d hours from %s)",
			o.MinDays, cfg.Horizon, len(s.Counts), s.Start.Format(time.RFC3339))
	}
	res.Day, res.Week = day.scores(), week.scores()
	return res, nil
}

// acc accumulates one horizon's errors.
type acc struct {
	hours, in, zero, inNZ int
	absErr, act, bias     float64
	days, zeroDays        int
	ape                   float64
}

func (a *acc) hour(b Band, y float64) {
	a.hours++
	a.absErr += math.Abs(y - b.Mean)
	a.bias += b.Mean - y
	a.act += y
	in := y >= b.Lo && y <= b.Hi
	if in {
		a.in++
	}
	if b.Hi == 0 {
		a.zero++
	} else if in {
		a.inNZ++
	}
}

func (a *acc) day(mean, act float64) {
	if act <= 0 {
		a.zeroDays++
		return
	}
	a.days++
	a.ape += math.Abs(act-mean) / act
}

func (a *acc) scores() Scores {
	s := Scores{Hours: a.hours, Days: a.days, ZeroDays: a.zeroDays, ZeroBandHours: a.zero}
	if a.days > 0 {
		s.MAPE = a.ape / float64(a.days)
	}
	if a.act > 0 {
		s.WAPE = a.absErr / a.act
		s.Bias = a.bias / a.act
	}
	if a.hours > 0 {
		s.Coverage = float64(a.in) / float64(a.hours)
	}
	if n := a.hours - a.zero; n > 0 {
		s.CoverageNonZero = float64(a.inNZ) / float64(n)
	}
	return s
}

// String prints the scores on one line.
func (s Scores) String() string {
	return fmt.Sprintf("MAPE(daily) %.1f%% over %d days, WAPE(hourly) %.1f%%, bias %+.1f%%, coverage %.1f%% of %d hours (%.1f%% of %d hours with a non-zero band)",
		100*s.MAPE, s.Days, 100*s.WAPE, 100*s.Bias, 100*s.Coverage, s.Hours, 100*s.CoverageNonZero, s.Hours-s.ZeroBandHours)
}
