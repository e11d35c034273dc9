package alerts

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"zhili/clock"
	"zhili/errs"
)

var shanghai = func() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return l
}()

// t0 is 10:00 in Shanghai.
var t0 = time.Date(2026, 12, 4, 10, 0, 0, 0, shanghai)

func mustRules(t *testing.T, src string) *RuleSet {
	t.Helper()
	rs, ps := ParseRules([]byte(src), "t.yaml")
	if len(ps) > 0 {
		t.Fatal(Problems(ps))
	}
	return rs
}

func newEngine(t *testing.T, src string, log Log) (*Engine, *clock.Fake, *[]Change) {
	t.Helper()
	clk := clock.NewFake(t0)
	var seen []Change
	e, err := NewEngine(mustRules(t, src), Options{Clock: clk, Location: shanghai, Log: log,
		Observe: func(c Change) { seen = append(seen, c) }})
	if err != nil {
		t.Fatal(err)
	}
	return e, clk, &seen
}

var town = []string{"41", "4115", "411502", "411502001"}

func TestEvaluateKinds(t *testing.T) {
	src := `rules:
  - {id: ov, name: 超期, kind: overdue, severity: warning, min: 10, regions: ["411502"]}
  - {id: wl, name: 吹哨, kind: whistle_late, severity: warning, stage: arrived}
  - {id: rr, name: 响应, kind: response_rate, severity: warning, below: 0.8, min_cases: 5}
  - {id: fc, name: 突增, kind: forecast, severity: info, window: 3h, factor: 1.5, categories: [safety]}
  - {id: hs, name: 热点, kind: hotspot, severity: info, patterns: [new, intensifying]}
  - {id: rp, name: 重复, kind: repeat, severity: info, min: 3, window: 7d}
  - {id: sc, name: 聚集, kind: scan, severity: info, min_recurrence_days: 7}
`
	cases := []struct {
		name string
		s    Signal
		rule string // "" no alert
		zh   string // part of the zh title
	}{
		{"overdue at the bound", Signal{Kind: KindOverdue, Region: "411502001", RegionPath: town, RegionName: "城关镇", Value: 12}, "ov", "城关镇 超期工单 12 件 (≥10)"},
		{"overdue below", Signal{Kind: KindOverdue, Region: "411502001", RegionPath: town, Value: 9}, "", ""},
		{"overdue outside the scope", Signal{Kind: KindOverdue, Region: "411503", RegionPath: []string{"41", "4115", "411503"}, Value: 50}, "", ""},
		{"whistle late at the stage", Signal{Kind: KindWhistleLate, Region: "411502001", Subject: "W1", Stage: "arrived", Value: 45, RegionName: "城关镇"}, "wl", "城关镇 吹哨 W1 到场报到超时 45 分钟"},
		{"whistle late at another stage", Signal{Kind: KindWhistleLate, Region: "411502001", Subject: "W2", Stage: "signed", Value: 45}, "", ""},
		{"whistle on time", Signal{Kind: KindWhistleLate, Region: "411502001", Subject: "W3", Stage: "arrived", Value: 0}, "", ""},
		{"response low", Signal{Kind: KindResponseRate, Region: "4115", Subject: "county.water", SubjectName: "水利局", Value: 0.5, Sample: 6}, "rr", "水利局 今日响应率 50% (<80%, 6 件)"},
		{"response low, small sample", Signal{Kind: KindResponseRate, Region: "4115", Subject: "county.eco-env", Value: 0.2, Sample: 4}, "", ""},
		{"response at the bound", Signal{Kind: KindResponseRate, Region: "4115", Subject: "county.housing", Value: 0.8, Sample: 40}, "", ""},
		{"forecast above band × factor", Signal{Kind: KindForecast, Region: "411502", Category: "safety", Window: 3 * time.Hour, Value: 31, Bound: 20}, "fc", "近3小时 31 件，超出预测上限 30"},
		{"forecast under band × factor", Signal{Kind: KindForecast, Region: "411502", Category: "safety", Window: 3 * time.Hour, Value: 29, Bound: 20}, "", ""},
		{"forecast above a band of 0 but under min 5", Signal{Kind: KindForecast, Region: "411503", Category: "safety", Window: 3 * time.Hour, Value: 4, Bound: 0}, "", ""},
		{"forecast other window", Signal{Kind: KindForecast, Region: "411502", Category: "safety", Window: time.Hour, Value: 99, Bound: 20}, "", ""},
		{"forecast other category", Signal{Kind: KindForecast, Region: "411502", Category: "dispute", Window: 3 * time.Hour, Value: 99, Bound: 20}, "", ""},
		{"hotspot new", Signal{Kind: KindHotspot, Region: "411502", Subject: "h3:8a", Pattern: "new"}, "hs", "新增热点"},
		{"hotspot persistent", Signal{Kind: KindHotspot, Region: "411502", Subject: "h3:8b", Pattern: "persistent"}, "", ""},
		{"hotspot new, through its neighbours", Signal{Kind: KindHotspot, Region: "411502", Subject: "h3:8c", Pattern: "new", Value: 1,
			Detail: map[string]string{"through_neighbours": "true", "neighbour_mean": "8.4"}}, "hs", "新增热点 h3:8c：本网格 1 件，热度来自相邻网格（均 8.4 件）"},
		{"repeat", Signal{Kind: KindRepeat, Region: "411502", Subject: "幸福路12号", Window: 7 * 24 * time.Hour, Value: 3}, "rp", "幸福路12号 重复投诉 3 次 (近7天, ≥3)"},
		{"repeat other window", Signal{Kind: KindRepeat, Region: "411502", Subject: "幸福路14号", Window: 24 * time.Hour, Value: 9}, "", ""},
		{"scan", Signal{Kind: KindScan, Region: "411502", Subject: "c1", Value: 7.5}, "sc", "复发间隔 7.5 天 (≥7)"},
		{"scan short", Signal{Kind: KindScan, Region: "411502", Subject: "c2", Value: 3}, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, _, _ := newEngine(t, src, nil)
			got, err := e.Evaluate(t0, []Signal{c.s})
			if err != nil {
				t.Fatal(err)
			}
			if c.rule == "" {
				if len(got) != 0 {
					t.Fatalf("raised %+v", got)
				}
				return
			}
			if len(got) != 1 || got[0].RuleID != c.rule {
				t.Fatalf("raised %+v, want one of rule %s", got, c.rule)
			}
			if !strings.Contains(got[0].Title, c.zh) || got[0].TitleEn == "" || got[0].State != Open || !got[0].RaisedAt.Equal(t0) {
				t.Errorf("alert %+v, want title with %q", got[0], c.zh)
			}
		})
	}
}

