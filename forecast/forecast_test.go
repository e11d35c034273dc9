package forecast

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"zhili/calendar"
	"zhili/simulate"
)

var cst = calendar.Default().Location()

// gen builds an hourly series of n days from start with the hour's mean given by rate.
func gen(start time.Time, n int, rate func(t time.Time) float64, r *rand.Rand) Series {
	s := Series{Start: start}
	for t := start; t.Before(start.AddDate(0, 0, n)); t = t.Add(time.Hour) {
		mu := rate(t)
		if r != nil {
			mu = float64(simulate.Poisson(r, mu))
		}
		s.Counts = append(s.Counts, mu)
	}
	return s
}

// poissonIn is P(lo ≤ Y ≤ hi) for Y Poisson(mu).
func poissonIn(mu, lo, hi float64) float64 {
	p := 0.0
	for k := lo; k <= hi; k++ {
		lg, _ := math.Lgamma(k + 1)
		p += math.Exp(k*math.Log(mu) - mu - lg)
	}
	return p
}

// A flat Poisson series: the mean is found, the dispersion stays near 0 and the bands hold the
// share of the following hours that their probability says, near the 80 % asked.
func TestFlatPoisson(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const mu = 6.0
	start := time.Date(2026, 7, 6, 0, 0, 0, 0, cst) // no holiday until 2026-09-20
	all := gen(start, 8*7+14, func(time.Time) float64 { return mu }, r)
	cut := start.AddDate(0, 0, 8*7)
	m, err := Fit(all.Until(cut), calendar.Default(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Days != 56 || m.Dispersion > 0.02 {
		t.Errorf("days %d, dispersion %.4f; want 56 and about 0", m.Days, m.Dispersion)
	}
	bands := m.Predict(cut, 14*24)
	in, tot, want := 0, 0.0, 0.0
	for i, b := range bands {
		// An hour's mean rests on ~40 weighted days of its hour: ±10 % is noise.
		if math.Abs(b.Mean-mu)/mu > 0.3 {
			t.Fatalf("hour %s: mean %.2f; want %.0f ± 30 %%", b.T, b.Mean, mu)
		}
		tot += b.Mean
		want += poissonIn(mu, b.Lo, b.Hi) // the band's probability under the true law
		y := all.Counts[int(cut.Sub(start)/time.Hour)+i]
		if y >= b.Lo && y <= b.Hi {
			in++
		}
	}
	n := float64(len(bands))
	if avg := tot / n; math.Abs(avg-mu)/mu > 0.05 {
		t.Errorf("mean of the forecast %.2f; want %.0f ± 5 %%", avg, mu)
	}
	want /= n
	got := float64(in) / n
	sd := math.Sqrt(want * (1 - want) / n)
	t.Logf("bands hold %.3f of Poisson(%v) on average; covered %.3f of %d hours", want, mu, got, len(bands))
	if want < 0.75 || want > 0.85 {
		t.Errorf("the bands hold %.3f of Poisson(%v) on average; want 0.8 ± 0.05", want, mu)
	}
	if math.Abs(got-want) > 4*sd {
		t.Errorf("covered %.3f of the hours; the bands' probability is %.3f (sd %.3f)", got, want, sd)
	}
	// The level is configurable: a 95 % band contains the 80 % one.
	m95, err := Fit(all.Until(cut), calendar.Default(), Options{Level: 0.95})
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range m95.Predict(cut, 24) {
		if b.Lo > bands[i].Lo || b.Hi < bands[i].Hi || b.Hi-b.Lo <= bands[i].Hi-bands[i].Lo {
			t.Errorf("%s: 95 %% band [%v, %v] within the 80 %% band [%v, %v]", b.T, b.Lo, b.Hi, bands[i].Lo, bands[i].Hi)
		}
	}
	if _, err := Fit(all, calendar.Default(), Options{Level: 1.2}); err == nil {
		t.Error("an interval level of 1.2 was accepted")
	}
}

// A strong weekly and daily pattern is learned: Mondays double, weekends half, a day peak.
func TestWeeklyPattern(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	day := map[time.Weekday]float64{time.Monday: 2, time.Tuesday: 1, time.Wednesday: 1, time.Thursday: 1,
		time.Friday: 1, time.Saturday: 0.5, time.Sunday: 0.5}
	rate := func(t time.Time) float64 {
		h := t.In(cst).Hour()
		shape := 0.3
		if h >= 8 && h < 18 {
			shape = 3
		}
		return 2 * day[t.In(cst).Weekday()] * shape
	}
	start := time.Date(2026, 7, 6, 0, 0, 0, 0, cst) // no holiday until 2026-09-20
	all := gen(start, 8*7+7, rate, r)
	cut := start.AddDate(0, 0, 8*7)
	m, err := Fit(all.Until(cut), calendar.Default(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Monday–Friday average 1.2 in the truth: Monday 2/1.2, Saturday 0.5/1.2.
	if f := m.Factor[time.Monday]; math.Abs(f-2/1.2) > 0.12 {
		t.Errorf("Monday factor %.3f; want %.3f", f, 2/1.2)
	}
	if f := m.Factor[time.Saturday]; math.Abs(f-0.5/1.2) > 0.06 {
		t.Errorf("Saturday factor %.3f; want %.3f", f, 0.5/1.2)
	}
	var got, want [7]float64
	for _, b := range m.Predict(cut, 7*24) {
		got[b.T.In(cst).Weekday()] += b.Mean
		want[b.T.In(cst).Weekday()] += rate(b.T)
	}
	// A weekday's factor rests on ~5 weighted days of ~70 cases: sd ≈ 6 %.
	for d := range 7 {
		if math.Abs(got[d]-want[d])/want[d] > 0.15 {
			t.Errorf("%s: forecast %.1f cases; true mean %.1f", time.Weekday(d), got[d], want[d])
		}
	}
	if p := m.Profile[0]; p[10] < 5*p[3] {
		t.Errorf("working-day profile: 10:00 %.3f, 03:00 %.3f; want a day peak", p[10], p[3])
	}
}

// Holidays and make-up days inside the horizon: 2026-09-20 (Sunday) is a make-up working day,
// 2026-09-25 (Friday) … 27 中秋节. The history before has neither.
func TestHolidayAndMakeUp(t *testing.T) {
	cal := calendar.Default()
	rate := func(t time.Time) float64 {
		if cal.IsWorkday(t) {
			return 10
		}
		return 4
	}
	start := time.Date(2026, 7, 20, 0, 0, 0, 0, cst)
	cut := time.Date(2026, 9, 20, 0, 0, 0, 0, cst)
	s := gen(start, int(cut.Sub(start)/(24*time.Hour)), rate, nil)
	m, err := Fit(s, cal, Options{})
	if err != nil {
		t.Fatal(err)
	}
	totals := map[string]float64{}
	for _, b := range m.Predict(cut, 8*24) {
		totals[b.T.In(cst).Format(time.DateOnly)] += b.Mean
	}
	for d, want := range map[string]float64{
		"2026-09-20": 240, // make-up working day (a Sunday): the working-day level
		"2026-09-21": 240,
		"2026-09-25": 96, // 中秋节 on a Friday: the rest-day level
		"2026-09-26": 96,
	} {
		if got := totals[d]; math.Abs(got-want)/want > 0.05 {
			t.Errorf("%s: forecast %.1f cases; want %.0f", d, got, want)
		}
	}
}

// A history under two weeks is refused, with what it has and what it needs.
func TestTooShort(t *testing.T) {
	cal := calendar.Default()
	// 13 whole days and a partial one at each end.
	start := time.Date(2026, 3, 2, 7, 0, 0, 0, cst)
	s := gen(start, 14, func(time.Time) float64 { return 3 }, nil)
	suf := Check(s, cal, Options{})
	if suf.OK || suf.Days != 13 || suf.Need != 14 {
		t.Fatalf("Check: %+v; want 13 days, 14 needed, not OK", suf)
	}
	_, err := Fit(s, cal, Options{})
	var ie *InsufficientError
	if !errors.As(err, &ie) || !errors.Is(err, ErrInsufficient) {
		t.Fatalf("Fit: %v; want an *InsufficientError", err)
	}
	if !strings.Contains(err.Error(), "13 whole days") || !strings.Contains(err.Error(), "at least 14") {
		t.Errorf("reason %q: want the days held and needed", err)
	}
	if ok := Check(gen(start, 15, func(time.Time) float64 { return 3 }, nil), cal, Options{}); !ok.OK || ok.Days != 14 {
		t.Errorf("15 calendar days from 07:00: %+v; want 14 whole days, OK", ok)
	}
	// Days before the first case are no history: twenty empty days are none, and ten empty
	// days before ten with cases are ten.
	if _, err := Fit(gen(start, 20, func(time.Time) float64 { return 0 }, nil), cal, Options{}); !errors.Is(err, ErrInsufficient) {
		t.Fatalf("all-zero history: %v; want a refusal", err)
	}
	late := gen(start, 21, func(h time.Time) float64 {
		if h.Before(start.AddDate(0, 0, 11)) {
			return 0
		}
		return 3
	}, nil)
	if suf := Check(late, cal, Options{}); suf.OK || suf.Days != 10 {
		t.Errorf("ten days of cases after ten empty ones: %+v; want 10 days, not OK", suf)
	}
	// Malformed input is a plain error.
	bad := gen(start, 20, func(time.Time) float64 { return 3 }, nil)
	bad.Counts[5] = -1
	if _, err := Fit(bad, cal, Options{}); err == nil || errors.Is(err, ErrInsufficient) {
		t.Errorf("negative count: %v", err)
	}
	if _, err := Fit(Series{Start: start.Add(time.Minute), Counts: bad.Counts}, cal, Options{}); err == nil {
		t.Error("a start off the hour was accepted")
	}
}

// A sparse series borrows its shape from the prior; its level stays its own.
func TestPriorShrinkage(t *testing.T) {
	cal := calendar.Default()
	r := rand.New(rand.NewPCG(5, 6))
	rate := func(t time.Time) float64 {
		if h := t.In(cst).Hour(); h >= 8 && h < 18 {
			return 3
		}
		return 0.3
	}
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, cst)
	broad := gen(start, 56, rate, r)
	prior, err := Fit(broad, cal, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// 1 % of the broad rate: a case every few days.
	sparse := gen(start, 56, func(t time.Time) float64 { return rate(t) / 100 }, r)
	m, err := Fit(sparse, cal, Options{Prior: prior})
	if err != nil {
		t.Fatal(err)
	}
	alone, err := Fit(sparse, cal, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dist := func(a, b [24]float64) float64 {
		d := 0.0
		for h := range 24 {
			d += math.Abs(a[h] - b[h])
		}
		return d
	}
	if d, d0 := dist(m.Profile[0], prior.Profile[0]), dist(alone.Profile[0], prior.Profile[0]); d > 0.5*d0 {
		t.Errorf("profile distance to the prior %.3f with it, %.3f without; want it much closer", d, d0)
	}
	want := 0.0
	for h := range 24 {
		want += rate(time.Date(2026, 3, 2, h, 0, 0, 0, cst)) / 100
	}
	if math.Abs(m.Level-want)/want > 0.5 {
		t.Errorf("level %.3f; want about %.3f", m.Level, want)
	}
	for _, b := range m.Predict(sparse.End(), 24) {
		if b.Lo != 0 || b.Hi > 1 {
			t.Errorf("%s: band [%v, %v] for a mean of %.3f", b.T, b.Lo, b.Hi, b.Mean)
		}
	}
}

// TestTotal: the forecast of a window's sum has the summed mean, and its 80 % interval covers
// about 80 % of the actual 3-hour sums of a Poisson series (narrower than the hourly bands
// added up).
func TestTotal(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const mu = 6.0
	start := time.Date(2026, 7, 6, 0, 0, 0, 0, cst)
	all := gen(start, 8*7+14, func(time.Time) float64 { return mu }, r)
	cut := start.AddDate(0, 0, 8*7)
	m, err := Fit(all.Until(cut), calendar.Default(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	in, n := 0, 0
	for h := 0; h+3 <= 14*24; h += 3 {
		from := cut.Add(time.Duration(h) * time.Hour)
		tot := m.Total(from, 3)
		var mean, hiSum, y float64
		for i, b := range m.Predict(from, 3) {
			mean += b.Mean
			hiSum += b.Hi
			y += all.Counts[int(cut.Sub(start)/time.Hour)+h+i]
		}
		if math.Abs(tot.Mean-mean) > 1e-9 || tot.Hi >= hiSum || tot.Lo > tot.Mean || tot.Hi < tot.Mean {
			t.Fatalf("%s: total %+v, hourly means %.2f, hourly highs %.0f", from, tot, mean, hiSum)
		}
		if y >= tot.Lo && y <= tot.Hi {
			in++
		}
		n++
	}
	if cov := float64(in) / float64(n); cov < 0.7 || cov > 0.92 {
		t.Errorf("3-hour sums inside the 80 %% interval: %.2f of %d", cov, n)
	}
}
