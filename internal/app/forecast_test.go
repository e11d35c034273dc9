package app

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"zhili/alerts"
	"zhili/dashboard"
	"zhili/ingest"
	"zhili/server"
	"zhili/store"
)

// TestForecastRoute: on 16 days of demo history the hourly forecast of the next week is
// sufficient, its bands hold their means, and its total is near the history's daily volume
// (working days and weekends as they came); on an empty deployment it says why it gives none.
func TestForecastRoute(t *testing.T) {
	t.Parallel()
	cfg := Config{DataDir: t.TempDir(), DemoHistory: 16 * 24 * time.Hour, DemoHistoryPerDay: 60, DemoSeed: 7,
		IngestKeys: map[string]*ingest.Policy{testKey: {Name: "test"}},
		ViewTokens: map[string]server.Viewer{testToken: {Name: "test"}}}
	a := startWith(t, cfg)
	base := "http://" + a.Addr
	type band struct {
		T            time.Time
		Mean, Lo, Hi float64
	}
	var fc struct {
		Sufficient bool
		Reason     string
		Days       int
		Hours      []band
	}
	demoGet(t, base, "/api/v1/forecast", url.Values{"hours": {"168"}}, &fc)
	if !fc.Sufficient || fc.Days < 14 || len(fc.Hours) != 168 {
		t.Fatalf("forecast on 16 days: sufficient %v (%s), %d days, %d hours", fc.Sufficient, fc.Reason, fc.Days, len(fc.Hours))
	}
	var week float64
	for _, b := range fc.Hours {
		// Whole-count bounds: at a night's mean of 0.03 the 90th percentile is 0.
		if b.Lo > b.Hi || b.Lo < 0 || b.Hi+1 < b.Mean || b.Lo > b.Mean {
			t.Fatalf("band %+v", b)
		}
		week += b.Mean
	}
	// The last 14 whole days' new cases.
	now := time.Now().In(a.cfg.Loc)
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, a.cfg.Loc)
	var series struct {
		Points []struct{ Count int }
	}
	demoGet(t, base, "/api/v1/series", url.Values{"step": {"1d"}, "from": {midnight.AddDate(0, 0, -14).Format(time.RFC3339)},
		"to": {midnight.Format(time.RFC3339)}}, &series)
	var fortnight int
	for _, p := range series.Points {
		fortnight += p.Count
	}
	if want := float64(fortnight) / 2; math.Abs(week-want) > 0.25*want {
		t.Errorf("next 7 days forecast %.0f new cases; the last 14 days had %d (%.0f a week)", week, fortnight, want)
	}
	t.Logf("next 7 days: %.0f expected; last 14 days: %d", week, fortnight)

	// The forecast signals of the alert rules: each window counts its own cases, and six new
	// reports show in the next measurement (the last one is repeated for SignalsEvery).
	ctx := context.Background()
	windows := []time.Duration{time.Hour, 3 * time.Hour}
	rootSignals := func(at time.Time) map[time.Duration]alerts.Signal {
		out := map[time.Duration]alerts.Signal{}
		for _, s := range a.Forecasts.Signals(ctx, at, windows) {
			if s.Region == a.cfg.Tree.Root.Code && s.Category == "" {
				out[s.Window] = s
			}
		}
		return out
	}
	t0 := time.Now()
	before := rootSignals(t0)
	if len(before) != 2 || before[3*time.Hour].Value < before[time.Hour].Value || before[time.Hour].Bound < 0 {
		t.Fatalf("root forecast signals %+v", before)
	}
	var lines, ids []string
	grid := a.cfg.Tree.Root.Children[0].Children[0].Code
	for i := range 6 {
		ids = append(ids, fmt.Sprintf("test/fs%d", i)) // stored under the ingest key's name
		lines = append(lines, fmt.Sprintf(`{"id":"fs%d","type":"case.reported","case_id":"FS-%d","at":"%s","source":"grid","category":"environment","region":"%s"}`,
			i, i, t0.Add(-10*time.Minute).UTC().Format(time.RFC3339), grid))
	}
	if code, body := post(t, base, "application/x-ndjson", strings.Join(lines, "\n")); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	// By their ids: the demo history may store a report of its own meanwhile (seen: 7,977
	// events where the count before plus six was 7,976).
	waitStoredIDs(t, a, ids...)
	if same := rootSignals(t0.Add(time.Second)); same[time.Hour].Value != before[time.Hour].Value {
		t.Errorf("measured again within %v: %v, then %v", dashboard.SignalsEvery, before[time.Hour].Value, same[time.Hour].Value)
	}
	// The demo history goes on arriving as its times come, so each window is checked against
	// a count of its own (not the longest read the measurement shares), the six included.
	// A report may arrive while the signals are measured, so the count is read before and after.
	at := t0.Add(dashboard.SignalsEvery + time.Second)
	count := func(w time.Duration) float64 {
		pts, err := a.Store.Series(ctx, store.SeriesQuery{From: at.Add(-w), To: at, Step: time.Minute, Loc: a.cfg.Loc})
		if err != nil {
			t.Fatal(err)
		}
		// The signal counts whole minutes from the window's start: the minute holding the
		// start began before it and is left out, here as there.
		var n float64
		for _, p := range pts {
			if !p.T.Before(at.Add(-w)) {
				n += float64(p.Count)
			}
		}
		return n
	}
	lo := map[time.Duration]float64{}
	for _, w := range windows {
		lo[w] = count(w)
	}
	after := rootSignals(at)
	for _, w := range windows {
		hi := count(w)
		if got := after[w].Value; got < lo[w] || got > hi || got < 6 {
			t.Errorf("%v window after six reports: %v, its own count %v (%v before the measurement)", w, got, hi, lo[w])
		}
	}

	// An empty deployment: no band, and the reason.
	e := startWith(t, Config{ViewTokens: map[string]server.Viewer{testToken: {Name: "test"}}})
	demoGet(t, "http://"+e.Addr, "/api/v1/forecast", url.Values{"hours": {strconv.Itoa(24)}}, &fc)
	if fc.Sufficient || fc.Reason == "" || len(fc.Hours) != 0 {
		t.Errorf("forecast without history: %+v", fc)
	}
}