func TestEvaluateOncePerKeyAndCooldown(t *testing.T) {
	e, clk, seen := newEngine(t, `rules:
  - {id: ov, name: 超期, kind: overdue, severity: warning, min: 10, cooldown: 1h}
`, nil)
	sig := func(region string) Signal {
		return Signal{Kind: KindOverdue, Region: region, RegionPath: []string{"4115", region}, Value: 12}
	}
	got, _ := e.Evaluate(t0, []Signal{sig("A"), sig("A"), sig("B")})
	if len(got) != 2 {
		t.Fatalf("first evaluation raised %d, want 2 (A once, B)", len(got))
	}
	if len(*seen) != 2 || (*seen)[0].Op != OpRaise {
		t.Fatalf("observer saw %+v", *seen)
	}
	a := got[0]
	// Still open: no second alert, even after the cooldown.
	if got, _ := e.Evaluate(t0.Add(2*time.Hour), []Signal{sig("A")}); len(got) != 0 {
		t.Fatalf("second alert while one is open: %+v", got)
	}
	// Acknowledged is still not closed.
	if _, err := e.Ack(a.ID, "duty", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.Evaluate(t0.Add(2*time.Hour), []Signal{sig("A")}); len(got) != 0 {
		t.Fatal("second alert while one is acknowledged")
	}
	// Closed but within the cooldown of B's raise: none; after it: a new one.
	b := got[1]
	clk.Set(t0.Add(30 * time.Minute))
	if _, err := e.Close(b.ID, "duty", time.Time{}, "已处置"); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.Evaluate(t0.Add(59*time.Minute), []Signal{sig("B")}); len(got) != 0 {
		t.Fatal("alert within the cooldown")
	}
	got, _ = e.Evaluate(t0.Add(time.Hour), []Signal{sig("B")})
	if len(got) != 1 || got[0].ID == b.ID {
		t.Fatalf("after the cooldown: %+v", got)
	}
	// Different subjects are different keys.
	s1 := Signal{Kind: KindOverdue, Region: "C", Subject: "x", Value: 10}
	s2 := s1
	s2.Subject = "y"
	if got, _ := e.Evaluate(t0, []Signal{s1, s2}); len(got) != 2 {
		t.Fatalf("two subjects: %d alerts", len(got))
	}
}

func TestEvaluateQuietHours(t *testing.T) {
	src := `rules:
  - {id: w, name: 预警, kind: overdue, severity: warning, min: 1, quiet: "22:00-07:00"}
  - {id: s, name: 严重, kind: overdue, severity: severe, min: 1, quiet: "22:00-07:00"}
  - {id: h, name: 严重静默, kind: overdue, severity: severe, min: 1, quiet: "22:00-07:00", quiet_severe: false}
`
	e, _, _ := newEngine(t, src, nil)
	night := time.Date(2026, 12, 4, 23, 30, 0, 0, shanghai) // 15:30 UTC: quiet only in Shanghai time
	got, _ := e.Evaluate(night.UTC(), []Signal{{Kind: KindOverdue, Region: "A", Value: 3}})
	if len(got) != 1 || got[0].RuleID != "s" {
		t.Fatalf("during quiet hours raised %+v, want only the severe rule that fires", got)
	}
	got, _ = e.Evaluate(night.Add(8*time.Hour), []Signal{{Kind: KindOverdue, Region: "A", Value: 3}})
	if len(got) != 2 {
		t.Fatalf("after quiet hours raised %d, want the two held rules", len(got))
	}
}

func TestLifecycleErrors(t *testing.T) {
	e, _, seen := newEngine(t, "rules:\n  - {id: ov, name: 超期, kind: overdue, severity: warning, min: 1}\n", nil)
	got, _ := e.Evaluate(t0, []Signal{{Kind: KindOverdue, Region: "A", Value: 3}})
	id := got[0].ID
	if _, err := e.Ack("nope", "u", t0); errs.CodeOf(err) != errs.NotFound {
		t.Errorf("ack of an unknown id: %v", err)
	}
	if _, err := e.Ack(id, "", t0); errs.CodeOf(err) != errs.Invalid {
		t.Errorf("ack without who: %v", err)
	}
	a, err := e.Ack(id, "张三", t0.Add(5*time.Minute))
	if err != nil || a.State != Acknowledged || a.AckedBy != "张三" || !a.AckedAt.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("ack: %+v %v", a, err)
	}
	if _, err := e.Ack(id, "李四", t0); errs.ReasonOf(err) != "already_acknowledged" {
		t.Errorf("second ack: %v", err)
	}
	a, err = e.Close(id, "李四", t0.Add(time.Hour), "已派单处置")
	if err != nil || a.State != Closed || a.ClosedBy != "李四" || a.Note != "已派单处置" || a.AckedBy != "张三" {
		t.Fatalf("close: %+v %v", a, err)
	}
	for _, f := range []func() error{
		func() error { _, err := e.Close(id, "u", t0, ""); return err },
		func() error { _, err := e.Ack(id, "u", t0); return err },
	} {
		if err := f(); errs.CodeOf(err) != errs.Invalid || errs.ReasonOf(err) != "already_closed" {
			t.Errorf("after close: %v", err)
		}
	}
	if ops := []Op{(*seen)[0].Op, (*seen)[1].Op, (*seen)[2].Op}; len(*seen) != 3 || ops[1] != OpAck || ops[2] != OpClose || (*seen)[2].Who != "李四" {
		t.Errorf("observer saw %+v", *seen)
	}
	// Close straight from open.
	got, _ = e.Evaluate(t0, []Signal{{Kind: KindOverdue, Region: "B", Value: 3}})
	if a, err := e.Close(got[0].ID, "u", t0.Add(time.Minute), ""); err != nil || a.State != Closed || a.AckedAt != nil {
		t.Errorf("close from open: %+v %v", a, err)
	}
}

