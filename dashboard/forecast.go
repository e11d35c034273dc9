package dashboard

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	"zhili/alerts"
	"zhili/calendar"
	"zhili/clock"
	"zhili/errs"
	"zhili/event"
	"zhili/forecast"
	"zhili/geo"
	"zhili/store"
)

// Forecasts fits hourly volume forecasts of new cases per region × category from the history
// store (docs/FORECAST.md) and keeps each fit for the hour it was made in. It answers the
// forecast route and gives the alerting its forecast signals (the last window's count against
// the interval of its sum).
type Forecasts struct {
	St   store.Store
	Tree *geo.Tree
	Cal  *calendar.Calendar
	Clk  clock.Clock
	Opt  forecast.Options
	// Categories lists the categories the alerting measures (nil: the region totals only).
	Categories func() []string
	// CategoryName names a category in zh and en for alert titles (nil: the code).
	CategoryName func(code string) (zh, en string)

	mu   sync.Mutex
	fits map[fitKey]*fitEntry

	signals signalCache
}

// SignalsEvery is how often Signals measures again; between, it repeats its last signals.
const SignalsEvery = time.Minute

type fitKey struct{ region, category string }

type fitEntry struct {
	hour  time.Time
	at    time.Time // when it was fitted
	model *forecast.Model
	suff  forecast.Sufficiency
	err   error
}

// ForecastReply is the forecast route's reply.
type ForecastReply struct {
	Region   string `json:"region"`
	Category string `json:"category,omitempty"`
	From     string `json:"from"` // the first forecast hour (the current one)
	// Sufficient is false when the history is too short to forecast (Reason says why): no
	// band is given then.
	Sufficient bool            `json:"sufficient"`
	Reason     string          `json:"reason,omitempty"`
	Days       int             `json:"days"` // whole days of history the fit used
	Level      float64         `json:"level"`
	Interval   float64         `json:"interval"` // e.g. 0.8 for the 80 % interval
	Hours      []forecast.Band `json:"hours"`
	Method     string          `json:"method"`
}

// MaxForecastHours bounds a forecast's horizon.
const MaxForecastHours = 168

// MaxForecastBack is how far before now a forecast may start: the expected range of the hours
// a trend panel shows (the fit of the current hour, so in-sample for past hours).
const MaxForecastBack = 7 * 24 * time.Hour

// Forecast returns the forecast of region × category (category "" all) for hours hours from the
// hour holding from (zero: now; at most MaxForecastBack before now).
func (f *Forecasts) Forecast(ctx context.Context, region, category string, from time.Time, hours int) (ForecastReply, error) {
	now := f.Clk.Now()
	hour := now.In(f.Cal.Location()).Truncate(time.Hour)
	start := hour
	if !from.IsZero() {
		if from.Before(now.Add(-MaxForecastBack)) {
			return ForecastReply{}, errs.E(errs.Invalid, "from", "a forecast starts at most %d days back", int(MaxForecastBack.Hours()/24))
		}
		start = from.In(f.Cal.Location()).Truncate(time.Hour)
	}
	rep := ForecastReply{Region: region, Category: category, From: start.Format(time.RFC3339),
		Method: "hour-of-week seasonality on the working-day calendar, negative binomial interval (docs/FORECAST.md)"}
	e, err := f.fit(ctx, region, category, hour)
	if err != nil {
		return rep, err
	}
	rep.Days = e.suff.Days
	if e.model == nil {
		rep.Reason = e.suff.Reason
		rep.Hours = []forecast.Band{}
		return rep, nil
	}
	rep.Sufficient, rep.Level, rep.Interval = true, e.model.Level, e.model.Interval
	rep.Hours = e.model.Predict(start, min(max(hours, 1), MaxForecastHours))
	return rep, nil
}

