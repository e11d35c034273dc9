package alerts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"zhili/clock"
)

func TestDefaultRulesParse(t *testing.T) {
	rs := DefaultRules()
	if len(rs.Rules) < len(Kinds) {
		t.Fatalf("default rules: %d rules, want one per kind at least", len(rs.Rules))
	}
	seen := map[Kind]bool{}
	for _, r := range rs.Rules {
		seen[r.Kind] = true
	}
	for _, k := range Kinds {
		if !seen[k] {
			t.Errorf("default rules have no %s rule", k)
		}
	}
	if got := rs.Windows(KindForecast); len(got) != 2 || got[0] != time.Hour || got[1] != 3*time.Hour {
		t.Errorf("forecast windows %v, want [1h 3h]", got)
	}
	if r := rs.Rule("repeat-place"); r == nil || r.Window != 7*24*time.Hour || r.Min != 3 {
		t.Errorf("repeat-place: %+v", r)
	}
	if r := rs.Rule("dept-response-low"); r == nil || r.Quiet == nil || r.Quiet.From != 22*60 || r.Quiet.To != 7*60 || !r.Quiet.Severe {
		t.Errorf("dept-response-low quiet: %+v", r.Quiet)
	}
}

func TestParseRulesFields(t *testing.T) {
	src := `rules:
  - id: a
    name: 甲
    kind: response_rate
    severity: severe
    regions: ["4115", "411502"]
    categories: safety
    below: 0.75
    min_cases: 8
    cooldown: 90m
    quiet: "08:00-12:30"
    quiet_severe: false
    enabled: false
  - {id: b, name: 乙, kind: whistle_late, severity: info}
webhooks:
  - {name: w, url: "https://oapi.dingtalk.com/robot/send?access_token=x", format: dingtalk, secret: s, min_severity: warning, events: [raise, close]}
`
	rs, ps := ParseRules([]byte(src), "r.yaml")
	if len(ps) > 0 {
		t.Fatal(Problems(ps))
	}
	a := rs.Rules[0]
	if a.Below != 0.75 || a.MinCases != 8 || a.Cooldown != 90*time.Minute || a.Enabled || len(a.Regions) != 2 ||
		len(a.Categories) != 1 || a.Quiet.From != 480 || a.Quiet.To != 750 || a.Quiet.Severe {
		t.Errorf("rule a: %+v %+v", a, a.Quiet)
	}
	b := rs.Rules[1]
	if b.Stage != "any" || b.Cooldown != DefaultCooldown || !b.Enabled {
		t.Errorf("rule b defaults: %+v", b)
	}
	w := rs.Webhooks[0]
	if w.Format != FormatDingTalk || w.MinSeverity != Warning || len(w.Events) != 2 || w.Events[1] != OpClose {
		t.Errorf("webhook: %+v", w)
	}
}

// Every problem of a bad file is listed with its line and field, and the file is refused.
func TestParseRulesProblems(t *testing.T) {
	src := `rules:
  - id: a
    name: 甲
    kind: overdue
    severity: loud
    min: 0
  - id: a
    name: 乙
    kind: response_rate
    severity: info
    below: 1.5
    window: 1h
  - id: c
    name: 丙
    kind: forecast
    severity: info
  - id: d
    name: 丁
    kind: hotspot
    severity: info
    patterns: [new, boiling]
    quiet: "25:00-07:00"
    colour: red
  - {id: e, name: 戊, kind: scan, severity: info, min_recurrence_days: -1, cooldown: soon}
  - {id: f, name: 己, kind: teleport, severity: info}
  - {name: 庚, kind: whistle_late, severity: info, stage: lunch}
webhooks:
  - {name: g, url: "ftp://x", format: generic}
  - {name: h, url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send", format: wecom}
extra: 1
`
	rs, ps := ParseRules([]byte(src), "bad.yaml")
	if rs != nil {
		t.Fatal("a bad file must be refused whole")
	}
	want := []string{
		"bad.yaml:5: rules[a].severity: \"loud\"",
		"bad.yaml:6: rules[a].min: 0: a whole count",
		"bad.yaml:7: rules[a].id: id \"a\" given twice (first at line 2)",
		"bad.yaml:11: rules[a].below: 1.5",
		"bad.yaml:12: rules[a].window: not a parameter of kind response_rate",
		"bad.yaml:13: rules[c].window: required for kind forecast",
		"bad.yaml:21: rules[d].patterns: unknown pattern \"boiling\"",
		"bad.yaml:22: rules[d].quiet: \"25:00-07:00\"",
		"bad.yaml:23: rules[d].colour: unknown field",
		"rules[e].min_recurrence_days: -1",
		"rules[e].cooldown: \"soon\" is not a duration",
		"rules[f].kind: unknown kind \"teleport\"",
		"rules[6].id: required",
		"rules[6].stage: \"lunch\"",
		"webhooks[g].url: \"ftp://x\"",
		"webhooks[g].secret: required for format generic",
		"webhooks[h].url: a wecom robot url carries its key",
		"bad.yaml:30: extra: unknown section",
	}
	all := Problems(ps).Error()
	for _, w := range want {
		found := false
		for _, p := range ps {
			found = found || strings.Contains(p.String(), w)
		}
		if !found {
			t.Errorf("no problem %q in:\n%s", w, all)
		}
	}
	for i := 1; i < len(ps); i++ {
		if ps[i].Line < ps[i-1].Line {
			t.Errorf("problems not by line:\n%s", all)
		}
	}
	for _, p := range ps {
		if p.Line == 0 {
			t.Errorf("problem without a line: %s", p)
		}
	}
}