func TestListQuery(t *testing.T) {
	e, _, _ := newEngine(t, "rules:\n  - {id: ov, name: 超期, kind: overdue, severity: warning, min: 1}\n  - {id: sc, name: 聚集, kind: scan, severity: info, min_recurrence_days: 1}\n", nil)
	for i := range 10 {
		path := []string{"41", "4115", "411502"}
		if i%2 == 1 {
			path = []string{"41", "4116"}
		}
		e.Evaluate(t0.Add(time.Duration(i)*time.Minute), []Signal{
			{Kind: KindOverdue, Region: path[len(path)-1], RegionPath: path, Subject: string(rune('a' + i)), Value: 2},
		})
	}
	e.Evaluate(t0.Add(20*time.Minute), []Signal{{Kind: KindScan, Region: "4116", RegionPath: []string{"41", "4116"}, Subject: "c", Value: 2}})
	p, err := e.List(Query{Region: "4115"})
	if err != nil || p.Total != 5 || len(p.Alerts) != 5 || p.Next != -1 {
		t.Fatalf("subtree 4115: %d/%d next %d %v", len(p.Alerts), p.Total, p.Next, err)
	}
	for i := 1; i < len(p.Alerts); i++ {
		if p.Alerts[i].RaisedAt.After(p.Alerts[i-1].RaisedAt) {
			t.Error("not newest first")
		}
	}
	p, _ = e.List(Query{Region: "41", Limit: 4, Offset: 4})
	if p.Total != 11 || len(p.Alerts) != 4 || p.Next != 8 {
		t.Errorf("page 2: %d/%d next %d", len(p.Alerts), p.Total, p.Next)
	}
	p, _ = e.List(Query{Region: "41", Limit: 4, Offset: 8})
	if len(p.Alerts) != 3 || p.Next != -1 {
		t.Errorf("last page: %d next %d", len(p.Alerts), p.Next)
	}
	p, _ = e.List(Query{RuleID: "sc"})
	if p.Total != 1 || p.Alerts[0].Kind != KindScan {
		t.Errorf("by rule: %+v", p)
	}
	p, _ = e.List(Query{From: t0.Add(2 * time.Minute), To: t0.Add(5 * time.Minute)})
	if p.Total != 3 {
		t.Errorf("time range [2m, 5m): %d", p.Total)
	}
	e.Close(p.Alerts[0].ID, "u", t0.Add(time.Hour), "")
	if p, _ := e.List(Query{States: []State{Closed}}); p.Total != 1 {
		t.Errorf("closed: %d", p.Total)
	}
	if p, _ := e.List(Query{States: []State{Open, Acknowledged}}); p.Total != 10 {
		t.Errorf("not closed: %d", p.Total)
	}
	for _, q := range []Query{{Limit: MaxPage + 1}, {Offset: -1}, {States: []State{"lost"}}, {From: t0, To: t0.Add(-time.Second)}} {
		if _, err := e.List(q); errs.CodeOf(err) != errs.Invalid {
			t.Errorf("%+v: %v", q, err)
		}
	}
}