// fit returns the fit of region × category for the hour, fitting it when none is kept.
func (f *Forecasts) fit(ctx context.Context, region, category string, hour time.Time) (*fitEntry, error) {
	k := fitKey{region, category}
	f.mu.Lock()
	if f.fits == nil {
		f.fits = map[fitKey]*fitEntry{}
	}
	// A fit is kept for its hour; a refusal or a failure for a minute (history may be arriving).
	if e := f.fits[k]; e != nil && e.hour.Equal(hour) && (e.model != nil || f.Clk.Now().Sub(e.at) < time.Minute) {
		f.mu.Unlock()
		return e, e.err
	}
	f.mu.Unlock()
	opt := f.Opt
	if category != "" {
		// A category borrows the shape of its region's total where it is sparse.
		if tot, err := f.fit(ctx, region, "", hour); err == nil && tot.model != nil {
			opt.Prior = tot.model
		}
	}
	window := opt.Window
	if window <= 0 {
		window = 56
	}
	from := hour.AddDate(0, 0, -window)
	pts, err := f.St.Series(ctx, store.SeriesQuery{Region: StoreRegion(f.Tree, region), From: from, To: hour, Step: time.Hour,
		Category: category, Types: []event.Type{event.CaseReported}, Loc: f.Cal.Location()})
	if err != nil {
		return nil, err
	}
	s := forecast.Series{Start: from, Counts: make([]float64, int(hour.Sub(from)/time.Hour))}
	for _, p := range pts {
		if i := int(p.T.Sub(from) / time.Hour); i >= 0 && i < len(s.Counts) {
			s.Counts[i] += float64(p.Count)
		}
	}
	e := &fitEntry{hour: hour, at: f.Clk.Now(), suff: forecast.Check(s, f.Cal, opt)}
	if e.suff.OK {
		m, err := forecast.Fit(s, f.Cal, opt)
		switch {
		case errors.Is(err, forecast.ErrInsufficient):
			e.suff.OK, e.suff.Reason = false, err.Error()
		case err != nil:
			e.err = err
		default:
			e.model = m
		}
	}
	f.mu.Lock()
	f.fits[k] = e
	f.mu.Unlock()
	return e, e.err
}

// Signals measures, for each window the rules ask for, the counts of new cases over the last
// window per county (the root's children) and category against the interval of the forecast
// sum over the same hours. Regions and categories whose history is too short give no signal.
func (f *Forecasts) Signals(ctx context.Context, now time.Time, windows []time.Duration) []alerts.Signal {
	if len(windows) == 0 {
		return nil
	}
	return f.signals.get(ctx, now, SignalsEvery, windowsKey(windows), func() []alerts.Signal { return f.measure(ctx, now, windows) })
}

func (f *Forecasts) measure(ctx context.Context, now time.Time, windows []time.Duration) []alerts.Signal {
	var cats []string
	if f.Categories != nil {
		cats = f.Categories()
	}
	longest := slices.Max(windows)
	hour := now.In(f.Cal.Location()).Truncate(time.Hour)
	var out []alerts.Signal
	regions := append([]*geo.Region{f.Tree.Root}, f.Tree.Root.Children...)
	for _, r := range regions {
		for _, cat := range append([]string{""}, cats...) {
			if ctx.Err() != nil {
				return out
			}
			e, err := f.fit(ctx, r.Code, cat, hour)
			if err != nil || e.model == nil {
				continue
			}
			// One read of the longest window by minutes; each window sums its own minutes.
			pts, err := f.St.Series(ctx, store.SeriesQuery{Region: StoreRegion(f.Tree, r.Code), From: now.Add(-longest), To: now,
				Step: time.Minute, Category: cat, Types: []event.Type{event.CaseReported}, Loc: f.Cal.Location()})
			if err != nil {
				continue
			}
			catZh, catEn := "全部类别", "all categories"
			if cat != "" {
				catZh, catEn = categoryNames(f.CategoryName, cat)
			}
			for _, w := range windows {
				from := now.Add(-w)
				var n int64
				for _, p := range pts {
					if !p.T.Before(from) {
						n += p.Count
					}
				}
				// Against the forecast of the hours the window spans (from the hour holding its
				// start: approximate by the part of an hour at each end).
				band := e.model.Total(from, int((w+time.Hour-1)/time.Hour))
				out = append(out, alerts.Signal{Kind: alerts.KindForecast, Region: r.Code, RegionPath: f.Tree.Path(r.Code), Category: cat,
					Value: float64(n), Bound: band.Hi, Window: w, RegionName: r.Name, CategoryName: catZh, CategoryNameEn: catEn,
					Detail: map[string]string{"mean": strconv.FormatFloat(band.Mean, 'f', 1, 64), "lo": strconv.FormatFloat(band.Lo, 'f', 0, 64), "hi": strconv.FormatFloat(band.Hi, 'f', 0, 64)}})
			}
		}
	}
	return out
}
