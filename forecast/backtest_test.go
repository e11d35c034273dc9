package forecast

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"zhili/calendar"
	"zhili/geo"
	"zhili/internal/nycdata"
	"zhili/simulate"
)

// demoEnd ends the demo history used by the backtests: a Monday, so the 90 days run from
// 2026-08-04 to 2026-11-01 and the origins cross 国庆节 (2026-10-01 … 07, make-up 10-10).
var demoEnd = time.Date(2026, 11, 2, 0, 0, 0, 0, simulate.Zone)

// demoCategory is the category backtested alone; the township is the busiest one.
const demoCategory = "environment"

type demoSeries struct {
	city, town, cat, cell Series
	townCode              string
	cases                 int
}

var (
	demoOnce sync.Once
	demo     demoSeries
)

// demoHistory counts the demo history's case.reported events per local hour.
func demoHistory(t testing.TB) demoSeries {
	demoOnce.Do(func() {
		cal := calendar.Default()
		h := simulate.NewHistory(simulate.HistoryConfig{End: demoEnd, Seed: simulate.DefaultDemoSeed, Calendar: cal})
		tree := geo.DemoTree()
		loc := geo.NewIndexedLocator(tree)
		start := h.Plan().Start
		n := int(demoEnd.Sub(start) / time.Hour)
		byTown := map[string][]float64{}
		byTownCat := map[string][]float64{}
		city, cat := make([]float64, n), make([]float64, n)
		var line struct {
			Type     string `json:"type"`
			At       string `json:"at"`
			Category string `json:"category"`
			Region   string `json:"region"`
			Location *struct {
				Lon, Lat float64
				CRS      string
			} `json:"location"`
		}
		for {
			ls := h.Next(10000)
			if len(ls) == 0 {
				break
			}
			for _, b := range ls {
				line.Region, line.Location = "", nil
				if err := json.Unmarshal(b, &line); err != nil {
					panic(err)
				}
				if line.Type != "case.reported" {
					continue
				}
				at, err := time.Parse(time.RFC3339Nano, line.At)
				if err != nil {
					panic(err)
				}
				i := int(at.Sub(start) / time.Hour)
				if i < 0 || i >= n {
					continue
				}
				demo.cases++
				city[i]++
				if line.Category == demoCategory {
					cat[i]++
				}
				var path []string
				if line.Location != nil {
					lon, lat := geo.ToWGS84(line.Location.CRS, line.Location.Lon, line.Location.Lat)
					path = loc.Locate(orb.Point{lon, lat})
				} else if line.Region != "" {
					path = tree.Path(line.Region)
				}
				if len(path) < 2 {
					continue
				}
				town := path[1]
				if byTown[town] == nil {
					byTown[town] = make([]float64, n)
					byTownCat[town] = make([]float64, n)
				}
				byTown[town][i]++
				if line.Category == demoCategory {
					byTownCat[town][i]++
				}
			}
		}
		code, best := "", -1.0
		for c, v := range byTown {
			if s := sum(v); s > best || s == best && c < code {
				code, best = c, s
			}
		}
		demo = demoSeries{city: Series{start, city}, cat: Series{start, cat},
			town: Series{start, byTown[code]}, cell: Series{start, byTownCat[code]}, townCode: code, cases: demo.cases}
	})
	if demo.city.Counts == nil {
		t.Fatal("no demo history")
	}
	return demo
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

// TestBacktestDemo backtests the demo history (90 days): 28 daily origins, each refitted on the
// history before it, forecasting 24 h and 7 d.
//
//	go test -count=1 -run TestBacktestDemo -v ./forecast
func TestBacktestDemo(t *testing.T) {
	d := demoHistory(t)
	cal := calendar.Default()
	cases := []struct {
		name  string
		s     Series
		prior *Series
		// bounds on the 7-day scores: coverage of the 80 % interval and MAPE of daily totals
		covLo, covHi, mape float64
	}{
		// The city: ~200 cases a day. Daily totals are Poisson-like (sd ≈ √200 ≈ 7 %), the
		// holidays inside the window add a bias; 15 % bounds both.
		{"city", d.city, nil, 0.70, 0.90, 0.15},
		// One category (~a quarter of the cases): sd of a day ≈ 14 %.
		{"category " + demoCategory, d.cat, nil, 0.70, 0.90, 0.25},
		// One township (~a sixth of the cases, hot spots planted in some).
		{"township " + d.townCode, d.town, &d.city, 0.70, 0.90, 0.25},
		// Its cell with one category: a few cases a day, shape borrowed from the township.
		{"township × category", d.cell, &d.town, 0.70, 0.95, 0.60},
	}
	t.Logf("demo history: %d case reports, %s → %s", d.cases, d.city.Start.Format(time.DateTime), d.city.End().Format(time.DateTime))
	for _, c := range cases {
		r, err := Backtest(c.s, cal, Options{}, BacktestConfig{Prior: c.prior})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		t.Logf("%s: %.1f cases/day; %d origins %s … %s", c.name, sum(c.s.Counts)/90, r.Origins,
			r.First.Format(time.DateOnly), r.Last.Format(time.DateOnly))
		t.Logf("  24 h: %s", r.Day)
		t.Logf("  7 d:  %s", r.Week)
		if r.Origins != 28 || r.Week.Hours != 28*7*24 {
			t.Errorf("%s: %d origins, %d hours scored; want 28 and %d", c.name, r.Origins, r.Week.Hours, 28*7*24)
		}
		if r.Week.Coverage < c.covLo || r.Week.Coverage > c.covHi {
			t.Errorf("%s: 80 %% interval covers %.3f of the hours; want %.2f–%.2f", c.name, r.Week.Coverage, c.covLo, c.covHi)
		}
		if r.Week.MAPE > c.mape {
			t.Errorf("%s: MAPE of daily totals %.3f; want below %.2f", c.name, r.Week.MAPE, c.mape)
		}
	}
}

// TestBacktestNYC311 tries the real NYC 311 sample: 1,000 requests within about 15 hours, far
// too short a history for an hourly weekly model. The fit must refuse it and say why.
//
//	go test -count=1 -run TestBacktestNYC311 -v ./forecast
func TestBacktestNYC311(t *testing.T) {
	dir := nycdata.Dir(t)
	f, err := os.Open(filepath.Join(dir, "311_sample.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	col := -1
	for i, h := range rows[0] {
		if h == "created_date" {
			col = i
		}
	}
	if col < 0 {
		t.Fatal("no created_date column")
	}
	var ts []time.Time
	for _, r := range rows[1:] {
		at, err := time.ParseInLocation("2006-01-02T15:04:05.000", r[col], ny)
		if err != nil {
			t.Fatalf("created_date %q: %v", r[col], err)
		}
		ts = append(ts, at)
	}
	first, last := ts[0], ts[0]
	for _, at := range ts {
		if at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	start := first.Truncate(time.Hour)
	s := Series{Start: start, Counts: make([]float64, int(last.Sub(start)/time.Hour)+1)}
	for _, at := range ts {
		s.Counts[int(at.Sub(start)/time.Hour)]++
	}
	// New York's calendar: weekends only (the built-in holidays are China's).
	cal := calendar.Official(ny, 1, 0)
	suf := Check(s, cal, Options{})
	t.Logf("NYC 311 sample: %d requests, %s → %s (%d hours), %d whole days; %s",
		len(ts), first.Format(time.DateTime), last.Format(time.DateTime), len(s.Counts), suf.Days, suf.Reason)
	if suf.OK || suf.Days >= DefaultMinDays {
		t.Fatalf("a sample of %d hours judged sufficient: %+v", len(s.Counts), suf)
	}
	_, err = Fit(s, cal, Options{})
	var ie *InsufficientError
	if !errors.As(err, &ie) || !errors.Is(err, ErrInsufficient) || ie.Need != DefaultMinDays {
		t.Fatalf("Fit of the NYC sample: %v; want an insufficient-history refusal", err)
	}
	if _, err := Backtest(s, cal, Options{}, BacktestConfig{}); err == nil {
		t.Fatal("a backtest of the NYC sample found origins")
	}
}

// BenchmarkFitPredict fits one series of 90 days (the demo city) and forecasts 7 days.
//
//	go test -run '^$' -bench FitPredict -benchmem ./forecast
func BenchmarkFitPredict(b *testing.B) {
	d := demoHistory(b)
	cal := calendar.Default()
	b.ResetTimer()
	for b.Loop() {
		m, err := Fit(d.city, cal, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(m.Predict(d.city.End(), 7*24)) != 168 {
			b.Fatal("short forecast")
		}
	}
}