func TestStats(t *testing.T) {
	e, clk, _ := newEngine(t, "rules:\n  - {id: ov, name: 超期, kind: overdue, severity: warning, min: 1}\n  - {id: sc, name: 聚集, kind: scan, severity: info, min_recurrence_days: 1}\n", nil)
	var ids []string
	for i := range 10 {
		got, _ := e.Evaluate(t0, []Signal{{Kind: KindOverdue, Region: "A", Subject: string(rune('a' + i)), Value: 2}})
		ids = append(ids, got[0].ID)
	}
	// Acks after 1..9 minutes for the first nine; closes after 10, 20 minutes for the first two.
	for i := range 9 {
		e.Ack(ids[i], "u", t0.Add(time.Duration(i+1)*time.Minute))
	}
	e.Close(ids[0], "u", t0.Add(10*time.Minute), "")
	e.Close(ids[1], "u", t0.Add(20*time.Minute), "")
	e.Evaluate(t0, []Signal{{Kind: KindScan, Region: "B", Value: 2}})
	clk.Set(t0.Add(3 * time.Hour))
	st := e.Stats(time.Time{}, time.Time{}, "")
	ov := st.ByRule["ov"]
	if ov.Raised != 10 || ov.Acked != 9 || ov.Closed != 2 || ov.Open != 8 || ov.Unacked != 1 {
		t.Fatalf("ov counts: %+v", ov)
	}
	if d := ov.TimeToAck; d.N != 9 || d.Median != 5*time.Minute || d.P90 != 9*time.Minute || d.Max != 9*time.Minute {
		t.Errorf("time to ack: %+v", d)
	}
	if d := ov.TimeToClose; d.N != 2 || d.Median != 10*time.Minute || d.Max != 20*time.Minute {
		t.Errorf("time to close: %+v", d)
	}
	if ov.OldestOpen != 3*time.Hour {
		t.Errorf("oldest open: %v", ov.OldestOpen)
	}
	if st.Total.Raised != 11 || st.ByRegion["B"].Raised != 1 || st.ByRegion["A"].Raised != 10 {
		t.Errorf("totals: %+v %+v", st.Total, st.ByRegion)
	}
	if st := e.Stats(time.Time{}, time.Time{}, "B"); st.Total.Raised != 1 {
		t.Errorf("region B: %+v", st.Total)
	}
}