func TestParseRulesNotYAML(t *testing.T) {
	for _, src := range []string{"rules: [", "- a\n- b\n", "\xff\xfe"} {
		if rs, ps := ParseRules([]byte(src), "x.yaml"); rs != nil || len(ps) == 0 {
			t.Errorf("%q: accepted", src)
		}
	}
	if rs, ps := ParseRules(nil, "empty.yaml"); len(ps) > 0 || len(rs.Rules) != 0 {
		t.Errorf("an empty file: %v", ps)
	}
}

func TestQuietIn(t *testing.T) {
	q := &Quiet{From: 22 * 60, To: 7 * 60}
	for h, want := range map[int]bool{21: false, 22: true, 23: true, 0: true, 6: true, 7: false, 12: false} {
		if got := q.In(time.Date(2026, 1, 1, h, 0, 0, 0, time.UTC)); got != want {
			t.Errorf("%02d:00 in 22:00-07:00: %v", h, got)
		}
	}
	d := &Quiet{From: 8 * 60, To: 12*60 + 30}
	if !d.In(time.Date(2026, 1, 1, 12, 29, 0, 0, time.UTC)) || d.In(time.Date(2026, 1, 1, 12, 30, 0, 0, time.UTC)) {
		t.Error("08:00-12:30 is half-open")
	}
}

func TestWatcherKeepsLastGoodSet(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	write := func(s string, mod time.Time) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	write("rules:\n  - {id: a, name: 甲, kind: overdue, severity: info, min: 5}\n", base)
	var changes []*RuleSet
	var errsSeen []error
	w, err := NewWatcher(path, WatchOptions{Clock: clock.NewFake(base),
		OnChange: func(rs *RuleSet) { changes = append(changes, rs) },
		OnError:  func(err error) { errsSeen = append(errsSeen, err) }})
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := w.Check(); changed || err != nil {
		t.Fatalf("unchanged file reloaded: %v %v", changed, err)
	}
	// A bad file: refused, the last good set stays, the problem is reported once.
	write("rules:\n  - {id: a, name: 甲, kind: overdue, severity: info, min: -5}\n", base.Add(time.Minute))
	changed, err := w.Check()
	var ps Problems
	if !changed || !errors.As(err, &ps) || ps[0].Line != 2 {
		t.Fatalf("bad file: changed %v, err %v", changed, err)
	}
	if w.Rules().Rules[0].Min != 5 || len(changes) != 0 || len(errsSeen) != 1 {
		t.Fatalf("bad file swapped in: %+v, changes %d, errors %d", w.Rules().Rules[0], len(changes), len(errsSeen))
	}
	if st := w.Status(); st.LastError == "" || len(st.Problems) != 1 || st.Rules != 1 {
		t.Errorf("status after a bad file: %+v", st)
	}
	if changed, _ := w.Check(); changed {
		t.Error("a refused file is retried before it changes")
	}
	// Fixed: swapped in.
	write("rules:\n  - {id: a, name: 甲, kind: overdue, severity: info, min: 7}\n  - {id: b, name: 乙, kind: scan, severity: info, min_recurrence_days: 3}\n", base.Add(2*time.Minute))
	if changed, err := w.Check(); !changed || err != nil {
		t.Fatalf("good file: %v %v", changed, err)
	}
	if len(changes) != 1 || len(w.Rules().Rules) != 2 || w.Rules().Rules[0].Min != 7 {
		t.Fatalf("good file not swapped in: %d changes, %+v", len(changes), w.Rules())
	}
	if st := w.Status(); st.LastError != "" || st.Rules != 2 {
		t.Errorf("status after a good file: %+v", st)
	}
	// Reload (SIGHUP) of the same content changes nothing.
	if err := w.Reload(); err != nil || len(changes) != 1 {
		t.Errorf("reload of the same content: %v, %d changes", err, len(changes))
	}
	// A vanished file keeps the set.
	os.Remove(path)
	if _, err := w.Check(); err == nil || len(w.Rules().Rules) != 2 {
		t.Errorf("vanished file: %v", err)
	}
	if changed, _ := w.Check(); changed {
		t.Error("a vanished file is reported again")
	}
}

func TestNewWatcherRefusesBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.yaml")
	os.WriteFile(path, []byte("rules:\n  - {id: a}\n"), 0o644)
	if _, err := NewWatcher(path, WatchOptions{}); err == nil {
		t.Fatal("a bad file at start was accepted")
	}
	if _, err := LoadRules(filepath.Join(t.TempDir(), "none.yaml")); err == nil {
		t.Fatal("a missing file was accepted")
	}
}

func TestRuleSetCheck(t *testing.T) {
	rs := mustRules(t, `rules:
  - {id: a, name: 甲, kind: overdue, severity: info, min: 5, regions: ["411502", "999"], categories: [safety, nope]}
webhooks:
  - {name: g, url: "https://x.example/h", secret: s, regions: ["888"]}
`)
	known := func(set ...string) func(string) bool {
		return func(c string) bool { return slices.Contains(set, c) }
	}
	ps := rs.Check(known("411502"), known("safety"))
	if len(ps) != 3 || ps[0].Line != 2 || !strings.Contains(ps[0].String(), `rules[a].regions: unknown region "999"`) ||
		!strings.Contains(ps[1].String(), `unknown category "nope"`) || ps[2].Line != 4 {
		t.Fatalf("problems: %v", ps)
	}
	if ps := rs.Check(nil, nil); len(ps) != 0 {
		t.Errorf("unchecked: %v", ps)
	}
	// The watcher refuses a file that fails the deployment's checks.
	path := filepath.Join(t.TempDir(), "r.yaml")
	os.WriteFile(path, []byte("rules:\n  - {id: a, name: 甲, kind: overdue, severity: info, min: 5, regions: [\"999\"]}\n"), 0o644)
	if _, err := NewWatcher(path, WatchOptions{Check: func(rs *RuleSet) []Problem { return rs.Check(known("411502"), nil) }}); err == nil {
		t.Error("a file with an unknown region was accepted")
	}
}

func TestWatcherRunPolls(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.yaml")
	os.WriteFile(path, []byte("rules:\n  - {id: a, name: 甲, kind: overdue, severity: info, min: 5}\n"), 0o644)
	changed := make(chan *RuleSet, 1)
	w, err := NewWatcher(path, WatchOptions{Interval: 10 * time.Millisecond, OnChange: func(rs *RuleSet) { changed <- rs }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	os.WriteFile(path, []byte("rules:\n  - {id: b, name: 乙, kind: overdue, severity: info, min: 50}\n"), 0o644)
	os.Chtimes(path, time.Now().Add(time.Hour), time.Now().Add(time.Hour)) // a new mtime even on coarse clocks
	select {
	case rs := <-changed:
		if rs.Rules[0].ID != "b" || w.Rules().Rules[0].ID != "b" {
			t.Fatalf("swapped in %+v", rs.Rules)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the poll did not pick up the change")
	}
}

// ParseRules never panics and either accepts a file or gives problems, never both.
func FuzzParseRules(f *testing.F) {
	f.Add(DefaultRulesYAML())
	f.Add([]byte("rules:\n  - {id: a, name: 甲, kind: overdue, severity: info, min: 5}\n"))
	f.Add([]byte("rules: [{id: x, kind: forecast, window: 1h, factor: 2}]\nwebhooks: [{name: w, url: 'http://h?key=1', format: wecom}]"))
	f.Add([]byte("rules: {a: 1}\n"))
	f.Add([]byte("rules:\n  - {id: a, regions: '', quiet: '7:00-07:00'}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, ps := ParseRules(b, "f.yaml")
		if (rs == nil) == (len(ps) == 0) {
			t.Fatalf("rules %v with %d problems", rs != nil, len(ps))
		}
		for _, p := range ps {
			if p.File != "f.yaml" {
				t.Fatalf("problem without its file: %v", p)
			}
		}
	})
}
