package dashboard

import (
	"context"
	"testing"
	"time"

	"zhili/alerts"
	"zhili/calendar"
	"zhili/clock"
	"zhili/geo"
	"zhili/governance"
	"zhili/update"
)

// TestAlertingSignals: the read model's figures become the signals the rules read — overdue
// cases of a township, a department's response today with its sample, a whistle stage late by
// its minutes — and the rules raise one alert each, shown on the alerts topic of the township's
// county and not on another township's; an acknowledgement changes the topic.
func TestAlertingSignals(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	now := at("2026-11-26 11:30")
	clk := clock.NewFake(now)
	tree := geo.DemoTree()
	m := NewModel(ModelConfig{Tree: tree, Loc: loc, Clock: clk})
	root, t1, t2 := tree.Root.Code, tree.Root.Children[0].Code, tree.Root.Children[1].Code
	today := update.DayOf(now, loc)
	d := update.DeptPrefix + "county.housing"
	m.Apply(&update.Update{Source: "p0", Epoch: 1, Seq: 1, Reset: true,
		Counters: []update.Counter{
			{Key: update.Key{Region: t1, Category: "environment", Metric: update.MOverdue}, N: 12},
			{Key: update.Key{Region: t2, Category: "environment", Metric: update.MOverdue}, N: 3},
			// 14 dispatched, 4 of them unsigned within their window: 6 of 10 decided in time.
			{Key: update.Key{Region: d, Category: "environment", Day: today, Metric: update.MDispatched}, N: 14},
			{Key: update.Key{Region: d, Category: "environment", Day: today, Metric: update.MAwaitingSign}, N: 4},
			{Key: update.Key{Region: d, Category: "environment", Day: today, Metric: update.MSignedInTime}, N: 6},
		},
		Whistles: []update.Whistle{{ID: "W1", CaseID: "C1", Kind: "advance", Region: []string{root, t2}, Blown: at("2026-11-26 10:00"),
			Depts: []update.WhistleDept{{Dept: "county.housing"}}}}})
	rules, ps := alerts.ParseRules([]byte(`rules:
  - {id: od, name: 超期, kind: overdue, severity: warning, min: 10}
  - {id: rr, name: 响应, kind: response_rate, severity: warning, below: 0.8, min_cases: 5}
  - {id: wl, name: 吹哨, kind: whistle_late, severity: severe, stage: any}
`), "rules.yaml")
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	eng, err := alerts.NewEngine(rules, alerts.Options{Clock: clk, Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	al, err := NewAlerting(AlertingConfig{M: m, Engine: eng, Clocks: governance.DefaultClocks(), Cal: calendar.Default(),
		Names: func(kind, code string) (string, string) {
			if kind == "dept" && code == "county.housing" {
				return "住建局", "Housing"
			}
			return "", ""
		}})
	if err != nil {
		t.Fatal(err)
	}
	sigs := al.Signals(now)
	byKind := map[alerts.Kind][]alerts.Signal{}
	for _, s := range sigs {
		byKind[s.Kind] = append(byKind[s.Kind], s)
	}
	if od := byKind[alerts.KindOverdue]; len(od) != 2 || od[0].Region != t1 || od[0].Value != 12 || od[1].Value != 3 {
		t.Errorf("overdue signals %+v, want %s 12 and %s 3", od, t1, t2)
	}
	if rr := byKind[alerts.KindResponseRate]; len(rr) != 1 || rr[0].Subject != "county.housing" || rr[0].Value != 0.6 || rr[0].Sample != 10 {
		t.Errorf("response signals %+v, want county.housing 6/10", rr)
	}
	// Advance whistle: signing is due 60 min after 10:00, so at 11:30 it is 30 min late.
	if wl := byKind[alerts.KindWhistleLate]; len(wl) != 1 || wl[0].Stage != "signed" || wl[0].Value != 30 || wl[0].Region != t2 {
		t.Errorf("whistle signals %+v, want W1 signed 30 min late in %s", wl, t2)
	}
	raised, err := al.Evaluate(context.Background())
	if err != nil || len(raised) != 3 {
		t.Fatalf("raised %d (%v), want overdue in %s, response of 住建局, the late whistle", len(raised), err, t1)
	}
	for _, a := range raised {
		if a.RuleID == "rr" && a.Title != "住建局 今日响应率 60% (<80%, 10 件)" {
			t.Errorf("response alert title %q", a.Title)
		}
	}
	open := func(region string) alertsTopic {
		t.Helper()
		st, err := AlertsSource{A: al}.Open(Topic{Name: "alerts:" + region, Kind: "alerts", Region: region})
		if err != nil {
			t.Fatal(err)
		}
		return alertsTopic{st}
	}
	all, town := open("root"), open(t2)
	if n := len(all.list()); n != 3 || all.list()[0]["severity"] != "severe" {
		t.Errorf("root topic lists %d alerts (severe first): %v", n, all.list())
	}
	if n := len(town.list()); n != 1 || town.list()[0]["rule_id"] != "wl" {
		t.Errorf("%s topic lists %v, want only its late whistle", t2, town.list())
	}
	if _, changed := town.st.Advance(); changed {
		t.Error("a delta without a change")
	}
	if _, err := eng.Ack(raised[0].ID, "值班员", now); err != nil {
		t.Fatal(err)
	}
	al.Changed(alerts.Change{})
	if _, changed := all.st.Advance(); !changed {
		t.Error("no delta after an acknowledgement")
	}
	if c := all.st.Snapshot().(map[string]any)["counts"].(map[string]any); c["acknowledged"] != int64(1) || c["open"] != int64(2) {
		t.Errorf("counts after an acknowledgement: %v", c)
	}
	if _, err := (AlertsSource{A: al}).Open(Topic{Name: "alerts:root:24h", Kind: "alerts", Region: "root", Window: "24h"}); err == nil {
		t.Error("a window on an alerts topic was accepted")
	}
}

type alertsTopic struct{ st TopicState }

func (a alertsTopic) list() []map[string]any {
	var out []map[string]any
	for _, x := range a.st.Snapshot().(map[string]any)["alerts"].([]any) {
		out = append(out, x.(map[string]any))
	}
	return out
}
