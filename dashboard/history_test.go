package dashboard

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"zhili/clock"
	"zhili/geo"
	"zhili/governance"
	"zhili/update"
)

func TestHistoryOf(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	d := func(m time.Month, day int) time.Time { return time.Date(2026, m, day, 0, 0, 0, 0, sh) }
	begins := time.Date(2026, 9, 9, 5, 20, 0, 0, time.UTC) // 13:20 in Shanghai: the day is Sep 9
	cases := []struct {
		name                 string
		from, to, prev       time.Time
		missing, prevMissing float64 // days; -1: none; 0 < x: some; the whole period when all
		all, prevAll         bool
		zh                   []string
	}{
		{"covered, previous covered", d(11, 1), d(12, 1), d(10, 2), -1, -1, false, false, nil},
		{"covered from its first day", d(9, 9), d(10, 9), d(8, 10), -1, 30, false, true, []string{"上期在历史数据起点之前"}},
		{"begins within, previous before", d(9, 1), d(10, 1), d(8, 2), 8, 30, false, true, []string{"本期前 8 天（09-01 起）", "上期在历史数据起点之前"}},
		{"previous in part", d(9, 20), d(10, 20), d(8, 21), -1, 19, false, false, []string{"上期前 19 天", "仅供参考"}},
		{"wholly before", d(8, 1), d(9, 1), time.Time{}, 31, -1, true, false, []string{"本期在历史数据起点（2026-09-09"}},
	}
	for _, c := range cases {
		h := HistoryOf(begins, sh, c.from, c.to, c.prev)
		if !h.Begins.Equal(d(9, 9)) {
			t.Errorf("%s: begins %v", c.name, h.Begins)
		}
		check := func(what string, g *Gap, days float64, all bool) {
			switch {
			case days < 0 && g != nil:
				t.Errorf("%s: %s missing %+v, want none", c.name, what, g)
			case days >= 0 && (g == nil || g.Days != days || g.All != all):
				t.Errorf("%s: %s missing %+v, want %v days (all %v)", c.name, what, g, days, all)
			}
		}
		check("period", h.Missing, c.missing, c.all)
		check("previous", h.PreviousMissing, c.prevMissing, c.prevAll)
		if len(c.zh) == 0 && h.Note != nil {
			t.Errorf("%s: a note with nothing missing: %v", c.name, h.Note)
		}
		for _, w := range c.zh {
			if h.Note == nil || !strings.Contains(h.Note["zh"], w) || h.Note["en"] == "" {
				t.Errorf("%s: note %q lacks %q", c.name, h.Note, w)
			}
		}
	}
}

// The day the history begins is the deployment's, whatever the zone of the period's bounds.
func TestHistoryOfZone(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	begins := time.Date(2026, 9, 8, 17, 0, 0, 0, time.UTC) // 01:00 on Sep 9 in Shanghai
	h := HistoryOf(begins, sh, time.Date(2026, 9, 8, 16, 0, 0, 0, time.UTC), time.Date(2026, 9, 30, 16, 0, 0, 0, time.UTC), time.Time{})
	if !h.Begins.Equal(time.Date(2026, 9, 9, 0, 0, 0, 0, sh)) || h.Begins.Location() != sh || h.Missing != nil || h.PreviousMissing != nil || h.Note != nil {
		t.Errorf("a period from Shanghai's Sep 9 given in UTC: %+v", h)
	}
	// Days are the zone's days: three of them over a change to summer time are 71 hours.
	be, _ := time.LoadLocation("Europe/Berlin")
	h = HistoryOf(time.Date(2027, 3, 31, 9, 0, 0, 0, be), be, time.Date(2027, 3, 28, 0, 0, 0, 0, be), time.Date(2027, 4, 4, 0, 0, 0, 0, be), time.Time{})
	if h.Missing == nil || h.Missing.Days != 3 || !strings.Contains(h.Note["zh"], "前 3 天") {
		t.Errorf("three days over the change to summer time: %+v %q", h.Missing, h.Note["zh"])
	}
}

// beganStore is a casesStore that tells when its history begins.
type beganStore struct {
	*casesStore
	at time.Time
}

func (s *beganStore) HistoryBegins(context.Context) (time.Time, bool, error) { return s.at, true, nil }

