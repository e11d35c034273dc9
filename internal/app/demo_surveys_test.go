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

// The demo's survey lines pass the contract, name the roster's leaders, units and party
// organisations above the villages (every one of them), and are the same for the same seed.
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
	// The groups a unit or party organisation is ranked in, and which of them the lines rate.
	group := map[string]string{}
	for _, u := range ro.Units {
		group[u.Code] = "unit:" + u.Kind
	}
	for _, o := range ro.Party {
		group[o.Code] = "party:" + o.Level
	}
	rated := map[string]bool{}
	periods := map[string]int{}
	for i, l := range lines {
		ev, _, err := event.Decode(l, &rules, end)
		if err != nil {
			t.Fatalf("line %d %s: %v", i, l, err)
		}
		s := ev.Survey.Subject
		if !leaders[s] && (group[s] == "" || group[s] == "party:village") || ev.At.After(end) {
			t.Fatalf("line %d: %s", i, l)
		}
		rated[s] = true
		periods[ev.Survey.Period]++
	}
	left := map[string]int{}
	for code, g := range group {
		if !rated[code] {
			left[g]++
		}
	}
	if len(left) != 1 || left["party:village"] == 0 {
		t.Errorf("units and party organisations not rated, by group: %v", left)
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
	// The townships' governments and party committees are ranked too (units and party
	// organisations have survey records of their own).
	for _, g := range []string{"unit:township", "party:township"} {
		var rk struct{ Ranking evaluation.Ranking }
		demoGet(t, "http://"+a.Addr, "/api/v1/evaluation/rankings", url.Values{"period": {period}, "post_type": {g}}, &rk)
		r := rk.Ranking
		if r.Sample != evaluation.SampleOK || len(r.Ranked) < 3 || len(r.Red) == 0 {
			t.Errorf("%s: sample %v, %d ranked, %d unranked, red %d", g, r.Sample, len(r.Ranked), len(r.Unranked), len(r.Red))
			continue
		}
		// Each names the region it serves (the page's second column).
		for _, e := range r.Ranked {
			if reg := tree.Get(e.Region); reg == nil || e.RegionName != reg.Name {
				t.Errorf("%s: %s serves %q, named %q", g, e.Subject, e.Region, e.RegionName)
			}
		}
	}
}