// A restart rebuilds open alerts, their history and cooldowns from the log.
func TestEngineRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.log")
	src := "rules:\n  - {id: ov, name: 超期, kind: overdue, severity: warning, min: 1, cooldown: 2h}\n"
	log, err := OpenFileLog(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	e, _, _ := newEngine(t, src, log)
	got, _ := e.Evaluate(t0, []Signal{{Kind: KindOverdue, Region: "A", Value: 2}, {Kind: KindOverdue, Region: "B", Value: 2}})
	e.Ack(got[0].ID, "张三", t0.Add(time.Minute))
	e.Close(got[1].ID, "李四", t0.Add(2*time.Minute), "ok")
	log.Close()

	log2, err := OpenFileLog(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer log2.Close()
	e2, _, _ := newEngine(t, src, log2)
	open := e2.OpenAlerts()
	if len(open) != 1 || open[0].ID != got[0].ID || open[0].State != Acknowledged || open[0].AckedBy != "张三" {
		t.Fatalf("open after restart: %+v", open)
	}
	b, _ := e2.Get(got[1].ID)
	if b.State != Closed || b.ClosedBy != "李四" || b.Note != "ok" {
		t.Errorf("closed after restart: %+v", b)
	}
	// A is still acknowledged, B within its cooldown: nothing new.
	if again, _ := e2.Evaluate(t0.Add(time.Hour), []Signal{{Kind: KindOverdue, Region: "A", Value: 2}, {Kind: KindOverdue, Region: "B", Value: 2}}); len(again) != 0 {
		t.Fatalf("raised after restart: %+v", again)
	}
	// New ids continue after the replayed ones.
	more, _ := e2.Evaluate(t0.Add(3*time.Hour), []Signal{{Kind: KindOverdue, Region: "B", Value: 2}})
	if len(more) != 1 || more[0].ID == got[0].ID || more[0].ID == got[1].ID {
		t.Fatalf("after the cooldown: %+v", more)
	}
	if st := e2.Stats(time.Time{}, time.Time{}, ""); st.Total.Raised != 3 || st.Total.Closed != 1 || st.Total.Acked != 1 {
		t.Errorf("history after restart: %+v", st.Total)
	}
}

func TestStatsJSONInSeconds(t *testing.T) {
	b, err := json.Marshal(Figures{Raised: 2, TimeToAck: Durations{N: 1, Median: 90 * time.Second, P90: 90 * time.Second, Max: 90 * time.Second}, OldestOpen: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, w := range []string{`"raised":2`, `"time_to_ack":{"n":1,"median_s":90,"p90_s":90,"max_s":90}`, `"oldest_open_s":3600`} {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %s", s, w)
		}
	}
}

// The observer sees changes in log order and may read the engine; wired to a notifier, the
// raise reaches a webhook.
func TestObserverToNotifier(t *testing.T) {
	var mu sync.Mutex
	var events []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		events = append(events, r.Header.Get(HeaderEvent))
		mu.Unlock()
	}))
	defer srv.Close()
	n := NewNotifier([]Webhook{{Name: "g", URL: srv.URL, Secret: "x", Events: []Op{OpRaise, OpClose}}}, NotifierOptions{})
	var seen []Op
	var e *Engine
	e, err := NewEngine(mustRules(t, "rules:\n  - {id: ov, name: 超期, kind: overdue, severity: warning, min: 1}\n"),
		Options{Clock: clock.NewFake(t0), Observe: func(c Change) {
			if _, err := e.Get(c.Alert.ID); err != nil {
				t.Errorf("observer cannot read the engine: %v", err)
			}
			seen = append(seen, c.Op)
			n.Notify(c)
		}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := e.Evaluate(time.Time{}, []Signal{{Kind: KindOverdue, Region: "A", Value: 2}})
	e.Ack(got[0].ID, "u", time.Time{})
	e.Close(got[0].ID, "u", time.Time{}, "")
	n.Close(context.Background())
	if len(seen) != 3 || seen[0] != OpRaise || seen[1] != OpAck || seen[2] != OpClose {
		t.Errorf("observer saw %v", seen)
	}
	if len(events) != 2 || events[0] != "raise" || events[1] != "close" {
		t.Errorf("webhook got %v", events)
	}
}

func TestSetRulesAndDisabled(t *testing.T) {
	e, _, _ := newEngine(t, "rules:\n  - {id: ov, name: 超期, kind: overdue, severity: warning, min: 1, enabled: false}\n", nil)
	sig := []Signal{{Kind: KindOverdue, Region: "A", Value: 5}}
	if got, _ := e.Evaluate(t0, sig); len(got) != 0 {
		t.Fatalf("a disabled rule raised %+v", got)
	}
	e.SetRules(mustRules(t, "rules:\n  - {id: ov2, name: 超期, kind: overdue, severity: severe, min: 5}\n"))
	got, _ := e.Evaluate(t0, sig)
	if len(got) != 1 || got[0].RuleID != "ov2" || got[0].Severity != Severe || e.Rules().Rules[0].ID != "ov2" {
		t.Fatalf("after SetRules: %+v", got)
	}
	e.SetRules(nil) // no rules: nothing raised, open alerts stay
	if got, _ := e.Evaluate(t0, []Signal{{Kind: KindOverdue, Region: "B", Value: 9}}); len(got) != 0 || len(e.OpenAlerts()) != 1 {
		t.Fatalf("without rules: raised %d, open %d", len(got), len(e.OpenAlerts()))
	}
}

// A scan alert's recurrence interval reads in days, hours or minutes, whichever is whole
// enough to take in at once (a bound of 0.0116 days reads 17 分钟, not 0.0116 天).
func TestScanTitleRecurrence(t *testing.T) {
	r := &Rule{Kind: KindScan}
	for _, c := range []struct {
		days   float64
		zh, en string
	}{
		{120, "复发间隔 120 天", "recurrence 120 days"},
		{7.5, "复发间隔 7.5 天", "recurrence 7.5 days"},
		{0.26, "复发间隔 6.24 小时", "recurrence 6.24 h"},
		{0.0116, "复发间隔 17 分钟", "recurrence 17 min"},
		{0.0001, "复发间隔 1 分钟", "recurrence 1 min"},
	} {
		s := &Signal{Kind: KindScan, Subject: "c1", SubjectName: "湖东街道第14网格", Detail: map[string]string{"observed": "14", "expected": "0.34"}}
		zh, en := titles(r, s, c.days, 0)
		if !strings.HasSuffix(zh, c.zh) || !strings.HasSuffix(en, c.en) {
			t.Errorf("%v days: %q / %q, want ending %q / %q", c.days, zh, en, c.zh, c.en)
		}
	}
}