// The audits carry the history's cover of their period: a period that begins before the store's
// earliest report says how many of its days the store has nothing of, in the reply and the export.
func TestAuditsSayWhereHistoryBegins(t *testing.T) {
	tree := geo.DemoTree()
	cs := &casesStore{}
	cs.add("c1", []string{tree.Root.Code, tree.Root.Children[0].Code}) // reported 2026-11-26 08:00 UTC
	st := &beganStore{casesStore: cs, at: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)}
	q := AuditQuery{From: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC),
		Config: governance.AuditConfig{MinSample: 1}}
	rates, err := Rates(context.Background(), st, tree, q)
	if err != nil {
		t.Fatal(err)
	}
	wh, err := Whistles(context.Background(), st, tree, q, governance.DefaultClocks(), nil, q.To)
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]*History{"rates": rates.History, "whistles": wh.History} {
		if h == nil || h.Missing == nil || h.Missing.Days != 6 || h.PreviousMissing == nil || !h.PreviousMissing.All || !strings.Contains(h.Note["zh"], "本期前 6 天") {
			t.Errorf("%s: history %+v", name, h)
		}
	}
	found := false
	for _, n := range rates.Table(time.UTC).Notes {
		found = found || strings.Contains(n, "本期前 6 天") && strings.Contains(n, "first 6 days")
	}
	if !found {
		t.Errorf("the export does not say the history begins within the period: %q", rates.Table(time.UTC).Notes)
	}
	// A store that cannot tell: no history, no note.
	if r, err := Rates(context.Background(), cs, tree, q); err != nil || r.History != nil {
		t.Errorf("a store that cannot tell: %+v (%v)", r.History, err)
	}
}

// begunHotStore is a hotStore that tells when its history begins.
type begunHotStore struct {
	*hotStore
	at time.Time
}

func (s *begunHotStore) HistoryBegins(context.Context) (time.Time, bool, error) {
	return s.at, true, nil
}

// A live hot-spot window that starts before the history says where the history begins; one
// within it does not; a late report earlier than the history moves the beginning.
func TestHotspotWindowHistoryBegins(t *testing.T) {
	tree := geo.DemoTree()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	h := NewHotspots(tree, clock.NewFake(now), HotspotConfig{Every: time.Nanosecond})
	path := tree.Path(demoLeaves(tree)[0].Code)
	st := &begunHotStore{hotStore: &hotStore{recs: []hotRec{{CaseID: "a", Category: "environment", RegionPath: path, At: now.Add(-72 * time.Hour)}}},
		at: now.Add(-72 * time.Hour)}
	if err := h.Seed(context.Background(), st, map[int]uint64{0: 1}); err != nil {
		t.Fatal(err)
	}
	begins := func(window string) string {
		t.Helper()
		tp, err := ParseTopic("hotspots:root:" + window)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := HotspotSource{H: h}.Open(tp)
		if err != nil {
			t.Fatal(err)
		}
		var snap struct {
			HistoryBegins string `json:"history_begins"`
		}
		b, _ := json.Marshal(ts.Snapshot())
		if err := json.Unmarshal(b, &snap); err != nil {
			t.Fatal(err)
		}
		return snap.HistoryBegins
	}
	if got := begins("24h"); got != "" {
		t.Errorf("24h within the history: history_begins %q", got)
	}
	if got, want := begins("7d"), now.Add(-72*time.Hour).Format(time.RFC3339); got != want {
		t.Errorf("7d: history_begins %q, want %q", got, want)
	}
	h.Observe([]update.Item{{CaseID: "late", New: true, Region: path, At: now.Add(-100 * time.Hour)}})
	if got, want := begins("30d"), now.Add(-100*time.Hour).Format(time.RFC3339); got != want {
		t.Errorf("30d after a late report: history_begins %q, want %q", got, want)
	}
}

// flipStore begins its history when told.
type flipStore struct {
	*casesStore
	at time.Time
}

func (s *flipStore) HistoryBegins(context.Context) (time.Time, bool, error) {
	return s.at, !s.at.IsZero(), nil
}

// An empty store's answer is not kept: its first report shows at the next audit, as a reader
// polling until its cases arrive would see them (an audit page waiting for its data).
func TestHistoryBeginsNotKeptEmpty(t *testing.T) {
	st := &flipStore{casesStore: &casesStore{}}
	if _, ok := HistoryBegins(context.Background(), st); ok {
		t.Fatal("an empty store has a beginning")
	}
	st.at = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	if at, ok := HistoryBegins(context.Background(), st); !ok || !at.Equal(st.at) {
		t.Errorf("after the first report: %v %v", at, ok)
	}
	// A beginning found is kept for 10 s (an import of older cases shows after).
	st.at = st.at.Add(-time.Hour)
	if at, _ := HistoryBegins(context.Background(), st); !at.Equal(st.at.Add(time.Hour)) {
		t.Errorf("kept beginning %v", at)
	}
}
