package app

import (
	"math"
	"net/url"
	"strconv"
	"testing"
	"time"

	"zhili/ingest"
	"zhili/server"
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

	// An empty deployment: no band, and the reason.
	e := startWith(t, Config{ViewTokens: map[string]server.Viewer{testToken: {Name: "test"}}})
	demoGet(t, "http://"+e.Addr, "/api/v1/forecast", url.Values{"hours": {strconv.Itoa(24)}}, &fc)
	if fc.Sufficient || fc.Reason == "" || len(fc.Hours) != 0 {
		t.Errorf("forecast without history: %+v", fc)
	}
}
