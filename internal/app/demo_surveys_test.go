package app

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"zhili/catalog"
	"zhili/evaluation"
	"zhili/event"
	"zhili/geo"
	"zhili/ingest"
	"zhili/roster"
	"zhili/server"
)

// The demo's survey lines pass the contract, name the roster's leaders and are the same for
// the same seed.
func TestDemoSurveyLines(t *testing.T) {
	ro := roster.Demo(geo.DemoTree(), catalog.Default(), 7)
	end := time.Date(2026, 11, 20, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	lines := demoSurveyLines(ro, end, 62*24*time.Hour, 7)
	if len(lines) == 0 || string(lines[0]) != string(demoSurveyLines(ro, end, 62*24*time.Hour, 7)[0]) {
		t.Fatalf("%d lines, not repeatable", len(lines))
	}
	rules := event.DefaultRules()
	leaders := map[string]bool{}
	for _, c := range ro.Cadres {
		if c.Leader {
			leaders[c.ID] = true
		}
	}
	periods := map[string]int{}
	for i, l := range lines {
		ev, _, err := event.Decode(l, &rules, end)
		if err != nil {
			t.Fatalf("line %d %s: %v", i, l, err)
		}
		if !leaders[ev.Survey.Subject] || ev.At.After(end) {
			t.Fatalf("line %d: %s", i, l)
		}
		periods[ev.Survey.Period]++
	}
	// 62 days back from 2026-11-20 reach into Q3.
	if periods["2026-Q3"] == 0 || periods["2026-Q4"] == 0 || len(periods) != 2 {
		t.Errorf("periods %v", periods)
	}
}

// A demo process with the demo roster starts with survey records: the 红黑榜 of the township
// party secretaries for this quarter has its lists.
func TestDemoSurveysServed(t *testing.T) {
	t.Parallel()
	tree := geo.DemoTree()
	cfg := Config{DemoHistory: 3 * 24 * time.Hour, DemoHistoryPerDay: 150, DemoSeed: 5,
		Roster:     roster.Demo(tree, catalog.Default(), 5),
		IngestKeys: map[string]*ingest.Policy{testKey: {Name: "test"}},
		ViewTokens: map[string]server.Viewer{testToken: {Name: "test"}}}
	a := startWith(t, cfg)
	now := time.Now().In(a.cfg.Loc)
	period := fmt.Sprintf("%d-Q%d", now.Year(), (int(now.Month())-1)/3+1)
	var rk struct{ Ranking evaluation.Ranking }
	demoGet(t, "http://"+a.Addr, "/api/v1/evaluation/rankings", url.Values{"period": {period}, "post_type": {"乡镇党委书记"}}, &rk)
	r := rk.Ranking
	if r.Sample != evaluation.SampleOK || len(r.Ranked) < 3 || len(r.Red) == 0 || len(r.Black) == 0 {
		t.Errorf("the township secretaries' ranking: %+v", r)
	}
}
